"""The one way a run picker names a run's dev accuracy.

A run trained with `eval_limit` picked its best checkpoint on the first N dev sentences only;
its label says so, since the analysis page and `evaluate` score the whole split and would
otherwise seem to contradict it ("dev 84.5%" beside 40.3% on all 1,101 sentences).
"""
from __future__ import annotations


def dev_accuracy_text(run) -> str | None:
    """'dev 67.4%', 'dev 84.5% (first 60 sentences)', or None when the run was never evaluated."""
    accuracy = (run.status or {}).get("best_dev_accuracy")
    if not isinstance(accuracy, float):
        return None
    limit = run.config.data.eval_limit if run.config is not None else None
    return f"dev {accuracy:.1%}" + (f" (first {limit:,} sentences)" if limit else "")
