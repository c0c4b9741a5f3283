"""The `train` command; its setting options are generated from the schema in config.py.

Every command module is imported to build the parser (`--help` included), so what loads torch,
tqdm or the run store is imported inside the function that needs it (marked `# start-up:`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sentiment_core import settings, timeline
from sentiment_core.cli.evaluate import result_line
from sentiment_core.cli.folders import removed_on_failure
from sentiment_core.cli.options import float_or_none, int_or_none, number, threads_option, whole_number
from sentiment_core.cli.worker import enqueue_train
from sentiment_core.config import (PRESETS, SECTIONS, SETTINGS, RunConfig, Setting, preset,
                                            section_settings, validate, with_changes)
from sentiment_core.fileio import FileRefused, read_json_bounded

# A `--config` file is a run's config.json (about 1 KB, objects two deep): these bound it before it is parsed.
MAX_CONFIG_FILE_BYTES = 64 * 2**10
MAX_CONFIG_DEPTH = 4


def option_for(s: Setting) -> dict:
    """add_argument's keywords for one setting."""
    if s.kind is bool:
        return {"action": argparse.BooleanOptionalAction, "help": s.help}
    options = {"help": s.help, "type": {int: whole_number, float: number}.get(s.kind, s.kind)}
    if s.choices:
        options["choices"] = s.choices
    elif s.optional and s.kind in (int, float):
        options["type"] = int_or_none if s.kind is int else float_or_none
    if s.metavar:
        options["metavar"] = s.metavar
    return options


def add_setting_options(parser: argparse.ArgumentParser) -> dict[str, argparse._ArgumentGroup]:
    """One option per setting, in a group per config section; returns the groups by section."""
    groups = {}
    for section, _, title in SECTIONS:
        groups[section] = parser.add_argument_group(title)
        for s in section_settings(section):
            groups[section].add_argument(s.flag, **option_for(s))
    return groups


def add_train_command(commands) -> None:
    # Options not given stay absent (SUPPRESS), so only what was typed overrides the preset,
    # 'none' included ('--clip none' switches a preset's clipping off).
    p = commands.add_parser("train", help="train a model; the run (config, metrics, checkpoint) goes to a directory",
                            description="Train a recurrent sentiment classifier. Options override the preset.",
                            argument_default=argparse.SUPPRESS)
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="start from a named preset (default: the defaults)")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="start from a RunConfig JSON file (e.g. a run's config.json)")
    groups = add_setting_options(p)
    groups["data"].add_argument("--data-dir", default=None,
                                help="treebank folder (default: $SST_DIR, then data/sst; a resumed run: its own)")
    where = p.add_argument_group("where the run goes")
    target = where.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="RUN_DIR", default=None,
                        help="the run directory (new, empty, or a queued run)")
    target.add_argument("--name", default=None, help="run name under the runs folder (default: time and cell)")
    target.add_argument("--resume", metavar="RUN_DIR", default=None, help="continue a stopped / interrupted run "
                                                            "(--epochs may raise its epoch count)")
    where.add_argument("--runs-dir", default=None, help="runs folder (default: $SENTIMENT_RUNS_DIR, then data/runs)")
    where.add_argument("--queue", metavar="URL", default=None,
                       help="redis://HOST:PORT/DB: queue the run for a worker (`worker` command) and print its "
                            "directory, instead of training here")
    p.add_argument("--threads", type=threads_option, default=None, metavar="N|auto",
                   help="CPU threads for torch (default: torch's choice, one per core; 'auto': the cores free "
                        "as the run starts, from the load average, as the pages start runs; 1 is faster on a "
                        "busy machine)")
    p.add_argument("--quiet", action="store_true", default=False, help="no progress bars")
    p.add_argument("--json", action="store_true", default=False, help="print the final status as one JSON object")
    p.set_defaults(run=run_train)


def given_settings(args) -> dict:
    """The settings typed on the command line (the others are absent from `args`)."""
    return {key: getattr(args, key) for key in SETTINGS if hasattr(args, key)}


def config_from_args(args) -> RunConfig:
    """The preset (or --config file, or defaults) with every given option applied on top."""
    if args.config:
        config = read_config_file(Path(args.config))
        if args.preset:
            raise ValueError("give either --preset or --config, not both")
    else:
        config = preset(args.preset) if args.preset else RunConfig()
    return with_changes(config, given_settings(args))


