"""Time a batch of `quick` runs through the Redis job queue with 1 worker, then with 2 (README, More than one machine).

    python scripts/bench_workers.py [--runs 8] [--workers 1 2] [--train-limit N]

Starts its own redis-server on a free port (Debian's package) and the workers
(`python -m sentiment_core worker`, one thread per run), queues the runs as the training page does
(jobs.start_run with SENTIMENT_QUEUE set) into a temporary runs folder, and prints, per worker count,
the wall time from the first enqueue to the last run's end and the CPU seconds each run's trainer
recorded (status.json cpu_seconds). Uses the treebank from $SST_DIR (else data/sst).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, log: Path) -> subprocess.Popen:
    from sentiment_core.runs import redis_queue

    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--daemonize", "no"], stdout=open(log, "ab"),
                               stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            redis_queue.connect(f"redis://127.0.0.1:{port}/0").ping()
            return process
        except Exception:
            time.sleep(0.1)
    raise SystemExit("redis-server did not start; see " + str(log))


def batch(workers: int, runs: int, train_limit: int | None, base: Path) -> dict:
    """Queue `runs` quick runs, train them on `workers` workers; wall seconds and per-run CPU seconds."""
    from sentiment_core.runs import jobs
    from sentiment_core.config import preset, with_changes
    from sentiment_core.runs.limits import Limits
    from sentiment_core.runs.store import read_status

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(port, base / f"redis-{workers}.log")
    root = base / f"runs-{workers}"
    env = {**os.environ, "SENTIMENT_QUEUE": url, "SENTIMENT_RUNS_DIR": str(root)}
    os.environ.update(SENTIMENT_QUEUE=url, SENTIMENT_RUNS_DIR=str(root))
    pool = [subprocess.Popen([sys.executable, "-m", "sentiment_core", "worker", "--threads", "1"], cwd=ROOT, env=env,
                             stdout=open(base / f"worker-{workers}-{i}.log", "ab"), stderr=subprocess.STDOUT)
            for i in range(workers)]
    try:
        config = preset("quick")
        if train_limit:
            config = with_changes(config, {"train_limit": train_limit})
        started = time.monotonic()
        dirs = [jobs.start_run(config, root=root, limits=Limits(max_queue=runs, max_concurrent_runs=workers),
                               name=f"quick-{i}") for i in range(runs)]
        while any(read_status(d)["state"] not in ("finished", "failed", "stopped")
                  or (jobs.read_job(d) or {}).get("state") != "done" for d in dirs):
            time.sleep(0.5)
        wall = time.monotonic() - started
        statuses = [read_status(d) for d in dirs]
        spans = [(jobs.read_job(d) or {}) for d in dirs]
    finally:
        for worker in pool:
            worker.send_signal(signal.SIGTERM)
        for worker in pool:
            try:
                worker.wait(60)  # a warm shutdown: it ends once its current run has
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        redis.terminate()
        redis.wait(10)
    cpu = [s.get("cpu_seconds") or 0.0 for s in statuses]
    # launch to end: the trainer's start-up (Python, torch, the data) included, unlike cpu_seconds
    per_run = [(j.get("ended_at") or 0.0) - (j.get("launched_at") or 0.0) for j in spans]
    return {"workers": workers, "wall": wall, "cpu": cpu, "per_run": per_run, "failed": [s["name"] for s in statuses
                                                                     if s["state"] != "finished"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--train-limit", type=int, default=None, help="fewer training examples (a faster check)")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    load = os.getloadavg()[0]
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    for workers in args.workers:
        rows.append(batch(workers, args.runs, args.train_limit, tmp))
    shutil.rmtree(tmp)  # kept (with the workers' logs) when a batch fails
    print(f"{args.runs} quick runs, one thread each; {os.cpu_count()} cores, load average {load:.1f} at the start")
    print("| workers | batch wall seconds | runs per minute | training CPU seconds per run (mean, min-max) "
          "| seconds per run, launch to end (mean) |")
    print("|---|---|---|---|---|")
    for row in rows:
        cpu = row["cpu"]
        print(f"| {row['workers']} | {row['wall']:.0f} | {60 * args.runs / row['wall']:.1f} "
              f"| {statistics.mean(cpu):.1f} ({min(cpu):.1f}-{max(cpu):.1f}) | {statistics.mean(row['per_run']):.0f} |"
              + (f" failed: {row['failed']}" if row["failed"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
