"""The vocabulary page's data logic: sizes, coverage, lookups, polarised words, padding, batches."""
from __future__ import annotations

from collections import Counter

import pytest

from sentiment_core.analysis.exploration import vocab_stats
from sentiment_core.data.corpus import Example
from sentiment_core.analysis.exploration.stats import data_summary
from sentiment_core.data.text import SPECIALS, Vocab


def test_vocab_size_by_min_freq_is_the_size_of_the_built_vocabulary(corpus, vocab):
    top_count = max(vocab.freqs.values())
    min_freqs = [1, 2, 3, 10, 100, top_count, top_count + 1]
    sizes = vocab_stats.vocab_size_by_min_freq(vocab.freqs, min_freqs)
    assert sizes == [len(corpus.build_vocab(m)) for m in min_freqs]
    assert sizes[0] == data_summary(corpus)["vocab_size"]
    assert sizes[-2] == len(SPECIALS) + 1 and sizes[-1] == len(SPECIALS)  # only specials left: an empty vocabulary


def test_ranked_counts_follow_the_vocabulary_order(vocab):
    ranked = vocab_stats.ranked_counts(vocab.freqs)
    assert [w for w, _ in ranked] == vocab.itos[len(SPECIALS):]
    assert all(a[1] >= b[1] for a, b in zip(ranked, ranked[1:]))


def test_top_k_coverage():
    freqs = Counter({"a": 6, "b": 3, "c": 1})
    assert vocab_stats.top_k_coverage(freqs, [0, 1, 2, 3, 99]) == [0.0, 0.6, 0.9, 1.0, 1.0]


def test_top_k_coverage_of_the_treebank_grows_to_one(vocab):
    shares = vocab_stats.top_k_coverage(vocab.freqs, [10, 100, 1000, len(vocab)])
    assert shares == sorted(shares) and shares[-1] == 1.0
    assert shares[0] > 0.2  # a handful of function words and punctuation cover a large share


def test_lookup_in_both_directions(corpus, vocab):
    film = vocab_stats.lookup_word(vocab, " Film ")
    assert film.index == vocab.stoi["film"] == 19  # the tutorial's index for 'film'
    assert film.in_vocab and not film.special and film.count == vocab.freqs["film"]
    assert vocab_stats.lookup_index(vocab, 19).word == "film"
    assert [vocab_stats.lookup_index(vocab, i).word for i in range(4)] == list(SPECIALS)
    assert vocab_stats.lookup_word(vocab, "<pad>").index == 1 and vocab_stats.lookup_word(vocab, "<pad>").special


def test_lookup_of_unknown_and_rare_words(corpus, vocab):
    unknown = vocab_stats.lookup_word(vocab, "qwertyuiop")
    assert (unknown.index, unknown.in_vocab, unknown.count) == (0, False, 0)
    rare_word = next(w for w, c in vocab.freqs.items() if c == 1)
    rare = vocab_stats.lookup_word(corpus.build_vocab(2), rare_word)
    assert (rare.index, rare.in_vocab, rare.count) == (0, False, 1)  # seen once, cut by min_freq 2


def test_lookup_refuses_bad_input(vocab):
    with pytest.raises(ValueError, match="single word"):
        vocab_stats.lookup_word(vocab, "two words")
    with pytest.raises(ValueError, match="single word"):
        vocab_stats.lookup_word(vocab, "  ")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab_stats.lookup_index(vocab, len(vocab))


def _examples(*pairs):
    return [Example(tuple(text.split()), label) for text, label in pairs]


def test_log_odds_ranks_words_of_one_class_high_for_that_class():
    examples = _examples(*[("the film is great", 0)] * 20, *[("the film is awful", 1)] * 20,
                         ("the film is superb", 0))
    prior = Counter(t for e in examples for t in e.tokens)
    positive, negative = vocab_stats.polarised_words(examples, 2, prior, top_n=3)
    assert positive[0].word == "great" and negative[0].word == "awful"
    assert positive[0].z > 0 and positive[0].count_in_class == 20 and positive[0].count_in_rest == 0
    # a word seen once in a class ranks below one seen twenty times there: the prior shrinks it
    assert [w.word for w in positive].index("superb") > [w.word for w in positive].index("great")
    scores = vocab_stats.log_odds_z(Counter(great=20, the=21), Counter(awful=20, the=20),
                                    Counter(great=20, awful=20, the=41))
    assert abs(scores["the"]) < 0.5 < scores["great"] and scores["awful"] < 0


def test_polarised_words_of_the_treebank(corpus, vocab):
    positive, negative, neutral = vocab_stats.polarised_words(corpus.examples(3, "train"), 3, vocab.freqs, top_n=20)
    assert "bad" in [w.word for w in negative]
    assert "bad" not in [w.word for w in positive]
    assert all(a.z >= b.z for a, b in zip(positive, positive[1:]))


def test_padding_by_batch_size_matches_the_data_summary(corpus):
    lengths = vocab_stats.batch_lengths(corpus.examples(3, "train"))
    padding = vocab_stats.padding_by_batch_size(lengths, [8, 64])
    summary = data_summary(corpus, 3)["padding"]
    assert round(padding["bucketed"][1], 5) == summary["bucketed"]
    assert round(padding["unbucketed"][1], 5) == summary["unbucketed"]
    assert padding["bucketed"][0] < padding["unbucketed"][0]


def test_example_batch_is_padded_with_one_after_eos(corpus, vocab):
    examples = corpus.examples(3, "train")
    batch = vocab_stats.example_batch(examples, vocab, batch_size=4, bucketing=False, seed=3)
    assert batch.tokens.shape[0] == 4 and batch.tokens.shape[1] == int(batch.lengths.max())
    for ids, length in zip(batch.tokens.tolist(), batch.lengths.tolist()):
        assert ids[0] == 2 and ids[length - 1] == 3 and all(i == 1 for i in ids[length:])
    other = vocab_stats.example_batch(examples, vocab, batch_size=4, bucketing=False, seed=4)
    assert other.tokens.tolist() != batch.tokens.tolist()


def test_example_batch_with_an_empty_vocabulary_reads_every_word_as_unknown():
    examples = _examples(("a b", 0), ("c", 1))
    empty = Vocab.build([["a", "b", "c"]], min_freq=5)
    batch = vocab_stats.example_batch(examples, empty, batch_size=2, bucketing=True, seed=0)
    assert sorted(batch.tokens.tolist()) == sorted([[2, 0, 0, 3], [2, 0, 3, 1]])


def test_seen_once():
    assert vocab_stats.seen_once(Counter({"a": 5, "b": 1, "c": 1, "<unk>": 9})) == (2 / 3, 2 / 7)
    assert vocab_stats.seen_once(Counter()) == (0.0, 0.0)
