"""Sub-command `worker`: train the runs queued on Redis (registered in sentiment_core.cli.EXTRA_COMMAND_MODULES)

    python -m sentiment_core worker [--queue redis://HOST:PORT/DB] [--concurrency N] [--burst]

Runs on any machine that sees the runs folder (and the treebank) at the same paths as the web
server. Each worker takes queued runs in order and trains each with `python -m sentiment_core train`
in a process of its own (runs/redis_queue.py). `--concurrency N` starts N workers, each training
one run at a time. Also here: `train ... --queue URL` (enqueue_train), which queues a run instead of
training it in the terminal.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sentiment_core import settings


def add_commands(commands) -> None:
    p = commands.add_parser("worker", help="train the runs queued on Redis (SENTIMENT_QUEUE), one per process",
                            description="Take queued training runs from Redis and train them, one run per process.")
    p.add_argument("--queue", default=None, metavar="URL", help="redis://HOST:PORT/DB (default: $SENTIMENT_QUEUE)")
    p.add_argument("--concurrency", type=int, default=1, help="runs trained at once, one worker each (default 1)")
    p.add_argument("--burst", action="store_true", help="stop once the queue is empty")
    p.add_argument("--heartbeat", type=int, default=None, metavar="SECONDS",
                   help="seconds between heartbeats; a worker silent for 3 is gone and its run is resumed "
                        f"elsewhere (default: ${settings.HEARTBEAT_ENV}, "
                        f"then {settings.BY_NAME[settings.HEARTBEAT_ENV].default})")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run when the run does not set them (default: cores / concurrency)")
    p.add_argument("--runs-dir", default=None, help="runs folder (default: $SENTIMENT_RUNS_DIR, then data/runs)")
    p.set_defaults(run=run_worker)


def run_worker(args) -> int:
    from sentiment_core.runs import redis_queue  # start-up: +190 ms on --help

    url = args.queue or settings.queue_url()
    if not url:
        raise ValueError("no job queue to take runs from; give --queue redis://HOST:PORT/DB or set SENTIMENT_QUEUE")
    settings.queue_url({settings.QUEUE_ENV: url})  # the same check as the server's
    if args.concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1, not {args.concurrency}")
    heartbeat = args.heartbeat or redis_queue.heartbeat_seconds()
    if heartbeat < 1:
        raise ValueError(f"--heartbeat must be at least 1 second, not {heartbeat}")
    redis_queue.check_reachable(url)
    if args.concurrency > 1:
        return run_pool(args, url, heartbeat)
    threads = args.threads or max(1, _cores() // max(1, args.concurrency))
    os.environ[settings.WORKER_THREADS_ENV] = str(threads)
    os.environ[redis_queue.HEARTBEAT_ENV] = str(heartbeat)
    root = Path(args.runs_dir) if args.runs_dir else settings.default_runs_root()
    connection = redis_queue.connect(url)
    redis_queue.sync(connection, root)  # what a Redis restarted without its data forgot
    worker = redis_queue.make_worker(connection, heartbeat, root)
    print(f"worker {worker.name}: training runs from {redis_queue.shown_url(url)} ({threads} thread(s) per run)",
          flush=True)
    worker.work(burst=args.burst, logging_level="INFO")
    return 0


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_pool(args, url: str, heartbeat: int) -> int:
    """N single workers as child processes; a stop signal is passed on, and they die with this process."""
    from sentiment_core.runs.redis_queue import die_with_parent  # start-up: +190 ms on --help

    threads = args.threads or max(1, _cores() // args.concurrency)
    command = [sys.executable, "-m", "sentiment_core", "worker", "--queue", url, "--heartbeat", str(heartbeat),
               "--threads", str(threads)] + (["--burst"] if args.burst else []) + \
              (["--runs-dir", args.runs_dir] if args.runs_dir else [])
    children = [subprocess.Popen(command, preexec_fn=die_with_parent) for _ in range(args.concurrency)]

    def pass_on(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    codes = [child.wait() for child in children]
    return max(codes) if codes else 0


def enqueue_train(args, config) -> int:
    """`train ... --queue URL`: queue the run as the page does (the same limits), print its directory."""
    from sentiment_core.runs import jobs  # start-up: +160 ms on --help
    from sentiment_core.runs.limits import limits_from_env  # start-up: +4 ms on --help

    settings.queue_url({settings.QUEUE_ENV: args.queue})
    os.environ[settings.QUEUE_ENV] = args.queue  # jobs.py enqueues on SENTIMENT_QUEUE, in this process only
    limits = limits_from_env()
    if args.resume:
        epochs = config.train.epochs if config is not None else None
        run_dir = jobs.resume_run(Path(args.resume), limits=limits, data_dir=args.data_dir, epochs=epochs)
    else:
        out = Path(args.out) if args.out else None
        root = out.parent if out else Path(args.runs_dir) if args.runs_dir else settings.default_runs_root()
        run_dir = jobs.start_run(config, root=root, limits=limits, name=out.name if out else args.name,
                                 data_dir=args.data_dir, threads=args.threads)
    view = jobs.job_view(run_dir)
    place = f" at place {view.queue_place}" if view.queue_place else ""
    print(f"queued{place} on the job queue; a worker trains it (follow it on the training page, or its "
          f"status.json)", file=sys.stderr)
    print(run_dir)
    return 0
