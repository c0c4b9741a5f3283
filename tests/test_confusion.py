"""From a confusion cell to its sentences (analysis.confusion), the drill-down's links and table, and the
analysis page's side-by-side tables (analysis.slices), on the synthetic treebank and hand-written rows."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import torch
from torch import nn

from dashboard.components.confusion_drill import cell_table, explorer_link, playground_link
from sentiment_core.analysis.evaluation.confusion import (ScoredSentence, cell_sentences, confusion_counts, in_slice,
                                               kept_sentences, score_sentences)
from sentiment_core.analysis.evaluation.slices import overall_side_by_side, slices_side_by_side
from sentiment_core.data.batching import EncodedDataset
from sentiment_core.data.text import label_scheme
from sentiment_core.training.evaluation import evaluate


class LengthModel(nn.Module):
    """Predicts class (length mod C) with probability about 0.9: answers a test can compute by hand."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, tokens, lengths):  # (B, T), (B,) -> (B, C)
        logits = torch.zeros(len(lengths), self.num_classes)
        logits[torch.arange(len(lengths)), lengths % self.num_classes] = 3.0
        return logits


def expected_class(tokens, num_classes: int) -> int:
    return (len(tokens) + 2) % num_classes  # the model reads <sos> and <eos> too


@pytest.mark.parametrize("labels", [2, 3])
def test_scored_sentences_keep_their_index_into_the_split(tiny_corpus, labels):
    scheme, vocab = label_scheme(labels), tiny_corpus.build_vocab()
    scored = score_sentences(LengthModel(labels), vocab, scheme, tiny_corpus, "dev")
    kept = tiny_corpus.examples(scheme, "dev")
    assert len(scored.sentences) == len(kept)
    for sentence, example in zip(scored.sentences, kept):
        tokens, fine, text = tiny_corpus.sentences["dev"][sentence.index]
        assert tokens == example.tokens and text == sentence.text
        assert scheme.map(fine) == sentence.label == example.label
        assert sentence.predicted == expected_class(tokens, labels)
        assert sum(sentence.probabilities) == pytest.approx(1.0)
    if labels == 2:  # binary drops the neutral sentences: the positions have gaps, kept as they are
        assert [s.index for s in scored.sentences] != list(range(len(scored.sentences)))


def test_counts_match_evaluate_and_a_cell_lists_exactly_its_sentences(tiny_corpus):
    scheme, vocab = label_scheme(3), tiny_corpus.build_vocab()
    model = LengthModel(3)
    scored = score_sentences(model, vocab, scheme, tiny_corpus, "test", limit=50)
    counts = confusion_counts(scored.sentences, 3)
    data = EncodedDataset(tiny_corpus.examples(scheme, "test")[:50], vocab)
    assert counts == evaluate(model, data, 3)["confusion"]
    for true in range(3):
        for predicted in range(3):
            cell = cell_sentences(scored.sentences, true, predicted)
            assert len(cell) == counts[true][predicted]
            assert all(s.label == true and s.predicted == predicted for s in cell)


def sentence(index, label, predicted, probabilities, slices=()):
    return ScoredSentence(index, f"sentence {index}", label, predicted, probabilities, tuple(slices))


def test_cell_lists_the_surest_first_and_a_slice_narrows_it():
    sentences = [sentence(0, 2, 0, (0.6, 0.1, 0.3), ["negation"]), sentence(1, 2, 0, (0.9, 0.05, 0.05)),
                 sentence(2, 2, 0, (0.6, 0.2, 0.2)), sentence(3, 0, 0, (0.8, 0.1, 0.1), ["negation"])]
    assert [s.index for s in cell_sentences(sentences, 2, 0)] == [1, 0, 2]  # ties: split order
    negation = in_slice(sentences, "negation")
    assert [s.index for s in negation] == [0, 3] and in_slice(sentences, None) == sentences
    assert confusion_counts(negation, 3) == [[1, 0, 0], [0, 0, 0], [1, 0, 0]]


