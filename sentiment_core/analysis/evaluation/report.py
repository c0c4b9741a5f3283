"""A run's answers on a split, taken apart: overall, by slice of sentences, and phrase by phrase.

Overall figures come from the same `evaluate` as `python -m sentiment_core evaluate`, on the
same examples, so the two commands agree. Slices and phrase breakdowns are analysis/evaluation/slices.py's
pure functions over the model's predictions; every node of every parse tree of the split is
scored in one batched pass (tens of thousands of short phrases: seconds, not minutes).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from sentiment_core.analysis.evaluation.slices import phrase_breakdown, slice_metrics, span_depths
from sentiment_core.data.batching import EncodedDataset
from sentiment_core.data.corpus import Corpus, Example, tree_phrases
from sentiment_core.data.text import LabelScheme, Vocab
from sentiment_core.training.evaluation import evaluate, probabilities_in_order


@dataclass(frozen=True)
class Phrases:
    """Every labelled node of a split's trees, as examples with the node's length and depth."""

    examples: list[Example]
    lengths: list[int]
    depths: list[int]


def predictions_in_order(model: nn.Module, data: EncodedDataset) -> list[int]:
    """The predicted class of every example, in the dataset's own order."""
    return [max(range(len(row)), key=row.__getitem__) for row in probabilities_in_order(model, data)]


def split_phrases(corpus: Corpus, split: str, scheme: LabelScheme, limit: int | None = None) -> Phrases:
    """The nodes of the first `limit` sentences' trees whose label the scheme keeps (root included)."""
    examples, lengths, depths = [], [], []
    sentences = corpus.sentences[split][:limit]
    for (tokens, _, _), nodes in zip(sentences, tree_phrases(corpus.folder, split)):
        node_depths = span_depths([(start, end) for start, end, _ in nodes])
        for (start, end, fine), depth in zip(nodes, node_depths):
            label = scheme.map(fine)
            if label is not None:
                examples.append(Example(tokens[start:end], label))
                lengths.append(end - start)
                depths.append(depth)
    return Phrases(examples, lengths, depths)


def analyze_split(model: nn.Module, vocab: Vocab, scheme: LabelScheme, corpus: Corpus, split: str,
                  limit: int | None = None, phrases: bool = True) -> dict:
    """{"overall": evaluate's figures, "slices": rows, "phrases": breakdowns (or None)} for one split."""
    examples = corpus.examples(scheme, split)[:limit]
    data = EncodedDataset(examples, vocab)
    overall = evaluate(model, data, scheme.num_classes, scheme.class_names)
    predicted = predictions_in_order(model, data)
    slices = slice_metrics([e.tokens for e in examples], [e.label for e in examples], predicted,
                           vocab.__contains__, scheme.num_classes)
    result = {"overall": overall, "slices": slices, "phrases": None}
    if phrases:
        nodes = split_phrases(corpus, split, scheme, limit)
        node_predictions = predictions_in_order(model, EncodedDataset(nodes.examples, vocab))
        labels = [e.label for e in nodes.examples]
        correct = sum(int(p == y) for p, y in zip(node_predictions, labels))
        result["phrases"] = {"count": len(labels), "accuracy": correct / len(labels) if labels else None,
                             **phrase_breakdown(nodes.lengths, nodes.depths, labels, node_predictions,
                                                scheme.num_classes)}
    return result
