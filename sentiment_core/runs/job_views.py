"""What a run looks like now, from small files only: its JobView (state, queue place, what it can do),
the list of them a page shows, and who may see or change one.

Watching reads small files only: status.json, job.json (parsed again only when they change:
fileio.cached_read), so a poll over 2,000 runs costs a few stats per run. A page also says
`starting` for a run launched and still loading its data.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sentiment_core.runs.job_record import LAUNCHED, PENDING, NotYourRun, listed_job
from sentiment_core.runs.limits import Limits
from sentiment_core.runs.listing import listed_status
from sentiment_core.runs.ownership import Requester, may_see, owns
from sentiment_core.runs.processes import is_process_alive
from sentiment_core.runs.store import (CHECKPOINT, LAST, RunError, RunNotFound, gone, is_walkthrough_run, run_dirs,
                                       stop_requested)

# What a page shows: the run's own state, plus `starting` (launched, still loading the data).
ACTIVE = ("queued", "starting", "running")
TERMINAL = ("finished", "stopped", "failed", "interrupted")
ABANDONED_SECONDS = 120  # a terminal's run still `queued` after this long was abandoned before training


@dataclass
class JobView:
    path: Path
    name: str
    state: str                    # queued | starting | running | finished | stopped | failed | interrupted | broken
    message: str                  # a sentence about the state (the trainer's, or the queue's)
    status: dict                  # status.json (a dead `running` process reads as interrupted)
    job: dict | None              # job.json, None for a run started from a terminal
    queue_place: int | None       # 1 = the next to start; None when not waiting
    stop_requested: bool          # a stop was asked for and the run has not ended yet
    has_checkpoint: bool          # checkpoint.pt exists: the run can be evaluated and used
    can_resume: bool              # stopped / interrupted with a saved training state (last.pt)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def _launched_alive(job: dict | None) -> bool:
    return bool(job) and job.get("state") == LAUNCHED and is_process_alive(job.get("pid"), job.get("pid_started"),
                                                                            job.get("host"))


def read_jobs(paths: list[Path]) -> dict[Path, dict | None]:
    """Each run's job record (None: started from a terminal), read once for one pass over the runs."""
    return {path: listed_job(path) for path in paths}


def pending_order(root: Path, jobs_of: dict[Path, dict | None] | None = None) -> list[Path]:
    """Waiting runs, first to start first. `jobs_of`: read_jobs(run_dirs(root)), when the caller has it."""
    if jobs_of is None:
        jobs_of = read_jobs(run_dirs(root))
    waiting = [(job.get("queued_at") or 0.0, path.name, path) for path, job in jobs_of.items()
               if job and job.get("state") == PENDING]
    return [path for _, _, path in sorted(waiting)]


def job_view(run_dir: str | Path, queue: list[Path] | None = None) -> JobView:
    """The run as a page shows it, from small files only. `queue`: pending_order of its root."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise gone(run_dir)
    return _view(run_dir, listed_job(run_dir), queue)


def _view(run_dir: Path, job: dict | None, queue: list[Path] | None) -> JobView:
    """job_view, given the run's job record; raises RunNotFound when the folder is gone."""
    try:
        status = listed_status(run_dir)
    except RunError as err:
        if not run_dir.is_dir():
            raise gone(run_dir) from None
        return JobView(run_dir, run_dir.name, "broken", str(err), {}, job, None, False,
                       (run_dir / CHECKPOINT).is_file(), False)
    state, message = status.get("state", "broken"), status.get("message", "")
    place = None
    if job and job.get("state") == PENDING:
        queue = pending_order(run_dir.parent) if queue is None else queue
        place = queue.index(run_dir) + 1 if run_dir in queue else None
        state = "queued"
        message = f"waiting in the queue, place {place}" if place else "waiting in the queue"
        if job.get("kind") == "resume":
            message += " (to resume)"
    elif state == "queued" and _launched_alive(job):
        state, message = "starting", "the training process is loading the data and building the model"
    elif state == "queued" and job and job.get("state") == LAUNCHED:
        message = "the training process ended before training started; the next poll records why"
    elif state == "queued" and job is None and time.time() - (status.get("updated_at") or 0) > ABANDONED_SECONDS:
        # `train` from a terminal writes `queued` and `running` moments apart: this one never ran.
        state = "failed"
        message = ("This run was created by a train command that never started training (no process works on "
                   "it); delete it, or start a new run with its settings.")
    stopping = state in ACTIVE and stop_requested(run_dir)
    can_resume = state in ("stopped", "interrupted") and (run_dir / LAST).is_file()
    return JobView(run_dir, run_dir.name, state, message, status, job, place, stopping,
                   (run_dir / CHECKPOINT).is_file(), can_resume)


def list_jobs(root: str | Path, include_walkthrough: bool = True) -> list[JobView]:
    """Every run under `root`, newest first, with queue places (the walkthrough's own runs only
    with `include_walkthrough`; run pickers pass False to hide them)."""
    root = Path(root)
    jobs_of = read_jobs(run_dirs(root))  # one scan, each file read once (and parsed only when it changed)
    queue = pending_order(root, jobs_of)
    views = []
    for path, job in jobs_of.items():
        if not include_walkthrough and is_walkthrough_run(path.name):
            continue
        try:
            views.append(_view(path, job, queue))
        except RunNotFound:
            continue  # deleted while we listed
    views.sort(key=lambda v: (v.status.get("created_at") or 0.0, v.name), reverse=True)
    return views


def active_runs(root: Path, jobs_of: dict[Path, dict | None] | None = None) -> list[Path]:
    """Runs that hold a training slot: a live trainer (any origin) or a job still starting.
    `jobs_of`: read_jobs(run_dirs(root)), when the caller has it."""
    if jobs_of is None:
        jobs_of = read_jobs(run_dirs(root))
    active = []
    for path, job in jobs_of.items():
        try:
            state = listed_status(path).get("state")
        except RunError:
            state = None
        if state == "running" or _launched_alive(job):
            active.append(path)
    return active


# ---------------------------------------------------------------------------------------------
# Who may see and change a run


def check_owner(view: JobView, requester: Requester) -> None:
    """Raise NotYourRun when `requester` does not own the run."""
    if not owns(requester, view.job):
        raise NotYourRun(f"The run {view.name} was started by another visitor; only they (or this server's "
                         "operator) can change it, so nothing was changed.")


def visible_jobs(views: list[JobView], requester: Requester, limits: Limits) -> list[JobView]:
    """The runs a page lists for `requester` (may_see), in the same order."""
    return [v for v in views if may_see(requester, v.job, limits)]
