"""Slice definitions and phrase breakdowns on hand-written sentences."""
from __future__ import annotations

import pytest

from sentiment_core.analysis.evaluation.slices import (LENGTH_BUCKETS, SENTENCE_SLICES, accuracy_and_macro_f1,
                                            phrase_breakdown, slice_metrics, span_depths)

SENTENCES = [
    ("it is not good .".split(), 1, 1),
    ("a dull start but a great end .".split(), 0, 1),
    ("i did n't like it , yet the cast is fine .".split(), 2, 2),
    ("wonderful".split(), 0, 0),
    ("a zyxwv film".split(), 2, 0),
    (("word " * 25).split(), 1, 1),
]
KNOWN = {"it", "is", "not", "good", ".", "a", "dull", "start", "but", "great", "end", "i", "did", "n't", "like",
         ",", "yet", "the", "cast", "fine", "wonderful", "film", "word"}


def rows_by_name():
    tokens = [s[0] for s in SENTENCES]
    labels, predictions = [s[1] for s in SENTENCES], [s[2] for s in SENTENCES]
    return {r["name"]: r for r in slice_metrics(tokens, labels, predictions, KNOWN.__contains__, 3)}


def test_negation_contrast_and_unknown_words():
    rows = rows_by_name()
    assert rows["negation"]["count"] == 2  # "not", "n't"
    assert rows["contrast"]["count"] == 2  # "but", "yet"
    assert rows["negation and contrast"]["count"] == 1
    assert rows["unknown words"]["count"] == 1  # "zyxwv"
    assert rows["negation"]["accuracy"] == 1.0
    assert rows["contrast"]["accuracy"] == 0.5
    assert rows["unknown words"]["accuracy"] == 0.0


def test_every_sentence_is_in_exactly_one_length_bucket():
    rows = rows_by_name()
    buckets = [r for name, r in rows.items() if name.startswith("length")]
    assert len(buckets) == len(LENGTH_BUCKETS)
    assert sum(r["count"] for r in buckets) == len(SENTENCES)
    assert rows["length 1-10"]["count"] == 4 and rows["length 21-30"]["count"] == 1
    assert rows["length 41+"]["count"] == 0 and rows["length 41+"]["accuracy"] is None


def test_macro_f1_counts_only_classes_that_occur():
    assert accuracy_and_macro_f1([0, 0, 1], [0, 0, 1], 3) == (1.0, 1.0)
    accuracy, macro_f1 = accuracy_and_macro_f1([0, 1], [0, 0], 3)
    assert accuracy == 0.5 and macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)


def test_span_depths_follow_the_tree():
    # (0,4) root; (0,2) and (2,4) its children; leaves below them
    spans = [(0, 4), (0, 2), (2, 4), (0, 1), (1, 2), (2, 3), (3, 4)]
    assert span_depths(spans) == [0, 1, 1, 2, 2, 2, 2]
    assert span_depths(list(reversed(spans))) == [2, 2, 2, 2, 1, 1, 0]


def test_phrase_breakdown_buckets_add_up():
    lengths, depths = [1, 1, 2, 4, 9, 20], [3, 3, 2, 1, 0, 0]
    labels, predictions = [0, 1, 2, 0, 1, 2], [0, 1, 0, 0, 1, 1]
    out = phrase_breakdown(lengths, depths, labels, predictions, 3)
    assert sum(r["count"] for r in out["by_length"]) == 6 and sum(r["count"] for r in out["by_depth"]) == 6
    assert out["by_length"][0] == {"bucket": "1", "count": 2, "accuracy": 1.0, "macro_f1": 1.0}
    assert [r["count"] for r in out["by_depth"]] == [2, 2, 2, 0, 0]


def test_slice_names_are_unique():
    names = [s.name for s in SENTENCE_SLICES]
    assert len(names) == len(set(names))
