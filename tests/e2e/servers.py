"""The processes of the browser tests: Streamlit servers and CLI training runs, each in its own
process group on a free port, stopped (SIGTERM, then SIGKILL) however a test ends.

Every pytest-xdist worker starts its own servers from its own temporary folders (tmp_path_factory
is per worker), so nothing here is shared between workers but the read-only treebank and the
tokenized-corpus cache (written atomically).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sentiment_core.runs.jobs import list_jobs
from sentiment_core.runs.processes import is_process_alive

ROOT = Path(__file__).resolve().parents[2]
SERVER_START_SECONDS = 120   # a cold start imports torch, spaCy and plotly on a busy 2-core machine
PORT_TRIES = 3               # a free port can be taken by another process before the server binds it


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
            "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false"]


class ServerExited(RuntimeError):
    """The server process ended before it answered."""


def wait_for_health(url: str, process: subprocess.Popen, log_path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerExited(f"the Streamlit server exited with code {process.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the Streamlit server did not answer {url} within {seconds:.0f} s:\n{tail(log_path)}")


def start_server(env: dict, log_path: Path) -> tuple[str, subprocess.Popen]:
    """(base URL, process) of a Streamlit server running the dashboard, healthy; the caller stops it
    with stop_process_group. A port another process took first is retried on a new one."""
    for attempt in range(1, PORT_TRIES + 1):
        port = free_port()
        with open(log_path, "w", encoding="utf-8") as log:
            process = subprocess.Popen(server_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own process group: stopping it stops its children
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(f"{url}/_stcore/health", process, log_path, SERVER_START_SECONDS)
            return url, process
        except ServerExited:
            if attempt == PORT_TRIES or "already in use" not in tail(log_path):
                raise
        except BaseException:
            stop_process_group(process)
            raise
    raise AssertionError("unreachable")


def stop_process_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the process's whole group, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=grace)


def stop_leftover_training(runs_dir: Path) -> None:
    """SIGTERM to training processes the pages started (their own sessions outlive the server),
    e.g. when a test failed before pressing Stop; SIGTERM stops training between batches."""
    for view in list_jobs(runs_dir):
        if not view.active:
            continue
        for pid in {view.status.get("pid"), (view.job or {}).get("pid")}:
            if is_process_alive(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
