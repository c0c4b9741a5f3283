"""CPU seconds of a run on a loaded machine: started as the page starts it, against `--threads 1`.

    python scripts/bench_cpu_under_load.py                         # quick preset, 20,000 phrases, 1 round
    python scripts/bench_cpu_under_load.py --train-limit 0 --rounds 2 --busy 8

The machine is loaded on purpose with ../shared/tools/busy (--busy processes spinning, default two per
core) for the whole measurement. Then, in turns, the same run:

    page      sentiment_core.runs.jobs.start_run as the training page calls it (the server's limits,
              no thread count: `--threads auto`, chosen from the free cores as the run starts, and
              OMP_WAIT_POLICY=PASSIVE in the process's environment, processes.training_env)
    threads1  python -m sentiment_core train --config ... --threads 1
    before    (--before) the command the page used to start: torch's default threads (one per core) and
              the default (spinning) OpenMP wait

Each figure is the training process's own CPU seconds (user + system, from os.wait4: every thread,
the start-up included) and its wall seconds. The acceptance bar (issue 23): page <= 1.2x threads1.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentiment_core.settings import limits_from_env  # noqa: E402
from sentiment_core.runs import jobs  # noqa: E402
from sentiment_core.config import RunConfig, preset  # noqa: E402

BUSY = ROOT.parent / "shared" / "tools" / "busy"


def waited(pid: int, started: float) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit code) of our child `pid`, once it has ended."""
    _, status, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime, time.monotonic() - started, os.waitstatus_to_exitcode(status)


def page_run(config: RunConfig, work: Path, data_dir, index: int) -> dict:
    """jobs.start_run launches the process itself (our child): it is waited for here, the queue never polled."""
    started = time.monotonic()
    run_dir = jobs.start_run(RunConfig.from_dict(config.to_dict()), root=work / f"page-{index}",
                             limits=limits_from_env(), data_dir=data_dir)
    job = jobs.read_job(run_dir) or {}
    if not job.get("pid"):
        raise RuntimeError(f"the page's run {run_dir} did not start at once (is a slot taken?)")
    cpu, wall, code = waited(job["pid"], started)
    command = job.get("command") or []
    return {"cpu": cpu, "wall": wall, "code": code,
            "threads": command[command.index("--threads") + 1] if "--threads" in command else "torch default",
            "log": str(run_dir / "train.log")}


def cli_run(config: RunConfig, work: Path, data_dir, name: str, threads: str | None, env: dict) -> dict:
    config_path, out = work / f"{name}.json", work / name
    config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    command = [sys.executable, "-m", "sentiment_core", "train", "--config", str(config_path), "--out", str(out)]
    command += (["--data-dir", str(data_dir)] if data_dir else []) + (["--threads", threads] if threads else [])
    started = time.monotonic()
    with open(work / f"{name}.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    cpu, wall, code = waited(process.pid, started)
    process.returncode = code
    return {"cpu": cpu, "wall": wall, "code": code, "threads": threads or "torch default",
            "log": str(work / f"{name}.log")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", help="the run's settings (default: quick, the page's default)")
    parser.add_argument("--train-limit", type=int, default=20_000,
                        help="training examples (default 20,000 of quick's 157k phrases; 0: all)")
    parser.add_argument("--busy", type=int, default=2 * len(os.sched_getaffinity(0)),
                        help="spinning processes that load the machine (default: two per core)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", action="store_true", help="also time the page's old command (see above)")
    parser.add_argument("--data-dir", default=os.environ.get("SST_DIR"), help="treebank (default: $SST_DIR)")
    args = parser.parse_args()
    config = preset(args.preset)
    config.data.train_limit = args.train_limit or None
    plain_env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    load = subprocess.Popen([str(BUSY), "3600", str(args.busy)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    rows: dict[str, list[dict]] = {}
    try:
        time.sleep(5)  # the load average starts to show the busy processes, as on a machine loaded for a while
        print(f"{args.busy} busy processes on {len(os.sched_getaffinity(0))} cores; load average "
              f"{os.getloadavg()[0]:.1f}; preset {args.preset}, train limit {args.train_limit or 'none'}", flush=True)
        with tempfile.TemporaryDirectory(prefix="cpu-under-load-") as scratch:
            work = Path(scratch)
            for index in range(args.rounds):
                turns = {"page": lambda: page_run(config, work, args.data_dir, index),
                         "threads1": lambda: cli_run(config, work, args.data_dir, f"one-{index}", "1", plain_env)}
                if args.before:
                    turns["before"] = lambda: cli_run(config, work, args.data_dir, f"before-{index}", None, plain_env)
                for name, turn in turns.items():
                    row = turn()
                    rows.setdefault(name, []).append(row)
                    print(f"round {index + 1} {name:<8}: CPU {row['cpu']:7.1f} s, wall {row['wall']:7.1f} s, "
                          f"threads {row['threads']}, exit {row['code']}", flush=True)
    finally:
        os.killpg(load.pid, signal.SIGTERM)
        load.wait()
    cpu = {name: sum(r["cpu"] for r in runs) / len(runs) for name, runs in rows.items()}
    print(f"\npage / threads1 CPU: {cpu['page'] / cpu['threads1']:.2f}x (bar: at most 1.2x)")
    if "before" in cpu:
        print(f"before / threads1 CPU: {cpu['before'] / cpu['threads1']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
