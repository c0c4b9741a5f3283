"""The `bench` command: training speed and latency of every model side by side (see bench.py)."""
from __future__ import annotations

import json


def add_commands(commands) -> None:
    p = commands.add_parser("bench", help="time training and inference of the tutorial's model, ours and torch's")
    p.add_argument("--data-dir", help="folder holding the treebank (default: $SST_DIR, then data/sst)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="time small slices once (a smoke test, not a measurement)")
    p.add_argument("--repeats", type=int, help="timed passes per model, median reported (default 3; quick 1)")
    p.add_argument("--threads", type=int,
                   help="torch threads (default: torch's own, one per core; 1 shows the speed of a single core)")
    p.add_argument("--plain-adam", action="store_true", help="use torch's default Adam, not the fused kernel")
    p.add_argument("--only", nargs="+", metavar="ROW",
                   help="time only these rows (tutorial tutorial_64 scratch torch_rnn ours_rnn torch_lstm ours_lstm "
                        "torch_gru ours_gru)")
    p.add_argument("--floor", action="store_true",
                   help="time only the scratch cell and its epoch's matrix products alone: the GEMM floor and "
                        "the share of it reached")
    p.add_argument("--markdown", action="store_true", help="print the README's Speed table (markdown)")
    p.add_argument("--lazy-adam", action="store_true",
                   help="train ours with a sparse embedding gradient and lazy Adam rows (faster; `train` does not)")
    p.add_argument("--startup", action="store_true",
                   help="time one epoch of `train --cell scratch` as a whole process against a plain torch script, "
                        "with where its seconds go (imports, data, model, first batch, epoch, evaluation)")
    p.set_defaults(run=run_bench)


def run_startup(args) -> int:
    """`bench --startup`: training/bench_startup.py's table (its dict under "startup" with --json)."""
    from sentiment_core.training.bench_startup import (  # start-up: statistics +20 ms on --help
        format_startup, startup_benchmark)
    from sentiment_core.cli.progress import ProgressBar  # start-up: tqdm +35 ms on --help

    bar = ProgressBar(None, "Timing", unit=" pairs")
    result = startup_benchmark(args.data_dir, runs=args.repeats or 3, threads=args.threads,
                               progress=lambda done, total, name: bar.update(done, total, suffix=name))
    bar.close()
    print(json.dumps({"startup": result}) if args.json else format_startup(result))
    return 0


def run_bench(args) -> int:
    from sentiment_core.training.bench import (  # start-up: torch +2.5 s on --help
        format_markdown, format_report, run_benchmark)
    from sentiment_core.cli.progress import ProgressBar  # start-up: tqdm +35 ms on --help

    if args.repeats is not None and args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, not {args.repeats}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, not {args.threads}")
    if args.startup:
        return run_startup(args)
    bar = ProgressBar(None, "Timing", unit=" passes")
    result = run_benchmark(args.data_dir, quick=args.quick, repeats=args.repeats, threads=args.threads,
                           fused_adam=not args.plain_adam, only=["scratch"] if args.floor else args.only,
                           lazy_adam=args.lazy_adam,
                           progress=lambda done, total, name: bar.update(done, total, suffix=name))
    bar.close()
    print(json.dumps(result) if args.json else format_markdown(result) if args.markdown else format_report(result))
    return 0
