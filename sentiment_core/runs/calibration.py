"""Dev-calibrated class bias: per-class logit offsets chosen on dev after training.

Why: a model trained on SST's phrases (half of them neutral) and judged on sentences (a fifth
neutral) leans the wrong way on neutral; reweighting the loss to the sentences' class shares
fixes accuracy but nearly silences neutral (best-3 predicted it for 14 of 2,210 test sentences).
Moving the decision boundaries is cheaper and more direct than retraining: add one offset per
class to the logits, chosen on the dev sentences (never test) to maximise an objective such as
macro-F1. The offsets live in the model (`class_bias`, a buffer added in its forward), so the
checkpoint carries them and evaluate, predict, analyze and the dashboard all see one model.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sentiment_core.config import CALIBRATIONS
from sentiment_core.training.evaluation import classification_metrics, ordered_batches
from sentiment_core.models.modes import evaluating
from sentiment_core.runs.checkpoints import load_checkpoint, save_torch

# What `TrainConfig.calibrate` may ask for (config.CALIBRATIONS). "accuracy+macro-f1" maximises
# their sum, so a gain in macro-F1 bought with a larger loss of accuracy is refused.
OBJECTIVES = CALIBRATIONS
# The offsets tried per class on each pass: logits of these models span a few units, and a step of
# 0.05 is finer than one dev sentence's worth of change around the optimum.
GRID = tuple(round(-3.0 + 0.05 * i, 2) for i in range(121))
MAX_PASSES = 10


def _scores(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[float, float]:
    """(accuracy, macro-F1) of predictions (N,) against labels (N,), as evaluate reports them."""
    metrics = classification_metrics(labels.tolist(), predictions.tolist(), num_classes)
    return metrics["accuracy"], metrics["macro_f1"]


def objective_value(objective: str, accuracy: float, macro_f1: float) -> float:
    if objective == "macro-f1":
        return macro_f1 + 1e-6 * accuracy  # ties go to the more accurate offsets
    if objective == "accuracy+macro-f1":
        return accuracy + macro_f1
    raise ValueError(f"calibration objective must be one of {', '.join(OBJECTIVES[1:])}, not {objective!r}")


def fit_class_bias(logits: torch.Tensor, labels: torch.Tensor, objective: str = "macro-f1") -> list[float]:
    """Per-class offsets for `logits` (N, C) that maximise `objective` on `labels` (N,).

    Coordinate ascent over GRID, one class at a time, until a pass changes nothing: deterministic,
    and for 3 or 5 classes a few passes of 121 tries each. An offset moves only when it strictly
    improves the objective, so a model already at its best keeps zero offsets. The offsets are
    shifted to sum to zero (only their differences change a prediction).
    """
    logits, labels = logits.detach().float(), labels.detach().long()
    num_classes = logits.shape[1]
    bias = [0.0] * num_classes

    def value(candidate):
        predictions = (logits + torch.tensor(candidate)).argmax(1)
        return objective_value(objective, *_scores(predictions, labels, num_classes))

    best = value(bias)
    for _ in range(MAX_PASSES):
        moved = False
        for c in range(num_classes):
            for offset in GRID:
                candidate = bias[:c] + [offset] + bias[c + 1:]
                score = value(candidate)
                if score > best + 1e-12:
                    best, bias, moved = score, candidate, True
        if not moved:
            break
    mean = sum(bias) / num_classes
    return [round(b - mean, 4) for b in bias]


@torch.no_grad()
def raw_logits(model: nn.Module, data, batch_size: int = 256, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (N, C) without the model's class bias, labels (N,)) over `data`, in eval mode."""
    saved = model.class_bias.clone()
    model.class_bias.zero_()
    logits, labels = [], []
    try:
        with evaluating(model):
            for _, batch in ordered_batches(data, batch_size):
                batch = batch.to(device)
                logits.append(model(batch.tokens, batch.lengths).float().cpu())
                labels.append(batch.labels.cpu())
    finally:
        model.class_bias.copy_(saved)
    return torch.cat(logits), torch.cat(labels)


def calibrate(model: nn.Module, dev_data, objective: str, device="cpu") -> dict:
    """Fit the class bias on `dev_data` and set it in `model`; returns what was done, for the record."""
    logits, labels = raw_logits(model, dev_data, device=device)
    num_classes = logits.shape[1]
    bias = fit_class_bias(logits, labels, objective)
    before = _scores(logits.argmax(1), labels, num_classes)
    after = _scores((logits + torch.tensor(bias)).argmax(1), labels, num_classes)
    with torch.no_grad():
        model.class_bias.copy_(torch.tensor(bias, dtype=model.class_bias.dtype))
    return {"objective": objective, "class_bias": bias, "split": "dev",
            "dev_accuracy_before": before[0], "dev_macro_f1_before": before[1],
            "dev_accuracy_after": after[0], "dev_macro_f1_after": after[1]}


def calibrate_checkpoint(model: nn.Module, checkpoint_path: Path, dev_data, objective: str, device="cpu") -> dict:
    """Calibrate the best checkpoint's `model` on dev and write the bias into the checkpoint file."""
    record = calibrate(model, dev_data, objective, device)
    checkpoint = load_checkpoint(checkpoint_path)
    checkpoint["model_state"] = model.state_dict()
    checkpoint["calibration"] = record
    save_torch(checkpoint_path, checkpoint)
    return record

