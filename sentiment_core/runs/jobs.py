"""Training runs as background processes: start, queue, watch, stop, resume and delete them.

A run started here is the same `python -m sentiment_core train ... --out RUN_DIR` command a
terminal runs, launched as its own process (own session, output to RUN_DIR/train.log), so
the caller never waits on it and a crash in training never takes the caller down. Everything
lives on disk, so any process or browser session sees the same runs and the same queue:

    RUN_DIR/job.json   the launcher's record (this module's only file in a run directory):
                       kind (train | resume), state (pending | launched | done), queued_at,
                       command, pid, pid_started (processes.process_start_time), launched_at,
                       launcher_pid, exit_code, ended_at; for a resume, the state to restore
    RUN_DIR/train.log  the training process's stdout and stderr
    ROOT/.jobs.lock    an flock held while the queue is read and changed

At most `Limits.max_concurrent_runs` runs train at once (runs started from a terminal count
too); later starts wait as `pending` jobs, in `queued_at` order, and start when a slot
frees. No extra process watches for that: a job's training process starts the next waiting
run as it ends (`hand_over_slot`, called by the train command), and every job call
(`advance_queue`, `start_run`, `stop_run`, ...) advances the queue too, as the pages do each
time they poll (which also catches a process that was killed). The lock makes two sessions
polling at once start a queued run only once. Tests run a fake trainer (`program`).

Watching reads small files only: status.json, job.json and the new bytes of metrics.jsonl
(metrics.MetricsFollower), and parses status.json and job.json again only when they change
(fileio.cached_read), so a poll over 2,000 runs costs a few stats per run. The page never waits on
a process.

With `Limits.max_runs` (SENTIMENT_MAX_RUNS; 200 in public mode) a start first retires the visitor
runs that ended longest ago (retirable_runs), or is refused when none can go; and in public mode
a new run cancelled before it started leaves no folder behind.

Owners: a run started with `owner` (a visitor's secret key; the pages keep it in the visitor's
browser) records only a hash of it in job.json. stop_run, resume_run and evaluate_run take a
`requester` and refuse, in one sentence, one that does not own the run: the pages decide who asks,
and this check makes sure nothing a browser sends can act on another visitor's run. A run started
from a terminal has no owner: only the operator (OPERATOR: a terminal, a local dashboard, or the
operator key typed on a public one) manages it. With `Limits.max_runs_per_visitor` one owner may
have that many runs waiting or training at once (VisitorBusy names the one they have).

With SENTIMENT_QUEUE set (a Redis URL), start_run and resume_run check the same limits and write the
same job.json, marked `queue: "redis"`, and enqueue the run for a worker instead (redis_queue.py):
this module then neither launches nor reaps it.
"""
from __future__ import annotations

import fcntl
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from sentiment_core.settings import THREADS_AUTO
from sentiment_core.config import SECTIONS, RunConfig, section_settings, validate
from sentiment_core.runs.limits import DataShape, Limits, check_limits
# Re-exported: the pages and the CLI reach ownership and waits through this module (jobs.Requester, ...).
from sentiment_core.runs.ownership import OPERATOR, Requester, may_see, owner_digest, owns  # noqa: F401
from sentiment_core.runs.processes import is_process_alive, launch_detached, process_start_time, reap
from sentiment_core.runs.store import (CHECKPOINT, CONFIG, LAST, RunError, RunNotFound, cached_read, create_run,
                                           gone, is_walkthrough_run, listed_status, read_config, read_json,
                                           read_status, request_stop, run_dirs, stop_requested, write_json,
                                           write_status)
from sentiment_core.runs.store import delete_run as delete_run_directory
from sentiment_core.runs.waits import WaitEstimate, measured_durations, run_kind, wait_estimate  # noqa: F401

JOB_FILE, LOG_FILE, LOCK_FILE = "job.json", "train.log", ".jobs.lock"
PENDING, LAUNCHED, DONE = "pending", "launched", "done"
# What a page shows: the run's own state, plus `starting` (launched, still loading the data).
ACTIVE = ("queued", "starting", "running")
TERMINAL = ("finished", "stopped", "failed", "interrupted")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ABANDONED_SECONDS = 120  # a terminal's run still `queued` after this long was abandoned before training


class JobError(RunError):
    """A job request that cannot be done (the run is busy, gone, ...); the message says what to do."""