def test_slices_of_a_scored_sentence_follow_their_definitions(tiny_corpus):
    scored = score_sentences(LengthModel(3), tiny_corpus.build_vocab(), label_scheme(3), tiny_corpus, "dev")
    for s in scored.sentences:
        tokens = tiny_corpus.sentences["dev"][s.index][0]
        assert ("negation" in s.slices) == ("not" in tokens or "n't" in tokens or "never" in tokens
                                            or any(t in ("no", "nothing", "nobody", "none", "neither", "nor",
                                                         "without", "cannot") for t in tokens))
        assert sum(name.startswith("length") for name in s.slices) == 1


def test_kept_sentences_follow_the_examples_order_and_limit(tiny_corpus):
    kept = kept_sentences(tiny_corpus, "dev", label_scheme(2), limit=7)
    assert [tokens for _, tokens, _, _ in kept] == [e.tokens for e in tiny_corpus.examples(2, "dev")[:7]]


def test_links_carry_split_index_run_and_text():
    link = urlsplit(explorer_link("test", 1033, "shipped:gru-3cls"))
    assert link.path == "explorer"
    assert parse_qs(link.query) == {"split": ["test"], "index": ["1033"], "run": ["shipped:gru-3cls"]}
    text = "It's not *bad* (at all) & fun | 100%"
    link = urlsplit(playground_link(text, "shipped:gru-3cls"))
    assert link.path == "playground" and parse_qs(link.query) == {"text": [text], "run": ["shipped:gru-3cls"]}
    assert " " not in link.query and "(" not in link.query and ")" not in link.query  # safe inside a markdown link


def test_cell_table_shows_percentages_escaped_text_and_both_links():
    rows = [ScoredSentence(12, "not *good* | at all", 1, 0, (0.674, 0.2, 0.126), ())]
    table = cell_table(rows, ["positive", "negative", "neutral"], "dev", "q1").splitlines()
    assert len(table) == 3
    row = table[2]
    assert "**67.4%**" in row and "20.0%" in row and "12.6%" in row
    assert r"not \*good\* \| at all" in row
    assert "(explorer?split=dev&index=12&run=q1)" in row and "(playground?text=not%20%2Agood" in row
    assert "%20at%20all&run=q1)" in row  # the playground link carries the run too


def slice_rows(counts, accuracies):
    names = ["negation", "contrast"]
    return [{"name": n, "definition": f"{n} words", "count": c, "accuracy": a, "macro_f1": a / 2}
            for n, c, a in zip(names, counts, accuracies)]


def test_slices_side_by_side_share_a_count_column_only_when_counts_agree():
    same = slices_side_by_side({"a": slice_rows([5, 3], [0.8, 0.5]), "b": slice_rows([5, 3], [0.6, 1.0])})
    assert same[0] == {"slice": "negation", "definition": "negation words", "count": 5, "accuracy · a": 0.8,
                       "macro-F1 · a": 0.4, "accuracy · b": 0.6, "macro-F1 · b": 0.3}
    assert same[1]["accuracy · b"] == 1.0
    differ = slices_side_by_side({"a": slice_rows([5, 3], [0.8, 0.5]), "b": slice_rows([4, 3], [0.6, 1.0])})
    assert "count" not in differ[0] and (differ[0]["count · a"], differ[0]["count · b"]) == (5, 4)
    assert slices_side_by_side({}) == []


def overall(names, recalls, accuracy):
    return {"class_names": names, "count": 10, "accuracy": accuracy, "macro_f1": accuracy - 0.1,
            "per_class": [{"label": n, "recall": r} for n, r in zip(names, recalls)]}


def test_overall_side_by_side_lists_the_recall_of_every_class():
    table = overall_side_by_side({"three": overall(["positive", "negative", "neutral"], [0.9, 0.8, 0.1], 0.7),
                                  "two": overall(["positive", "negative"], [0.85, 0.8], 0.82)})
    assert [row["run"] for row in table] == ["three", "two"]
    assert table[0]["recall neutral"] == 0.1 and table[1]["recall neutral"] is None
    assert table[1]["labels"] == 2 and table[1]["accuracy"] == 0.82
