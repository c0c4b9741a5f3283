"""From "Start training" to the first batch-loss point: the page's path beside the command line's.

    python scripts/bench_first_curve.py                       # the page's default preset (quick), 3 rounds
    python scripts/bench_first_curve.py --preset seed --rounds 5 --data-dir /work/shared/data/sst

Page path: sentiment_core.runs.jobs.start_run, called as the training page's Start button
calls it (the server's limits from the environment, the settings' data shape, no thread count:
the queue picks it), which queues the run and launches its `train` process at once when a slot is
free. CLI path: `python -m sentiment_core train --config CONFIG --out RUN` started directly.
For each, the clock starts at the call and stops when the run's metrics.jsonl holds its first
batch_end event, read with the page's own reader (MetricsFollower) every --poll seconds; then the
run is asked to stop (the stop file, as the page's Stop button) and waited for, so rounds never
overlap. Also printed: when train_begin was written, and the CPU seconds the training process had
used when the first point appeared (on a busy machine the wall clock waits for cores; the CPU
time is what the start-up costs, about what a quiet machine's wall clock shows).

The page draws the point at its live section's next poll (dashboard/components/run_watcher.py,
POLL_SECONDS), so "shown" is at most that much later than "written".
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentiment_core.data.corpus import load_corpus  # noqa: E402
from sentiment_core.settings import limits_from_env  # noqa: E402
from sentiment_core.runs import jobs  # noqa: E402
from sentiment_core.config import RunConfig, preset  # noqa: E402
from sentiment_core.runs.limits import data_shape  # noqa: E402
from sentiment_core.runs.metrics import MetricsFollower  # noqa: E402
from sentiment_core.runs import processes  # noqa: E402
from sentiment_core.runs.processes import is_process_alive  # noqa: E402
from sentiment_core.runs.store import STOP_FILE, read_status  # noqa: E402

PAGE_POLL_SECONDS = 1.0  # run_watcher.POLL_SECONDS (not imported: that module imports Streamlit)
TIMEOUT_SECONDS = 300


def cpu_seconds(pid) -> float | None:
    """User + system CPU seconds of a live process so far (/proc), or None."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, TypeError, IndexError):
        return None


def first_point(run_dir: Path, started: float, poll: float, pid_of) -> dict:
    """Seconds from `started` to train_begin and to the first batch_end in the run's metrics.jsonl, and the
    CPU seconds the process had used by then (what a quiet machine's wall clock would be, near enough)."""
    follower, begin = MetricsFollower(run_dir), None
    while time.monotonic() - started < TIMEOUT_SECONDS:
        if (run_dir / "metrics.jsonl").is_file():
            metrics = follower.update()
            if begin is None and metrics.begin is not None:
                begin = time.monotonic() - started
            if metrics.steps:
                return {"train_begin": begin if begin is not None else time.monotonic() - started,
                        "first_point": time.monotonic() - started, "cpu_to_point": cpu_seconds(pid_of())}
        time.sleep(poll)
    raise RuntimeError(f"no batch point in {run_dir} after {TIMEOUT_SECONDS} s; see its train.log")


def stop_and_wait(run_dir: Path, pid_of) -> float | None:
    """Ask the run to stop after its batch, wait for its process; the process's CPU seconds if known."""
    (run_dir / STOP_FILE).touch()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        pid = pid_of()
        if pid is None or not is_process_alive(pid):
            break
        time.sleep(0.1)
    try:
        return read_status(run_dir).get("cpu_seconds")
    except (OSError, ValueError):
        return None


def page_round(config: RunConfig, work: Path, data_dir, shape, poll: float) -> dict:
    root = work / "page-runs"
    started = time.monotonic()
    run_dir = jobs.start_run(RunConfig.from_dict(config.to_dict()), root=root, limits=limits_from_env(),
                             shape=shape, data_dir=data_dir)
    pid_of = lambda: (jobs.read_job(run_dir) or {}).get("pid")  # noqa: E731
    times = first_point(run_dir, started, poll, pid_of)
    times["cpu"] = stop_and_wait(run_dir, pid_of)
    command = (jobs.read_job(run_dir) or {}).get("command") or []
    times["threads"] = command[command.index("--threads") + 1] if "--threads" in command else "torch default"
    return times


def cli_round(config: RunConfig, work: Path, data_dir, index: int, poll: float) -> dict:
    config_path, out = work / f"cli-{index}.json", work / f"cli-{index}"
    config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    command = [sys.executable, "-m", "sentiment_core", "train", "--config", str(config_path), "--out", str(out)]
    command += ["--data-dir", str(data_dir)] if data_dir else []
    started = time.monotonic()
    with open(work / f"cli-{index}.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        times = first_point(out, started, poll, lambda: process.pid)
        times["cpu"] = stop_and_wait(out, lambda: None if process.poll() is not None else process.pid)
    finally:
        process.wait()
    times["threads"] = "torch default"
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", help="the run's settings (default: quick, the page's default)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of page then CLI (default 3)")
    parser.add_argument("--data-dir", default=os.environ.get("SST_DIR"), help="treebank (default: $SST_DIR)")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between reads of metrics.jsonl")
    args = parser.parse_args()
    config = preset(args.preset)
    corpus = load_corpus(args.data_dir)  # the page has it loaded before Start is pressed
    shape = data_shape(corpus, config)
    load = os.getloadavg()[0]
    print(f"preset {args.preset}; load average {load:.2f} on {len(os.sched_getaffinity(0))} cores; "
          f"page runs get OMP_WAIT_POLICY={processes.training_env({}).get('OMP_WAIT_POLICY')}"
          if hasattr(processes, "training_env") else "")  # an older checkout, timed for a before/after
    rows = {"page": [], "cli": []}
    with tempfile.TemporaryDirectory(prefix="first-curve-") as scratch:
        work = Path(scratch)
        for index in range(args.rounds):
            for path in ("page", "cli"):
                row = page_round(config, work, args.data_dir, shape, args.poll) if path == "page" else \
                    cli_round(config, work, args.data_dir, index, args.poll)
                rows[path].append(row)
                cpu = f"{row['cpu_to_point']:.2f}" if isinstance(row.get("cpu_to_point"), float) else "?"
                print(f"round {index + 1} {path:<4}: train_begin {row['train_begin']:5.2f} s, first batch point "
                      f"{row['first_point']:5.2f} s, the process's CPU by then {cpu} s (threads {row['threads']})",
                      flush=True)
    print()
    for path, label in (("page", "page (jobs.start_run)"), ("cli", "command line")):
        firsts = [r["first_point"] for r in rows[path]]
        cpus = [r["cpu_to_point"] for r in rows[path] if r.get("cpu_to_point") is not None]
        print(f"{label:<22} first point written: median {statistics.median(firsts):.2f} s "
              f"(min {min(firsts):.2f}, max {max(firsts):.2f}); CPU by then: median "
              f"{statistics.median(cpus) if cpus else float('nan'):.2f} s")
    print(f"The page shows it at its next poll: at most {PAGE_POLL_SECONDS:.1f} s later.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
