"""Comparing runs: results first (accuracy, macro F1, each class's recall), then the metrics to overlay.

Plain data for the training page's comparison (and anyone else): a run's status holds the
best checkpoint's figures per split (runs.py), its metrics.jsonl the per-epoch rows.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

SPLITS = ("dev", "test")
# Per-epoch fields that are not a measure to draw (counters and flags).
NOT_METRICS = {"event", "time", "epoch", "epochs", "improved", "best_epoch"}
# The usual measures first, in this order; any other numeric field of the epoch rows follows.
FIRST_METRICS = ("dev_accuracy", "train_accuracy", "dev_loss", "train_loss")
METRIC_TITLES = {"dev_accuracy": "dev accuracy", "train_accuracy": "train accuracy", "dev_loss": "dev loss",
                 "train_loss": "train loss", "best_dev_accuracy": "best dev accuracy so far",
                 "epoch_seconds": "seconds per epoch", "elapsed": "seconds since the start",
                 "sentences_per_second": "sentences per second", "cpu_seconds": "CPU seconds since the start"}


def metric_title(name: str) -> str:
    return METRIC_TITLES.get(name, name.replace("_", " "))


def is_share(name: str) -> bool:
    """A metric between 0 and 1 shown as a percentage (accuracies)."""
    return name.endswith("accuracy")


def results_row(name: str, results: Mapping[str, Mapping] | None) -> dict:
    """{run, dev accuracy, dev macro F1, dev recall <class>..., test ...}: None where a split is missing.

    Recall per class shows what accuracy hides: a 3-class model that almost never answers
    neutral can still score well on accuracy.
    """
    row: dict = {"run": name}
    for split in SPLITS:
        result = (results or {}).get(split) or {}
        row[f"{split} accuracy"] = result.get("accuracy")
        row[f"{split} macro F1"] = result.get("macro_f1")
        for per_class in result.get("per_class") or []:
            row[f"{split} recall {per_class['label']}"] = per_class.get("recall")
    return row


def epoch_metric_names(curves: Mapping[str, Sequence[Mapping]]) -> list[str]:
    """Every numeric per-epoch field any of the runs recorded: the usual four first."""
    found = set()
    for rows in curves.values():
        for row in rows:
            found.update(key for key, value in row.items() if key not in NOT_METRICS and _is_number(value))
    return [m for m in FIRST_METRICS if m in found] + sorted(found - set(FIRST_METRICS))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# Columns of jobs.comparison_row that results_row already shows (the settings table leaves them out).
RESULT_COLUMNS = ("best dev accuracy", "best epoch", "dev accuracy", "test accuracy", "test macro F1")


def settings_only(row: Mapping) -> dict:
    """A comparison row without its results (shown first, in their own table)."""
    return {key: value for key, value in row.items() if key not in RESULT_COLUMNS}
