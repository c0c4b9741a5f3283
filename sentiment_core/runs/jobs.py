"""Training runs as background processes: start, queue, stop, resume and delete them.

A run started here is the same `python -m sentiment_core train ... --out RUN_DIR` command a
terminal runs, launched as its own process (own session, output to RUN_DIR/train.log), so
the caller never waits on it and a crash in training never takes the caller down. Everything
lives on disk, so any process or browser session sees the same runs and the same queue. The
queue is built from modules that import in one direction, each on those before it:

    job_record.py  job.json, train.log, the queue lock, the train command; the errors below
    job_views.py   what a run looks like now (JobView), the list of them, who may see or change one
    room.py        room for one more run: the queue's, the runs folder's, a visitor's
    launcher.py    the local queue: launching waiting runs, recording how launched ones ended
    redis_queue.py the same runs enqueued for workers on Redis (SENTIMENT_QUEUE)
    jobs.py        this module: what a page or a command asks for (start, resume, stop, delete)

At most `Limits.max_concurrent_runs` runs train at once (runs started from a terminal count
too); later starts wait as `pending` jobs and start when a slot frees (launcher.py). Every call
here advances the queue first, under the lock. Tests run a fake trainer (`program`).

With `Limits.max_runs` (SENTIMENT_MAX_RUNS; 200 in public mode) a start first retires the visitor
runs that ended longest ago (room.retirable_runs), or is refused when none can go; and in public
mode a new run cancelled before it started leaves no folder behind.

Owners: a run started with `owner` (a visitor's secret key; the pages keep it in the visitor's
browser) records only a hash of it in job.json. stop_run, resume_run and evaluate_run take a
`requester` and refuse, in one sentence, one that does not own the run: the pages decide who asks,
and this check makes sure nothing a browser sends can act on another visitor's run. A run started
from a terminal has no owner: only the operator (OPERATOR: a terminal, a local dashboard, or the
operator key typed on a public one) manages it. With `Limits.max_runs_per_visitor` one owner may
have that many runs waiting or training at once (VisitorBusy names the one they have).

With SENTIMENT_QUEUE set (a Redis URL), start_run and resume_run check the same limits and write the
same job.json, marked `queue: "redis"`, and enqueue the run for a worker instead (redis_queue.py):
the local queue then neither launches nor reaps it.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from sentiment_core.settings import THREADS_AUTO
from sentiment_core.config import RunConfig
from sentiment_core.runs import redis_queue
from sentiment_core.runs.job_record import (DONE, PENDING, JobError, queue_lock, train_command, write_job)
from sentiment_core.runs.job_views import check_owner, job_view
from sentiment_core.runs.launcher import advance_locked
from sentiment_core.runs.limits import DataShape, Limits, check_limits
from sentiment_core.runs.ownership import OPERATOR, Requester, owner_digest
from sentiment_core.runs.room import check_queue_room, check_visitor_room, make_room
from sentiment_core.runs.store import LAST, create_run, request_stop, write_status
from sentiment_core.runs.store import delete_run as delete_run_directory

# The pages, the CLI, the scripts and the tests reach the queue through this module (jobs.list_jobs,
# jobs.Requester, ...): the names of the modules it is built from, re-exported.
from sentiment_core.runs.job_record import (JOB_FILE, LAUNCHED, LOCK_FILE, LOG_FILE,  # noqa: F401 (re-exported)
                                            NotYourRun, QueueFull, RunsFull, VisitorBusy, listed_job, log_tail,
                                            read_job)
from sentiment_core.runs.job_views import ABANDONED_SECONDS, ACTIVE, JobView, list_jobs, visible_jobs  # noqa: F401 (re-exported)
from sentiment_core.runs.launcher import advance_queue, hand_over_slot  # noqa: F401 (re-exported)
from sentiment_core.runs.ownership import may_see, owns  # noqa: F401 (re-exported)
from sentiment_core.runs.store import run_dirs  # noqa: F401 (re-exported)
from sentiment_core.runs.waits import WaitEstimate, wait_estimate  # noqa: F401 (re-exported)


# ---------------------------------------------------------------------------------------------
# Start, resume, stop, delete


def _remote_queue() -> str | None:
    """SENTIMENT_QUEUE's Redis URL once Redis answers (QueueUnreachable if not); None: runs train here."""
    return redis_queue.remote_queue()


