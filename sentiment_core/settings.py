"""Where the product keeps its files, from environment variables an operator may set.

- SENTIMENT_DATA_DIR  the data root (default: the project's data/ folder)
- SST_DIR             a folder holding the treebank (searched before <data root>/sst)
- SENTIMENT_RUNS_DIR  training runs (default: <data root>/runs)
- SENTIMENT_CACHE_DIR the tokenized-corpus cache (default: <data root>/cache)
- SENTIMENT_PUBLIC    1 for a hosted demo open to strangers (see PUBLIC_DEFAULTS below)

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


# Caps on what a visitor or a file may hand the product, checked before any work on it. Each sits
# far above the real input (the treebank zip is 0.8 MB, a split 2.2 MB, its longest tree line 687
# characters, its longest word 27) and far below what would tie up a server's memory or time.
MAX_ZIP_BYTES = 32 * 2**20          # the zip itself, as downloaded or uploaded
MAX_ZIP_MEMBERS = 64                # files listed in the zip
MAX_ZIP_MEMBER_BYTES = 16 * 2**20   # what one split file inflates to (counted while inflating)
MAX_ZIP_TOTAL_BYTES = 40 * 2**20    # what the three splits inflate to together
MAX_TREEBANK_FILE_BYTES = 16 * 2**20  # one split file in a folder, checked before it is read
MAX_TREE_LINE_CHARS = 10_000        # one tree line, checked before it is parsed
MAX_INPUT_CHARS = 20_000            # one typed or uploaded text, checked before it is tokenized
MAX_CSV_BYTES = 2 * 2**20           # one uploaded CSV file (or `predict --file`), checked before it is parsed


# ---------------------------------------------------------------------------------------------
# Public mode: one switch for a hosted demo

PUBLIC_ENV = "SENTIMENT_PUBLIC"
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "", "no", "off")

# What SENTIMENT_PUBLIC=1 implies, as the limits it sets when the operator has not set them
# (an operator's own value always wins). Besides these, public mode takes away the treebank
# upload and folder choice (the operator sets SST_DIR or installs it with
# `python -m sentiment_core data --install ZIP`), and errors are shown as one short sentence
# without server paths.
PUBLIC_DEFAULTS: dict[str, str] = {
    "SENTIMENT_ALLOW_DELETE": "0",            # visitors cannot delete runs
    "SENTIMENT_MAX_EPOCHS": "5",
    "SENTIMENT_MAX_HIDDEN": "256",
    "SENTIMENT_MAX_EMBEDDING": "128",
    "SENTIMENT_MAX_LAYERS": "2",
    "SENTIMENT_MAX_BATCH": "128",
    "SENTIMENT_MAX_RUN_MINUTES": "3",         # estimated single-core minutes per run
    "SENTIMENT_MAX_CONCURRENT_RUNS": "1",
    "SENTIMENT_MAX_QUEUE": "2",
    "SENTIMENT_MAX_INPUT_TOKENS": "300",      # tokens per typed text or CSV row
    "SENTIMENT_MAX_BATCH_ROWS": "500",        # rows per pasted list or CSV
    "SENTIMENT_MAX_INPUT_CHARS": "5000",      # characters per typed text or CSV row, before tokenizing
    "SENTIMENT_MAX_CSV_BYTES": "524288",      # bytes per uploaded CSV file (512 KB), before parsing
}


def is_public(env: Mapping[str, str] | None = None) -> bool:
    """True when SENTIMENT_PUBLIC is on; an unreadable value counts as on (the safe side)."""
    env = os.environ if env is None else env
    return (env.get(PUBLIC_ENV) or "").strip().lower() not in FALSE_WORDS


def effective_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the limits are read from: in public mode, PUBLIC_DEFAULTS under the operator's values."""
    env = dict(os.environ if env is None else env)
    if not is_public(env):
        return env
    return {**PUBLIC_DEFAULTS, **{k: v for k, v in env.items() if v.strip()}}
