"""One training loop for every model, evaluation metrics, callbacks and the stop control.

`fit` knows nothing about files: it reports progress as plain event dicts through callbacks
(the shape of Hugging Face's TrainerCallback: one no-op method per event, and a small
`TrainControl` whose `should_stop` is the only thing a callback may change). Saving is done
through two optional hooks, `save_best` and `save_state`, which the run directory code in
runs.py provides. Every event dict has `event` (its kind) and `time` (Unix seconds):

- ``train_begin``: epochs, start_epoch, start_batch, batches_per_epoch, train_size, dev_size,
  batch_size, parameters, resumed, world_size
- ``batch_end``: epoch, batch, batches (per epoch), step, loss, accuracy (this batch),
  running_loss, running_accuracy (epoch so far), grad_norm (before clipping),
  sentences_per_second (this epoch so far), elapsed, eta (seconds left, whole run), lr
- ``epoch_end``: epoch, epochs, train_loss, train_accuracy, dev_loss, dev_accuracy,
  best_dev_accuracy, best_epoch, improved, epoch_seconds, elapsed, sentences_per_second,
  cpu_seconds (CPU time of this process since fit began: the cost on a busy machine)
- ``probe``: epoch (0 = before training), norms (|dLoss/dh_t| per step t), length, size
  (or error when the probe failed)
- ``train_end``: state (finished | stopped | failed), message, epochs_done, best_dev_accuracy,
  best_epoch, elapsed, steps, cpu_seconds

Epochs and batches count from 1. Epoch and batch figures are averages over examples.
"""
from __future__ import annotations

import copy
import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from sentiment_core.data.batching import Batch, BucketBatchSampler, EncodedDataset, pad_collate
from sentiment_core.training.distributed import World

FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"
PROBE_SIZE = 16  # sentences in the fixed dev batch of the gradient-through-time probe


class TrainingError(ValueError):
    """A training setting or input that cannot work, said as a sentence."""


@dataclass
class TrainControl:
    """What a callback may change: only `should_stop`, honoured between batches."""

    should_stop: bool = False


class Callback:
    """Override the events you need; each receives a plain dict and the control."""

    def on_train_begin(self, event: dict, control: TrainControl) -> None: ...

    def on_batch_end(self, event: dict, control: TrainControl) -> None: ...

    def on_epoch_end(self, event: dict, control: TrainControl) -> None: ...

    def on_probe(self, event: dict, control: TrainControl) -> None: ...

    def on_train_end(self, event: dict, control: TrainControl) -> None: ...


class EventLog(Callback):
    """Keeps every event in a list (handy in tests and notebooks)."""

    def __init__(self):
        self.events: list[dict] = []

    def _keep(self, event: dict, control: TrainControl) -> None:
        self.events.append(event)

    on_train_begin = on_batch_end = on_epoch_end = on_probe = on_train_end = _keep

    def of_kind(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]


@dataclass
class FitResult:
    state: str                          # finished, stopped or failed
    message: str                        # a sentence saying how it ended
    epochs_done: int                    # completed epochs (resumed ones included)
    best_dev_accuracy: float | None     # None when no epoch was evaluated
    best_epoch: int | None
    history: list[dict] = field(default_factory=list)  # the epoch_end events of this call
    best_state: dict | None = None      # state_dict of the best model (also loaded into the model)


# ---------------------------------------------------------------------------------------------
# Metrics


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


def ordered_batches(data: EncodedDataset, batch_size: int) -> Iterable[Batch]:
    """Batches of similar lengths in a fixed order (for evaluation: no shuffling)."""
    sampler = BucketBatchSampler(data.lengths, batch_size, shuffle=False, bucketing=True)
    for indices in sampler.batches(0):
        yield pad_collate([data[i] for i in indices])


