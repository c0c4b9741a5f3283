"""The gradient-through-time probe: how strongly the loss reaches back to each step of a sentence.

The trainer runs it before training (epoch 0) and every `probe_every` epochs on one fixed dev
batch, and reports it as a `probe` event (the lessons page draws the curves).
"""
from __future__ import annotations

import time

from torch import nn

from sentiment_core.data.batching import Batch, EncodedDataset, pad_collate
from sentiment_core.models import gradient_through_time  # the models package owns the probe
from sentiment_core.models.modes import evaluating

PROBE_SIZE = 16  # sentences in the fixed dev batch of the gradient-through-time probe


def probe_batch(data: EncodedDataset, size: int = PROBE_SIZE) -> Batch | None:
    """A fixed dev batch for the gradient-through-time probe: sentences of one length.

    Equal lengths mean no padding, so step t means the same thing for every sentence.
    The length chosen is the most common one among the middle half of dev lengths.
    """
    if len(data) == 0:
        return None
    lengths = data.lengths
    ranked = sorted(lengths)
    middle = ranked[len(ranked) // 4: max(len(ranked) // 4 + 1, 3 * len(ranked) // 4)]
    length = max(set(middle), key=lambda n: (middle.count(n), -n))
    indices = [i for i, n in enumerate(lengths) if n == length][:size]
    return pad_collate([data[i] for i in indices])


def run_probe(model: nn.Module, batch: Batch, epoch: int, device) -> dict:
    """The `probe` event: epoch, norms (|dLoss/dh_t| per step t), length, size (or error)."""
    try:
        with evaluating(model):  # no dropout: the probe measures the network, not a random mask
            batch = batch.to(device)
            norms = gradient_through_time(model, batch.tokens, batch.lengths, batch.labels)
        return {"event": "probe", "time": time.time(), "epoch": epoch, "norms": [float(n) for n in norms],
                "length": int(batch.tokens.shape[1]), "size": len(batch)}
    except Exception as err:  # a broken probe must not end a long training
        return {"event": "probe", "time": time.time(), "epoch": epoch, "norms": [], "error": str(err)}
    finally:
        model.zero_grad(set_to_none=True)
