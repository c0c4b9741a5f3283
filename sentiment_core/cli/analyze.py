"""The `analyze` command: where a run fails, by slice of sentences and phrase by phrase."""
from __future__ import annotations

import json

from sentiment_core.cli.evaluate import run_and_its_treebank
from sentiment_core.cli.options import int_or_none


def add_commands(commands) -> None:
    p = commands.add_parser("analyze", help="a run's accuracy and macro-F1 by slice (negation, contrast, length, "
                                            "unknown words) and on every phrase of the parse trees")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--split", choices=("dev", "test"), default="dev", help="sentences to analyze (default dev)")
    p.add_argument("--limit", type=int_or_none, help="only the first N sentences")
    p.add_argument("--no-phrases", dest="phrases", action="store_false",
                   help="skip the phrase-level breakdown (the slower part)")
    p.add_argument("--data-dir", help="treebank folder (default: the one the run was trained on, then $SST_DIR, "
                                      "then data/sst)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_analyze)


def run_analyze(args) -> int:
    from sentiment_core.analysis.evaluation.report import analyze_split  # start-up: torch +2.5 s on --help

    model, vocab, scheme, corpus = run_and_its_treebank(args.run_dir, args.data_dir, args.limit)
    result = analyze_split(model, vocab, scheme, corpus, args.split, args.limit, args.phrases)
    result = {"run_dir": str(args.run_dir), "split": args.split, "labels": scheme.num_classes, **result}
    print(json.dumps(result) if args.json else format_analysis(result))
    return 0


def percent(value) -> str:
    return "    -" if value is None else f"{value:5.1%}"


def format_analysis(result: dict) -> str:
    overall = result["overall"]
    lines = [f"{result['split']}: {overall['count']} sentences, accuracy {overall['accuracy']:.1%}, "
             f"macro F1 {overall['macro_f1']:.3f}", "", f"{'slice':<24} {'count':>6}  accuracy  macro F1"]
    for row in result["slices"]:
        f1 = "    -" if row["macro_f1"] is None else f"{row['macro_f1']:.3f}"
        lines.append(f"{row['name']:<24} {row['count']:>6}  {percent(row['accuracy']):>8}  {f1:>8}")
    phrases = result["phrases"]
    if phrases:
        lines += ["", f"phrases: {phrases['count']} nodes of the parse trees, accuracy {percent(phrases['accuracy'])}"]
        for title, key in (("phrase length (tokens)", "by_length"), ("depth in the tree (root 0)", "by_depth")):
            lines.append(f"  {title:<28} {'count':>7}  accuracy")
            lines += [f"  {row['bucket']:<28} {row['count']:>7}  {percent(row['accuracy']):>8}" for row in phrases[key]]
    return "\n".join(lines)
