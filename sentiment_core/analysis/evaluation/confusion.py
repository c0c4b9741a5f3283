"""From a confusion cell to its sentences: every sentence of a split with the model's answer.

`score_sentences` runs the model once over a split (batched, like `evaluate`) and keeps, for each
sentence, its position in `corpus.sentences[split]`: a label scheme that drops a label (binary
drops neutral) leaves gaps in the positions, and a page links a sentence to its parse tree in the
explorer by that position. Which slices a sentence belongs to is decided here too (slices.py's
definitions, with the run's vocabulary for "unknown words"), so listing a cell of one slice needs
no model and no vocabulary: `in_slice`, `confusion_counts` and `cell_sentences` are pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import nn

from sentiment_core.analysis.evaluation.slices import SENTENCE_SLICES, Slice
from sentiment_core.data.batching import EncodedDataset
from sentiment_core.data.corpus import Corpus, Example
from sentiment_core.data.text import LabelScheme, Vocab
from sentiment_core.training.evaluation import probabilities_in_order


@dataclass(frozen=True)
class ScoredSentence:
    index: int                        # position in corpus.sentences[split] (the explorer's index)
    text: str                         # the treebank's own text of the sentence
    label: int                        # true class
    predicted: int                    # the class with the highest probability
    probabilities: tuple[float, ...]  # (C,) in class-id order
    slices: tuple[str, ...]           # names of the sentence slices it belongs to

    @property
    def confidence(self) -> float:
        """The probability of the predicted class."""
        return self.probabilities[self.predicted]


@dataclass(frozen=True)
class ScoredSplit:
    split: str
    class_names: tuple[str, ...]
    sentences: list[ScoredSentence]  # in corpus.examples(scheme, split)[:limit] order


def kept_sentences(corpus: Corpus, split: str, scheme: LabelScheme,
                   limit: int | None = None) -> list[tuple[int, tuple[str, ...], int, str]]:
    """(index, tokens, class, text) of the sentences `corpus.examples(scheme, split)[:limit]` keeps, in its order."""
    kept = []
    for index, (tokens, fine, text) in enumerate(corpus.sentences[split]):
        label = scheme.map(fine)
        if label is not None and tokens:
            kept.append((index, tokens, label, text))
    return kept[:limit]


def score_sentences(model: nn.Module, vocab: Vocab, scheme: LabelScheme, corpus: Corpus, split: str,
                    limit: int | None = None, slices: Sequence[Slice] = SENTENCE_SLICES) -> ScoredSplit:
    """Every kept sentence of the split with the model's probabilities and its slices (one batched pass)."""
    kept = kept_sentences(corpus, split, scheme, limit)
    data = EncodedDataset([Example(tokens, label) for _, tokens, label, _ in kept], vocab)
    in_order = probabilities_in_order(model, data)
    sentences = []
    for (index, tokens, label, text), probs in zip(kept, in_order):
        predicted = max(range(len(probs)), key=probs.__getitem__)
        members = tuple(piece.name for piece in slices if piece.contains(tokens, vocab.__contains__))
        sentences.append(ScoredSentence(index, text, label, predicted, tuple(probs), members))
    return ScoredSplit(split, tuple(scheme.class_names), sentences)


def in_slice(sentences: Sequence[ScoredSentence], slice_name: str | None) -> list[ScoredSentence]:
    """The sentences of one slice (None: all of them)."""
    return list(sentences) if slice_name is None else [s for s in sentences if slice_name in s.slices]


def confusion_counts(sentences: Sequence[ScoredSentence], num_classes: int) -> list[list[int]]:
    """counts[i][j]: sentences of true class i predicted as j (evaluate's layout)."""
    counts = [[0] * num_classes for _ in range(num_classes)]
    for sentence in sentences:
        counts[sentence.label][sentence.predicted] += 1
    return counts


def cell_sentences(sentences: Sequence[ScoredSentence], true: int, predicted: int) -> list[ScoredSentence]:
    """The sentences of cell (true, predicted), the model's surest answers first (then in split order).

    Surest first: on a mistake, the sentences the model got confidently wrong are the ones to read.
    """
    cell = [s for s in sentences if s.label == true and s.predicted == predicted]
    return sorted(cell, key=lambda s: (-s.confidence, s.index))
