"""The one word a page uses for a run's state, and the snapshot of them a page was drawn with.

A run's state comes from its folder (job_views.JobView.state); a page also says "stopping" for an
active run that was asked to stop and has not ended yet (the trainer stops after its batch),
so the header, the run picker and the buttons never disagree about it.
"""
from __future__ import annotations

from typing import Iterable

from sentiment_core.runs.job_views import JobView

# Every state a page may name, in a run's life order (job_views.JobView.state, plus "stopping").
SHOWN_STATES = ("queued", "starting", "running", "stopping", "stopped", "finished", "failed", "interrupted",
                "broken")


def shown_state(view: JobView) -> str:
    """view.state, or "stopping" while an active run that was asked to stop still trains."""
    return "stopping" if view.active and view.stop_requested else view.state


def state_snapshot(views: Iterable[JobView]) -> dict[str, str]:
    """{run name: shown_state}: what a page's labels said; a page is stale once this differs."""
    return {view.name: shown_state(view) for view in views}


def kept_checkpoint_text(view: JobView) -> str:
    """What a stopped run keeps, truly: its best epoch's checkpoint, or (stopped inside its first epoch)
    the weights at the stop, saved but never evaluated. Issue 22: "no epoch was completed. The best
    checkpoint is kept and usable." contradicted itself."""
    if not view.has_checkpoint:
        return " Nothing was saved to use."
    best_epoch = view.status.get("best_epoch")
    if isinstance(best_epoch, int) and not isinstance(best_epoch, bool) and best_epoch > 0:
        return f" The checkpoint of its best epoch (epoch {best_epoch}) is kept and usable."
    return (" Its weights at the stop are kept as a provisional checkpoint: usable, but not yet evaluated on "
            "dev, and trained on less than one epoch.")