def _enqueue(url: str, run_dir: Path, *, new: bool, **options) -> None:
    redis_queue.enqueue_run(url, run_dir, new=new, options=options)


def queue_note(root: str | Path):
    """redis_queue.QueueNote for the page (live workers and waiting runs, or Redis unreachable) with
    SENTIMENT_QUEUE set; None when runs train on this machine."""
    return redis_queue.page_note(Path(root))


def _threads_per_run(limits: Limits, threads: int | str | None) -> int | str | None:
    """Torch's threads for a run: one each when several train at once (a slot is a core), else 'auto': the
    cores free when it starts (settings.free_cores; torch's default of one per core spins on a loaded machine)."""
    if threads is None:
        return 1 if limits.max_concurrent_runs > 1 else THREADS_AUTO
    return threads


def start_run(config: RunConfig, *, root: str | Path, limits: Limits, shape: DataShape | None = None,
              name: str | None = None, data_dir: str | Path | None = None, threads: int | None = None,
              program: Sequence[str] | None = None, owner: str | None = None) -> Path:
    """Check the settings, create the run (state queued) and start it now or when a slot frees.

    Raises LimitExceeded / ValueError for bad settings, QueueFull when the queue has no room,
    VisitorBusy when `owner` has limits.max_runs_per_visitor runs waiting or training already, and
    RunsFull when the runs folder has none (limits.max_runs, after retiring what it may:
    retirable_runs); either way nothing is created. `shape` (limits.data_shape) enables the time
    estimate check. `program`: see train_command. `owner`: the starting visitor's secret key (job.json
    keeps only owner_digest of it); None for a run only the operator manages.
    """
    return start_runs([(config, name)], root=root, limits=limits, shape=shape, data_dir=data_dir, threads=threads,
                      program=program, owner=owner)[0]


def start_runs(runs: Sequence[tuple[RunConfig, str | None]], *, root: str | Path, limits: Limits,
               shape: DataShape | None = None, data_dir: str | Path | None = None, threads: int | None = None,
               program: Sequence[str] | None = None, owner: str | None = None) -> list[Path]:
    """start_run for several (config, name) pairs asked for at once, e.g. the walkthrough's vanilla RNN
    and LSTM: the visitor's room (max_runs_per_visitor) is checked once for the whole request, the queue's
    for each run. A run refused part-way leaves those before it queued (each is a run of its own)."""
    for config, _ in runs:  # settings were validated where they entered (the page, the CLI, a config file)
        check_limits(config, limits, shape)
    root = Path(root)
    started = []
    remote = _remote_queue()
    with queue_lock(root):
        advance_locked(root, limits)  # a slot may have freed since the last poll
        check_visitor_room(root, limits, owner)
        for config, name in runs:
            check_queue_room(root, limits)
            make_room(root, limits)
            run_dir = create_run(config, None, root=root, name=name)
            write_job(run_dir, kind="train", state=PENDING, queued_at=time.time(), pid=None,
                      owner=owner_digest(owner) if owner is not None else None,
                      command=train_command(run_dir, data_dir=data_dir, threads=_threads_per_run(limits, threads),
                                            program=program))
            if remote:  # threads: only the caller's own choice; else the worker's machine decides
                _enqueue(remote, run_dir, new=True, data_dir=data_dir, threads=threads)
            started.append(run_dir)
        advance_locked(root, limits)
    return started


