"""Where the product keeps its files, from environment variables an operator may set.

- SENTIMENT_DATA_DIR  the data root (default: the project's data/ folder)
- SST_DIR             a folder holding the treebank (searched before <data root>/sst)
- SENTIMENT_RUNS_DIR  training runs (default: <data root>/runs)
- SENTIMENT_CACHE_DIR the tokenized-corpus cache (default: <data root>/cache)

Read at call time, never at import, so a test or a page can change them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "SENTIMENT_DATA_DIR"
RUNS_DIR_ENV = "SENTIMENT_RUNS_DIR"
CACHE_DIR_ENV = "SENTIMENT_CACHE_DIR"


def data_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(DATA_DIR_ENV) or PROJECT_ROOT / "data")


def default_sst_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where a downloaded or installed treebank goes (and is looked for after SST_DIR)."""
    return data_root(env) / "sst"


def default_runs_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(RUNS_DIR_ENV) or data_root(env) / "runs")


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(CACHE_DIR_ENV) or data_root(env) / "cache")
