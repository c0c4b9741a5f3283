"""Processes as the run store and the queue see them: alive or not, started when, and launching one.

A pid alone is not enough to know a trainer is still alive: after a crash and many new
processes (or a reboot) another process may get the same id. So the store keeps the process's
start time (from /proc) beside its pid, and a pid whose start time differs is not the trainer.
"""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> int | None:
    """When a process started (clock ticks after boot, from /proc), or None where that is unknown."""
    try:
        return int(_stat_fields(pid)[19])  # field 22 of the whole line
    except (OSError, IndexError, ValueError):
        return None


def this_host() -> str:
    """The name a process records beside its pid (status.json, job.json): a pid means something only there."""
    return socket.gethostname()


def is_process_alive(pid: int | None, started: int | None = None, host: str | None = None) -> bool:
    """True while a process with this id exists and is not a zombie (and, given `started`, is
    the process that started then, not a later one that reuses the id).

    `host`: the machine that recorded the pid. Another machine's process (a queue worker's,
    runs/redis_queue.py) cannot be seen from here: it counts as alive, and the job queue's
    heartbeats decide when it is gone.
    """
    if host and host != this_host():
        return True
    if not isinstance(pid, int) or pid <= 0:
        return False
    if started is not None:
        now = process_start_time(pid)
        if now is not None and now != started:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    try:  # a finished child nobody has waited for is a zombie: dead for our purposes
        return _stat_fields(pid)[0] != "Z"
    except (OSError, IndexError):
        return True


def launch_detached(command: list[str], log_path: Path, cwd: Path) -> int:
    """Start `command` in its own session, output appended to `log_path`; returns its pid.

    Its own process group means a Ctrl-C to the caller (the dashboard) does not reach it,
    and the caller never waits on it. The command line is written first, as a shell shows it.
    """
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=cwd, start_new_session=True, env=training_env())
    return process.pid


def training_env(env: dict | None = None) -> dict:
    """The environment of a training process started for a page or a worker.

    OMP_WAIT_POLICY=PASSIVE (unless the operator chose a policy): an OpenMP thread (torch's, and the
    compiled recurrences') that waits for the others sleeps instead of spinning. On a loaded machine
    spinning threads fought the busy ones for the cores: a page's run burnt about ten times the CPU
    of the same run on one thread (issue 23). It is read as OpenMP loads, so it must be set in the
    child's environment, before torch is imported.
    """
    env = dict(os.environ if env is None else env)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return {**env, "PYTHONUNBUFFERED": "1"}


def reap(pid: int | None) -> tuple[bool, int | None]:
    """Collect our own finished child (no zombie left): (ended, exit code or None if unknown).

    A killed process can look dead (its main thread a zombie) while its other threads still
    exit; waitpid then reports nothing yet, and (False, None) says to try again later.
    """
    try:
        done, code = os.waitpid(int(pid), os.WNOHANG)
    except (ChildProcessError, OSError, TypeError, ValueError):
        return True, None  # not our child any more (already collected elsewhere)
    if done == 0:
        return False, None
    return True, os.waitstatus_to_exitcode(code)
