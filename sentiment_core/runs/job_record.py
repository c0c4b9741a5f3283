"""The launcher's files in a run directory: job.json, train.log, and the runs folder's queue lock.

    RUN_DIR/job.json   the launcher's record: kind (train | resume), state (pending | launched | done),
                       queued_at, command, pid, pid_started (processes.process_start_time), launched_at,
                       launcher_pid, exit_code, ended_at; for a resume, the state to restore; `queue:
                       "redis"` for a run a queue worker trains (redis_queue.py)
    RUN_DIR/train.log  the training process's stdout and stderr
    ROOT/.jobs.lock    an flock held while the queue is read and changed

The bottom of the queue's modules (job_views, room, launcher, redis_queue and jobs build on it),
with the errors they raise.
"""
from __future__ import annotations

import fcntl
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

from sentiment_core.fileio import cached_read
from sentiment_core.settings import THREADS_AUTO
from sentiment_core.runs.store import CONFIG, RunError, read_json, write_json

JOB_FILE, LOG_FILE, LOCK_FILE = "job.json", "train.log", ".jobs.lock"
PENDING, LAUNCHED, DONE = "pending", "launched", "done"
REMOTE = "redis"                  # job.json's `queue` for a run a worker trains (redis_queue.py)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    """job.json, or None for a run the queue never launched (or a damaged record)."""
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


def is_remote(job: dict | None) -> bool:
    """A run a queue worker trains (SENTIMENT_QUEUE, redis_queue.py): the local queue never launches or reaps it."""
    return bool(job) and job.get("queue") == REMOTE


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
