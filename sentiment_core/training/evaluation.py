"""Scoring a model on a dataset: accuracy, per-class precision / recall / F1, the confusion matrix.

Every function here runs the model in eval mode (no dropout) and gives it back in the mode it
was in (`models.modes.evaluating`).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch
from torch import nn

from sentiment_core.data.batching import Batch, BucketBatchSampler, EncodedDataset, pad_collate
from sentiment_core.models.modes import evaluating


class TrainingError(ValueError):
    """A training setting or input that cannot work, said as a sentence."""


def classification_metrics(labels: Sequence[int], predictions: Sequence[int], num_classes: int,
                           class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, per-class precision / recall / F1 and the confusion matrix, as plain lists.

    `confusion[i][j]` counts examples of true class i predicted as class j. A class never
    predicted has precision 0; a class absent from the labels has recall 0 (and support 0).
    """
    if len(labels) != len(predictions):
        raise ValueError("labels and predictions must have the same length")
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    confusion = [[0] * num_classes for _ in range(num_classes)]
    for true, pred in zip(labels, predictions):
        confusion[int(true)][int(pred)] += 1
    per_class = []
    for c in range(num_classes):
        hits = confusion[c][c]
        predicted = sum(confusion[r][c] for r in range(num_classes))
        support = sum(confusion[c])
        precision = hits / predicted if predicted else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"label": names[c], "precision": precision, "recall": recall, "f1": f1,
                          "support": support})
    count = len(labels)
    correct = sum(confusion[c][c] for c in range(num_classes))
    return {"count": count, "accuracy": correct / count if count else 0.0,
            "macro_f1": sum(p["f1"] for p in per_class) / num_classes if num_classes else 0.0,
            "per_class": per_class, "confusion": confusion, "class_names": names}


def ordered_batches(data: EncodedDataset, batch_size: int) -> Iterable[tuple[list[int], Batch]]:
    """(example indices, batch) of similar lengths in a fixed order (for evaluation: no shuffling)."""
    sampler = BucketBatchSampler(data.lengths, batch_size, shuffle=False, bucketing=True)
    for indices in sampler.batches(0):
        yield indices, pad_collate([data[i] for i in indices])


@torch.no_grad()
def predict_batches(model: nn.Module, data: EncodedDataset, batch_size: int = 256,
                    device: str | torch.device = "cpu") -> tuple[list[int], list[list[float]], list[int]]:
    """(labels, class probabilities, original example indices) in the evaluation batch order."""
    labels, probabilities, order = [], [], []
    with evaluating(model):
        for indices, batch in ordered_batches(data, batch_size):
            batch = batch.to(device)
            logits = model(batch.tokens, batch.lengths)  # (B, C)
            probabilities.extend(torch.softmax(logits.float(), dim=1).tolist())
            labels.extend(batch.labels.tolist())
            order.extend(indices)
    return labels, probabilities, order


def probabilities_in_order(model: nn.Module, data: EncodedDataset, batch_size: int = 256) -> list[list[float]]:
    """Each example's class probabilities, in the dataset's own order (predict_batches reorders by length)."""
    _, probabilities, order = predict_batches(model, data, batch_size)
    in_order: list[list[float]] = [[] for _ in range(len(data))]
    for index, row in zip(order, probabilities):
        in_order[index] = row
    return in_order


@torch.no_grad()
def evaluate(model: nn.Module, data: EncodedDataset, num_classes: int, class_names: Sequence[str] | None = None,
             batch_size: int = 256, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Mean cross-entropy loss plus `classification_metrics`, in eval mode (no dropout)."""
    if len(data) == 0:
        raise TrainingError("there are no examples to evaluate on")
    total_loss, labels, predictions = 0.0, [], []
    with evaluating(model):
        for _, batch in ordered_batches(data, batch_size):
            batch = batch.to(device)
            logits = model(batch.tokens, batch.lengths)  # (B, C)
            total_loss += nn.functional.cross_entropy(logits, batch.labels, reduction="sum").item()
            labels.extend(batch.labels.tolist())
            predictions.extend(logits.argmax(dim=1).tolist())
    result = classification_metrics(labels, predictions, num_classes, class_names)
    result["loss"] = total_loss / len(labels)
    return result

