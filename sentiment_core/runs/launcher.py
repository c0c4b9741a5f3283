"""The local queue: launching waiting runs while slots are free, and recording how launched ones ended.

At most `Limits.max_concurrent_runs` runs train at once (runs started from a terminal count too);
later starts wait as `pending` jobs, in `queued_at` order, and start when a slot frees. No extra
process watches for that: a job's training process starts the next waiting run as it ends
(`hand_over_slot`, called by the train command), and every job call (`advance_queue`, jobs.start_run,
jobs.stop_run, ...) advances the queue too, as the pages do each time they poll (which also catches a
process that was killed). The queue lock makes two sessions polling at once start a queued run only
once. A run a queue worker trains (job_record.is_remote) is neither launched nor reaped here.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from sentiment_core.runs.job_record import (DONE, LAUNCHED, LOG_FILE, PROJECT_ROOT, is_remote, last_log_line,
                                            queue_lock, read_job, write_job)
from sentiment_core.runs.job_views import active_runs, pending_order, read_jobs
from sentiment_core.runs.limits import Limits, limits_from_env
from sentiment_core.runs.processes import is_process_alive, launch_detached, process_start_time, reap
from sentiment_core.runs.store import RunError, read_status, run_dirs, write_status


def advance_queue(root: str | Path, limits: Limits) -> list[Path]:
    """Record ended processes and start waiting runs while slots are free; returns those started."""
    root = Path(root)
    if not root.is_dir():
        return []
    with queue_lock(root):
        return advance_locked(root, limits)


def hand_over_slot(run_dir: str | Path) -> list[Path]:
    """Called by a job's training process as it ends: start the next waiting run now.

    Otherwise the queue would move only when a page or a command next polls it, and a server
    nobody visits would keep its queued runs waiting. The ending process still holds its slot
    (it is alive while it calls this), so it is left out of the count. The limits are the
    server's: the process inherited its environment. Returns the runs started.
    """
    run_dir = Path(run_dir).resolve()
    if read_job(run_dir) is None:  # started from a terminal, not through the queue
        return []
    root = run_dir.parent
    with queue_lock(root):
        return advance_locked(root, limits_from_env(), ending=run_dir)


def advance_locked(root: Path, limits: Limits, ending: Path | None = None) -> list[Path]:
    """advance_queue, the caller holding the queue lock; `ending`: a run whose process is ending (not counted)."""
    # One scan, each job record read once: recording an ended process changes only a launched job
    # whose process is gone, which holds no slot and waits for none, before and after.
    jobs_of = read_jobs(run_dirs(root))
    for path, job in jobs_of.items():
        if not is_remote(job):  # a worker's run: the worker records how it ended (redis_queue.py)
            _record_if_ended(path, job)
    active = [path for path in active_runs(root, jobs_of) if ending is None or path.resolve() != ending]
    free = limits.max_concurrent_runs - len(active)
    started = []
    for path in [p for p in pending_order(root, jobs_of) if not is_remote(jobs_of[p])][:max(free, 0)]:
        _launch(path)
        started.append(path)
    return started


def _launch(run_dir: Path) -> None:
    job = read_job(run_dir) or {}
    try:
        pid = launch_detached(job.get("command"), run_dir / LOG_FILE, PROJECT_ROOT)
    except (OSError, TypeError) as err:
        write_job(run_dir, state=DONE, ended_at=time.time(), exit_code=None)
        restore_or_fail(run_dir, job, f"The training process could not be started ({err}).")
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
        restore_or_fail(run_dir, job, f"The training process ended before training started{code}: "
                                       f"{last_log_line(run_dir) or 'no output'}. The full output is in {LOG_FILE}.")


def restore_or_fail(run_dir: Path, job: dict, reason: str) -> None:
    if job.get("kind") == "resume":
        write_status(run_dir, state=job.get("previous_state") or "interrupted",
                     message=f"Resuming did not work. {reason}")
    else:
        write_status(run_dir, state="failed", ended_at=time.time(), message=reason)
