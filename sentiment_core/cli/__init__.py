"""The command line: `python -m sentiment_core COMMAND ...` (see `--help`); one module per command."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from sentiment_core.data.treebank import TreebankError


def add_data_command(commands) -> None:
    p = commands.add_parser("data", help="find (or download) the treebank and print its figures")
    p.add_argument("--data-dir", help="folder holding train.txt, dev.txt, test.txt (or a trees/ folder); "
                                      "default: $SST_DIR, then data/sst, else download")
    p.add_argument("--labels", type=int, choices=(2, 3, 5), default=3, help="label scheme (default 3)")
    p.add_argument("--phrases", action="store_true", help="train on every labelled phrase, not sentences")
    p.add_argument("--min-freq", type=int, default=1, help="vocabulary: minimum training count (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_data)


def run_data(args) -> int:
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.cli.progress import CallbackBar
    from sentiment_core.analysis.stats import data_summary, format_summary

    bar = CallbackBar("Downloading treebank", unit="B", unit_scale=True, unit_divisor=1024)
    try:
        corpus = load_corpus(args.data_dir, download=True, progress=bar)
    finally:
        bar.close()
    summary = data_summary(corpus, args.labels, args.phrases, args.min_freq)
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sentiment_core",
                                     description="Recurrent networks for sentiment analysis on SST.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_data_command(commands)
    for module_name in EXTRA_COMMAND_MODULES:
        module = importlib.import_module(f"sentiment_core.cli.{module_name}")
        module.add_commands(commands)
    return parser


# Modules that add sub-commands through add_commands(subparsers): one module per command.
EXTRA_COMMAND_MODULES: list[str] = ["train", "evaluate", "predict", "bench", "health", "pretrained"]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (TreebankError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