@torch.no_grad()
def predict_batches(model: nn.Module, data: EncodedDataset, batch_size: int = 256,
                    device: str | torch.device = "cpu") -> tuple[list[int], list[list[float]], list[int]]:
    """(labels, class probabilities, original example indices) in the evaluation batch order."""
    sampler = BucketBatchSampler(data.lengths, batch_size, shuffle=False, bucketing=True)
    was_training = model.training
    model.eval()
    labels, probabilities, order = [], [], []
    try:
        for indices in sampler.batches(0):
            batch = pad_collate([data[i] for i in indices]).to(device)
            logits = model(batch.tokens, batch.lengths)  # (B, C)
            probabilities.extend(torch.softmax(logits.float(), dim=1).tolist())
            labels.extend(batch.labels.tolist())
            order.extend(indices)
    finally:
        model.train(was_training)
    return labels, probabilities, order


@torch.no_grad()
def evaluate(model: nn.Module, data: EncodedDataset, num_classes: int, class_names: Sequence[str] | None = None,
             batch_size: int = 256, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Mean cross-entropy loss plus `classification_metrics`, in eval mode (no dropout)."""
    if len(data) == 0:
        raise TrainingError("there are no examples to evaluate on")
    was_training = model.training
    model.eval()
    total_loss, labels, predictions = 0.0, [], []
    try:
        for batch in ordered_batches(data, batch_size):
            batch = batch.to(device)
            logits = model(batch.tokens, batch.lengths)  # (B, C)
            total_loss += nn.functional.cross_entropy(logits, batch.labels, reduction="sum").item()
            labels.extend(batch.labels.tolist())
            predictions.extend(logits.argmax(dim=1).tolist())
    finally:
        model.train(was_training)
    result = classification_metrics(labels, predictions, num_classes, class_names)
    result["loss"] = total_loss / len(labels)
    return result


# ---------------------------------------------------------------------------------------------
# The loop


def make_optimizer(parameters, name: str, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """Adam or SGD over the trainable parameters, with torch's fused kernel where it exists.

    The fused update is one pass over all weights: on a CPU it makes Adam's step several
    times faster (the embedding table dominates it), with the same arithmetic.
    """
    parameters = [p for p in parameters if p.requires_grad]
    if name not in ("adam", "sgd"):
        raise TrainingError(f"optimizer must be adam or sgd, not {name!r}")
    for fused in (True, False):
        try:
            if name == "adam":
                return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay, fused=fused or None)
            return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay,
                                   fused=fused or None)
        except (RuntimeError, TypeError, ValueError):
            if not fused:
                raise
    raise AssertionError("unreachable")


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
    from sentiment_core.models import gradient_through_time  # models.py owns the probe

    was_training = model.training
    model.eval()  # no dropout: the probe measures the network, not a random mask
    try:
        batch = batch.to(device)
        norms = gradient_through_time(model, batch.tokens, batch.lengths, batch.labels)
        event = {"event": "probe", "time": time.time(), "epoch": epoch, "norms": [float(n) for n in norms],
                 "length": int(batch.tokens.shape[1]), "size": len(batch)}
    except Exception as err:  # a broken probe must not end a long training
        event = {"event": "probe", "time": time.time(), "epoch": epoch, "norms": [], "error": str(err)}
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return event


def _emit(callbacks: Sequence[Callback], event: dict, control: TrainControl) -> None:
    for callback in callbacks:
        getattr(callback, "on_" + event["event"])(event, control)


def _divergence_message(what: str, value: float, epoch: int, batch: int, lr: float, clip: float | None,
                        best_epoch: int | None) -> str:
    kept = f"the best checkpoint (epoch {best_epoch}) was kept" if best_epoch else \
        "no epoch had finished, so the saved checkpoint holds the weights from before training"
    advice = "lower the learning rate" + ("" if clip else " or enable gradient clipping (e.g. --clip 5)")
    return (f"Training diverged: the {what} became {value} at epoch {epoch}, batch {batch} "
            f"(learning rate {lr:g}). {advice[0].upper() + advice[1:]} and start again; {kept}.")


def fit(model: nn.Module, train_data: EncodedDataset, dev_data: EncodedDataset, *,
        num_classes: int, epochs: int = 5, batch_size: int = 64, optimizer: str = "adam", lr: float = 1e-3,
        weight_decay: float = 0.0, momentum: float = 0.9, clip: float | None = 5.0,
        max_batches: int | None = None, bptt: int | None = None, patience: int | None = None,
        seed: int = 0, bucketing: bool = True, probe_every: int = 1,
        callbacks: Sequence[Callback] = (), control: TrainControl | None = None,
        save_best: Callable[[nn.Module, dict], None] | None = None,
        save_state: Callable[[dict], None] | None = None,
        resume: dict | None = None, class_names: Sequence[str] | None = None,
        class_weights: Sequence[float] | None = None,
        device: str | torch.device = "cpu", world: World | None = None) -> FitResult:
    """Train `model` with cross-entropy; keep the weights with the best dev accuracy.

    - Each epoch reshuffles (reproducibly from `seed`) and stops after `max_batches` batches
      if given. `bptt` is passed to the model (truncated backpropagation through time).
    - `clip` bounds the gradient's global norm; `patience` ends training after that many
      epochs without a better dev accuracy.
    - `control.should_stop` (set by a callback, a signal handler or another thread) is
      honoured between batches: the run ends as `stopped` with consistent saved state.
    - A non-finite loss or gradient ends the run as `failed` without taking the step.
    - `save_best(model, info)` is called when the dev accuracy improves; `save_state(state)`
      at every epoch end and on stop with everything `resume` needs to continue: model and
      optimizer state dicts, epoch/batch position, best so far, patience counter, step.
    - `class_weights` (one per class) weight the training loss, e.g. to undo the label shift
      between phrases and sentences; dev figures are never weighted.
    - `world` (distributed.py; None = one process): under torchrun each rank trains a DDP copy
      on its share of every epoch's batches; batch and epoch figures are summed over ranks,
      so every rank sees the same numbers and takes the same decisions (stop, early stop).
    Returns a FitResult; the model ends holding the best weights (eval mode untouched).
    """
    if len(train_data) == 0:
        raise TrainingError("there are no training examples: check the label scheme and train_limit")
    if len(dev_data) == 0:
        raise TrainingError("there are no dev examples: check eval_limit")
    control = control or TrainControl()
    world = world or World()
    model.to(device)
    trained = world.wrap(model)  # DDP under torchrun; `model` stays the plain module for everything else
    opt = make_optimizer(model.parameters(), optimizer, lr, weight_decay, momentum)
    sampler = BucketBatchSampler(train_data.lengths, batch_size, shuffle=True, seed=seed, bucketing=bucketing)
    total_batches = len(sampler) if max_batches is None else min(max_batches, len(sampler))
    batches_per_epoch = world.batches_per_rank(total_batches)  # = total_batches in one process
    trainable = [p for p in model.parameters() if p.requires_grad]
    probe = probe_batch(dev_data) if probe_every else None
    loss_weights = None
    if class_weights is not None:
        if len(class_weights) != num_classes or min(class_weights) <= 0:
            raise TrainingError(f"class_weights needs {num_classes} positive numbers, not {list(class_weights)}")
        loss_weights = torch.tensor(class_weights, dtype=torch.float, device=device)

    # Position and best-so-far: fresh, or restored from a saved state.
    start_epoch, start_batch, step = 1, 0, 0
    best_accuracy, best_epoch, stale_epochs, elapsed_before = None, None, 0, 0.0
    best_state = None
    if resume:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        start_epoch, start_batch, step = resume["epoch"], resume["batch"], resume.get("step", 0)
        best_accuracy, best_epoch = resume.get("best_dev_accuracy"), resume.get("best_epoch")
        stale_epochs = resume.get("stale_epochs", 0)
        elapsed_before = resume.get("elapsed", 0.0)
        best_state = resume.get("best_model")
        if start_batch >= batches_per_epoch:
            start_epoch, start_batch = start_epoch + 1, 0

    def state_now(epoch: int, batch: int) -> dict:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "batch": batch,
                "step": step, "best_dev_accuracy": best_accuracy, "best_epoch": best_epoch,
                "stale_epochs": stale_epochs, "elapsed": elapsed_before + time.monotonic() - started}

    def end(state: str, message: str, epochs_done: int) -> FitResult:
        _emit(callbacks, {"event": "train_end", "time": time.time(), "state": state, "message": message,
                          "epochs_done": epochs_done, "best_dev_accuracy": best_accuracy, "best_epoch": best_epoch,
                          "elapsed": elapsed_before + time.monotonic() - started, "steps": step,
                          "cpu_seconds": time.process_time() - cpu_started}, control)
        if best_state is not None:
            model.load_state_dict(best_state)
        return FitResult(state, message, epochs_done, best_accuracy, best_epoch, history, best_state)

    def keep_best(epoch: int, dev: dict) -> None:
        nonlocal best_state
        best_state = copy.deepcopy(model.state_dict())
        if save_best:
            save_best(model, {"epoch": epoch, "dev_accuracy": dev["accuracy"], "dev_loss": dev["loss"]})

    def stop(epoch: int, batches_done: int) -> FitResult:
        if best_state is None and save_best:
            # Stopped before any epoch ended: the current weights become a provisional
            # checkpoint (not evaluated, to stop quickly), so a stopped run can always be used.
            save_best(model, {"epoch": epoch - 1, "batch": batches_done, "provisional": True})
        if save_state:
            save_state(state_now(epoch, batches_done))
        best = f"best dev accuracy {best_accuracy:.1%} at epoch {best_epoch}" if best_epoch else \
            "no epoch was completed"
        return end(STOPPED, f"Stopped on request at epoch {epoch}, batch {batches_done} of {batches_per_epoch}; "
                            f"{best}.", epoch - 1)

    history: list[dict] = []
    started, cpu_started = time.monotonic(), time.process_time()
    planned = (epochs - start_epoch + 1) * batches_per_epoch - start_batch
    done_here = 0
    _emit(callbacks, {"event": "train_begin", "time": time.time(), "epochs": epochs, "start_epoch": start_epoch,
                      "start_batch": start_batch, "batches_per_epoch": batches_per_epoch,
                      "train_size": len(train_data), "dev_size": len(dev_data), "batch_size": batch_size,
                      "parameters": sum(p.numel() for p in trainable), "resumed": bool(resume),
                      "world_size": world.size}, control)
    if probe is not None and not resume:
        _emit(callbacks, run_probe(model, probe, 0, device), control)

    model.train()
    for epoch in range(start_epoch, epochs + 1):
        # Seeding per epoch makes dropout masks reproducible, also after a resume.
        torch.manual_seed(seed * 1_000_003 + epoch)
        epoch_batches = world.shard(sampler.batches(epoch - 1)[:total_batches])  # this rank's share
        first = start_batch if epoch == start_epoch else 0
        loss_sum = correct = seen = 0
        epoch_started = time.monotonic()
        for batch_number in range(first + 1, batches_per_epoch + 1):
            if world.any(control.should_stop):  # a stop seen by any rank (rank 0 watches the stop file)
                control.should_stop = True
                return stop(epoch, batch_number - 1)
            batch = pad_collate([train_data[i] for i in epoch_batches[batch_number - 1]]).to(device)
            opt.zero_grad(set_to_none=True)
            logits = trained(batch.tokens, batch.lengths, bptt=bptt)  # (B, C)
            loss = nn.functional.cross_entropy(logits, batch.labels, weight=loss_weights)
            if not world.all(bool(torch.isfinite(loss))):
                mean_loss = world.sum(loss.item())[0] / world.size  # non-finite on every rank
                return end(FAILED, _divergence_message("loss", mean_loss, epoch, batch_number, lr, clip,
                                                       best_epoch), epoch - 1)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, clip if clip else math.inf)
            if not torch.isfinite(grad_norm):
                return end(FAILED, _divergence_message("gradient norm", grad_norm.item(), epoch, batch_number, lr,
                                                       clip, best_epoch), epoch - 1)
            opt.step()
            step += 1
            done_here += 1
            # Summed over ranks (one all-reduce under torchrun), so the figures cover every shard.
            batch_loss_sum, batch_correct, size = world.sum(
                loss.item() * len(batch), (logits.argmax(dim=1) == batch.labels).sum().item(), len(batch))
            loss_sum += batch_loss_sum
            correct += batch_correct
            seen += size
            now = time.monotonic()
            rate = done_here / (now - started)
            _emit(callbacks, {
                "event": "batch_end", "time": time.time(), "epoch": epoch, "batch": batch_number,
                "batches": batches_per_epoch, "step": step, "loss": batch_loss_sum / size,
                "accuracy": batch_correct / size, "running_loss": loss_sum / seen, "running_accuracy": correct / seen,
                "grad_norm": grad_norm.item(),
                "sentences_per_second": seen / max(now - epoch_started, 1e-9),  # this epoch so far
                "elapsed": elapsed_before + now - started, "eta": (planned - done_here) / rate, "lr": lr}, control)

        # Epoch end: dev evaluation, best checkpoint, probe, early stopping.
        # Every rank evaluates the same weights; rank 0's figures decide, so all ranks agree.
        dev = world.from_main(evaluate(model, dev_data, num_classes, class_names, device=device))
        improved = best_accuracy is None or dev["accuracy"] > best_accuracy
        if improved:
            best_accuracy, best_epoch, stale_epochs = dev["accuracy"], epoch, 0
            keep_best(epoch, dev)
        else:
            stale_epochs += 1
        epoch_seconds = time.monotonic() - epoch_started
        event = {"event": "epoch_end", "time": time.time(), "epoch": epoch, "epochs": epochs,
                 "train_loss": loss_sum / seen if seen else None, "train_accuracy": correct / seen if seen else None,
                 "dev_loss": dev["loss"], "dev_accuracy": dev["accuracy"], "best_dev_accuracy": best_accuracy,
                 "best_epoch": best_epoch, "improved": improved, "epoch_seconds": epoch_seconds,
                 "elapsed": elapsed_before + time.monotonic() - started,
                 "sentences_per_second": seen / epoch_seconds if epoch_seconds > 0 else None,
                 "cpu_seconds": time.process_time() - cpu_started}
        history.append(event)
        if save_state:
            save_state(state_now(epoch + 1, 0))
        _emit(callbacks, event, control)
        if probe is not None and epoch % probe_every == 0:
            _emit(callbacks, run_probe(model, probe, epoch, device), control)
        if patience is not None and stale_epochs >= patience and epoch < epochs:
            return end(FINISHED, f"Early stopping after epoch {epoch}: no better dev accuracy for {patience} "
                                 f"epochs; best {best_accuracy:.1%} at epoch {best_epoch}.", epoch)
    return end(FINISHED, f"Finished {epochs} epochs; best dev accuracy {best_accuracy:.1%} at epoch {best_epoch}.",
               epochs)


@contextmanager
def stop_on_signals(control: TrainControl, signals=(signal.SIGTERM, signal.SIGINT)):
    """While inside, SIGTERM (and a first Ctrl-C) ask the loop to stop between batches.

    A second Ctrl-C interrupts at once. Outside the main thread signals cannot be caught,
    so this does nothing there.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def request_stop(signum, frame):
        if control.should_stop and signum == signal.SIGINT:
            raise KeyboardInterrupt
        control.should_stop = True

    for sig in signals:
        previous[sig] = signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@torch.no_grad()
def class_probabilities(model: nn.Module, ids: Sequence[int], device: str | torch.device = "cpu") -> list[float]:
    """Probabilities of each class for one encoded sentence (with its <sos>/<eos>)."""
    if not ids:
        raise TrainingError("there is nothing to classify: the sentence has no tokens")
    was_training = model.training
    model.eval()
    try:
        tokens = torch.tensor([list(ids)], dtype=torch.long, device=device)  # (1, T)
        lengths = torch.tensor([len(ids)], dtype=torch.long, device=device)
        return torch.softmax(model(tokens, lengths).float(), dim=1)[0].tolist()
    finally:
        model.train(was_training)
