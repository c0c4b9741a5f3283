"""Training runs as jobs on Redis through RQ: the server enqueues, workers on any machine train.

Chosen when SENTIMENT_QUEUE is a Redis URL (settings.queue_url); unset, the local queue (launcher.py)
trains on this machine and redis and rq are never imported. The run directory stays the one contract:

- jobs.start_runs / resume_run check the same limits as for a local run, create the run and its
  job.json (`queue: "redis"`, state pending, `rq_job`: the RQ job's id), then `enqueue_run` puts
  one RQ job on the queue `sentiment-runs`. Its only argument is the run directory's path, so
  nothing read from Redis chooses what runs: the worker builds the `train` command itself.
- A worker (`python -m sentiment_core worker`, cli/worker.py) runs `run_queued_job` in a forked
  work horse, which starts the same `python -m sentiment_core train` command the local queue starts,
  as its own process (one run per process), output to RUN_DIR/train.log; job.json records its pid
  and host as for a local run. Stop requests are the run's stop file, read after every batch.
- A worker that dies (SIGKILL, its machine gone) stops sending heartbeats; after `HEARTBEAT_GRACE`
  heartbeat periods RQ's own abandoned-job cleanup (run by any live worker) retries the job
  (`Retry`), and the next worker resumes the run from last.pt (runs.py's resume, the same figures).
- Redis is a dispatcher, not the record: `sync` (each page poll, each worker start) enqueues again a
  waiting run whose RQ job Redis no longer has (a restarted Redis without persistence).
- A job whose run was deleted or cancelled (job.json gone or no longer pending) is dropped.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sentiment_core import settings
from sentiment_core.settings import HEARTBEAT_ENV, WORKER_THREADS_ENV
from sentiment_core.runs.job_record import (DONE, LAUNCHED, LOG_FILE, PENDING, PROJECT_ROOT, REMOTE, JobError, is_remote,
                                            last_log_line, listed_job, queue_lock, read_job, train_command, write_job)
from sentiment_core.runs.launcher import restore_or_fail
from sentiment_core.runs.processes import is_process_alive, process_start_time, this_host, training_env
from sentiment_core.runs.store import (LAST, STATUS, RunError, RunNotFound, read_json, read_status, run_dirs,
                                           write_status)
from sentiment_core.runs.store import delete_run as delete_run_directory

QUEUE_NAME = "sentiment-runs"
RETRIES = 3                       # a run's job is retried this often after its worker died
DEFAULT_HEARTBEAT = settings.BY_NAME[HEARTBEAT_ENV].default  # seconds between a worker's heartbeats
HEARTBEAT_GRACE = 3               # heartbeats missed before a worker (and its run) count as gone
CONNECT_SECONDS = 2               # a page waits at most this long for an unreachable Redis


class QueueUnreachable(JobError):
    """Redis cannot be reached: nothing was queued or changed."""


def heartbeat_seconds(env=None) -> int:
    """SENTIMENT_WORKER_HEARTBEAT in whole seconds (range and default: settings_table.py); ValueError otherwise."""
    return settings.read(HEARTBEAT_ENV, env)


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def unreachable(url: str, err: BaseException) -> QueueUnreachable:
    """One sentence for the page and the terminal, without the address (`health` names it and Redis's reason)."""
    return QueueUnreachable("The job queue (Redis) cannot be reached, so nothing was queued (runs already training "
                            "go on); try again in a moment.")


def connect(url: str):
    """A Redis client that gives up quickly: a page must never hang on a Redis that is gone."""
    from redis import Redis

    return Redis.from_url(url, socket_connect_timeout=CONNECT_SECONDS, socket_timeout=5 * CONNECT_SECONDS)


def rq_queue(connection):
    from rq import Queue

    return Queue(QUEUE_NAME, connection=connection)


def redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    return (RedisConnectionError, RedisTimeout, OSError)


def remote_queue() -> str | None:
    """SENTIMENT_QUEUE once Redis answers it (QueueUnreachable if not); None when runs train on this machine."""
    url = settings.queue_url()
    if url:
        check_reachable(url)
    return url


def check_reachable(url: str) -> None:
    """Raise QueueUnreachable unless Redis answers; called before anything is created."""
    try:
        connect(url).ping()
    except redis_errors() as err:
        raise unreachable(url, err) from None


# ---------------------------------------------------------------------------------------------
# Enqueueing (the server, or `train --queue` from a terminal)


def enqueue_run(url: str, run_dir: Path, *, new: bool, options: dict | None = None) -> str:
    """Put the run (its job.json already written, state pending) on the queue; returns the RQ job id.

    `options`: data_dir, threads, epochs for the worker's `train` command. Redis failing here undoes
    the request so that nothing is half-written: a `new` run is removed, a resume goes back to its
    previous state. Raises QueueUnreachable.
    """
    job_id = f"run-{uuid.uuid4().hex}"
    options = {key: str(value) if isinstance(value, Path) else value for key, value in (options or {}).items()
               if value is not None}
    write_job(run_dir, queue=REMOTE, rq_job=job_id, options=options)
    try:
        _enqueue(connect(url), run_dir, job_id)
    except redis_errors() as err:
        _undo(run_dir, new)
        raise unreachable(url, err) from None
    return job_id


def _enqueue(connection, run_dir: Path, job_id: str) -> None:
    from rq import Retry

    # No time limit (a run's own limits bound it); the result is kept a day, a failure a week.
    rq_queue(connection).enqueue_call("sentiment_core.runs.redis_queue.run_queued_job",
                                      args=(str(Path(run_dir).resolve()),), job_id=job_id, timeout=-1,
                                      result_ttl=86_400, failure_ttl=7 * 86_400, retry=Retry(max=RETRIES),
                                      description=f"train {Path(run_dir).name}")


def _undo(run_dir: Path, new: bool) -> None:
    try:
        if new:
            delete_run_directory(run_dir)
            return
        job = read_job(run_dir) or {}
        write_job(run_dir, state=DONE, ended_at=time.time())
        write_status(run_dir, state=job.get("previous_state") or "stopped",
                     message="Resuming was not queued: the job queue could not be reached.")
    except (RunError, OSError):
        pass  # deleted meanwhile: nothing is left half-written either way


# ---------------------------------------------------------------------------------------------
# What a page shows, and putting back what a restarted Redis lost


@dataclass(frozen=True)
class QueueNote:
    text: str            # one sentence for the page
    problem: bool        # True: Redis cannot be reached, no worker is live, or SENTIMENT_QUEUE is not a Redis URL


def page_note(root: Path) -> QueueNote | None:
    """queue_note for SENTIMENT_QUEUE; None when it is unset (runs train on this machine)."""
    try:
        url = settings.queue_url()
    except ValueError as err:  # the operator's typo: said on the page, as `health` says it
        return QueueNote(str(err), True)
    return queue_note(url, root) if url else None


def queue_note(url: str, root: Path) -> QueueNote:
    """Live workers and waiting runs, as one sentence; re-enqueues what Redis lost (sync) on the way."""
    try:
        connection = connect(url)
        sync(connection, root)
        workers = live_workers(connection)
        waiting = rq_queue(connection).count
    except redis_errors():
        return QueueNote("The job queue (Redis) cannot be reached: new runs cannot start now, runs already "
                         "training go on, and waiting runs start once it is back.", True)
    if not workers:
        return QueueNote("No training worker is running, so waiting runs start only when the operator starts one "
                         "(python -m sentiment_core worker).", True)
    return QueueNote(f"Runs train on {workers} worker{'s' if workers != 1 else ''} through the job queue; "
                     f"{waiting} run{'s' if waiting != 1 else ''} waiting for a worker.", False)


def health(url: str) -> tuple[bool, str]:
    """`health`'s queue check: (ok, sentence) with the live workers and waiting runs counted."""
    try:
        connection = connect(url)
        connection.ping()
        workers, waiting = live_workers(connection), rq_queue(connection).count
    except redis_errors() as err:
        reason = str(err).strip()[:120]
        return False, f"Redis at {shown_url(url)} cannot be reached ({reason}); start it, or fix SENTIMENT_QUEUE"
    except ValueError as err:  # SENTIMENT_WORKER_HEARTBEAT
        return False, str(err)
    return True, (f"Redis at {shown_url(url)} answers; {workers} live worker{'s' if workers != 1 else ''}, "
                  f"{waiting} run{'s' if waiting != 1 else ''} waiting" + ("" if workers else
                  " (start one: python -m sentiment_core worker)"))


def live_workers(connection, heartbeat: int | None = None) -> int:
    """Workers on the queue whose last heartbeat is recent (a killed worker's key outlives it a while)."""
    from rq import Worker

    heartbeat = heartbeat or heartbeat_seconds()
    now = time.time()
    alive = 0
    for worker in Worker.all(queue=rq_queue(connection)):
        beat = worker.last_heartbeat
        if beat is not None and now - beat.timestamp() <= HEARTBEAT_GRACE * heartbeat + 1:
            alive += 1
    return alive


def sync(connection, root: Path) -> list[Path]:
    """Enqueue again every waiting run (and every run whose trainer died) that Redis has no job for.

    Redis restarted without its data (or flushed) forgets its queue; the run folders remember.
    Returns the runs enqueued again.
    """
    from rq.job import Job

    root = Path(root)
    if not root.is_dir():
        return []
    again = []
    with queue_lock(root):
        for path in run_dirs(root):
            job = listed_job(path)
            if not is_remote(job) or not _needs_worker(job) or Job.exists(job.get("rq_job") or "-", connection):
                continue
            _enqueue(connection, path, job["rq_job"])
            again.append(path)
    return again


def _needs_worker(job: dict) -> bool:
    if job.get("state") == PENDING:
        return True
    return job.get("state") == LAUNCHED and not is_process_alive(job.get("pid"), job.get("pid_started"),
                                                                 job.get("host"))


# ---------------------------------------------------------------------------------------------
# The job, in a worker's work horse


def run_queued_job(run_dir: str) -> str:
    """Train one queued run in its own process, as the local queue does; returns what happened."""
    from rq import get_current_job

    die_with_parent()  # the worker gone means this horse (and its trainer) gone: the run is requeued whole
    run_dir = Path(run_dir)
    current = get_current_job()
    taken = _take(run_dir, current.id if current else None)
    if isinstance(taken, str):
        print(taken, flush=True)
        return taken
    return _wait(run_dir, taken)


def _take(run_dir: Path, job_id: str | None) -> subprocess.Popen | str:
    """The started trainer, with job.json marked launched; or why this job is dropped."""
    if not run_dir.is_dir():
        return f"dropped: the run {run_dir.name} was deleted before a worker took it"
    with queue_lock(run_dir.parent):
        job = read_job(run_dir)
        if not is_remote(job) or job.get("rq_job") != job_id:
            return f"dropped: the run {run_dir.name} was deleted, cancelled or queued again since"
        if job.get("state") == DONE:
            return f"dropped: the run {run_dir.name} was cancelled or has ended"
        if job.get("state") == LAUNCHED and job.get("host") == this_host() and \
                is_process_alive(job.get("pid"), job.get("pid_started")):
            return f"dropped: the run {run_dir.name} is still training here (pid {job.get('pid')})"
        command = _command(run_dir, job)
        process = _launch(run_dir, command)
        write_job(run_dir, state=LAUNCHED, pid=process.pid, pid_started=process_start_time(process.pid),
                  host=this_host(), worker=os.environ.get("RQ_WORKER_ID"), worker_pid=os.getppid(),
                  launched_at=time.time(), launcher_pid=os.getpid(), attempts=int(job.get("attempts") or 0) + 1)
    return process


def _command(run_dir: Path, job: dict) -> list[str]:
    """`train` for a new run, `train --resume` for a resume or for a run a dead worker had saved (last.pt)."""
    options = job.get("options") or {}
    threads = options.get("threads") or _default_threads()
    data_dir = options.get("data_dir")
    resume = job.get("kind") == "resume" or (run_dir / LAST).is_file()
    if job.get("state") == LAUNCHED:  # the worker that had it died (RQ retried the job)
        _mark_abandoned(run_dir, resume)
    if resume:
        return train_command(run_dir, resume=True, epochs=options.get("epochs"), threads=threads, data_dir=data_dir)
    return train_command(run_dir, threads=threads, data_dir=data_dir)


def _mark_abandoned(run_dir: Path, resume: bool) -> None:
    """A dead worker's run: interrupted (so `--resume` takes it), or queued again when it never saved."""
    try:
        state = (read_json(run_dir / STATUS) or {}).get("state")
    except RunError:
        state = None
    if resume and state in ("running", "queued"):
        write_status(run_dir, state="interrupted", message="The worker training it stopped; resuming on another.")
    elif not resume:
        write_status(run_dir, state="queued", message="The worker training it stopped before its first save; "
                                                      "starting again on another.")


def _default_threads() -> int | None:
    return settings.read(WORKER_THREADS_ENV)


def _launch(run_dir: Path, command: list[str]) -> subprocess.Popen:
    with open(run_dir / LOG_FILE, "ab") as log:
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=PROJECT_ROOT, env=training_env(),
                                preexec_fn=die_with_parent)


