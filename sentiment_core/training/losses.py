"""Loss weights: making the training examples count like the sentences a run is judged on."""
from __future__ import annotations

from typing import Sequence

import torch

from sentiment_core.training.evaluation import TrainingError


def sentence_class_weights(train_labels: Sequence[int], sentence_labels: Sequence[int], num_classes: int) -> list[float]:
    """Per-class loss weights that make the training examples count like the training sentences.

    Weight = (share among sentences) / (share among training examples): on phrases, where half
    the examples are neutral but a fifth of the sentences are, neutral is weighed down.
    """
    def shares(labels):
        counts = [0] * num_classes
        for label in labels:
            counts[label] += 1
        total = sum(counts)
        return [count / total if total else 0.0 for count in counts]

    train_share, sentence_share = shares(train_labels), shares(sentence_labels)
    return [s / t if t > 0 and s > 0 else 1.0 for s, t in zip(sentence_share, train_share)]


def loss_weight_tensor(class_weights: Sequence[float] | None, num_classes: int, device) -> torch.Tensor | None:
    """`class_weights` as cross_entropy's `weight` (None: every class counts the same)."""
    if class_weights is None:
        return None
    if len(class_weights) != num_classes or min(class_weights) <= 0:
        raise TrainingError(f"class_weights needs {num_classes} positive numbers, not {list(class_weights)}")
    return torch.tensor(class_weights, dtype=torch.float, device=device)
