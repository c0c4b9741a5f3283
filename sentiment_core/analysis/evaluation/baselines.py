"""Figures to hold an accuracy against: published SST results and the majority-class baseline.

Published accuracies are on the treebank's test sentences, for the binary scheme (neutral
sentences dropped) and the fine-grained 5-class scheme:

- Socher, Perelygin, Wu, Chuang, Manning, Ng and Potts (2013). "Recursive Deep Models for
  Semantic Compositionality Over a Sentiment Treebank". EMNLP 2013, Table 1 (RNTN).
- Tai, Socher and Manning (2015). "Improved Semantic Representations From Tree-Structured Long
  Short-Term Memory Networks". ACL 2015, Table 2 (LSTM, Bidirectional LSTM, Constituency
  Tree-LSTM; the means over 5 runs they report).

Neither paper reports the 3-class scheme (negative / neutral / positive), and we know of no
standard figure for it, so there is none to draw.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

SOCHER_2013 = ("Socher et al. (2013), Recursive Deep Models for Semantic Compositionality Over a "
               "Sentiment Treebank, EMNLP")
TAI_2015 = ("Tai, Socher and Manning (2015), Improved Semantic Representations From Tree-Structured "
            "Long Short-Term Memory Networks, ACL")


@dataclass(frozen=True)
class PublishedResult:
    model: str          # the model as the paper names it
    labels: int         # label scheme: 2 (binary) or 5 (fine-grained)
    accuracy: float     # test accuracy, 0..1
    citation: str


PUBLISHED_RESULTS: tuple[PublishedResult, ...] = (
    PublishedResult("RNTN", 2, 0.854, SOCHER_2013),
    PublishedResult("RNTN", 5, 0.457, SOCHER_2013),
    PublishedResult("LSTM", 2, 0.849, TAI_2015),
    PublishedResult("LSTM", 5, 0.464, TAI_2015),
    PublishedResult("BiLSTM", 2, 0.875, TAI_2015),
    PublishedResult("BiLSTM", 5, 0.491, TAI_2015),
    PublishedResult("Constituency Tree-LSTM", 2, 0.880, TAI_2015),
    PublishedResult("Constituency Tree-LSTM", 5, 0.510, TAI_2015),
)


def published_results(labels: int) -> list[PublishedResult]:
    """The published test accuracies for a label scheme (none for 3 classes)."""
    return [r for r in PUBLISHED_RESULTS if r.labels == labels]


def no_published_note(labels: int) -> str | None:
    """A sentence saying why no published figure is drawn, or None when there are some."""
    if published_results(labels):
        return None
    return (f"No published figure exists for the {labels}-class scheme: the SST papers report the "
            "binary (2) and fine-grained (5) schemes only.")


@dataclass(frozen=True)
class MajorityBaseline:
    split: str
    label: str          # the largest class
    accuracy: float     # its share of the split: the accuracy of always answering it


def majority_baseline(label_counts: Mapping[str, int], split: str) -> MajorityBaseline:
    """Always predicting the split's largest class; `label_counts` is {class name: examples}."""
    total = sum(label_counts.values())
    if not total:
        raise ValueError(f"the {split} split has no examples, so it has no majority class")
    label = max(label_counts, key=lambda name: label_counts[name])
    return MajorityBaseline(split, label, label_counts[label] / total)


def below_majority_note(accuracy: float, majority, config) -> str:
    """Why a run may have learned less than always answering the commonest class, from its settings."""
    reasons = []
    if config and config.model.tutorial:
        reasons.append("the tutorial's model reads the padding as words, so short sentences drown in it")
    if config and config.train.max_batches and config.train.max_batches * config.train.batch_size < 2000:
        reasons.append(f"each epoch sees only {config.train.max_batches * config.train.batch_size:,} sentences "
                       f"({config.train.max_batches} batches of {config.train.batch_size})")
    if config and config.train.epochs * (config.train.max_batches or 100) < 300:
        reasons.append("there are few updates in all (raise the epochs or the batches per epoch)")
    reasons = reasons or ["the learning rate, the number of updates or the model's size may not suit the data"]
    return (f"This run's test accuracy, {accuracy:.1%}, is no better than always answering '{majority.label}' "
            f"({majority.accuracy:.1%}): it has not learned to read sentiment yet. Likely: " + "; ".join(reasons)
            + ". The `quick` preset shows a network that learns in one short epoch.")