def _wait(run_dir: Path, process: subprocess.Popen) -> str:
    """Wait for the trainer and record how it ended, as launcher._record_if_ended does for a local run."""
    exit_code = process.wait()
    try:
        job = write_job(run_dir, state=DONE, exit_code=exit_code, ended_at=time.time())
        status = read_status(run_dir)
    except (RunNotFound, RunError):
        return f"the run {run_dir.name} ended (exit code {exit_code}); its folder is gone"
    if status.get("state") == "queued":  # the trainer never took over: say why, as the local queue does
        restore_or_fail(run_dir, job, f"The training process ended before training started (exit code "
                                      f"{exit_code}): {last_log_line(run_dir) or 'no output'}. The full output is "
                                      f"in {LOG_FILE}.")
        status = read_status(run_dir)
    return f"{status.get('state')}: {run_dir.name} (exit code {exit_code})"


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent ends, so a killed worker leaves no trainer behind
    (the retried job then resumes the run from its last save, never beside a second trainer)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------
# The worker


def make_worker(connection, heartbeat: int, root: Path | None = None):
    """An RQ worker on the runs queue whose heartbeats and abandoned-job checks run every `heartbeat` s.

    RQ's defaults (a 7-minute worker TTL, a 10-minute maintenance interval, 60 s of slack on every
    heartbeat) would leave a dead worker's run waiting for many minutes; here a run counts as
    abandoned after HEARTBEAT_GRACE missed heartbeats, and every idle worker looks for such runs each
    heartbeat. A Redis that goes away while a run trains costs heartbeats only: the run goes on. `root`:
    the runs folder, whose waiting runs are enqueued again when Redis comes back empty (sync).
    """
    from rq import Worker

    class RunWorker(Worker):
        def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
            return heartbeat * HEARTBEAT_GRACE

        def maintain_heartbeats(self, job, execution):
            try:
                super().maintain_heartbeats(job, execution)
            except redis_errors() as err:
                self.log.warning("Redis cannot be reached (%s); the run goes on and heartbeats resume with it", err)

        def heartbeat(self, timeout=None, pipeline=None):
            # Redis came back without our record (state updates may have re-created a bare hash meanwhile)
            if pipeline is None and not self.connection.sismember(self.redis_workers_keys, self.key):
                self.connection.delete(self.key)
                self.register_birth()  # counted as live again (queue_note, health)
                if root is not None:
                    sync(self.connection, root)  # and the waiting runs it forgot are queued again
            super().heartbeat(timeout, pipeline)

    return RunWorker([rq_queue(connection)], connection=connection, job_monitoring_interval=heartbeat,
                     worker_ttl=heartbeat + 15, maintenance_interval=heartbeat)
