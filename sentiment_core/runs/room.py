"""Room for one more run: the queue's (SENTIMENT_MAX_CONCURRENT_RUNS, SENTIMENT_MAX_QUEUE), the runs
folder's (SENTIMENT_MAX_RUNS: retiring the visitor runs that ended longest ago, or refusing), and a
visitor's (SENTIMENT_MAX_RUNS_PER_VISITOR). Each check raises the error that says, in one sentence,
why nothing was started; callers hold the queue lock.
"""
from __future__ import annotations

from pathlib import Path

from sentiment_core.runs.job_record import DONE, QueueFull, RunsFull, VisitorBusy
from sentiment_core.runs.job_views import JobView, active_runs, list_jobs, pending_order, read_jobs
from sentiment_core.runs.limits import Limits
from sentiment_core.runs.ownership import Requester, owns
from sentiment_core.runs.store import RunError, RunNotFound, delete_run, run_dirs


def check_queue_room(root: Path, limits: Limits) -> None:
    """Raise QueueFull when every slot trains and the queue holds limits.max_queue runs already."""
    jobs_of = read_jobs(run_dirs(root))
    active, waiting = active_runs(root, jobs_of), pending_order(root, jobs_of)
    if len(active) >= limits.max_concurrent_runs and len(waiting) >= limits.max_queue:
        raise QueueFull(
            f"The queue is full: {len(active)} run(s) training and {len(waiting)} waiting, the most this server "
            f"allows ({limits.max_concurrent_runs} at once, SENTIMENT_MAX_CONCURRENT_RUNS, and {limits.max_queue} "
            "waiting, SENTIMENT_MAX_QUEUE). Nothing was started; try again when a run has finished, "
            "or stop one.")


def retirable_runs(views: list[JobView]) -> list[Path]:
    """The runs a start may retire to stay within SENTIMENT_MAX_RUNS, the one changed longest ago first.

    Only a visitor's run (started through the queue, so by a page) whose process has ended: never
    a run that waits, starts or trains, nor one a terminal started (the operator's), nor a damaged
    one (its state is unknown). The walkthrough's runs are no exception: once ended and among the
    oldest they go too, and its page then shows the shipped models (sentiment_core/pretrained,
    which are not in the runs folder).
    """
    ended = [v for v in views if v.terminal and v.job is not None and v.job.get("state") == DONE]
    ended.sort(key=lambda v: (v.status.get("updated_at") or v.status.get("created_at") or 0.0, v.name))
    return [v.path for v in ended]


def make_room(root: Path, limits: Limits) -> None:
    """Retire runs (retirable_runs) so that one more keeps the runs folder within limits.max_runs.

    Raises RunsFull when too few can go (retiring none when too few have ended).
    """
    if not limits.max_runs:
        return
    views = list_jobs(root)
    excess = len(views) + 1 - limits.max_runs
    if excess <= 0:
        return
    candidates = retirable_runs(views)
    retired = 0
    if len(candidates) >= excess:
        for path in candidates:
            try:
                delete_run(path)  # renamed out of sight first, then removed
            except RunNotFound:
                pass  # deleted meanwhile: the room is made all the same
            except (RunError, OSError):
                continue  # resumed from a terminal since we looked, or not ours to delete: the next one
            retired += 1
            if retired == excess:
                return
    raise RunsFull(f"This server keeps at most {limits.max_runs} runs (SENTIMENT_MAX_RUNS) and too few of the "
                   f"{len(views)} it has can be retired to make room (runs training or waiting, and the operator's "
                   "own, are kept); nothing was started, so try again when a run has ended.")


def check_visitor_room(root: Path, limits: Limits, owner: str | None) -> None:
    """Raise VisitorBusy when `owner` already has limits.max_runs_per_visitor runs waiting or training."""
    if owner is None or not limits.max_runs_per_visitor:
        return
    requester = Requester(key=owner)
    theirs = [v for v in list_jobs(root) if v.active and owns(requester, v.job)]
    if len(theirs) >= limits.max_runs_per_visitor:
        mine = theirs[-1]  # the oldest: the one nearest to finishing
        where = f"waiting at place {mine.queue_place} in the queue" if mine.queue_place else mine.state
        raise VisitorBusy(f"You already have a run in progress, {mine.name} ({where}); this server trains "
                          f"{limits.max_runs_per_visitor} per visitor at a time, so start the next when it has "
                          "finished (or stop it).", mine.name)
