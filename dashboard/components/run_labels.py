"""The one way a run picker names a run: 'my-gru · gru bidirectional · 3 classes · dev 67.4%'.

A run trained with `eval_limit` picked its best checkpoint on the first N dev sentences only;
its label says so, since the analysis page and `evaluate` score the whole split and would
otherwise seem to contradict it ("dev 84.5%" beside 40.3% on all 1,101 sentences).
"""
from __future__ import annotations

from sentiment_core.pretrained import is_shipped, shipped_label


def shown_name(run) -> str:
    """A run's name as pages show it: shipped models as 'shipped default gru-3cls (read-only)'."""
    return shipped_label(run) if is_shipped(run) else run.name


def dev_accuracy_text(run) -> str | None:
    """'dev 67.4%', 'dev 84.5% (first 60 sentences)', or None when the run was never evaluated."""
    accuracy = (run.status or {}).get("best_dev_accuracy")
    if not isinstance(accuracy, float):
        return None
    limit = run.config.data.eval_limit if run.config is not None else None
    return f"dev {accuracy:.1%}" + (f" (first {limit:,} sentences)" if limit else "")


def run_label(run) -> str:
    """Name, cell, label scheme and dev accuracy (and 'stopped' for a stopped run), for any run picker."""
    config = run.config
    direction = " bidirectional" if config.model.bidirectional else ""
    stopped = " · stopped" if run.state == "stopped" else ""
    return (f"{shown_name(run)} · {config.model.cell}{direction} · {config.data.labels} classes · "
            f"{dev_accuracy_text(run) or 'not evaluated'}{stopped}")
