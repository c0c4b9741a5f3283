"""The command line: `python -m sentiment_core COMMAND ...` (see `--help`); one module per command."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from sentiment_core.cli.train import option_for
from sentiment_core.config import SETTINGS, RunConfig, check_setting, get_setting
from sentiment_core.cli.folders import removed_on_failure
from sentiment_core.data.treebank import TreebankError, install_treebank_zip, scan_treebank
from sentiment_core.settings import default_sst_dir

MAX_ERROR_CHARS = 300  # a library's error text past this (torch's run to paragraphs) is cut
# The run settings that shape `data`'s figures: their options come from the settings schema, as `train`'s do.
DATA_SETTINGS = ("labels", "phrases", "min_freq")


def add_data_command(commands) -> None:
    p = commands.add_parser("data", help="find (or download, or install) the treebank and print its figures")
    p.add_argument("--data-dir", help="folder holding train.txt, dev.txt, test.txt (or a trees/ folder); "
                                      "default: $SST_DIR, then data/sst, else download")
    p.add_argument("--install", metavar="ZIP",
                   help="install the treebank from a downloaded trainDevTestTrees_PTB.zip, checked as the "
                        "page's upload is, into --data-dir (default: <data root>/sst, $SENTIMENT_DATA_DIR or "
                        "data/), replacing what is there only once every split parses; exit 1 on failure")
    for key in DATA_SETTINGS:
        p.add_argument(SETTINGS[key].flag, default=get_setting(RunConfig(), key), **option_for(SETTINGS[key]))
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_data)


def run_data(args) -> int:
    from sentiment_core.data.corpus import load_corpus  # start-up: +15 ms on --help

    if args.install:
        return run_install(Path(args.install), args.data_dir, args.json)
    for key in DATA_SETTINGS:  # checked as `train` checks them, before the treebank is read
        check_setting(SETTINGS[key], getattr(args, key))
    from sentiment_core.cli.progress import CallbackBar  # start-up: tqdm +35 ms on --help
    from sentiment_core.analysis.exploration.stats import (  # start-up: torch +2.5 s on --help
        data_summary, format_summary)

    bar = CallbackBar("Downloading treebank", unit="B", unit_scale=True, unit_divisor=1024)
    try:
        corpus = load_corpus(args.data_dir, download=True, progress=bar)
    finally:
        bar.close()
    summary = data_summary(corpus, args.labels, args.phrases, args.min_freq)
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0


def run_install(zip_path: Path, data_dir: str | None, as_json: bool) -> int:
    """`data --install ZIP`: one line saying where the treebank went and its sentence counts, or why not."""
    target = Path(data_dir) if data_dir else default_sst_dir()
    try:
        if not zip_path.is_file():
            raise TreebankError(f"{zip_path} is not a file; give the path of the downloaded "
                                "trainDevTestTrees_PTB.zip")
        with removed_on_failure(target):  # the folders it made for the target, when the install fails
            install_treebank_zip(zip_path, target)
        counts = {split: len(trees) for split, trees in scan_treebank(target).items()}
    except (TreebankError, OSError) as err:
        print(f"error: {error_line(err)}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"installed": str(target), "sentences": counts}))
    else:
        print(f"installed the treebank in {target}: " + ", ".join(f"{n:,} {s}" for s, n in counts.items())
              + " sentences")
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
EXTRA_COMMAND_MODULES: list[str] = ["train", "evaluate", "predict", "analyze", "bench", "health", "pretrained", "worker"]


def error_line(err: BaseException) -> str:
    """An error as one line: an OS error as `reason: path`, anything else its first line.

    A line past MAX_ERROR_CHARS loses the library's detail in parentheses (torch's damaged
    checkpoint text is a paragraph, with advice that does not apply), then is cut.
    """
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = str(err).strip() or type(err).__name__
    line = text.splitlines()[0]
    if len(line) > MAX_ERROR_CHARS and " (" in line:
        line = line[:line.index(" (")]
    return line if len(line) <= MAX_ERROR_CHARS else line[:MAX_ERROR_CHARS - 3].rstrip() + "..."


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (TreebankError, ValueError, FileNotFoundError) as err:  # what the user gave: fix it and retry
        print(f"error: {error_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # where it ran: a folder it cannot write, a full disk...
        print(f"error: {error_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

