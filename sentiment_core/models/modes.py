"""Run a model in eval mode for a moment (no dropout) and give it back in the mode it was in."""
from __future__ import annotations

from contextlib import contextmanager

from torch import nn


@contextmanager
def evaluating(model: nn.Module):
    """`with evaluating(model): ...` measures the network itself, not a random dropout mask."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
