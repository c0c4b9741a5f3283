"""Tokenizer, vocabulary, label schemes, the corpus and its cache, on small inputs and the full treebank."""
from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from sentiment_core.data.corpus import load_corpus
from sentiment_core.data.text import SPECIALS, Tokenizer, Vocab, label_scheme


def test_tokenizer_is_spacy_english_lowercased():
    tok = Tokenizer()
    assert tok("The film's anti-human, can't WIN.") == ["the", "film", "'s", "anti", "-", "human", ",", "ca", "n't",
                                                         "win", "."]
    assert tok("") == [] and tok("   ") == []
    assert tok("cannot") == ["can", "not"]  # spaCy special cases still apply on the fast path


def test_tokenizer_batch_matches_word_by_word():
    words = ["Hello", "world's", "(2", "1/2)", "e-mail", "cannot", "Gonna", "naïve", "don't"]
    batched = Tokenizer()
    batched.prepare(words)
    single = Tokenizer()
    for w in words:
        assert batched.split_word(w) == [t.lower() for t in _spacy_words(w)] == single.split_word(w)


def _spacy_words(word):
    import spacy
    return [t.text for t in spacy.blank("en").tokenizer(word) if not t.is_space]


def test_vocab_specials_order_encode_decode_and_json(tmp_path):
    vocab = Vocab.build([["b", "a", "b", "c"], ["b", "a"]], min_freq=1)
    assert vocab.itos[:4] == list(SPECIALS)
    assert vocab.itos[4:] == ["b", "a", "c"]  # by count, ties alphabetical
    assert vocab.encode(["a", "zzz"]) == [5, 0]
    assert vocab.encode(["a"], add_sos_eos=True) == [2, 5, 3]
    assert vocab.decode([4, 5, 1]) == ["b", "a", "<pad>"]
    assert len(Vocab.build([["b", "a", "b", "c"], ["b", "a"]], min_freq=2)) == 6
    assert len(Vocab.build([["b", "a", "b", "c"]], max_size=1)) == 5
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded.itos == vocab.itos and loaded.freqs == vocab.freqs
    json.loads(path.read_text())  # plain JSON
    with pytest.raises(ValueError):
        Vocab.build([["a"]], min_freq=0)


def test_label_schemes():
    three = label_scheme(3)
    assert three.class_names == ("positive", "negative", "neutral")
    assert [three.map(l) for l in range(5)] == [1, 1, 2, 0, 0]
    assert [label_scheme(2).map(l) for l in range(5)] == [1, 1, None, 0, 0]
    assert [label_scheme(5).map(l) for l in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="2, 3 or 5"):
        label_scheme(4)


def test_full_treebank_facts(corpus, vocab):
    sizes3 = {s: len(corpus.examples(3, s)) for s in ("train", "dev", "test")}
    assert sizes3 == {"train": 8544, "dev": 1101, "test": 2210}
    sizes2 = {s: len(corpus.examples(2, s)) for s in ("train", "dev", "test")}
    assert sizes2 == {"train": 6920, "dev": 872, "test": 1821}
    counts = Counter(label_scheme(3).class_names[e.label] for e in corpus.examples(3, "train"))
    assert counts == {"positive": 3610, "negative": 3310, "neutral": 1624}
    train = corpus.examples(3, "train")
    assert " ".join(train[111].tokens) == "the film aims to be funny , uplifting and moving , sometimes all at once ."
    assert train[111].label == 0  # positive
    assert " ".join(train[0].tokens).startswith("the rock is destined")
    assert abs(len(vocab) - 15_482) / 15_482 <= 0.005  # spaCy 3 splits a few words differently from spaCy 2
    assert vocab.itos[:4] == list(SPECIALS) and vocab.itos[4:8] == [".", "the", ",", "a"]


def test_phrase_level_examples(corpus):
    phrases = corpus.examples(3, "train", phrases=True)
    assert len(phrases) > 150_000
    assert len({e.tokens for e in phrases}) == len(phrases)  # distinct
    assert len(corpus.examples(3, "dev", phrases=True)) == 1101  # dev/test stay sentence level
    by_tokens = dict((t, l) for t, l in corpus.phrases)
    assert by_tokens[("the", "rock")] == 2
    tree = corpus.tree("train", 0)
    assert tree.text.startswith("The Rock is destined")
    root_phrases = {e.tokens for e in phrases}
    assert corpus.examples(3, "train")[111].tokens in root_phrases  # whole sentences are phrases too


def test_cache_is_keyed_by_checksum(tmp_path, tiny_sst_dir):
    data = tmp_path / "sst"
    data.mkdir()
    for name in ("train.txt", "dev.txt", "test.txt"):
        shutil.copyfile(tiny_sst_dir / name, data / name)
    cache = tmp_path / "cache"
    first = load_corpus(data, cache)
    assert len(list(cache.iterdir())) == 1
    second = load_corpus(data, cache)
    assert second.sentences == first.sentences and second.phrases == first.phrases
    # change the input: the cache must not serve the old corpus
    lines = (data / "dev.txt").read_text(encoding="utf-8").splitlines()
    (data / "dev.txt").write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
    third = load_corpus(data, cache)
    assert len(third.sentences["dev"]) == 10
    assert len(list(cache.iterdir())) == 2
    # a damaged cache file is rebuilt, not trusted
    for f in cache.iterdir():
        f.write_text("{broken")
    assert len(load_corpus(data, cache).sentences["dev"]) == 10


def test_long_runs_without_spaces_are_cut_before_spacy():
    from sentiment_core.data.text import MAX_WORD_CHARS, bounded_words

    assert bounded_words("a fine film") == ["a", "fine", "film"]
    pieces = bounded_words("x" * (MAX_WORD_CHARS * 2 + 5) + " ok")
    assert [len(p) for p in pieces] == [MAX_WORD_CHARS, MAX_WORD_CHARS, 5, 2]
    tokens = Tokenizer()("!" * 4000)  # spaCy alone: quadratic in the run; here 63 short pieces
    assert "".join(tokens) == "!" * 4000


def test_tree_phrases_index_the_corpus_tokens(tiny_corpus, tiny_sst_dir):
    from sentiment_core.data.corpus import tree_phrases

    phrases = tree_phrases(tiny_sst_dir, "dev")
    sentences = tiny_corpus.sentences["dev"]
    assert len(phrases) == len(sentences)
    for nodes, (tokens, fine_label, _) in zip(phrases, sentences):
        assert nodes[0] == (0, len(tokens), fine_label)  # the root spans the sentence, with its label
        assert all(0 <= start < end <= len(tokens) for start, end, _ in nodes)
    negated = next(i for i, s in enumerate(sentences) if "not" in s[0] and "but" not in s[0])
    tokens = sentences[negated][0]
    at = tokens.index("not")
    # "not ADJ" is a node of its own, labelled like the whole sentence
    assert any(start == at and end == at + 2 for start, end, _ in phrases[negated])
