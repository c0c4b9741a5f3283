"""Encoded dataset, bucketing sampler and padding collate."""
from __future__ import annotations

import torch

from sentiment_core.data.batching import (BucketBatchSampler, EncodedDataset, epoch_padding, make_loader, pad_collate,
                                     padding_fraction)
from sentiment_core.data.corpus import Example
from sentiment_core.data.text import PAD_INDEX, Vocab


def _dataset():
    examples = [Example(tuple("w" * n), n % 3) for n in range(1, 41)]
    vocab = Vocab.build([e.tokens for e in examples])
    return EncodedDataset(examples, vocab), vocab


def test_encoded_dataset_adds_sos_eos():
    ds, vocab = _dataset()
    ids, label = ds[2]
    assert ids.tolist() == [2, vocab.stoi["w"], vocab.stoi["w"], vocab.stoi["w"], 3] and label == 0


def test_pad_collate_pads_with_one_and_keeps_lengths():
    batch = pad_collate([(torch.tensor([2, 7, 3]), 1), (torch.tensor([2, 8, 9, 10, 3]), 0)])
    assert batch.tokens.tolist() == [[2, 7, 3, PAD_INDEX, PAD_INDEX], [2, 8, 9, 10, 3]]
    assert batch.lengths.tolist() == [3, 5] and batch.labels.tolist() == [1, 0]


def test_bucketing_groups_similar_lengths_and_is_reproducible():
    lengths = [1 + (i * 7919) % 50 for i in range(1000)]
    sampler = BucketBatchSampler(lengths, 32, seed=3)
    epoch0, epoch1 = sampler.batches(0), sampler.batches(1)
    assert epoch0 == BucketBatchSampler(lengths, 32, seed=3).batches(0)  # same seed, same batches
    assert epoch0 != epoch1 and epoch0 != BucketBatchSampler(lengths, 32, seed=4).batches(0)
    assert sorted(i for b in epoch0 for i in b) == list(range(1000))  # every example once
    assert len(epoch0) == len(sampler) == 32
    assert padding_fraction(lengths, epoch0) < 0.1 * padding_fraction(
        lengths, BucketBatchSampler(lengths, 32, seed=3, bucketing=False).batches(0))
    # batches come in a shuffled order, not sorted by length
    maxima = [max(lengths[i] for i in b) for b in epoch0]
    assert maxima != sorted(maxima)


def test_loader_yields_padded_batches_and_sampler_advances_epochs():
    ds, _ = _dataset()
    loader = make_loader(ds, batch_size=8, seed=0)
    first = [b.lengths.tolist() for b in loader]
    second = [b.lengths.tolist() for b in loader]
    assert first != second
    for batch in loader:
        assert batch.tokens.shape == (len(batch), int(batch.lengths.max()))
        assert all((row[n:] == PAD_INDEX).all() for row, n in zip(batch.tokens, batch.lengths.tolist()))


def test_full_treebank_padding(corpus):
    lengths = [len(e.tokens) + 2 for e in corpus.examples(3, "train")]
    assert epoch_padding(lengths, 64, True) < 0.05 < 0.4 < epoch_padding(lengths, 64, False)
