"""The `pretrained` command: list the shipped default models, or rebuild them from the treebank."""
from __future__ import annotations

import sys


def add_commands(commands) -> None:
    p = commands.add_parser("pretrained", help="the default models shipped with the package: list them, or "
                                               "rebuild them from the treebank with fixed seeds (--build)")
    p.add_argument("--build", action="store_true",
                   help="train them again and replace the shipped folders (a few minutes of CPU)")
    p.add_argument("--data-dir", help="treebank folder (default: $SST_DIR, then data/sst, else download)")
    p.add_argument("--target", help="write the run folders here instead of sentiment_core/pretrained/")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1: the recorded "
                                                          "figures were built with 1)")
    p.set_defaults(run=run_pretrained)


def run_pretrained(args) -> int:
    from sentiment_core.pretrained import shipped_runs  # start-up: +35 ms on --help

    if args.build:
        return build(args)
    runs = shipped_runs(args.target)
    if not runs:
        print("no shipped models here; build them with: python -m sentiment_core pretrained --build")
        return 1
    for run in runs:
        results = run.status.get("results") or {}
        figures = ", ".join(f"{split} {results[split]['accuracy']:.1%}" for split in ("dev", "test")
                            if split in results)
        weights = "model" if run.has_checkpoint else "probes only"
        print(f"{run.path.name}: {run.config.model.cell if run.config else '?'}, {weights}"
              f"{f', {figures}' if figures else ''}")
    return 0


def build(args) -> int:
    import torch  # start-up: torch +2.5 s on --help

    from sentiment_core.pretrained.build import build_defaults  # start-up: torch +2.5 s on --help

    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, not {args.threads}")
    torch.set_num_threads(args.threads)
    build_defaults(args.data_dir, args.target, report=lambda line: print(line, file=sys.stdout, flush=True))
    return 0
