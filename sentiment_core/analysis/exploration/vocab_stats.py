"""What the vocabulary page shows, as plain data: size against min_freq, Zipf, coverage,
lookups, the most polarised words per class, and padding with and without bucketing.

Counts are the training-sentence counts `Corpus.build_vocab` uses (`Vocab.freqs`), so every
figure agrees with the vocabulary a run would build.
"""
from __future__ import annotations

import bisect
import random
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from sentiment_core.data.batching import Batch, BucketBatchSampler, epoch_padding, pad_collate
from sentiment_core.data.corpus import Example
from sentiment_core.data.text import SPECIALS, Vocab


def ranked_counts(freqs: Counter) -> list[tuple[str, int]]:
    """(token, count) by falling count, ties alphabetical: the order of `Vocab.itos` after the specials."""
    return sorted(((t, c) for t, c in freqs.items() if t not in SPECIALS), key=lambda tc: (-tc[1], tc[0]))


def vocab_size_by_min_freq(freqs: Counter, min_freqs: Iterable[int]) -> list[int]:
    """len(Vocab.build(..., min_freq)) for each min_freq, specials included, without building them."""
    counts = sorted(c for t, c in freqs.items() if t not in SPECIALS)
    return [len(SPECIALS) + len(counts) - bisect.bisect_left(counts, m) for m in min_freqs]


def seen_once(freqs: Counter) -> tuple[float, float]:
    """(share of the distinct training words seen exactly once, share of all training tokens they are)."""
    counts = [c for t, c in freqs.items() if t not in SPECIALS]
    once = sum(1 for c in counts if c == 1)
    return (once / len(counts) if counts else 0.0, once / sum(counts) if counts else 0.0)


def top_k_coverage(freqs: Counter, ks: Iterable[int]) -> list[float]:
    """Share of all training tokens that are among the k most frequent words, for each k."""
    running, total = [0], 0
    for _, count in ranked_counts(freqs):
        total += count
        running.append(total)
    return [running[min(k, len(running) - 1)] / total if total else 0.0 for k in ks]


@dataclass(frozen=True)
class WordLookup:
    word: str
    index: int            # what the model sees: the word's index, or 0 (<unk>) when it is not in the vocabulary
    count: int            # occurrences in the training sentences (0: never seen)
    in_vocab: bool
    special: bool


def lookup_word(vocab: Vocab, word: str) -> WordLookup:
    """word -> index, as the tutorial's `vocab.stoi[w]` (lowercased, as the tokenizer lowercases)."""
    word = word.strip()
    if not word or len(word.split()) != 1:
        raise ValueError("Type a single word (no spaces) to look it up.")
    if word not in SPECIALS:
        word = word.lower()
    index = vocab.stoi.get(word)
    return WordLookup(word, vocab.index(word), vocab.freqs.get(word, 0), index is not None, word in SPECIALS)


def lookup_index(vocab: Vocab, index: int) -> WordLookup:
    """index -> word, as the tutorial's `vocab.itos[i]`."""
    if not 0 <= index < len(vocab):
        raise ValueError(f"Index {index} is outside the vocabulary: pick 0 to {len(vocab) - 1}.")
    word = vocab.itos[index]
    return WordLookup(word, index, vocab.freqs.get(word, 0), True, word in SPECIALS)


def class_token_counts(examples: Iterable[Example], num_classes: int) -> list[Counter]:
    """Token counts of the examples of each class."""
    counts = [Counter() for _ in range(num_classes)]
    for example in examples:
        counts[example.label].update(example.tokens)
    return counts


@dataclass(frozen=True)
class PolarWord:
    word: str
    z: float            # z-score of the log-odds difference: class vs the rest
    count_in_class: int
    count_in_rest: int


def log_odds_z(target: Counter, rest: Counter, prior: Counter, prior_scale: float = 1.0) -> dict[str, float]:
    """Log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words").

    For word w with counts y_t (target), y_r (rest) and prior pseudo-counts a_w = prior_scale * prior[w]:
      delta_w = log((y_t + a_w) / (n_t + a_0 - y_t - a_w)) - log((y_r + a_w) / (n_r + a_0 - y_r - a_w))
      var_w   ~ 1 / (y_t + a_w) + 1 / (y_r + a_w)
    and z_w = delta_w / sqrt(var_w), for every word with a positive prior count. The prior shrinks
    rare words towards no difference, so a word seen twice cannot outrank a word seen a hundred
    times on the strength of one lucky split.
    """
    words = [w for w, c in prior.items() if c > 0]
    if not words:
        return {}
    a_w = prior_scale * np.array([prior[w] for w in words], dtype=np.float64)
    y_t = np.array([target.get(w, 0) for w in words], dtype=np.float64)
    y_r = np.array([rest.get(w, 0) for w in words], dtype=np.float64)
    n_t, n_r, a_0 = sum(target.values()), sum(rest.values()), a_w.sum()
    delta = np.log((y_t + a_w) / (n_t + a_0 - y_t - a_w)) - np.log((y_r + a_w) / (n_r + a_0 - y_r - a_w))
    z = delta / np.sqrt(1.0 / (y_t + a_w) + 1.0 / (y_r + a_w))
    return dict(zip(words, z.tolist()))


def polarised_words(examples: Sequence[Example], num_classes: int, prior: Counter, top_n: int = 15,
                    prior_scale: float = 1.0) -> list[list[PolarWord]]:
    """For each class, the top_n words most typical of it against all other classes (highest z first).

    `prior` is the whole corpus's token counts (the training vocabulary's `freqs`); only words
    that occur in `examples` are scored.
    """
    per_class = class_token_counts(examples, num_classes)
    total = Counter()
    for counts in per_class:
        total.update(counts)
    prior = Counter({w: prior.get(w, 0) for w in total})
    out = []
    for target in per_class:
        rest = Counter({w: c - target.get(w, 0) for w, c in total.items()})
        scores = log_odds_z(target, rest, prior, prior_scale)
        best = sorted(scores.items(), key=lambda wz: (-wz[1], wz[0]))[:top_n]
        out.append([PolarWord(w, z, target.get(w, 0), rest[w]) for w, z in best])
    return out


def batch_lengths(examples: Iterable[Example]) -> list[int]:
    """Lengths as the batches hold them: + <sos> and <eos> (as stats.data_summary counts them)."""
    return [len(e.tokens) + 2 for e in examples]


def padding_by_batch_size(lengths: Sequence[int], batch_sizes: Iterable[int], seed: int = 0) -> dict:
    """Padding share of one shuffled epoch, with and without bucketing, for each batch size."""
    sizes = list(batch_sizes)
    return {"batch_sizes": sizes,
            "bucketed": [epoch_padding(lengths, b, True, seed) for b in sizes],
            "unbucketed": [epoch_padding(lengths, b, False, seed) for b in sizes]}


def example_batch(examples: Sequence[Example], vocab: Vocab, batch_size: int = 4, bucketing: bool = True,
                  seed: int = 0) -> Batch:
    """One batch of an epoch, built as training builds it (bucketing sampler, <sos>/<eos>, padded with 1).

    Which batch of the epoch is drawn depends on the seed, so a new seed shows another one.
    """
    lengths = batch_lengths(examples)
    batches = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed, bucketing=bucketing).batches(0)
    chosen = batches[random.Random(seed).randrange(len(batches))]
    items = [(torch.tensor(vocab.encode(examples[i].tokens, add_sos_eos=True), dtype=torch.long),
              examples[i].label) for i in chosen]
    return pad_collate(items)