def read_config_file(path: Path) -> RunConfig:
    """A RunConfig from a JSON file, its size and nesting bounded before it is parsed; ValueError with a sentence."""
    try:
        return RunConfig.from_dict(read_json_bounded(path, MAX_CONFIG_FILE_BYTES, MAX_CONFIG_DEPTH))
    except FileNotFoundError:
        raise ValueError(f"no config file at {path}") from None
    except FileRefused as err:
        raise ValueError(f"{path} is not a run config: it {err}") from None
    except OSError as err:
        raise ValueError(f"{path} cannot be read ({err.strerror or err})") from None
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a run config ({err})") from None


def progress_printer(stream=None):
    """A trainer callback: a progress bar per epoch on stderr and one summary line per epoch."""
    from sentiment_core.cli.progress import progress_bar  # start-up: tqdm +35 ms on --help
    from sentiment_core.training.trainer import Callback  # start-up: torch +2.5 s on --help

    stream = stream or sys.stderr

    class ProgressPrinter(Callback):
        bar = None

        def on_train_begin(self, event, control):
            where = f" from epoch {event['start_epoch']}" if event["resumed"] else ""
            print(f"training {event['parameters']:,} weights on {event['train_size']:,} examples, "
                  f"{event['batches_per_epoch']} batches per epoch{where}", file=stream, flush=True)

        def on_batch_end(self, event, control):
            if self.bar is None:
                self.bar = progress_bar(event["batches"], f"epoch {event['epoch']}", unit="batch", stream=stream)
            self.bar.set_postfix_str(f"loss {event['running_loss']:.3f} acc {event['running_accuracy']:.1%} "
                                     f"{event['sentences_per_second']:.0f} sent/s", refresh=False)
            self.bar.update(event["batch"] - self.bar.n)

        def on_epoch_end(self, event, control):
            self.close_bar()
            print(f"epoch {event['epoch']}/{event['epochs']}: train loss {event['train_loss']:.3f} "
                  f"acc {event['train_accuracy']:.1%} | dev loss {event['dev_loss']:.3f} "
                  f"acc {event['dev_accuracy']:.1%}{'  (best)' if event['improved'] else ''} "
                  f"| {event['epoch_seconds']:.0f}s", file=stream, flush=True)

        def on_train_end(self, event, control):
            self.close_bar()

        def close_bar(self):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return ProgressPrinter()


def hand_over_slot_quietly(run_dir: Path) -> None:
    """A run started by the training page's queue starts the next waiting run as it ends."""
    from sentiment_core.runs.jobs import hand_over_slot  # start-up: +160 ms on --help

    try:
        started = hand_over_slot(run_dir)
    except Exception as err:  # never let the queue change how training ends; the pages retry
        print(f"warning: could not start the next queued run: {err}", file=sys.stderr)
        return
    for path in started:
        print(f"started the next queued run: {path.name}")


def run_has_ended(run_dir: Path) -> bool:
    """The trainer recorded how the run ended (it failed or was interrupted): keep it to show why."""
    from sentiment_core.runs.store import RunError, read_status  # start-up: +50 ms on --help

    try:
        return read_status(run_dir).get("state") in ("failed", "interrupted", "stopped", "finished")
    except (RunError, OSError, ValueError):
        return False


def run_worth_keeping(run_dir: Path) -> bool:
    """The run recorded how it ended, or saved any of its training (a checkpoint, a training state,
    metrics): a failure never deletes it, even one that left its status unwritten (a full disk)."""
    from sentiment_core.runs.store import CHECKPOINT, LAST, METRICS  # start-up: +50 ms on --help

    if run_has_ended(run_dir) or any((run_dir / name).is_file() for name in (CHECKPOINT, LAST)):
        return True
    metrics = run_dir / METRICS
    return metrics.is_file() and metrics.stat().st_size > 0


def checked_config(args) -> RunConfig | None:
    """The run's settings, validated before anything is created (None: a resumed run keeps its own)."""
    if args.resume:
        changed = [SETTINGS[key].flag for key in given_settings(args) if key != "epochs"]
        if changed or args.preset or args.config:
            raise ValueError("a resumed run keeps its own settings; only --epochs may change "
                             f"(remove {', '.join(changed) or '--preset/--config'})")
        if not hasattr(args, "epochs"):
            return None
    config = config_from_args(args)
    validate(config)
    if isinstance(args.threads, int) and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, not {args.threads}")
    return config


