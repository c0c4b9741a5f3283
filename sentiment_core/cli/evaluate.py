"""The `evaluate` command: a run's best checkpoint on dev or test, on the treebank it was trained on."""
from __future__ import annotations

import json
import sys

from sentiment_core.cli.options import int_or_none


def add_commands(commands) -> None:
    p = commands.add_parser("evaluate", help="loss, accuracy, per-class P/R/F1 and confusion matrix of a run")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--split", choices=("dev", "test"), default="dev", help="sentences to evaluate on (default dev)")
    p.add_argument("--limit", type=int_or_none, help="only the first N sentences")
    p.add_argument("--data-dir", help="treebank folder (default: the one the run was trained on, then $SST_DIR, "
                                      "then data/sst)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_evaluate)


def run_and_its_treebank(run_dir, data_dir, limit):
    """(model, vocab, scheme, corpus) of a run, on the treebank it trained on unless `data_dir` says
    otherwise; what was chosen, and a changed treebank, are said on stderr."""
    from sentiment_core.data.corpus import load_corpus  # start-up: +15 ms on --help
    from sentiment_core.runs.provenance import checksum_warning, treebank_for  # start-up: +35 ms on --help
    from sentiment_core.runs.execution import load_model  # start-up: torch +2.5 s on --help

    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1 (or none), not {limit}")
    model, vocab, _, scheme = load_model(run_dir)
    folder, note = treebank_for(run_dir, data_dir)
    if note:
        print(note, file=sys.stderr)
    corpus = load_corpus(folder)
    warning = checksum_warning(run_dir, corpus)
    if warning:
        print(warning, file=sys.stderr)
    return model, vocab, scheme, corpus


def run_evaluate(args) -> int:
    from sentiment_core.data.batching import EncodedDataset  # start-up: torch +2.5 s on --help
    from sentiment_core.training.evaluation import evaluate  # start-up: torch +2.5 s on --help

    model, vocab, scheme, corpus = run_and_its_treebank(args.run_dir, args.data_dir, args.limit)
    examples = corpus.examples(scheme, args.split)[:args.limit]
    result = evaluate(model, EncodedDataset(examples, vocab), scheme.num_classes, scheme.class_names)
    result = {"run_dir": str(args.run_dir), "split": args.split, "labels": scheme.num_classes, **result}
    print(json.dumps(result) if args.json else format_evaluation(result))
    return 0


def result_line(result: dict) -> str:
    """Accuracy, macro F1 and each class's recall on one line: a model that never answers a class shows it."""
    recalls = " / ".join(f"{row['label']} {row['recall']:.1%}" for row in result["per_class"])
    return f"accuracy {result['accuracy']:.1%}, macro F1 {result['macro_f1']:.3f}, recall {recalls}"


def format_evaluation(result: dict) -> str:
    names = result["class_names"]
    width = max(len(n) for n in names + ["class"])
    lines = [f"{result['split']}: {result['count']} sentences, {result_line(result)}, loss {result['loss']:.3f}", "",
             f"{'class':<{width}}  precision  recall     f1  support"]
    for row in result["per_class"]:
        lines.append(f"{row['label']:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}"
                     f"  {row['support']:7d}")
    lines += ["", "confusion (rows: true class, columns: predicted)",
              " " * width + "  " + " ".join(f"{n[:8]:>8}" for n in names)]
    for name, row in zip(names, result["confusion"]):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:8d}" for v in row))
    return "\n".join(lines)
