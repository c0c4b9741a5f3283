"""Default models shipped with the package, so a fresh deployment answers at the first visit.

Each is a run folder (store.py's layout) next to this file, built by one command from the
treebank with fixed seeds (`python -m sentiment_core pretrained --build`, see
sentiment_core/pretrained/build.py for the recipes):

- `gru-3cls`: the playground's default 3-class model (config.json, vocab.json, checkpoint.pt,
  a thinned metrics.jsonl, status.json with its dev and test results).
- `walkthrough-scratch`, `walkthrough-lstm`: the walkthrough's vanilla RNN and LSTM, trained with
  config.comparison_config like the page's own button; shipped without their weights
  (the page reads only their gradient-through-time probes in metrics.jsonl).

Shipped runs are read-only: the pages read them and never resume, delete or write to them, and
they live outside the runs folder, so the training page never lists them. Their names in a
listing start with SHIPPED_PREFIX (a character no run name has), so they never clash with a
visitor's own runs. This module imports neither torch nor streamlit.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sentiment_core.runs.listing import RunInfo, load_run
from sentiment_core.runs.store import RunNotFound

PRETRAINED_DIR = Path(__file__).resolve().parent
PLAYGROUND_MODEL = "gru-3cls"
COMPARISON_MODELS = ("walkthrough-scratch", "walkthrough-lstm")
SHIPPED_NAMES = (PLAYGROUND_MODEL, *COMPARISON_MODELS)  # in the order pages offer them
SHIPPED_PREFIX = "shipped:"  # sanitize_run_name never leaves a ':' in a run's name


def shipped_runs(folder: str | Path | None = None) -> list[RunInfo]:
    """The shipped runs present in `folder` (default: this package), in SHIPPED_NAMES order.

    Each RunInfo's name is SHIPPED_PREFIX + its folder name; a missing folder is left out.
    """
    folder = Path(folder) if folder is not None else PRETRAINED_DIR
    runs = []
    for name in SHIPPED_NAMES:
        try:
            run = load_run(folder / name)
        except RunNotFound:
            continue
        runs.append(replace(run, name=SHIPPED_PREFIX + name))
    return runs


def is_shipped(run: RunInfo) -> bool:
    return run.name.startswith(SHIPPED_PREFIX)


def shipped_label(run: RunInfo) -> str:
    """How a page names a shipped run: 'shipped default gru-3cls (read-only)'."""
    return f"shipped default {run.name[len(SHIPPED_PREFIX):]} (read-only)"
