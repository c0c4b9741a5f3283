"""Sub-commands `train`, `evaluate` and `predict` (registered in sentiment_core.cli.EXTRA_COMMAND_MODULES).

`train(argv)` runs the train command as a function, as the dashboard's background process
does with `python -m sentiment_core train ... --out RUN_DIR`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sentiment_core.training.config import CELLS, OPTIMIZERS, POOLINGS, RunConfig, preset

# CLI option -> (config section, field). Options left out keep the preset's (or default) value.
OPTION_FIELDS = {
    "labels": ("data", "labels"), "phrases": ("data", "phrases"), "min_freq": ("data", "min_freq"),
    "max_vocab": ("data", "max_vocab"), "train_limit": ("data", "train_limit"), "eval_limit": ("data", "eval_limit"),
    "cell": ("model", "cell"), "embedding_dim": ("model", "embedding_dim"), "hidden_dim": ("model", "hidden_dim"),
    "layers": ("model", "layers"), "bidirectional": ("model", "bidirectional"), "dropout": ("model", "dropout"),
    "pooling": ("model", "pooling"), "vectors": ("model", "vectors"), "freeze_vectors": ("model", "freeze_vectors"),
    "tutorial": ("model", "tutorial"),
    "optimizer": ("train", "optimizer"), "lr": ("train", "lr"), "weight_decay": ("train", "weight_decay"),
    "momentum": ("train", "momentum"), "clip": ("train", "clip"), "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"), "max_batches": ("train", "max_batches"), "bptt": ("train", "bptt"),
    "patience": ("train", "patience"), "seed": ("train", "seed"), "bucketing": ("train", "bucketing"),
    "probe_every": ("train", "probe_every"), "reweight": ("train", "reweight"),
}


def _int_or_none(text: str):
    """A whole number, or 'none' / '0' for "off" (clip, bptt, patience, max batches)."""
    if text.strip().lower() in ("none", "off", "0"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'none', not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'none', not {text!r}")
    return value


def _float_or_none(text: str):
    if text.strip().lower() in ("none", "off", "0"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', not {text!r}") from None


def add_train_command(commands) -> None:
    from sentiment_core.training.config import PRESETS

    # Options not given stay absent (SUPPRESS), so only what was typed overrides the preset,
    # 'none' included ('--clip none' switches a preset's clipping off).
    p = commands.add_parser("train", help="train a model; the run (config, metrics, checkpoint) goes to a directory",
                            description="Train a recurrent sentiment classifier. Options override the preset.",
                            argument_default=argparse.SUPPRESS)
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="start from a named preset (default: the defaults)")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="start from a RunConfig JSON file (e.g. a run's config.json)")
    data = p.add_argument_group("data")
    data.add_argument("--labels", type=int, choices=(2, 3, 5), help="label scheme")
    data.add_argument("--phrases", action=argparse.BooleanOptionalAction,
                      help="train on every labelled phrase of train (dev / test stay sentences)")
    data.add_argument("--min-freq", type=int, help="vocabulary: minimum count in training sentences")
    data.add_argument("--max-vocab", type=_int_or_none, help="vocabulary: at most this many words")
    data.add_argument("--train-limit", type=_int_or_none, help="use only the first N training examples")
    data.add_argument("--eval-limit", type=_int_or_none, help="use only the first N dev / test sentences")
    data.add_argument("--data-dir", default=None, help="treebank folder (default: $SST_DIR, then data/sst)")
    model = p.add_argument_group("model")
    model.add_argument("--cell", choices=CELLS, help="recurrent cell")
    model.add_argument("--tutorial", action=argparse.BooleanOptionalAction,
                       help="the tutorial's exact SentimentRNN (scratch cell, padding read as words)")
    model.add_argument("--embedding-dim", type=int, help="size of a word vector")
    model.add_argument("--hidden-dim", type=int, help="size of the hidden state (per direction)")
    model.add_argument("--layers", type=int, help="stacked recurrent layers")
    model.add_argument("--bidirectional", action=argparse.BooleanOptionalAction,
                       help="also read right to left")
    model.add_argument("--dropout", type=float, help="dropout on embeddings, between layers, before the output")
    model.add_argument("--pooling", choices=POOLINGS, help="sentence summary over time")
    model.add_argument("--vectors", metavar="FILE", help="GloVe-format text file of pretrained word vectors")
    model.add_argument("--freeze-vectors", action=argparse.BooleanOptionalAction,
                       help="keep pretrained vectors fixed")
    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=int, help="passes over the training data")
    train.add_argument("--batch-size", type=int, help="examples per batch")
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="adam or sgd")
    train.add_argument("--momentum", type=float, help="sgd momentum")
    train.add_argument("--weight-decay", type=float, help="L2 penalty")
    train.add_argument("--clip", type=_float_or_none, help="clip the gradient's global norm ('none': off)")
    train.add_argument("--bptt", type=_int_or_none, help="truncated backpropagation: k steps ('none': full)")
    train.add_argument("--max-batches", type=_int_or_none, help="end each epoch after N batches")
    train.add_argument("--patience", type=_int_or_none, help="early stopping patience in epochs ('none': off)")
    train.add_argument("--seed", type=int, help="random seed (same seed, same curve)")
    train.add_argument("--bucketing", action=argparse.BooleanOptionalAction,
                       help="batch sentences of similar length together")
    train.add_argument("--reweight", action=argparse.BooleanOptionalAction,
                       help="weight the loss so classes count as among training sentences (for --phrases)")
    train.add_argument("--probe-every", type=int, help="gradient-through-time probe every N epochs (0: never)")
    where = p.add_argument_group("where the run goes")
    target = where.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="RUN_DIR", default=None, help="the run directory (new, empty, or a queued run)")
    target.add_argument("--name", default=None, help="run name under the runs folder (default: time and cell)")
    target.add_argument("--resume", metavar="RUN_DIR", default=None, help="continue a stopped / interrupted run "
                                                            "(--epochs may raise its epoch count)")
    where.add_argument("--runs-dir", default=None, help="runs folder (default: $SENTIMENT_RUNS_DIR, then data/runs)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)")
    p.add_argument("--quiet", action="store_true", default=False, help="no progress bars")
    p.add_argument("--json", action="store_true", default=False, help="print the final status as one JSON object")
    p.set_defaults(run=run_train)


def config_from_args(args) -> RunConfig:
    """The preset (or --config file, or defaults) with every given option applied on top."""
    if args.config:
        try:
            config = RunConfig.from_dict(json.loads(Path(args.config).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ValueError(f"no config file at {args.config}") from None
        except (OSError, ValueError, TypeError) as err:
            raise ValueError(f"{args.config} is not a run config ({err})") from None
        if args.preset:
            raise ValueError("give either --preset or --config, not both")
    else:
        config = preset(args.preset) if args.preset else RunConfig()
    for option, (section, name) in OPTION_FIELDS.items():
        if hasattr(args, option):  # given on the command line
            setattr(getattr(config, section), name, getattr(args, option))
    if hasattr(args, "cell") and args.cell != "scratch" and not hasattr(args, "tutorial"):
        config.model.tutorial = False  # e.g. --preset seed --cell lstm: the tutorial model is scratch only
    return config


class ProgressPrinter:
    """A progress bar per epoch on stderr and one summary line per epoch."""

    def __init__(self, stream=None):
        from sentiment_core.training.trainer import Callback

        self.stream = stream or sys.stderr
        self.bar = None
        printer = self

        class _Callback(Callback):
            def on_train_begin(self, event, control):
                printer.begin(event)

            def on_batch_end(self, event, control):
                printer.batch(event)

            def on_epoch_end(self, event, control):
                printer.epoch(event)

            def on_train_end(self, event, control):
                printer.end(event)

        self.callback = _Callback()

    def begin(self, event):
        where = f" from epoch {event['start_epoch']}" if event["resumed"] else ""
        self.stream.write(f"training {event['parameters']:,} weights on {event['train_size']:,} examples, "
                          f"{event['batches_per_epoch']} batches per epoch{where}\n")

    def batch(self, event):
        from sentiment_core.cli.progress import ProgressBar

        if self.bar is None:
            self.bar = ProgressBar(event["batches"], f"epoch {event['epoch']}", stream=self.stream)
        self.bar.update(event["batch"], suffix=f"loss {event['running_loss']:.3f} "
                                               f"acc {event['running_accuracy']:.1%} "
                                               f"{event['sentences_per_second']:.0f} sent/s")

    def epoch(self, event):
        self._close_bar(f"epoch {event['epoch']}/{event['epochs']}: train loss {event['train_loss']:.3f} "
                        f"acc {event['train_accuracy']:.1%} | dev loss {event['dev_loss']:.3f} "
                        f"acc {event['dev_accuracy']:.1%}{'  (best)' if event['improved'] else ''} "
                        f"| {event['epoch_seconds']:.0f}s")

    def end(self, event):
        self._close_bar("")

    def _close_bar(self, message):
        if self.bar is not None:
            self.bar.close(message + " " * 20)
            self.bar = None
        elif message:
            self.stream.write(message + "\n")


def hand_over_slot_quietly(run_dir: Path) -> None:
    """A run started by the training page's queue starts the next waiting run as it ends."""
    from sentiment_core.training.jobs import hand_over_slot

    try:
        started = hand_over_slot(run_dir)
    except Exception as err:  # never let the queue change how training ends; the pages retry
        print(f"warning: could not start the next queued run: {err}", file=sys.stderr)
        return
    for path in started:
        print(f"started the next queued run: {path.name}")


