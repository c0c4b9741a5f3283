"""Load test: simulated visitors use the explorer and the playground at once while a run trains.

    python scripts/load_test.py [--visitors 10] [--rounds 3] [--epochs 1] [--baseline]
    python scripts/load_test.py --train [--visitors 30] [--spread 5] [--poll 1] [--class-minutes 60]

Everything runs on this machine, in a temporary folder (runs, data); the treebank comes from
$SST_DIR or data/sst.
1. A small model is trained with the CLI for the playground (or --model RUN_DIR is copied in).
2. Optionally (--baseline) the background run's settings are trained alone, for comparison.
3. The app is started with `streamlit run` (a real server on a free port).
4. One training run starts in the background through sentiment_core.runs.jobs, as the training
   page starts one (a separate `python -m sentiment_core train` process).
5. One warm-up visitor fills the server's caches (as on a server that has had a visitor), then
   N visitors at once, each a thread with its own WebSocket session speaking Streamlit's own
   protocol (the messages a browser sends: "rerun the script with these widget values").
   Each round a visitor opens the explorer, searches a word, opens the playground and types a
   sentence of its own (dev sentences, so no two visitors share a cached answer).
6. It waits for the training run and prints per-page response times (median, p95, max),
   failures, and whether the run finished (with its training time).

A response time is from sending the request to the server's "script finished" message: the
server's work under contention plus the local network, without the browser's drawing.

With --train, a class instead: the app in public mode (SENTIMENT_PUBLIC=1) on an empty runs
folder, nothing trained beforehand. Each visitor is a thread with its own WebSocket session and
its own visitor cookie (sentiment_visitor, sent with the handshake, as a browser does), so the
server sees N different browsers. After one warm-up visitor, all open the training page (preset
`quick`) and press Start (a button click is a trigger value) within --spread seconds, naming
their run class-NN; each then follows the run as the browser's live view does (the page's live
section reruns on the timer the page sets) until it ends, opens the playground and types a
sentence. Checked on every page: no exception or error; the run heading shows their run and its
state, a waiting run its queue place; no other visitor's run name or Stop / Cancel / Resume /
Evaluate button appears. It prints the views per page, the page responses while the class
trains (first Start to last run's end), the time until the last run finished, and how far the
queue's start estimates were off. The server is stopped at the end, and every training
process it started, also on failure or SIGTERM.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sentiment_core.data.corpus import load_corpus  # noqa: E402
from sentiment_core.data.treebank import locate_treebank  # noqa: E402
from sentiment_core.runs import jobs  # noqa: E402
from sentiment_core.runs.limits import limits_from_env  # noqa: E402

from load_test_parts.class_report import class_report  # noqa: E402
from load_test_parts.classroom import ClassPlan, Student, class_visit, class_visit_warm_up  # noqa: E402
from load_test_parts.figures import Timings, percentile, report  # noqa: E402
from load_test_parts.server import (  # noqa: E402
    background_config, config_args, load_corpus_cache_dir, start_server, stop_server, stop_training, train_cli,
    wait_for_run)
from load_test_parts.visitors import visit  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=10, help="simultaneous visitors (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="explorer + playground rounds per visitor (default 3)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the background run (default 1)")
    parser.add_argument("--model", help="a trained run to copy in for the playground (default: train a small one)")
    parser.add_argument("--baseline", action="store_true", help="first train the background run's settings alone")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one page view may take (default 300)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--train", action="store_true",
                        help="a class instead: in public mode each visitor starts the quick preset, follows their "
                             "run and then asks the playground with it (see the module's help)")
    parser.add_argument("--spread", type=float, default=5.0,
                        help="--train: seconds over which the class presses Start (default 5)")
    parser.add_argument("--poll", type=float, default=1.0,
                        help="--train: shortest pause between a visitor's live updates, in seconds (default 1: "
                             "the page's own timer decides)")
    parser.add_argument("--class-minutes", type=float, default=60,
                        help="--train: minutes until every run must have ended (default 60)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.train:
        return main_class(args)
    return main_visitors(args)


@dataclass
class Crowd:
    """What the visitors met while the background run trained."""

    warm: Timings               # the warm-up visitor's
    warm_up: float              # seconds of the warm-up visit
    load_before: float          # load average before the visitors
    timings: Timings            # the visitors'
    wall: float                 # seconds from the first visitor's start to the last one's end
    state_after_visits: str     # the background run's state when the visitors left
    status: dict                # the background run's status at its end


def main_visitors(args) -> int:
    """The plain load test: visitors on the explorer and the playground while one run trains."""
    treebank = locate_treebank()
    if treebank is None:
        raise SystemExit("no treebank: set SST_DIR to the folder holding train.txt, dev.txt and test.txt")
    work = Path(tempfile.mkdtemp(prefix="sentiment-load-"))
    runs = work / "runs"
    runs.mkdir()
    env = dict(os.environ, SST_DIR=str(treebank), SENTIMENT_DATA_DIR=str(work / "data"),
               SENTIMENT_RUNS_DIR=str(runs), SENTIMENT_CACHE_DIR=str(load_corpus_cache_dir()))
    os.environ.update(env)
    corpus = load_corpus(treebank)  # builds the tokenized cache once, before any process needs it
    sentences = [text for _, _, text in corpus.sentences["dev"]]
    print(f"work folder: {work}", flush=True)

    if args.model:
        shutil.copytree(args.model, runs / Path(args.model).name)
    else:
        seconds = train_cli(["--cell", "gru", "--embedding-dim", "32", "--hidden-dim", "32", "--epochs", "1",
                             "--train-limit", "2000", "--eval-limit", "200", "--out", str(runs / "playground-model")],
                            env)
        print(f"playground model trained in {seconds:.1f} s", flush=True)
    config = background_config(args.epochs)
    baseline = None
    if args.baseline:
        baseline = train_cli([*config_args(config), "--out", str(work / "baseline-run")], env)
        print(f"baseline: the background run's settings alone train in {baseline:.1f} s", flush=True)

    server, url = start_server(env, work / "streamlit.log")
    try:
        crowd = visit_while_training(args, url, config, runs, treebank, sentences)
    finally:
        stop_server(server)
    return visitors_report(args, crowd, baseline)


def visit_while_training(args, url: str, config, runs: Path, treebank: Path, sentences: list[str]) -> Crowd:
    """Start the background run, one warm-up visitor, then all the visitors at once; wait for the run."""
    limits = limits_from_env()
    run_dir = jobs.start_run(config, root=runs, limits=limits, name="load-test-run", data_dir=treebank)
    print(f"server {url}; background run started: {run_dir.name}", flush=True)
    warm = Timings()
    started = time.perf_counter()
    visit(-1, url, 1, sentences, warm, args.timeout)  # fills the server's caches
    warm_up = time.perf_counter() - started
    load_before = os.getloadavg()[0]
    timings = Timings()
    threads = [threading.Thread(target=visit, args=(v, url, args.rounds, sentences, timings, args.timeout))
               for v in range(args.visitors)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    state_after_visits = jobs.job_view(run_dir).state
    status = wait_for_run(run_dir, limits, runs, timeout=3600)
    return Crowd(warm, warm_up, load_before, timings, wall, state_after_visits, status)


def visitors_report(args, crowd: Crowd, baseline: float | None) -> int:
    """Print the figures (and write them with --json); the exit status: 0 when nothing failed."""
    warm, warm_up, load_before, timings, wall, state_after_visits, status = (
        crowd.warm, crowd.warm_up, crowd.load_before, crowd.timings, crowd.wall, crowd.state_after_visits,
        crowd.status)
    trained = (status.get("ended_at") or time.time()) - (status.get("started_at") or time.time())
    lines = [f"machine: {os.cpu_count()} CPUs; load average {load_before:.1f} before the visitors, "
             f"{os.getloadavg()[0]:.1f} at the end",
             f"warm-up visit (cold caches): {warm_up:.1f} s"
             + (f"; failures: {warm.failures}" if warm.failures else ""),
             *report(timings, wall, args.visitors, args.rounds),
             f"background run: {status.get('state')} ({status.get('message', '')}); it was {state_after_visits} "
             f"when the visitors left; training took {trained:.1f} s"
             + (f" (the same settings alone: {baseline:.1f} s)" if baseline else "")]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "visitors": args.visitors, "rounds": args.rounds, "wall_seconds": wall, "warm_up_seconds": warm_up,
            "views": {what: {"count": len(v), "median": statistics.median(v), "p95": percentile(v, 0.95),
                             "max": max(v)} for what, v in timings.seconds.items()},
            "failures": timings.failures, "run_state": status.get("state"), "run_seconds": trained,
            "baseline_run_seconds": baseline}, indent=1))
    return 0 if not timings.failures and status.get("state") == "finished" else 1


def main_class(args) -> int:
    """--train: the class in public mode; returns the exit status (0: every run finished, nothing wrong)."""
    if not 1 <= args.visitors <= 200:
        raise SystemExit("--visitors: between 1 and 200 for a class")
    treebank = locate_treebank()
    if treebank is None:
        raise SystemExit("no treebank: set SST_DIR to the folder holding train.txt, dev.txt and test.txt")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed test still stops its server and runs
    work = Path(tempfile.mkdtemp(prefix="sentiment-class-"))
    runs = work / "runs"
    runs.mkdir()
    env = dict(os.environ, SST_DIR=str(treebank), SENTIMENT_DATA_DIR=str(work / "data"),
               SENTIMENT_RUNS_DIR=str(runs), SENTIMENT_CACHE_DIR=str(load_corpus_cache_dir()), SENTIMENT_PUBLIC="1")
    os.environ.update(env)
    limits = limits_from_env()  # what the server reads: public mode's defaults, sized from this machine
    corpus = load_corpus(treebank)
    sentences = [text for _, _, text in corpus.sentences["dev"]]
    print(f"work folder: {work}", flush=True)
    width = max(2, len(str(args.visitors - 1)))
    students = [Student(n, f"class-{n:0{width}d}", secrets.token_urlsafe(32)) for n in range(args.visitors)]
    plan = ClassPlan(names={s.run_name for s in students}, spread=args.spread, poll=args.poll,
                     deadline=time.monotonic() + args.class_minutes * 60)
    timings, warm = Timings(), Timings()
    load_start = os.getloadavg()[0]
    server, stopped = None, 0
    try:
        server, url = start_server(env, work / "streamlit.log")
        first_click, warm_up, load_class = teach(args, url, students, plan, sentences, timings, warm)
        views = jobs.list_jobs(runs)
    finally:
        if server is not None:
            stop_server(server)
        stopped = stop_training(runs)
    lines, figures = class_report(students, views, timings, first_click, limits, warm_up,
                                  (load_start, load_class, os.getloadavg()[0]))
    lines.append(f"training processes still running at the end, stopped: {stopped}")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    clean = (figures["finished"] == figures["predicted"] == len(students) and not figures["foreign"]
             and not figures["failures"] and not warm.failures)
    return 0 if clean else 1


def teach(args, url: str, students: list[Student], plan: ClassPlan, sentences: list[str], timings: Timings,
          warm: Timings) -> tuple[float, float, float]:
    """One warm-up visitor, then the class: every visitor opens the training page, they press Start
    together and follow their runs; (wall clock of the go, seconds of the warm-up, load before the class)."""
    started = time.perf_counter()  # one visitor, who starts nothing, fills the server's caches
    class_visit_warm_up(url, plan, warm, args.timeout)
    warm_up = time.perf_counter() - started
    print(f"server {url}; warm-up visit {warm_up:.1f} s; {args.visitors} visitors open the training page",
          flush=True)
    load_class = os.getloadavg()[0]
    threads = [threading.Thread(target=class_visit, daemon=True,
                                args=(s, url, plan, sentences[s.number % len(sentences)], timings, args.timeout))
               for s in students]
    for thread in threads:
        thread.start()
    for _ in students:  # everyone has the page open (or failed to), then the class presses Start
        plan.ready.acquire(timeout=max(0.0, plan.deadline - time.monotonic()))
    first_click = time.time()
    plan.go.set()
    print(f"the class presses Start (within {args.spread:g} s)", flush=True)
    for thread in threads:
        thread.join(timeout=max(0.0, plan.deadline - time.monotonic()) + args.timeout)
    return first_click, warm_up, load_class


if __name__ == "__main__":
    sys.exit(main())
