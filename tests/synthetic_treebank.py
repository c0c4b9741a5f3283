"""A tiny synthetic treebank in SST's PTB format, for unit tests that need no real data.

Sentences are built from a small lexicon so that labels follow the words (a model can learn
them in a few epochs): "the film is wonderful ." is positive, "the film is not wonderful ."
negative, "a dull plot but a great cast ." positive. Every node carries a label 0-4, as in
SST; the root label is the sentence's. The same seed writes the same files.
"""
from __future__ import annotations

import random
from pathlib import Path

POSITIVE = ("wonderful", "great", "moving", "funny", "gorgeous", "witty", "charming", "smart")
NEGATIVE = ("dull", "awful", "boring", "clumsy", "tedious", "bad", "flat", "lifeless")
SUBJECTS = ("the film", "this movie", "the cast", "the plot", "the script", "the ending")
NEUTRAL_TAILS = ("opens in theaters on friday", "runs 110 minutes", "is set in 1962 -LRB- mostly -RRB-",
                 "was shot in new york", "is based on a novel", "stars two actors \\/ singers")
SIZES = {"train": 240, "dev": 80, "test": 80}


def leaf(label: int, word: str) -> str:
    return f"({label} {word})"


def node(label: int, left: str, right: str) -> str:
    return f"({label} {left} {right})"


def phrase(words: str, label: int = 2) -> str:
    """A right-branching tree over the words, every inner node labelled `label`."""
    parts = words.split()
    tree = leaf(2, parts[-1])
    for word in reversed(parts[:-1]):
        tree = node(label, leaf(2, word), tree)
    return tree


def opinion(rng: random.Random, positive: bool, negated: bool) -> tuple[str, int]:
    """'the film is (not) wonderful' and its label: a negation flips the polarity of the adjective."""
    adjective = rng.choice(POSITIVE if positive else NEGATIVE)
    strong = rng.random() < 0.5
    word_label = (4 if strong else 3) if positive else (0 if strong else 1)
    says_positive = positive != negated
    label = (4 if strong else 3) if says_positive else (0 if strong else 1)
    predicate = leaf(word_label, adjective)
    if negated:
        predicate = node(label, leaf(1, "not"), predicate)
    verb_phrase = node(label, leaf(2, "is"), predicate)
    return node(label, phrase(rng.choice(SUBJECTS)), verb_phrase), label


def sentence(rng: random.Random, index: int) -> str:
    """One labelled tree; the kinds cycle so every split holds every label."""
    kind = index % 5
    if kind == 0:  # neutral fact
        tree, label = node(2, phrase(rng.choice(SUBJECTS)), phrase(rng.choice(NEUTRAL_TAILS))), 2
    elif kind in (1, 2):  # plain opinion
        tree, label = opinion(rng, positive=kind == 1, negated=False)
    elif kind == 3:  # negated opinion
        tree, label = opinion(rng, positive=rng.random() < 0.5, negated=True)
    else:  # contrast: the clause after "but" decides
        first, _ = opinion(rng, positive=rng.random() < 0.5, negated=False)
        second, label = opinion(rng, positive=rng.random() < 0.5, negated=False)
        tree = node(label, first, node(label, leaf(2, "but"), second))
    return node(label, tree, leaf(2, "."))


def write_synthetic_treebank(folder: Path, seed: int = 13) -> Path:
    """train.txt, dev.txt and test.txt in `folder` (created); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for split, size in SIZES.items():
        lines = [sentence(rng, i) for i in range(size)]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