def run_train(args) -> int:
    from sentiment_core.training.distributed import close_world, init_world
    from sentiment_core.training.runs import train_run
    from sentiment_core.training.store import RunError

    resume = bool(args.resume)
    if resume:
        changed = sorted(o for o in OPTION_FIELDS if hasattr(args, o) and o != "epochs")
        if changed or args.preset or args.config:
            raise ValueError("a resumed run keeps its own settings; only --epochs may change "
                             f"(remove {', '.join('--' + o.replace('_', '-') for o in changed) or '--preset/--config'})")
    config = config_from_args(args) if not resume or hasattr(args, "epochs") else None
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be at least 1, not {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    world = init_world()  # under torchrun: join the other processes (distributed.py); else a world of one
    callbacks = [] if args.quiet or not world.is_main else [ProgressPrinter().callback]
    started = time.monotonic()
    try:
        run_dir, status = train_run(config, args.resume or args.out, root=args.runs_dir, name=args.name,
                                    data_dir=args.data_dir, callbacks=callbacks, resume=resume,
                                    device=world.device("cpu"), world=world)
    except RunError:
        raise
    except RuntimeError as err:  # torch errors (e.g. out of memory) as one line
        raise ValueError(f"training failed: {err}") from None
    finally:
        if world.is_main and (args.resume or args.out):
            hand_over_slot_quietly(Path(args.resume or args.out))
    close_world(world)
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
    figures = ", ".join(f"{split} accuracy {r['accuracy']:.1%}" for split, r in results.items())
    if figures:
        lines.append(f"best checkpoint (epoch {status.get('best_epoch')}): {figures}")
    lines.append(f"time: {minutes:.1f} min")
    lines.append(f"run: {run_dir}")
    if status["state"] in ("stopped",):
        lines.append(f"continue: python -m sentiment_core train --resume {run_dir}")
    if results:
        lines.append(f"evaluate: python -m sentiment_core evaluate {run_dir} --split test")
    return "\n".join(lines)


def train(argv: list[str]) -> int:
    """The train command as a function: `train(["--preset", "seed", "--out", "data/runs/x"])`."""
    from sentiment_core.cli import main

    return main(["train", *argv])


# ---------------------------------------------------------------------------------------------
# evaluate


def add_evaluate_command(commands) -> None:
    p = commands.add_parser("evaluate", help="loss, accuracy, per-class P/R/F1 and confusion matrix of a run")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--split", choices=("dev", "test"), default="dev", help="sentences to evaluate on (default dev)")
    p.add_argument("--limit", type=_int_or_none, help="only the first N sentences")
    p.add_argument("--data-dir", help="treebank folder (default: $SST_DIR, then data/sst)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_evaluate)


def run_evaluate(args) -> int:
    from sentiment_core.data.batching import EncodedDataset
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.training.runs import load_model
    from sentiment_core.training.evaluation import evaluate

    model, vocab, config, scheme = load_model(args.run_dir)
    corpus = load_corpus(args.data_dir)
    examples = corpus.examples(scheme, args.split)[:args.limit]
    result = evaluate(model, EncodedDataset(examples, vocab), scheme.num_classes, scheme.class_names)
    result = {"run_dir": str(args.run_dir), "split": args.split, "labels": scheme.num_classes, **result}
    print(json.dumps(result) if args.json else format_evaluation(result))
    return 0


def format_evaluation(result: dict) -> str:
    names = result["class_names"]
    width = max(len(n) for n in names + ["class"])
    lines = [f"{result['split']}: {result['count']} sentences, accuracy {result['accuracy']:.1%}, "
             f"loss {result['loss']:.3f}, macro F1 {result['macro_f1']:.3f}", "",
             f"{'class':<{width}}  precision  recall     f1  support"]
    for row in result["per_class"]:
        lines.append(f"{row['label']:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}"
                     f"  {row['support']:7d}")
    lines += ["", "confusion (rows: true class, columns: predicted)",
              " " * width + "  " + " ".join(f"{n[:8]:>8}" for n in names)]
    for name, row in zip(names, result["confusion"]):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:8d}" for v in row))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# predict


def add_predict_command(commands) -> None:
    p = commands.add_parser("predict", help="classify a sentence with a trained run")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("text", help="the sentence, in quotes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_predict)


def predict_text(model, vocab, scheme, text: str) -> dict:
    """Label and class probabilities of one sentence, tokenized and framed as in training."""
    from sentiment_core.data.text import Tokenizer
    from sentiment_core.training.evaluation import class_probabilities

    tokens = Tokenizer()(text)
    if not tokens:
        raise ValueError("there is nothing to classify: the text is empty; give a sentence in quotes")
    unknown = [t for t in tokens if t not in vocab]
    probabilities = class_probabilities(model, vocab.encode(tokens, add_sos_eos=True))
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    note = ""
    if len(unknown) == len(tokens):
        note = ("none of the words is in the training vocabulary, so the model sees only <unk>; "
                "the answer reflects its bias, not the text")
    return {"text": text, "tokens": tokens, "unknown": unknown, "label": scheme.class_names[best],
            "probabilities": dict(zip(scheme.class_names, probabilities)), "note": note}


def run_predict(args) -> int:
    from sentiment_core.training.runs import load_model

    if not args.text.strip():  # said before the model is loaded: the text is the problem
        raise ValueError("there is nothing to classify: the text is empty; give a sentence in quotes")
    model, vocab, _, scheme = load_model(args.run_dir)
    result = predict_text(model, vocab, scheme, args.text)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['label']}  ({result['probabilities'][result['label']]:.1%})")
    for name, p in sorted(result["probabilities"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:<14} {p:6.1%}")
    if result["unknown"]:
        print(f"words not in the vocabulary: {', '.join(result['unknown'])}")
    if result["note"]:
        print(f"note: {result['note']}")
    return 0


def add_commands(commands) -> None:
    add_train_command(commands)
    add_evaluate_command(commands)
    add_predict_command(commands)
