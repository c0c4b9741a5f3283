"""Comparing runs: results first (accuracy, macro F1, each class's recall), then the metrics to overlay.

Plain data for the training page's comparison (and anyone else): a run's status holds the
best checkpoint's figures per split (execution.py), its metrics.jsonl the per-epoch rows, its
config.json the settings (comparison_row: one row per run, the settings the schema gives a column).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from sentiment_core.config import SECTIONS, section_settings
from sentiment_core.runs.job_views import JobView
from sentiment_core.runs.store import RunError, read_config

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


# Columns of comparison_row that results_row already shows (the settings table leaves them out).
RESULT_COLUMNS = ("best dev accuracy", "best epoch", "dev accuracy", "test accuracy", "test macro F1")


def settings_only(row: Mapping) -> dict:
    """A comparison row without its results (shown first, in their own table)."""
    return {key: value for key, value in row.items() if key not in RESULT_COLUMNS}


# (column, config section, setting) of the comparison table: the settings the schema marks with a column.
SETTINGS_COLUMNS = tuple((s.column, s.section, s.key) for section, _, _ in SECTIONS
                         for s in section_settings(section) if s.column)


def comparison_row(view: JobView) -> dict:
    """One table row: a run's name, state, settings and results."""
    row: dict[str, Any] = {"run": view.name, "state": view.state, "preset": view.status.get("preset")}
    try:
        config = read_config(view.path)
    except RunError:
        config = None
    for column, section, name in SETTINGS_COLUMNS:
        row[column] = getattr(getattr(config, section), name) if config else None
    results = view.status.get("results") or {}
    row["best dev accuracy"] = view.status.get("best_dev_accuracy")
    row["best epoch"] = view.status.get("best_epoch")
    row["dev accuracy"] = (results.get("dev") or {}).get("accuracy")
    row["test accuracy"] = (results.get("test") or {}).get("accuracy")
    row["test macro F1"] = (results.get("test") or {}).get("macro_f1")
    return row
