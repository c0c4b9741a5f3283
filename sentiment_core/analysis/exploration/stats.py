"""Figures about the corpus: split sizes, label counts, lengths, vocabulary coverage, padding."""
from __future__ import annotations

from collections import Counter

from sentiment_core.data.batching import epoch_padding
from sentiment_core.data.corpus import Corpus
from sentiment_core.data.treebank import SPLITS
from sentiment_core.data.text import Vocab, label_scheme


def oov_rate(token_lists, vocab: Vocab) -> float:
    """Share of tokens that the vocabulary maps to <unk>."""
    total = unknown = 0
    for tokens in token_lists:
        total += len(tokens)
        unknown += sum(1 for t in tokens if t not in vocab.stoi)
    return unknown / total if total else 0.0


def data_summary(corpus: Corpus, labels: int = 3, phrases: bool = False, min_freq: int = 1,
                 batch_size: int = 64, seed: int = 0) -> dict:
    """What `python -m sentiment_core data` prints, as plain data."""
    scheme = label_scheme(labels)
    vocab = corpus.build_vocab(min_freq)
    splits = {}
    for split in SPLITS:
        examples = corpus.examples(scheme, split, phrases)
        lengths = [len(e.tokens) for e in examples]
        counts = Counter(scheme.class_names[e.label] for e in examples)
        splits[split] = {
            "examples": len(examples),
            "labels": {name: counts.get(name, 0) for name in scheme.class_names},
            "tokens": sum(lengths),
            "mean_length": round(sum(lengths) / len(lengths), 2) if lengths else 0.0,
            "max_length": max(lengths, default=0),
        }
        if split != "train":
            splits[split]["oov_rate"] = round(oov_rate((e.tokens for e in examples), vocab), 5)
    # padding of one epoch of training batches; +2 for <sos> and <eos>, as the batches hold them
    train_lengths = [len(e.tokens) + 2 for e in corpus.examples(scheme, "train", phrases)]
    return {
        "data_dir": str(corpus.folder),
        "labels": labels,
        "label_scheme": scheme.name,
        "class_names": list(scheme.class_names),
        "level": "phrases" if phrases else "sentences",
        "vocab_size": len(vocab),
        "min_freq": min_freq,
        "splits": splits,
        "padding": {
            "batch_size": batch_size,
            "bucketed": round(epoch_padding(train_lengths, batch_size, True, seed), 5),
            "unbucketed": round(epoch_padding(train_lengths, batch_size, False, seed), 5),
        },
    }


def format_summary(summary: dict) -> str:
    lines = [f"Treebank: {summary['data_dir']}",
             f"Labels: {summary['labels']} ({summary['label_scheme']}), {summary['level']}",
             f"Vocabulary: {summary['vocab_size']:,} tokens (train, min_freq {summary['min_freq']}, specials included)",
             ""]
    header = f"{'split':<6} {'examples':>9} {'tokens':>10} {'mean len':>9} {'max len':>8} {'OOV':>7}  labels"
    lines.append(header)
    for split, s in summary["splits"].items():
        oov = f"{s['oov_rate']:.2%}" if "oov_rate" in s else "-"
        labels = ", ".join(f"{k} {v:,}" for k, v in s["labels"].items())
        lines.append(f"{split:<6} {s['examples']:>9,} {s['tokens']:>10,} {s['mean_length']:>9.2f} "
                     f"{s['max_length']:>8} {oov:>7}  {labels}")
    pad = summary["padding"]
    lines += ["", f"Padding in one epoch of batches of {pad['batch_size']}: "
                  f"{pad['bucketed']:.1%} with bucketing, {pad['unbucketed']:.1%} without"]
    return "\n".join(lines)
