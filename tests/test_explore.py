"""The explorer's data logic: rows, search, filters, label shares, tree layout, hard cases."""
from __future__ import annotations

import pytest

from sentiment_core.analysis.exploration import explore
from sentiment_core.analysis.exploration.explore import Row
from sentiment_core.data.treebank import SPLITS, parse_tree
from sentiment_core.analysis.exploration.stats import data_summary


def row(text: str, label: int = 0, split: str = "train", index: int = 0) -> Row:
    return Row(split, index, text, tuple(text.lower().split()), label)


@pytest.mark.parametrize("labels", [2, 3, 5])
def test_row_counts_and_labels_match_the_data_summary(corpus, labels):
    summary = data_summary(corpus, labels)
    for split in SPLITS:
        rows = explore.example_rows(corpus, labels, [split])
        figures = summary["splits"][split]
        assert len(rows) == figures["examples"]
        counts = explore.label_counts(rows, len(summary["class_names"]))
        assert dict(zip(summary["class_names"], counts)) == figures["labels"]
        assert sum(r.length for r in rows) == figures["tokens"]


@pytest.mark.parametrize("labels, phrases", [(2, False), (5, False)])
def test_split_label_counts_are_the_data_summary_counts(corpus, labels, phrases):
    summary = data_summary(corpus, labels, phrases)
    assert explore.split_label_counts(corpus, labels, phrases) == {s: summary["splits"][s]["labels"] for s in SPLITS}


def test_phrase_rows_are_the_training_phrase_examples_and_point_at_their_sentence(corpus):
    examples = corpus.examples(3, "train", phrases=True)  # what data_summary counts for phrases
    rows = explore.example_rows(corpus, 3, ["train"], phrases=True)
    assert [(r.tokens, r.label) for r in rows] == [(e.tokens, e.label) for e in examples]
    sentence_tokens = corpus.sentences["train"][rows[5000].index][0]
    phrase = rows[5000].tokens
    # the phrase is a contiguous run of the sentence it points at
    assert any(sentence_tokens[i:i + len(phrase)] == phrase for i in range(len(sentence_tokens)))


def test_row_text_has_ptb_escapes_undone(corpus):
    rows = explore.example_rows(corpus, 5)
    assert not any("-LRB-" in r.text or "-RRB-" in r.text for r in rows)
    assert any("(" in r.text for r in rows)


def test_word_search_needs_every_word_as_a_token():
    matches = explore.compile_search("not  Funny", "words")
    assert matches(row("it is not funny at all"))
    assert not matches(row("it is not fun"))
    assert not matches(row("not funnyish"))


def test_regex_search_ignores_case_and_a_bad_pattern_says_what_to_do():
    matches = explore.compile_search(r"^the .* film$", "regex")
    assert matches(row("The best film"))
    assert not matches(row("a film"))
    with pytest.raises(explore.SearchError, match=r"does not compile.*switch the search to words"):
        explore.compile_search("fun(ny", "regex")


def test_blank_search_matches_everything_and_unknown_mode_is_refused():
    assert explore.compile_search("   ", "regex") is None
    with pytest.raises(ValueError, match="search mode"):
        explore.compile_search("x", "fuzzy")


def test_filters_combine():
    rows = [row("good film", 0), row("bad film", 1), row("a very long and good film", 0), row("fine", 2)]
    assert explore.filter_rows(rows) == rows
    assert explore.filter_rows(rows, labels=[0]) == [rows[0], rows[2]]
    assert explore.filter_rows(rows, length_range=(1, 2)) == [rows[0], rows[1], rows[3]]
    good = explore.compile_search("good", "words")
    assert explore.filter_rows(rows, good, [0], (3, 10)) == [rows[2]]
    assert explore.filter_rows(rows, good, [1]) == []


def test_label_share_by_length_pools_long_examples_and_sums_to_one():
    share = explore.label_share_by_length([(1, 2), (1, 2), (1, 0), (3, 1), (7, 0)], 3, cap=3)
    assert share["lengths"] == [1, 3]
    assert share["totals"] == [3, 2]  # the 7-token example is pooled into 3
    assert share["shares"][2][0] == pytest.approx(2 / 3)
    assert share["shares"][0][1] == pytest.approx(0.5)
    for i in range(len(share["lengths"])):
        assert sum(share["shares"][c][i] for c in range(3)) == pytest.approx(1.0)


def test_phrase_lengths_and_labels_are_those_of_the_phrase_examples(corpus):
    pairs = explore.phrase_lengths_and_labels(corpus, 2)
    assert pairs == [(len(e.tokens), e.label) for e in corpus.examples(2, "train", phrases=True)]


def test_short_training_phrases_are_mostly_neutral(corpus):
    share = explore.label_share_by_length(explore.phrase_lengths_and_labels(corpus, 3), 3, cap=30)
    neutral = share["shares"][2]  # 3-class id 2 is neutral
    assert neutral[0] > 0.5
    assert neutral[0] > neutral[share["lengths"].index(20)]


def test_tree_layout_places_leaves_in_order_and_parents_between_children():
    tree = parse_tree("(3 (2 It) (4 (4 (2 is) (4 great)) (2 -RRB-)))")
    layout = explore.tree_layout(tree)
    leaves = [i for i, w in enumerate(layout.words) if w is not None]
    assert [layout.words[i] for i in leaves] == ["It", "is", "great", ")"]  # escapes undone
    assert [layout.x[i] for i in leaves] == [0.0, 1.0, 2.0, 3.0]
    assert len(layout.edges) == len(layout.x) - 1
    for parent in {p for p, _ in layout.edges}:
        children = [c for p, c in layout.edges if p == parent]
        assert layout.x[parent] == pytest.approx(sum(layout.x[c] for c in children) / len(children))
        assert layout.y[parent] == 1 + max(layout.y[c] for c in children)
    assert all(layout.y[i] == 0 for i in leaves) and layout.y[0] == max(layout.y) == 3
    assert layout.labels[0] == 3 and layout.texts[0] == "It is great )"


def test_tree_layout_of_a_real_sentence_has_a_node_per_phrase(corpus):
    tree = corpus.tree("dev", 3)
    layout = explore.tree_layout(tree)
    assert len(layout.x) == len(tree.spans())
    assert layout.texts[0] == tree.text == corpus.sentences["dev"][3][2]


def test_hard_case_groups():
    rows = [row("it is n't good"), row("good but long"), row("never good but fun"), row("simply good")]
    groups = explore.hard_case_groups(rows)
    assert groups["negation"] == [rows[0], rows[2]]
    assert groups["contrast"] == [rows[1], rows[2]]
    assert groups["other"] == [rows[3]]
    summary = explore.hard_case_summary(rows, 3)
    assert summary["negation"]["rows"] == 2 and summary["negation"]["shares"][0] == 1.0


def test_negated_sentences_are_less_often_positive(corpus):
    summary = explore.hard_case_summary(explore.example_rows(corpus, 3), 3)
    positive = 0  # 3-class id 0 is positive
    assert summary["negation"]["shares"][positive] < summary["other"]["shares"][positive]
    assert summary["negation"]["rows"] + summary["other"]["rows"] <= len(explore.example_rows(corpus, 3))