def set_threads(threads) -> None:
    """torch's thread count: as given, 'auto' (the cores free now, said on stderr), or torch's default (None)."""
    if threads is None:
        return
    if threads == settings.THREADS_AUTO:
        threads = settings.free_cores()
        print(f"threads: {threads} of {settings.usable_cores()} cores (the others are busy or in use)"
              if threads < settings.usable_cores() else f"threads: {threads}, one per core", file=sys.stderr)
    import torch  # start-up: torch +2.5 s on --help

    torch.set_num_threads(threads)


class StartupMarks:
    """A trainer callback noting the run's first moments for `bench --startup` (timeline.py)."""

    def __init__(self):
        self.mark, self.batches = timeline.mark, 0

    def on_train_begin(self, event, control):
        self.mark("train_begin")

    def on_batch_end(self, event, control):
        self.batches += 1
        if self.batches == 1:
            self.mark("first_batch")

    def on_epoch_end(self, event, control):
        self.mark(f"epoch_end_{event['epoch']}")

    def on_probe(self, event, control):
        pass

    def on_train_end(self, event, control):
        self.mark("train_end")


def run_train(args) -> int:
    if args.queue:  # before torch loads (seconds): a worker trains it, elsewhere
        return enqueue_train(args, checked_config(args))
    from sentiment_core.training.distributed import close_world, init_world  # start-up: torch +2.5 s on --help
    from sentiment_core.runs.provenance import treebank_for  # start-up: +35 ms on --help
    from sentiment_core.runs.execution import train_run  # start-up: torch +2.5 s on --help
    from sentiment_core.runs.store import RunError, claim_run  # start-up: +50 ms on --help

    timeline.mark("imports")
    config = checked_config(args)
    data_dir, note = treebank_for(args.resume, args.data_dir) if args.resume else (args.data_dir, "")
    if note:
        print(note, file=sys.stderr)
    set_threads(args.threads)
    world = init_world()  # under torchrun: join the other processes (distributed.py); else a world of one
    callbacks = [] if args.quiet or not world.is_main else [progress_printer()]
    if settings.read(settings.MARKS_ENV):
        callbacks.append(StartupMarks())
    started = time.monotonic()
    new_out = args.out if world.is_main and not args.resume else None
    try:
        # --out is created before the data loads (an unwritable destination fails at once) and
        # removed again if the run never started (bad data, Ctrl-C while loading...), but only
        # while this process can claim it: another trainer that won the claim keeps its run.
        with removed_on_failure(new_out, keep=run_worth_keeping, create=True, hold=claim_run):
            run_dir, status = train_run(config, args.resume or args.out, root=args.runs_dir, name=args.name,
                                        data_dir=data_dir, callbacks=callbacks, resume=bool(args.resume),
                                        device=world.device("cpu"), world=world)
    except RunError:
        raise
    except RuntimeError as err:  # torch errors (e.g. out of memory) as one line
        raise ValueError(f"training failed: {err}") from None
    finally:
        if world.is_main and (args.resume or args.out):
            hand_over_slot_quietly(Path(args.resume or args.out))
    close_world(world)
    timeline.mark("evaluated")
    timeline.write()
    if not world.is_main:  # rank 0 reports; the others trained the same weights silently
        return 1 if status["state"] == "failed" else 0
    minutes = (time.monotonic() - started) / 60
    if args.json:
        print(json.dumps({"run_dir": str(run_dir), "minutes": minutes, **status}))
    else:
        print(format_outcome(run_dir, status, minutes))
    if status["state"] == "failed":
        print(f"error: {status['message']}", file=sys.stderr)
        return 1
    return 0


def format_outcome(run_dir: Path, status: dict, minutes: float) -> str:
    lines = [f"{status['state']}: {status['message']}"]
    results = status.get("results") or {}
    if results:
        lines.append(f"best checkpoint (epoch {status.get('best_epoch')}):")
        lines += [f"  {split}: {result_line(r)}" for split, r in results.items()]
    lines.append(f"time: {minutes:.1f} min")
    lines.append(f"run: {run_dir}")
    if status["state"] in ("stopped",):
        lines.append(f"continue: python -m sentiment_core train --resume {run_dir}")
    if results:
        lines.append(f"evaluate: python -m sentiment_core evaluate {run_dir} --split test")
    return "\n".join(lines)


def add_commands(commands) -> None:
    add_train_command(commands)
