"""Figures a page shows about a training run, from its metrics so far (training.metrics.RunMetrics)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sentiment_core.runs.metrics import RunMetrics


@dataclass
class Progress:
    epoch: int                        # the epoch in progress (or last one)
    epochs: int
    batch: int                        # batches done in it
    batches: int                      # batches per epoch
    fraction: float                   # of the whole run, 0..1
    sentences_per_second: float | None
    seconds_left: float | None
    elapsed: float | None


def progress(metrics: RunMetrics, now: float | None = None) -> Progress | None:
    """Where the training stands, from its latest events; None before the first batch."""
    begin, last = metrics.begin, metrics.last_batch
    if begin is None:
        return None
    epochs, batches = int(begin.get("epochs") or 1), int(begin.get("batches_per_epoch") or 1)
    done_epochs = max(metrics.epochs) if metrics.epochs else 0
    if last is not None and last.get("epoch", 0) > done_epochs:
        epoch, batch = int(last["epoch"]), int(last.get("batch", 0))  # inside an epoch
    elif done_epochs:
        epoch, batch = done_epochs, batches                              # between epochs
    else:
        epoch, batch = int(begin.get("start_epoch") or 1), int(begin.get("start_batch") or 0)
    fraction = min(1.0, ((epoch - 1) * batches + batch) / max(epochs * batches, 1))
    speeds = metrics.recent_speeds
    speed = len(speeds) / sum(1 / s for s in speeds) if speeds else None  # harmonic mean: time-weighted
    left = elapsed = None
    if last is not None:
        now = time.time() if now is None else now
        since = max(0.0, now - float(last.get("time", now)))
        if isinstance(last.get("eta"), (int, float)) and math.isfinite(last["eta"]):
            left = max(0.0, float(last["eta"]) - since)
        if isinstance(last.get("elapsed"), (int, float)):
            elapsed = float(last["elapsed"]) + (since if metrics.end is None else 0.0)
    if metrics.end is not None:
        left, elapsed = 0.0, metrics.end.get("elapsed", elapsed)
    return Progress(epoch, epochs, batch, batches, fraction, speed, left, elapsed)


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing)."""
    smoothed, average = [], 0.0
    for n, value in enumerate(values, 1):
        average = weight * average + (1 - weight) * value
        smoothed.append(average / (1 - weight ** n))
    return smoothed
