"""How long listing runs takes with many run folders: the store's and the queue's calls, and the training page.

    python scripts/bench_run_listing.py                     # 2,000 runs, median of 5
    python scripts/bench_run_listing.py --runs 200 --repeat 3 --no-page
    python scripts/bench_run_listing.py --profile           # also cProfile one list_jobs call (top 15)

Builds N synthetic finished runs in a temporary folder: what a run started from the page holds
apart from its checkpoints (config.json, vocab.json, status.json, job.json, a few metrics lines),
one run written through the store and copied N times with its own name and creation time, its
files dated when it ended (a run's files are parsed again only when they change, and always when
changed in the last fileio.FRESH_SECONDS). Then times, as the median of --repeat calls in this
process:

  jobs.list_jobs, first call  the list with nothing read yet (a server's first poll; one call)
  listing.list_runs           the run pickers' list (home, analysis, playground, walkthrough)
  jobs.list_jobs              the training page's list (states and queue places)
  jobs.advance_queue          what every page poll does first
  training page rerun         the page rerun through streamlit.testing.v1.AppTest with warm caches,
                              with an empty runs folder and with the N runs (SENTIMENT_RUNS_DIR)

Wall time and this process's CPU time are both printed: on a machine shared with other work the
wall time includes waiting for a core. The treebank is used when $SST_DIR (or data/sst) has it;
without it the page's form is disabled and only the runs' part of the page is timed.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentiment_core.runs import jobs  # noqa: E402
from sentiment_core.config import RunConfig  # noqa: E402
from sentiment_core.runs.limits import Limits  # noqa: E402
from sentiment_core.runs.listing import list_runs  # noqa: E402
from sentiment_core.runs.store import STATUS, create_run, write_status  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
TRAINING_PAGE = "views/training.py"


def template_run(folder: Path) -> Path:
    """One finished run, written through the store as a page-started run would be."""
    run_dir = create_run(RunConfig(), root=folder, name="template")
    (run_dir / "vocab.json").write_text(json.dumps({"itos": ["<pad>", "<unk>", "<sos>", "<eos>", "good", "bad"]}),
                                        encoding="utf-8")
    jobs.write_job(run_dir, kind="train", state=jobs.DONE, queued_at=time.time(), pid=None, exit_code=0,
                   command=jobs.train_command(run_dir))
    events = [{"event": "batch_end", "epoch": 1, "batch": b, "batches": 3, "step": b, "loss": 1.0 / b,
               "sentences_per_second": 100.0, "eta": 1.0, "elapsed": b, "time": 0.0} for b in (1, 2, 3)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    write_status(run_dir, state="finished", message="finished 1 epoch", epoch=1, epochs=1, best_dev_accuracy=0.5,
                 best_epoch=1, ended_at=time.time())
    return run_dir


def build_runs(root: Path, count: int) -> None:
    """`count` copies of a template run, one a minute, the newest created last; their files carry
    the time each run ended, as the files of runs that ended earlier do."""
    template = template_run(root.parent / "template")
    status = json.loads((template / STATUS).read_text(encoding="utf-8"))
    now = time.time()
    for i in range(count):
        run_dir = root / f"run-{i:05d}"
        shutil.copytree(template, run_dir)
        created = now - (count - i) * 60.0
        (run_dir / STATUS).write_text(json.dumps({**status, "name": run_dir.name, "created_at": created,
                                                  "updated_at": created + 30, "ended_at": created + 30}),
                                      encoding="utf-8")
        for path in (*run_dir.iterdir(), run_dir):
            os.utime(path, (created + 30, created + 30))


def timed(call, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `call()`."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return statistics.median(walls), statistics.median(cpus)


def page_rerun(root: Path, repeat: int) -> tuple[float, float]:
    """The training page's rerun time with warm caches, its runs folder at `root`."""
    import streamlit.logger
    from streamlit.testing.v1 import AppTest

    streamlit.logger.set_log_level("error")  # AppTest runs without a server: its warnings are noise
    os.environ["SENTIMENT_RUNS_DIR"] = str(root)
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page(TRAINING_PAGE).run()  # the first run imports and caches; the reruns are timed

    def rerun():
        at.run()
        if at.exception:
            raise SystemExit(f"the page raised: {[e.value for e in at.exception]}")

    rerun()
    return timed(rerun, repeat)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="run folders to build (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="calls timed; the median is printed")
    parser.add_argument("--no-page", action="store_true", help="skip the training page (AppTest)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 15 of one list_jobs call")
    args = parser.parse_args(argv)

    print(f"Code: {ROOT}; machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-run-listing-") as tmp:
        empty, root = Path(tmp) / "empty", Path(tmp) / "runs"
        empty.mkdir()
        root.mkdir()
        start = time.perf_counter()
        build_runs(root, args.runs)
        print(f"Built {args.runs:,} runs in {time.perf_counter() - start:.1f} s\n")

        limits = Limits(max_concurrent_runs=1, max_queue=3)
        rows = [("jobs.list_jobs, first call", timed(lambda: jobs.list_jobs(root), 1)),
                ("listing.list_runs", timed(lambda: list_runs(root, include_walkthrough=True), args.repeat)),
                ("jobs.list_jobs", timed(lambda: jobs.list_jobs(root), args.repeat)),
                ("jobs.advance_queue", timed(lambda: jobs.advance_queue(root, limits), args.repeat))]
        if not args.no_page:
            rows.append(("training page rerun, no runs", page_rerun(empty, args.repeat)))
            rows.append((f"training page rerun, {args.runs:,} runs", page_rerun(root, args.repeat)))
        width = max(len(name) for name, _ in rows)
        print(f"{'measurement':<{width}}  {'wall s':>7}  {'CPU s':>7}   (median of {args.repeat})")
        for name, (wall, cpu) in rows:
            print(f"{name:<{width}}  {wall:>7.3f}  {cpu:>7.3f}")

        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(jobs.list_jobs, root)
            print()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