def resume_run(run_dir: str | Path, *, limits: Limits, data_dir: str | Path | None = None,
               epochs: int | None = None, program: Sequence[str] | None = None,
               requester: Requester = OPERATOR) -> Path:
    """Queue `train --resume RUN_DIR` for a stopped or interrupted run (or a finished one given more epochs).

    Raises NotYourRun when `requester` does not own the run, VisitorBusy when its owner has another
    run in progress (limits.max_runs_per_visitor).
    """
    run_dir = Path(run_dir)
    root = run_dir.parent
    remote = _remote_queue()
    with queue_lock(root):
        advance_locked(root, limits)
        view = job_view(run_dir)
        check_owner(view, requester)
        if view.active:
            raise JobError(f"The run {view.name} is {view.state} already; there is nothing to resume.")
        resumable = view.state in ("stopped", "interrupted") or (view.state == "finished" and epochs is not None)
        if not resumable:
            raise JobError(f"The run {view.name} is {view.state}; only a stopped or interrupted run can be resumed "
                           "(or a finished one given more epochs).")
        if not (run_dir / LAST).is_file():
            raise JobError(f"The run {view.name} has no saved training state to continue from (it ended before "
                           "its first save); start a new run with the same settings instead.")
        if epochs is not None and epochs > limits.max_epochs:
            raise JobError(f"Epochs is {epochs}, above this server's limit of {limits.max_epochs} "
                           "(SENTIMENT_MAX_EPOCHS); choose fewer.")
        if not requester.operator:
            check_visitor_room(root, limits, requester.key)
        check_queue_room(root, limits)
        write_job(run_dir, kind="resume", state=PENDING, queued_at=time.time(), pid=None, exit_code=None,
                  launched_at=None, ended_at=None, previous_state=view.state,
                  command=train_command(run_dir, resume=True, data_dir=data_dir, epochs=epochs, program=program,
                                        threads=_threads_per_run(limits, None)))
        write_status(run_dir, state="queued", message="waiting to resume")
        if remote:
            _enqueue(remote, run_dir, new=False, data_dir=data_dir, epochs=epochs)
        advance_locked(root, limits)
    return run_dir


def stop_run(run_dir: str | Path, *, limits: Limits, requester: Requester = OPERATOR) -> str:
    """Cancel a waiting run, or ask a training one to stop after its current batch; returns what happened.

    A new run cancelled before it started is removed when this server does not let visitors delete
    runs (public mode): it holds nothing but its settings, and would otherwise stay for good.
    Raises NotYourRun when `requester` does not own the run.
    """
    run_dir = Path(run_dir)
    with queue_lock(run_dir.parent):
        advance_locked(run_dir.parent, limits)
        view = job_view(run_dir)
        check_owner(view, requester)
        if view.state == "queued" and view.job and view.job.get("state") == PENDING:
            if view.job.get("kind") != "resume" and not limits.allow_delete:
                delete_run_directory(run_dir)
                return f"{view.name} was taken out of the queue and removed; it had not started, so nothing was lost."
            write_job(run_dir, state=DONE, cancelled=True, ended_at=time.time())
            if view.job.get("kind") == "resume":
                write_status(run_dir, state=view.job.get("previous_state") or "stopped",
                             message="Resuming was cancelled while it waited in the queue.")
            else:
                write_status(run_dir, state="stopped", ended_at=time.time(),
                             message="Cancelled while waiting in the queue; nothing was trained.")
            return f"{view.name} was taken out of the queue."
        if view.state in ("starting", "running"):
            request_stop(run_dir)  # the trainer checks for it after every batch
            return f"{view.name} will stop after its current batch; its best checkpoint stays usable."
        raise JobError(f"The run {view.name} is {view.state}, not training; there is nothing to stop.")


def evaluate_run(run_dir: str | Path, corpus, *, requester: Requester = OPERATOR) -> dict:
    """runs.evaluate_best (a stopped run's best checkpoint on dev and test), for its owner only."""
    from sentiment_core.runs.execution import evaluate_best  # start-up: torch, 3-6 s; jobs alone imports in 0.2 s

    check_owner(job_view(run_dir), requester)
    return evaluate_best(run_dir, corpus)


def delete_run(run_dir: str | Path, *, limits: Limits, requester: Requester = OPERATOR) -> None:
    """Delete a run that is not training, when this server allows deleting (and `requester` owns it)."""
    run_dir = Path(run_dir)
    if not limits.allow_delete:
        raise JobError("Deleting runs is switched off on this server (SENTIMENT_ALLOW_DELETE=0); "
                       "nothing was deleted.")
    with queue_lock(run_dir.parent):
        advance_locked(run_dir.parent, limits)
        view = job_view(run_dir)
        check_owner(view, requester)
        if view.state in ("starting", "running"):
            raise JobError(f"The run {view.name} is still training; stop it first, then delete it. "
                           "Nothing was deleted.")
        delete_run_directory(run_dir)  # a waiting run leaves the queue with its folder
