"""The model on the tree, on hand-written trees and a hand-written 'model' whose answers are known."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sentiment_core.analysis.exploration.explore import tree_layout
from sentiment_core.analysis.exploration.tree_view import (assemble, flip_sentence, model_tree, phrase_probabilities,
                                               polarity, short_phrase, tree_nodes, trigger_word)
from sentiment_core.data.text import Vocab, label_scheme
from sentiment_core.data.treebank import parse_tree

THREE = label_scheme(3)  # classes: positive 0, negative 1, neutral 2
NEGATED = "(1 (2 (2 The) (2 film)) (1 (2 (2 is) (2 n't)) (3 good)))"
CONTRAST = "(3 (1 (2 slow) (1 start)) (3 (2 but) (4 (2 great) (2 end))))"
PLAIN = "(3 (2 a) (3 (3 fine) (2 film)))"


def split_lower(word: str) -> list[str]:
    """A stand-in tokenizer: "cannot" splits as spaCy splits it; every token lowercased."""
    return ["can", "not"] if word.lower() == "cannot" else [word.lower()]


class WordModel(nn.Module):
    """Positive when it reads 'good' or 'great', unless it also reads a negation; neutral otherwise.

    Records each batch it gets, so a test can check that every phrase went in one batch.
    """

    def __init__(self, vocab: Vocab, tutorial: bool = False):
        super().__init__()
        self.positive = {vocab.stoi[w] for w in ("good", "great")}
        self.negation = vocab.stoi["n't"]
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.config = type("Config", (), {"tutorial": tutorial})()

    def forward(self, tokens, lengths):
        self.batches.append((tokens.clone(), lengths.clone()))
        logits = torch.zeros(len(tokens), 3)
        for row, (ids, length) in enumerate(zip(tokens.tolist(), lengths.tolist())):
            read = set(ids[:length])
            good, negated = bool(read & self.positive), self.negation in read
            logits[row, 1 if good and negated else 0 if good else 2] = 5.0
        return logits


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build([["the", "film", "is", "n't", "good", "great", "slow", "start", "but", "end"]])


def test_tree_nodes_follow_the_drawn_tree_and_split_leaves_into_tokens():
    tree = parse_tree("(1 (2 I) (1 (2 cannot) (3 go)))")
    tokens, nodes = tree_nodes(tree, split_lower)
    assert tokens == ["i", "can", "not", "go"]
    assert [(start, end) for start, end, _, _ in nodes] == [(0, 4), (0, 1), (1, 4), (1, 3), (3, 4)]
    assert [fine for _, _, fine, _ in nodes] == tree_layout(tree).labels  # pre-order, as drawn
    assert nodes[0][3] == (1, 2) and nodes[2][3] == (3, 4) and nodes[1][3] == ()


def test_every_phrase_is_scored_in_one_batch_and_agreement_counts_labelled_nodes(vocab):
    model = WordModel(vocab)
    result = model_tree(parse_tree(NEGATED), model, vocab, THREE, split_lower)
    assert len(model.batches) == 1 and len(model.batches[0][0]) == len(result.nodes) == 9
    texts = [" ".join(n.tokens) for n in result.nodes]
    assert texts[0] == "the film is n't good"
    by_text = {" ".join(n.tokens): n for n in result.nodes}
    assert by_text["good"].predicted == 0 and by_text["good"].gold == 0 and by_text["good"].agrees
    assert by_text["is n't good"].predicted == 1 and by_text["is n't good"].gold == 1
    assert by_text["the film is n't good"].agrees
    assert all(n.probabilities and abs(sum(n.probabilities) - 1) < 1e-6 for n in result.nodes)
    # every node has a 3-class label and the model agrees with all of them
    assert (result.labelled, result.agreed, result.agreement) == (9, 9, 1.0)


def test_a_negation_flip_caught_and_a_contrast_flip_missed(vocab):
    negated = model_tree(parse_tree(NEGATED), WordModel(vocab), vocab, THREE, split_lower)
    assert len(negated.flips) == 1
    flip = negated.flips[0]
    nodes = negated.nodes
    assert nodes[flip.node].tokens == ("is", "n't", "good") and nodes[flip.child].tokens == ("good",)
    assert (flip.word, flip.kind, flip.caught) == ("n't", "negation", True)
    assert flip_sentence(negated, flip).startswith("at 'n't': gold negative, model negative (caught)")

    contrast = model_tree(parse_tree(CONTRAST), WordModel(vocab), vocab, THREE, split_lower)
    assert [(f.word, f.kind) for f in contrast.flips] == [("but", "contrast")]
    flip = contrast.flips[0]
    assert contrast.nodes[flip.node].tokens[0] == "slow" and contrast.nodes[flip.child].tokens == ("slow", "start")
    assert flip.caught  # the root is positive and the model reads 'great'
    slow_start = contrast.nodes[flip.child]
    assert slow_start.gold == 1 and slow_start.predicted == 2 and slow_start.agrees is False
    assert contrast.agreement == pytest.approx(contrast.agreed / contrast.labelled) and contrast.agreement < 1


def test_no_flip_without_a_trigger_word_or_when_the_child_is_neutral(vocab):
    plain = model_tree(parse_tree(PLAIN), WordModel(vocab), vocab, THREE, split_lower)
    assert plain.flips == []
    # "not" opens the sibling, but the child that differs is neutral: nothing to turn
    spans = [(0, 3, 1, (1, 2)), (0, 1, 2, ()), (1, 3, 1, ())]
    tree = assemble(["it", "not", "x"], spans, THREE, [[0.1, 0.8, 0.1]] * 3)
    assert tree.flips == []


def test_a_missed_flip_and_a_scheme_that_drops_neutral(vocab):
    # the parent is negative at "not", the child positive, the model stays positive
    spans = [(0, 2, 1, (1, 2)), (0, 1, 2, ()), (1, 2, 3, ())]
    probabilities = [[0.7, 0.2, 0.1], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]]
    tree = assemble(["not", "good"], spans, THREE, probabilities)
    assert [(f.node, f.child, f.word, f.caught) for f in tree.flips] == [(0, 2, "not", False)]
    assert "gold negative, model positive (missed)" in flip_sentence(tree, tree.flips[0])
    binary = assemble(["not", "good"], spans, label_scheme(2), [p[:2] for p in probabilities])
    assert binary.nodes[1].gold is None and binary.nodes[1].agrees is None  # neutral is dropped
    assert binary.labelled == 2 and binary.agreed == 1 and binary.agreement == 0.5


def test_a_node_without_tokens_has_no_answer(vocab):
    tree = parse_tree("(3 (2 ,) (3 good))")
    result = model_tree(tree, WordModel(vocab), vocab, THREE, lambda w: [] if w == "," else [w])
    assert result.nodes[1].tokens == () and result.nodes[1].predicted is None and result.nodes[1].agrees is None
    assert result.labelled == 2


def test_a_model_that_reads_padding_gets_one_batch_per_length(vocab):
    model = WordModel(vocab, tutorial=True)
    rows = phrase_probabilities(model, vocab, [["good"], ["is", "n't", "good"], ["film"]])
    assert len(model.batches) == 2
    assert all(bool((lengths == tokens.shape[1]).all()) for tokens, lengths in model.batches)  # no padding read
    assert [max(range(3), key=row.__getitem__) for row in rows] == [0, 1, 2]


def test_small_helpers():
    assert [polarity(f) for f in range(5)] == [-1, -1, 0, 1, 1]
    assert trigger_word(["is", "n't", "good"]) == "n't" and trigger_word(["if", "ultimately", "not"]) is None
    assert short_phrase("a b c".split()) == "a b c"
    assert short_phrase([str(i) for i in range(20)], 4) == "0 1 ... 18 19"
