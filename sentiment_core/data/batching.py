"""Examples to padded batches on torch.utils.data: what torchtext's BucketIterator did.

A batch is batch-first: `tokens` (B, T) padded with <pad> (index 1), `lengths` (B,) the true
lengths, `labels` (B,). Bucketing groups sentences of similar length so little padding is
processed; the order of batches is shuffled and reproducible from a seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sentiment_core.data.corpus import Example
from sentiment_core.data.text import EOS_INDEX, PAD_INDEX, SOS_INDEX, UNK_INDEX, Vocab


@dataclass
class Batch:
    tokens: torch.Tensor   # (B, T) long, padded with PAD_INDEX
    lengths: torch.Tensor  # (B,) long, true lengths (<sos> and <eos> included)
    labels: torch.Tensor   # (B,) long, class ids

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def to(self, device) -> "Batch":
        return Batch(self.tokens.to(device), self.lengths.to(device), self.labels.to(device))


class EncodedDataset(Dataset):
    """Examples encoded once as index tensors, with <sos> / <eos> around each as in the tutorial."""

    def __init__(self, examples: Sequence[Example], vocab: Vocab, add_sos_eos: bool = True):
        # Vocab.encode's ids, all in one flat tensor; an example is a view of it, made when it is
        # read. A tensor per example made up front cost a second before the first batch for the
        # quick preset's 157k training phrases, and views of all of them still 0.3 s (issue 23).
        get, ends = vocab.stoi.get, ([SOS_INDEX], [EOS_INDEX]) if add_sos_eos else ([], [])
        flat, sizes = [], []
        for e in examples:
            flat += ends[0]
            flat.extend(map(get, e.tokens, repeat(UNK_INDEX)))
            flat += ends[1]
            sizes.append(len(e.tokens) + len(ends[0]) + len(ends[1]))
        self._flat = torch.tensor(flat, dtype=torch.long)
        self._starts = list(accumulate(sizes, initial=0))
        self._lengths = sizes
        self.labels = [e.label for e in examples]

    @property
    def ids(self) -> list[torch.Tensor]:
        """Every example's ids (views of one tensor)."""
        return [self[i][0] for i in range(len(self))]

    def __len__(self) -> int:
        return len(self._lengths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index = range(len(self))[index]  # a negative index counts from the end; past it, IndexError
        return self._flat[self._starts[index]:self._starts[index + 1]], self.labels[index]

    @property
    def lengths(self) -> list[int]:
        return list(self._lengths)


def pad_collate(items: Sequence[tuple[torch.Tensor, int]], pad_index: int = PAD_INDEX) -> Batch:
    ids = [ids for ids, _ in items]
    tokens = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=pad_index)
    lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
    labels = torch.tensor([label for _, label in items], dtype=torch.long)
    return Batch(tokens, lengths, labels)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose lengths are close, in a shuffled order.

    Each epoch: shuffle all indices, cut them into pools of `pool_batches` batches, sort each
    pool by length, cut it into batches, and shuffle the batches. Sorting within pools (not
    globally) keeps some randomness in which sentences meet. The epoch counter advances on
    each iteration, so epochs differ but a run is reproducible from its seed.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                 bucketing: bool = True, pool_batches: int = 100, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.lengths, self.batch_size = list(lengths), batch_size
        self.shuffle, self.seed, self.bucketing = shuffle, seed, bucketing
        self.pool_batches, self.drop_last = pool_batches, drop_last
        self.epoch = 0

    def batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        order = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(order)
        if self.bucketing:
            pool = self.batch_size * self.pool_batches if self.shuffle else len(order)
            order = [i for start in range(0, len(order), pool)
                     for i in sorted(order[start:start + pool], key=self.lengths.__getitem__)]
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches(self.epoch)
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)


def make_loader(dataset: EncodedDataset, batch_size: int, shuffle: bool = True, seed: int = 0,
                bucketing: bool = True) -> DataLoader:
    """A DataLoader of Batch objects (in this process: batches are cheap to build)."""
    sampler = BucketBatchSampler(dataset.lengths, batch_size, shuffle, seed, bucketing)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=pad_collate)


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """The share of positions in padded batches that are padding."""
    real = padded = 0
    for batch in batches:
        batch_lengths = [lengths[i] for i in batch]
        real += sum(batch_lengths)
        padded += max(batch_lengths) * len(batch_lengths)
    return 1.0 - real / padded if padded else 0.0


def epoch_padding(lengths: Sequence[int], batch_size: int, bucketing: bool, seed: int = 0) -> float:
    """Padding share of one shuffled epoch, with or without bucketing."""
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed, bucketing=bucketing)
    return padding_fraction(list(lengths), sampler.batches(0))
