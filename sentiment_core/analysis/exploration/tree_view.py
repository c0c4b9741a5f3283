"""A model on a treebank sentence's own parse tree: its answer for every phrase, against the human label.

Only SST can show this: every node of every tree carries a label, so a model run on each phrase
alone can be compared phrase by phrase, and the places where the label turns at a negation
("not good") or a contrast ("but ...") show whether the model turns with it.

Nodes follow `Tree.subtrees()` pre-order (root first), the order of `explore.tree_layout`, so
node i here is node i of the drawn tree. The model reads each phrase alone, all phrases in one
batch. Pure functions apart from `phrase_probabilities` (which runs the model) and `model_tree`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from sentiment_core.analysis.evaluation.slices import CONTRASTS, NEGATIONS
from sentiment_core.data.corpus import tokens_and_leaf_starts
from sentiment_core.data.text import PAD_INDEX, LabelScheme, Vocab
from sentiment_core.data.treebank import Tree, unescape_ptb

TRIGGER_WORDS = NEGATIONS | CONTRASTS
# A negation or contrast governs the phrase it opens ("is n't good", "but the story ..."): it is
# looked for among the first two tokens of the sibling of the phrase whose label turned. A word
# deep inside a long sibling belongs to some smaller phrase of its own.
TRIGGER_REACH = 2


@dataclass(frozen=True)
class Node:
    """One phrase of the tree, with the treebank's label and the model's answer."""

    start: int                       # token span [start, end) in the sentence's tokens
    end: int
    tokens: tuple[str, ...]
    fine: int                        # the treebank's own 0-4 label
    gold: int | None                 # the class under the run's scheme; None when the scheme drops it
    predicted: int | None            # the model's class; None for a node without tokens
    probabilities: tuple[float, ...]  # (C,) empty for a node without tokens
    children: tuple[int, ...]        # indices of the child nodes

    @property
    def agrees(self) -> bool | None:
        """predicted == gold; None when the node has no gold class or no prediction."""
        if self.gold is None or self.predicted is None:
            return None
        return self.predicted == self.gold


@dataclass(frozen=True)
class Flip:
    """A node whose label turns against a child's at a negation or contrast word."""

    node: int          # the parent whose label differs
    child: int         # the child it differs from
    word: str          # the negation or contrast word that opens the child's sibling
    kind: str          # "negation" or "contrast"
    caught: bool       # the model predicts the parent's gold class


@dataclass(frozen=True)
class ModelTree:
    tokens: tuple[str, ...]
    class_names: tuple[str, ...]
    nodes: list[Node]
    flips: list[Flip]

    @property
    def labelled(self) -> int:
        return sum(1 for node in self.nodes if node.agrees is not None)

    @property
    def agreed(self) -> int:
        return sum(1 for node in self.nodes if node.agrees)

    @property
    def agreement(self) -> float | None:
        """Share of labelled nodes where the model's class is the gold class (None: nothing labelled)."""
        return self.agreed / self.labelled if self.labelled else None


# ---------------------------------------------------------------------------------------------
# The tree's phrases


Span = tuple[int, int, int, tuple[int, ...]]  # (token start, token end, fine label, child node indices)


def tree_nodes(tree: Tree, split_word: Callable[[str], list[str]]) -> tuple[list[str], list[Span]]:
    """(sentence tokens, [(token start, token end, fine label, children)] in pre-order).

    `split_word` is the corpus tokenizer's (a PTB leaf such as "cannot" may be several tokens),
    so the tokens are the ones the corpus and the model hold.
    """
    leaves = [unescape_ptb(word) for word in tree.leaves()]
    tokens, starts = tokens_and_leaf_starts(leaves, split_word)
    nodes: list[Span] = []

    def walk(node: Tree, leaf: int) -> int:
        slot = len(nodes)
        nodes.append((0, 0, 0, ()))
        children, end = [], leaf + (1 if node.word is not None else 0)
        for child in node.children:
            children.append(len(nodes))
            end = walk(child, end)
        nodes[slot] = (starts[leaf], starts[end], node.label, tuple(children))
        return end

    walk(tree, 0)
    return tokens, nodes


def polarity(fine: int) -> int:
    """-1 for the treebank's negative labels (0, 1), +1 for the positive ones (3, 4), 0 for neutral."""
    return (fine > 2) - (fine < 2)


def trigger_word(tokens: Sequence[str], reach: int = TRIGGER_REACH) -> str | None:
    """The first negation or contrast word among the first `reach` tokens, if any."""
    return next((token for token in tokens[:reach] if token in TRIGGER_WORDS), None)


