"""The `predict` command: classify one sentence, or a CSV file's text column, with a trained run (its
vocabulary and model; no treebank), under the same caps as the playground page."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sentiment_core.fileio import atomic_write_text

FILE_HELP = """\
With --file IN.csv (a header row and a 'text' or 'sentence' column) every row is classified and
the table (text, tokens, unknown words, label, a probability per class, note) is written to
--out OUT.csv, whole or not at all; --out is required with --file. A row the model cannot read
(empty, or past a cap) gets no label and a note saying why. Cells a spreadsheet would run as a
formula (starting with = + - @) are neutralised. Caps, as on the playground page:
SENTIMENT_MAX_CSV_BYTES (file size), SENTIMENT_MAX_BATCH_ROWS (rows), SENTIMENT_MAX_INPUT_CHARS
and SENTIMENT_MAX_INPUT_TOKENS (each text)."""


def add_commands(commands) -> None:
    p = commands.add_parser("predict", help="classify a sentence, or every row of a CSV file, with a trained run",
                            epilog=FILE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("text", nargs="?", help="the sentence, in quotes (or --file)")
    p.add_argument("--file", metavar="IN.csv", help="classify every row of this CSV file's text column")
    p.add_argument("--out", metavar="OUT.csv", help="with --file: where the table of predictions goes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_predict)


def playground_caps() -> dict[str, int]:
    """The playground's caps from the environment (a bad value fails here, before any work)."""
    from sentiment_core.data.caps import (  # start-up: +24 ms on --help
        max_batch_rows, max_csv_bytes, max_input_chars, max_input_tokens)

    return {"max_chars": max_input_chars(), "max_tokens": max_input_tokens(), "max_rows": max_batch_rows(),
            "max_bytes": max_csv_bytes()}


def predict_text(predictor, text: str) -> dict:
    """Label and class probabilities of one sentence, tokenized, capped and framed as in training."""
    prediction = predictor.predict(text)
    encoded = prediction.encoded
    return {"text": text, "tokens": encoded.words, "unknown": encoded.unknown_words, "label": prediction.label,
            "probabilities": dict(zip(prediction.class_names, prediction.probabilities)), "note": prediction.note}


def run_predict(args) -> int:
    if args.file is not None:
        return run_predict_file(args)
    if args.text is None:
        raise ValueError("give a sentence in quotes, or a CSV file with --file IN.csv --out OUT.csv")
    if args.out is not None:
        raise ValueError("--out goes with --file IN.csv; a single sentence's answer is printed")
    if not args.text.strip():  # said before the model is loaded: the text is the problem
        raise ValueError("there is nothing to classify: the text is empty; give a sentence in quotes")
    from sentiment_core.analysis.inference.predictor import Predictor  # start-up: torch +2.5 s on --help

    caps = playground_caps()
    predictor = Predictor.from_run(args.run_dir, caps["max_tokens"], caps["max_chars"])
    result = predict_text(predictor, args.text)
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


def checked_paths(args) -> tuple[Path, Path]:
    """--file and --out, refused before any work when they cannot make a table."""
    if args.text is not None:
        raise ValueError("give either a sentence or --file, not both")
    if args.out is None:
        raise ValueError("--file needs --out OUT.csv, the file the table of predictions is written to")
    source, out = Path(args.file), Path(args.out)
    if not source.is_file():
        raise ValueError(f"{source} is not a file; give a CSV file with a header row and a 'text' column")
    if out.resolve() == source.resolve():
        raise ValueError("--out names the input file; write the predictions to a new file")
    if not out.parent.is_dir():
        raise ValueError(f"the folder of --out, {out.parent}, does not exist; create it first")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name such as {out / 'predictions.csv'}")
    return source, out


def run_predict_file(args) -> int:
    """`predict RUN --file IN.csv --out OUT.csv`: every row classified, the table written atomically."""
    from sentiment_core.analysis.inference.predictor import Predictor  # start-up: torch +2.5 s on --help
    from sentiment_core.analysis.inference.tables import (  # start-up: csv +10 ms on --help
        read_csv_file, rows_to_csv, texts_from_csv)
    from sentiment_core.cli.progress import CallbackBar  # start-up: tqdm +35 ms on --help

    source, out = checked_paths(args)
    caps = playground_caps()
    texts = texts_from_csv(read_csv_file(source, caps["max_bytes"]), caps["max_rows"], caps["max_bytes"])
    predictor = Predictor.from_run(args.run_dir, caps["max_tokens"], caps["max_chars"])
    bar = CallbackBar("Predicting", unit="rows")
    try:
        rows = predictor.predict_many(texts, progress=bar)
    finally:
        bar.close()
    atomic_write_text(out, rows_to_csv(rows), create_parents=False)
    skipped = sum(1 for row in rows if row["label"] is None)
    if args.json:
        print(json.dumps({"out": str(out), "rows": len(rows), "classified": len(rows) - skipped}))
    else:
        print(f"{len(rows) - skipped:,} of {len(rows):,} rows classified"
              f"{f' ({skipped:,} could not be: see the note column)' if skipped else ''}; wrote {out}")
    return 0