class QueueFull(JobError):
    pass


class RunsFull(JobError):
    """A start that would pass SENTIMENT_MAX_RUNS when too few runs can be retired to make room."""


class NotYourRun(JobError):
    """A requester asked to change a run it does not own."""


class VisitorBusy(JobError):
    """A visitor's start beyond Limits.max_runs_per_visitor; `run_name` is the run they already have."""

    def __init__(self, message: str, run_name: str):
        super().__init__(message)
        self.run_name = run_name


# ---------------------------------------------------------------------------------------------
# Who may change a run


def check_owner(view: "JobView", requester: Requester) -> None:
    """Raise NotYourRun when `requester` does not own the run."""
    if not owns(requester, view.job):
        raise NotYourRun(f"The run {view.name} was started by another visitor; only they (or this server's "
                         "operator) can change it, so nothing was changed.")


def visible_jobs(views: list["JobView"], requester: Requester, limits: Limits) -> list["JobView"]:
    """The runs a page lists for `requester` (may_see), in the same order."""
    return [v for v in views if may_see(requester, v.job, limits)]


# ---------------------------------------------------------------------------------------------
# The command and the job record


def train_command(run_dir: Path, *, resume: bool = False, data_dir: str | Path | None = None,
                  epochs: int | None = None, threads: int | str | None = None,
                  program: Sequence[str] | None = None) -> list[str]:
    """The `train` command line a terminal would type for this run (`threads`: torch's CPU threads, or 'auto').

    `program` replaces `python -m sentiment_core` (tests run a fake trainer with it; pages never
    pass it, so nothing a visitor sends can choose what runs).
    """
    run_dir = Path(run_dir).resolve()
    command = [*(program or (sys.executable, "-m", "sentiment_core")), "train"]
    if resume:
        command += ["--resume", str(run_dir)]
        if epochs is not None:
            command += ["--epochs", str(int(epochs))]
    else:
        command += ["--config", str(run_dir / CONFIG), "--out", str(run_dir)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    if threads is not None:
        command += ["--threads", THREADS_AUTO if threads == THREADS_AUTO else str(int(threads))]
    return command


def read_job(run_dir: Path) -> dict | None:
    """job.json, or None for a run this module never launched (or a damaged record)."""
    try:
        job = read_json(Path(run_dir) / JOB_FILE)  # size and nesting checked first, as for every run file
    except RunError:
        return None
    return job if isinstance(job, dict) else None


def listed_job(run_dir: Path) -> dict | None:
    """read_job, job.json parsed again only when it changed (fileio.cached_read); the copy is the caller's."""
    job = cached_read(read_job, run_dir, JOB_FILE)
    return dict(job) if job is not None else None


def write_job(run_dir: Path, **fields: Any) -> dict:
    job = read_job(run_dir) or {}
    job.update(fields)
    write_json(Path(run_dir) / JOB_FILE, job)
    return job


@contextmanager
def queue_lock(root: Path):
    """Exclusive across processes and threads (each call opens its own file description)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# What a run looks like now


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


def _jobs_of(paths: list[Path]) -> dict[Path, dict | None]:
    """Each run's job record (None: started from a terminal), read once for one pass over the runs."""
    return {path: listed_job(path) for path in paths}


def _pending_order(root: Path, jobs_of: dict[Path, dict | None] | None = None) -> list[Path]:
    """Waiting runs, first to start first. `jobs_of`: _jobs_of(run_dirs(root)), when the caller has it."""
    if jobs_of is None:
        jobs_of = _jobs_of(run_dirs(root))
    waiting = [(job.get("queued_at") or 0.0, path.name, path) for path, job in jobs_of.items()
               if job and job.get("state") == PENDING]
    return [path for _, _, path in sorted(waiting)]


def job_view(run_dir: str | Path, queue: list[Path] | None = None) -> JobView:
    """The run as a page shows it, from small files only. `queue`: _pending_order of its root."""
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
        queue = _pending_order(run_dir.parent) if queue is None else queue
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
    jobs_of = _jobs_of(run_dirs(root))  # one scan, each file read once (and parsed only when it changed)
    queue = _pending_order(root, jobs_of)
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
    `jobs_of`: _jobs_of(run_dirs(root)), when the caller has it."""
    if jobs_of is None:
        jobs_of = _jobs_of(run_dirs(root))
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
# The queue


def advance_queue(root: str | Path, limits: Limits) -> list[Path]:
    """Record ended processes and start waiting runs while slots are free; returns those started."""
    root = Path(root)
    if not root.is_dir():
        return []
    with queue_lock(root):
        return _advance_locked(root, limits)


def hand_over_slot(run_dir: str | Path) -> list[Path]:
    """Called by a job's training process as it ends: start the next waiting run now.

    Otherwise the queue would move only when a page or a command next polls it, and a server
    nobody visits would keep its queued runs waiting. The ending process still holds its slot
    (it is alive while it calls this), so it is left out of the count. The limits are the
    server's: the process inherited its environment. Returns the runs started.
    """
    from sentiment_core.runs.limits import limits_from_env

    run_dir = Path(run_dir).resolve()
    if read_job(run_dir) is None:  # started from a terminal, not through the queue
        return []
    root = run_dir.parent
    with queue_lock(root):
        return _advance_locked(root, limits_from_env(), ending=run_dir)


def _advance_locked(root: Path, limits: Limits, ending: Path | None = None) -> list[Path]:
    # One scan, each job record read once: recording an ended process changes only a launched job
    # whose process is gone, which holds no slot and waits for none, before and after.
    jobs_of = _jobs_of(run_dirs(root))
    for path, job in jobs_of.items():
        if not _remote(job):  # a worker's run: the worker records how it ended (redis_queue.py)
            _record_if_ended(path, job)
    active = [path for path in active_runs(root, jobs_of) if ending is None or path.resolve() != ending]
    free = limits.max_concurrent_runs - len(active)
    started = []
    for path in [p for p in _pending_order(root, jobs_of) if not _remote(jobs_of[p])][:max(free, 0)]:
        _launch(path)
        started.append(path)
    return started


def _launch(run_dir: Path) -> None:
    job = read_job(run_dir) or {}
    try:
        pid = launch_detached(job.get("command"), run_dir / LOG_FILE, PROJECT_ROOT)
    except (OSError, TypeError) as err:
        write_job(run_dir, state=DONE, ended_at=time.time(), exit_code=None)
        _restore_or_fail(run_dir, job, f"The training process could not be started ({err}).")
        return
    write_job(run_dir, state=LAUNCHED, pid=pid, pid_started=process_start_time(pid), launched_at=time.time(),
              launcher_pid=os.getpid())


def _record_if_ended(run_dir: Path, job: dict | None) -> None:
    """A launched job (`job`: its record) whose process is gone: note its exit code; explain a death
    before training."""
    if not job or job.get("state") != LAUNCHED or is_process_alive(job.get("pid"), job.get("pid_started")):
        return
    exit_code = None
    if job.get("launcher_pid") == os.getpid():
        ended, exit_code = reap(job.get("pid"))
        if not ended:
            return  # its threads are still exiting; the next poll records it
    write_job(run_dir, state=DONE, exit_code=exit_code, ended_at=time.time())
    try:
        state = read_status(run_dir).get("state")
    except RunError:
        return
    if state == "queued":  # the trainer never took over: it failed while starting
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        _restore_or_fail(run_dir, job, f"The training process ended before training started{code}: "
                                       f"{last_log_line(run_dir) or 'no output'}. The full output is in {LOG_FILE}.")


def _restore_or_fail(run_dir: Path, job: dict, reason: str) -> None:
    if job.get("kind") == "resume":
        write_status(run_dir, state=job.get("previous_state") or "interrupted",
                     message=f"Resuming did not work. {reason}")
    else:
        write_status(run_dir, state="failed", ended_at=time.time(), message=reason)


def last_log_line(run_dir: Path, max_bytes: int = 4096) -> str:
    """The last non-empty line of train.log (progress bars' carriage returns split lines too)."""
    lines = [line.strip() for line in log_tail(run_dir, max_bytes).replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def log_tail(run_dir: Path, max_bytes: int = 8192) -> str:
    path = Path(run_dir) / LOG_FILE
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - max_bytes))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _check_queue_room(root: Path, limits: Limits) -> None:
    jobs_of = _jobs_of(run_dirs(root))
    active, waiting = active_runs(root, jobs_of), _pending_order(root, jobs_of)
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


def _make_room(root: Path, limits: Limits) -> None:
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
                delete_run_directory(path)  # renamed out of sight first, then removed
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


# ---------------------------------------------------------------------------------------------
# Start, resume, stop, delete


def _check_visitor_room(root: Path, limits: Limits, owner: str | None) -> None:
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


def _remote(job: dict | None) -> bool:
    """A run a queue worker trains (SENTIMENT_QUEUE, redis_queue.py): this module never launches or reaps it."""
    return bool(job) and job.get("queue") == "redis"


def _remote_queue() -> str | None:
    """SENTIMENT_QUEUE's Redis URL once Redis answers (QueueUnreachable if not); None: runs train here."""
    from sentiment_core.runs import redis_queue

    return redis_queue.remote_queue()


def _enqueue(url: str, run_dir: Path, *, new: bool, **options) -> None:
    from sentiment_core.runs import redis_queue

    redis_queue.enqueue_run(url, run_dir, new=new, options=options)


def queue_note(root: str | Path):
    """redis_queue.QueueNote for the page (live workers and waiting runs, or Redis unreachable) with
    SENTIMENT_QUEUE set; None when runs train on this machine."""
    from sentiment_core.runs import redis_queue

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
    for config, _ in runs:
        validate(config)
        check_limits(config, limits, shape)
    root = Path(root)
    started = []
    remote = _remote_queue()
    with queue_lock(root):
        _advance_locked(root, limits)  # a slot may have freed since the last poll
        _check_visitor_room(root, limits, owner)
        for config, name in runs:
            _check_queue_room(root, limits)
            _make_room(root, limits)
            run_dir = create_run(config, None, root=root, name=name)
            write_job(run_dir, kind="train", state=PENDING, queued_at=time.time(), pid=None,
                      owner=owner_digest(owner) if owner is not None else None,
                      command=train_command(run_dir, data_dir=data_dir, threads=_threads_per_run(limits, threads),
                                            program=program))
            if remote:  # threads: only the caller's own choice; else the worker's machine decides
                _enqueue(remote, run_dir, new=True, data_dir=data_dir, threads=threads)
            started.append(run_dir)
        _advance_locked(root, limits)
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
        _advance_locked(root, limits)
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
            _check_visitor_room(root, limits, requester.key)
        _check_queue_room(root, limits)
        write_job(run_dir, kind="resume", state=PENDING, queued_at=time.time(), pid=None, exit_code=None,
                  launched_at=None, ended_at=None, previous_state=view.state,
                  command=train_command(run_dir, resume=True, data_dir=data_dir, epochs=epochs, program=program,
                                        threads=_threads_per_run(limits, None)))
        write_status(run_dir, state="queued", message="waiting to resume")
        if remote:
            _enqueue(remote, run_dir, new=False, data_dir=data_dir, epochs=epochs)
        _advance_locked(root, limits)
    return run_dir


def stop_run(run_dir: str | Path, *, limits: Limits, requester: Requester = OPERATOR) -> str:
    """Cancel a waiting run, or ask a training one to stop after its current batch; returns what happened.

    A new run cancelled before it started is removed when this server does not let visitors delete
    runs (public mode): it holds nothing but its settings, and would otherwise stay for good.
    Raises NotYourRun when `requester` does not own the run.
    """
    run_dir = Path(run_dir)
    with queue_lock(run_dir.parent):
        _advance_locked(run_dir.parent, limits)
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
    from sentiment_core.runs.execution import evaluate_best

    check_owner(job_view(run_dir), requester)
    return evaluate_best(run_dir, corpus)


def delete_run(run_dir: str | Path, *, limits: Limits, requester: Requester = OPERATOR) -> None:
    """Delete a run that is not training, when this server allows deleting (and `requester` owns it)."""
    run_dir = Path(run_dir)
    if not limits.allow_delete:
        raise JobError("Deleting runs is switched off on this server (SENTIMENT_ALLOW_DELETE=0); "
                       "nothing was deleted.")
    with queue_lock(run_dir.parent):
        _advance_locked(run_dir.parent, limits)
        view = job_view(run_dir)
        check_owner(view, requester)
        if view.state in ("starting", "running"):
            raise JobError(f"The run {view.name} is still training; stop it first, then delete it. "
                           "Nothing was deleted.")
        delete_run_directory(run_dir)  # a waiting run leaves the queue with its folder


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
