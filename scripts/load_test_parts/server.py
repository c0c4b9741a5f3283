"""The server, the training runs: start and stop the app, train with the CLI, stop leftover trainers."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sentiment_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from sentiment_core.data.corpus import default_cache_dir
from sentiment_core.runs import jobs
from sentiment_core.runs.processes import is_process_alive

ROOT = Path(__file__).resolve().parent.parent.parent
SERVER_START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=5) as answer:
                if answer.read().strip() == b"ok":
                    return process, url
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(process)
    raise SystemExit(f"the server did not start within {SERVER_START_SECONDS} s; see {log_path}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def train_cli(args: list[str], env: dict) -> float:
    """Run `python -m sentiment_core train ...` to the end; returns its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sentiment_core", "train", *args, "--quiet"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def background_config(epochs: int):
    return RunConfig(data=DataConfig(labels=3), model=ModelConfig(cell="gru", embedding_dim=64, hidden_dim=64),
                     train=TrainConfig(epochs=epochs, batch_size=32, patience=None), preset="load-test")


def config_args(config) -> list[str]:
    """The CLI options for the same run as `background_config` (for the --baseline run)."""
    m, t = config.model, config.train
    return ["--cell", m.cell, "--embedding-dim", str(m.embedding_dim), "--hidden-dim", str(m.hidden_dim),
            "--epochs", str(t.epochs), "--batch-size", str(t.batch_size), "--patience", "none"]


def wait_for_run(run_dir: Path, limits, root: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs.advance_queue(root, limits)
        view = jobs.job_view(run_dir)
        if view.terminal:
            return view.status
        time.sleep(1.0)
    return jobs.job_view(run_dir).status


def stop_training(runs: Path) -> int:
    """Stop every training process still running for a run in `runs` (they outlive the server); how many."""
    alive = []
    for run_dir in sorted(p for p in runs.iterdir() if p.is_dir()):
        job = jobs.read_job(run_dir) or {}
        if is_process_alive(job.get("pid"), job.get("pid_started")):
            alive.append((job["pid"], job.get("pid_started")))
    for pid, _ in alive:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGTERM)  # each trainer leads its own session (processes.launch_detached)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(is_process_alive(pid, started) for pid, started in alive):
        time.sleep(0.5)
    for pid, started in alive:
        if is_process_alive(pid, started):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
    return len(alive)


def load_corpus_cache_dir() -> Path:
    return default_cache_dir()  # the project's cache: the treebank is tokenized once, for everyone