def find_flips(nodes: Sequence[Node]) -> list[Flip]:
    """Nodes whose gold label turns against a child's at a negation or contrast word (one per node).

    A flip: the child has a polarity (not neutral), the parent's polarity differs from it (reversed
    or neutralised: "not bad"), both have a class in the scheme, and a sibling of the child opens
    with a negation or contrast word. `caught`: the model predicts the parent's gold class.
    """
    flips = []
    for index, parent in enumerate(nodes):
        if parent.gold is None:
            continue
        for child_index in parent.children:
            child = nodes[child_index]
            if child.gold is None or polarity(child.fine) == 0 or polarity(child.fine) == polarity(parent.fine):
                continue
            words = [trigger_word(nodes[s].tokens) for s in parent.children if s != child_index]
            word = next((w for w in words if w is not None), None)
            if word is not None:
                flips.append(Flip(index, child_index, word, "negation" if word in NEGATIONS else "contrast",
                                  parent.predicted == parent.gold))
                break
    return flips


# ---------------------------------------------------------------------------------------------
# The model on every phrase


@torch.no_grad()
def phrase_probabilities(model: nn.Module, vocab: Vocab, token_lists: Sequence[Sequence[str]],
                         add_sos_eos: bool = True) -> list[list[float]]:
    """(N, C) class probabilities of each phrase read alone, in the given order.

    One padded batch with the true lengths. The tutorial's model reads padding as words, so for
    it phrases of equal length go together (one batch per length: no padding is read at all).
    """
    if not token_lists:
        return []
    ids = [torch.tensor(vocab.encode(tokens, add_sos_eos), dtype=torch.long) for tokens in token_lists]
    reads_padding = getattr(getattr(model, "config", None), "tutorial", False)
    groups = ([[i for i in range(len(ids)) if len(ids[i]) == n] for n in sorted({len(x) for x in ids})]
              if reads_padding else [list(range(len(ids)))])
    out: list[list[float]] = [[] for _ in ids]
    was_training = model.training
    model.eval()
    try:
        for group in groups:
            tokens = nn.utils.rnn.pad_sequence([ids[i] for i in group], batch_first=True,
                                               padding_value=PAD_INDEX)  # (B, T)
            lengths = torch.tensor([len(ids[i]) for i in group], dtype=torch.long)
            for i, row in zip(group, torch.softmax(model(tokens, lengths).float(), dim=1).tolist()):
                out[i] = row
    finally:
        model.train(was_training)
    return out


def assemble(tokens: Sequence[str], spans: Sequence[Span], scheme: LabelScheme,
             probabilities: Sequence[Sequence[float] | None]) -> ModelTree:
    """The ModelTree of a tree's spans (tree_nodes) and the model's probabilities per node (None: no tokens)."""
    nodes = []
    for (start, end, fine, children), probs in zip(spans, probabilities):
        predicted = None if not probs else max(range(len(probs)), key=probs.__getitem__)
        nodes.append(Node(start, end, tuple(tokens[start:end]), fine, scheme.map(fine), predicted,
                          tuple(probs or ()), children))
    return ModelTree(tuple(tokens), tuple(scheme.class_names), nodes, find_flips(nodes))


def model_tree(tree: Tree, model: nn.Module, vocab: Vocab, scheme: LabelScheme,
               split_word: Callable[[str], list[str]], add_sos_eos: bool = True) -> ModelTree:
    """Run the model on every phrase of `tree` (one batch) and set its answers against the gold labels."""
    tokens, spans = tree_nodes(tree, split_word)
    scored = [i for i, (start, end, _, _) in enumerate(spans) if end > start]
    rows = phrase_probabilities(model, vocab, [tokens[spans[i][0]:spans[i][1]] for i in scored], add_sos_eos)
    probabilities: list[list[float] | None] = [None] * len(spans)
    for i, row in zip(scored, rows):
        probabilities[i] = row
    return assemble(tokens, spans, scheme, probabilities)


def sentence_key(text: str) -> str:
    """A sentence as letters and digits only, lowercased: typed "isn't it?" finds the treebank's "is n't it ?"."""
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def sentence_index(corpus) -> dict[str, tuple[str, int]]:
    """{sentence_key(text): (split, index)} of every sentence of the corpus; the first of duplicates wins."""
    index: dict[str, tuple[str, int]] = {}
    for split, rows in corpus.sentences.items():
        for position, (_, _, text) in enumerate(rows):
            index.setdefault(sentence_key(text), (split, position))
    return index


def short_phrase(tokens: Sequence[str], most: int = 10) -> str:
    """The phrase's tokens joined, its middle cut to '...' when it has more than `most` tokens."""
    if len(tokens) <= most:
        return " ".join(tokens)
    half = most // 2
    return " ".join([*tokens[:half], "...", *tokens[-half:]])


def flip_sentence(tree: ModelTree, flip: Flip) -> str:
    """"at 'not': gold negative, model positive (missed): 'good' is positive, 'not good' negative" (plain text)."""
    node, child, names = tree.nodes[flip.node], tree.nodes[flip.child], tree.class_names
    model = names[node.predicted] if node.predicted is not None else "no answer"
    return (f"at '{flip.word}': gold {names[node.gold]}, model {model} "
            f"({'caught' if flip.caught else 'missed'}): '{short_phrase(child.tokens)}' is {names[child.gold]}, "
            f"'{short_phrase(node.tokens)}' is {names[node.gold]}")
