"""The `predict` command: classify one sentence with a trained run (its vocabulary and model; no treebank)."""
from __future__ import annotations

import json


def add_commands(commands) -> None:
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
