"""The synthetic treebank parses like the real one and its labels follow its words."""
from __future__ import annotations

from sentiment_core.data.text import label_scheme
from sentiment_core.data.treebank import load_trees
from tests.synthetic_treebank import SIZES, write_synthetic_treebank


def test_every_split_parses_with_every_label(tiny_sst_dir):
    for split, size in SIZES.items():
        trees = load_trees(tiny_sst_dir)[split]
        assert len(trees) == size
        assert {tree.label for tree in trees} == {0, 1, 2, 3, 4}


def test_negation_flips_the_adjective(tiny_corpus):
    scheme = label_scheme(3)
    examples = tiny_corpus.examples(scheme, "train")
    negated = [e for e in examples if "not" in e.tokens and "but" not in e.tokens]
    assert negated
    for example in negated:
        adjective = example.tokens[example.tokens.index("not") + 1]
        positive_word = adjective in ("wonderful", "great", "moving", "funny", "gorgeous", "witty", "charming", "smart")
        assert scheme.class_names[example.label] == ("negative" if positive_word else "positive")


def test_same_seed_same_files(tmp_path):
    a, b = write_synthetic_treebank(tmp_path / "a"), write_synthetic_treebank(tmp_path / "b")
    assert (a / "train.txt").read_bytes() == (b / "train.txt").read_bytes()
