"""One training loop for every model, its callbacks and the stop control.

`fit` knows nothing about files: it reports progress as plain event dicts through callbacks
(the shape of Hugging Face's TrainerCallback: one no-op method per event, and a small
`TrainControl` whose `should_stop` is the only thing a callback may change). Saving is done
through two optional hooks, `save_best` and `save_state`, which runs.py provides. Every event
dict has `event` (its kind) and `time` (Unix seconds):

- ``train_begin``: epochs, start_epoch, start_batch, batches_per_epoch, train_size, dev_size,
  batch_size, parameters, resumed, world_size
- ``batch_end``: epoch, batch, batches (per epoch), step, loss, accuracy (this batch),
  running_loss, running_accuracy (epoch so far), grad_norm (before clipping),
  sentences_per_second (this epoch so far), elapsed, eta (seconds left, whole run), lr
- ``epoch_end``: epoch, epochs, train_loss, train_accuracy, dev_loss, dev_accuracy,
  best_dev_accuracy, best_epoch, improved, epoch_seconds, elapsed, sentences_per_second,
  cpu_seconds (CPU time of this process since fit began: the cost on a busy machine), and the
  fields `epoch_fields(model)` adds (runs.py: sentence_probes; also on train_begin of a new run)
- ``probe``: epoch (0 = before training), norms (|dLoss/dh_t| per step t), length, size
  (or error when the probe failed); see probe.py
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
from typing import Callable, Sequence

import torch
from torch import nn

from sentiment_core.data.batching import Batch, BucketBatchSampler, EncodedDataset, pad_collate
from sentiment_core.config import TrainConfig
from sentiment_core.training.distributed import World
from sentiment_core.training.evaluation import TrainingError, evaluate
from sentiment_core.training.losses import loss_weight_tensor
from sentiment_core.training.optim import clip_grad_norm, make_optimizer
from sentiment_core.training.probe import probe_batch, run_probe
from sentiment_core.training.test_hooks import after_batch

FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"
# A batch loss this many times the run's first one is divergence, even while still finite.
DIVERGENCE_FACTOR = 100
# The yardstick never goes below this: a near-perfect first batch must not make noise look like divergence.
MIN_FIRST_LOSS = 0.1

__all__ = ["Callback", "EventLog", "FitResult", "LoopState", "TrainControl", "TrainingError", "fit",
           "make_optimizer", "stop_on_signals", "training_state"]


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


@dataclass
class LoopState:
    """Where training stands: what a resume restores, plus this call's clocks and history."""

    epoch: int = 1                      # the epoch in progress
    batch: int = 0                      # batches done in it
    step: int = 0                       # optimizer steps since the run began
    best_dev_accuracy: float | None = None
    best_epoch: int | None = None
    stale_epochs: int = 0               # epochs since the dev accuracy last improved (early stopping)
    first_loss: float | None = None     # the run's first batch loss: the yardstick of divergence
    elapsed_before: float = 0.0         # seconds trained before this call (a resumed run)
    best_model: dict | None = None      # state_dict of the best epoch so far
    history: list[dict] = field(default_factory=list)  # epoch_end events of this call
    batches_here: int = 0               # batches trained in this call (speed and eta)
    epoch_sums: tuple = (0.0, 0.0, 0.0)  # the epoch so far: loss sum, correct, seen (a mid-epoch resume goes on)
    started: float = field(default_factory=time.monotonic)
    cpu_started: float = field(default_factory=time.process_time)

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    @classmethod
    def resumed(cls, saved: dict, batches_per_epoch: int) -> "LoopState":
        state = cls(epoch=saved["epoch"], batch=saved["batch"], step=saved.get("step", 0),
                    best_dev_accuracy=saved.get("best_dev_accuracy"), best_epoch=saved.get("best_epoch"),
                    stale_epochs=saved.get("stale_epochs", 0), first_loss=saved.get("first_loss"),
                    elapsed_before=saved.get("elapsed", 0.0), best_model=saved.get("best_model"))
        if state.batch >= batches_per_epoch:  # saved after the epoch's last batch
            state.epoch, state.batch = state.epoch + 1, 0
        elif len(saved.get("epoch_sums") or ()) == 3:  # so the epoch's train loss counts its batches before the save
            state.epoch_sums = tuple(float(x) for x in saved["epoch_sums"])
        return state


@dataclass
class _Tally:
    """One epoch's running figures, summed over ranks."""

    loss_sum: float = 0.0
    correct: float = 0.0
    seen: float = 0.0
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Setup:
    """What stays fixed while `fit` runs."""

    model: nn.Module                    # the plain module: evaluation, state_dict, checkpoints
    trained: nn.Module                  # what the training forward pass goes through (DDP under torchrun)
    optimizer: torch.optim.Optimizer
    config: TrainConfig
    train_data: EncodedDataset
    dev_data: EncodedDataset
    num_classes: int
    class_names: Sequence[str] | None
    loss_weights: torch.Tensor | None
    sampler: BucketBatchSampler
    total_batches: int                  # per epoch, over all ranks
    batches_per_epoch: int              # per epoch, on this rank
    probe: Batch | None
    callbacks: Sequence[Callback]
    control: TrainControl
    save_best: Callable[[nn.Module, dict], None] | None
    save_state: Callable[[dict], None] | None
    device: str | torch.device
    world: World
    epoch_fields: Callable[[nn.Module], dict]  # extra epoch_end fields (none: a no-op)

    def emit(self, event: dict) -> None:
        for callback in self.callbacks:
            getattr(callback, "on_" + event["event"])(event, self.control)


class _RunEnds(Exception):
    """Raised inside the loop to end it early (a stop, a divergence, early stopping)."""

    def __init__(self, state: str, message: str, epochs_done: int):
        super().__init__(message)
        self.state, self.message, self.epochs_done = state, message, epochs_done


# ---------------------------------------------------------------------------------------------
# The loop


def fit(model: nn.Module, train_data: EncodedDataset, dev_data: EncodedDataset, config: TrainConfig, *,
        num_classes: int, class_names: Sequence[str] | None = None, class_weights: Sequence[float] | None = None,
        callbacks: Sequence[Callback] = (), control: TrainControl | None = None,
        save_best: Callable[[nn.Module, dict], None] | None = None, save_state: Callable[[dict], None] | None = None,
        resume: dict | None = None, device: str | torch.device = "cpu", world: World | None = None,
        epoch_fields: Callable[[nn.Module], dict] | None = None) -> FitResult:
    """Train `model` with cross-entropy as `config` says; keep the weights with the best dev accuracy.

    - Each epoch reshuffles (reproducibly from `config.seed`) and stops after `max_batches`
      batches if given; `bptt` is passed to the model (truncated backpropagation through time);
      `clip` bounds the gradient's global norm; `patience` ends training after that many epochs
      without a better dev accuracy.
    - `control.should_stop` (set by a callback, a signal handler or another thread) is honoured
      between batches: the run ends as `stopped` with consistent saved state.
    - A non-finite loss or gradient, or a loss over DIVERGENCE_FACTOR times the run's first one,
      ends the run as `failed` without taking the step.
    - `save_best(model, info)` is called when the dev accuracy improves; `save_state(state)` at
      every epoch end, every `save_every` batches and on stop with everything `resume` needs
      (`training_state`).
    - `class_weights` (one per class) weight the training loss; dev figures are never weighted.
    - `epoch_fields(model)` adds fields to each epoch_end event (and to a new run's train_begin).
    - `world` (distributed.py; None = one process): under torchrun each rank trains a DDP copy on
      its share of every epoch's batches; figures are summed over ranks, so every rank sees the
      same numbers and takes the same decisions (stop, early stop, divergence).
    Returns a FitResult; the model ends holding the best weights (eval mode untouched).
    """
    if len(train_data) == 0:
        raise TrainingError("there are no training examples: check the label scheme and train_limit")
    if len(dev_data) == 0:
        raise TrainingError("there are no dev examples: check eval_limit")
    run = _setup(model, train_data, dev_data, config, num_classes, class_names, class_weights, callbacks,
                 control or TrainControl(), save_best, save_state, device, world or World(),
                 epoch_fields or (lambda model: {}))
    state = LoopState.resumed(resume, run.batches_per_epoch) if resume else LoopState()
    if resume:
        model.load_state_dict(resume["model"])
        run.optimizer.load_state_dict(resume["optimizer"])
    try:
        run.emit({**_begin_event(run, state, resumed=bool(resume)), **({} if resume else run.epoch_fields(model))})
        if run.probe is not None and not resume:
            run.emit(run_probe(model, run.probe, 0, device))
        model.train()
        while state.epoch <= config.epochs:
            tally = _train_epoch(run, state)
            _end_epoch(run, state, tally)
    except _RunEnds as ending:
        return _end(run, state, ending.state, ending.message, ending.epochs_done)
    epochs = f"{config.epochs} epoch{'' if config.epochs == 1 else 's'}"
    return _end(run, state, FINISHED, f"Finished {epochs}; best dev accuracy "
                                      f"{state.best_dev_accuracy:.1%} at epoch {state.best_epoch}.", config.epochs)


def _setup(model, train_data, dev_data, config: TrainConfig, num_classes, class_names, class_weights, callbacks,
           control, save_best, save_state, device, world: World, epoch_fields) -> _Setup:
    model.to(device)
    sampler = BucketBatchSampler(train_data.lengths, config.batch_size, shuffle=True, seed=config.seed,
                                 bucketing=config.bucketing)
    total = len(sampler) if config.max_batches is None else min(config.max_batches, len(sampler))
    optimizer = make_optimizer(model.parameters(), config.optimizer, config.lr, config.weight_decay,
                               config.momentum)
    return _Setup(model, world.wrap(model), optimizer, config, train_data, dev_data, num_classes, class_names,
                  loss_weight_tensor(class_weights, num_classes, device), sampler, total,
                  world.batches_per_rank(total), probe_batch(dev_data) if config.probe_every else None,
                  callbacks, control, save_best, save_state, device, world, epoch_fields)


def training_state(run: _Setup, state: LoopState) -> dict:
    """Everything `fit(resume=...)` needs to continue from here (runs.py saves it as last.pt)."""
    return {"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(), "epoch": state.epoch,
            "batch": state.batch, "step": state.step, "best_dev_accuracy": state.best_dev_accuracy,
            "best_epoch": state.best_epoch, "stale_epochs": state.stale_epochs, "first_loss": state.first_loss,
            "elapsed": state.elapsed(), "epoch_sums": list(state.epoch_sums)}


def _train_epoch(run: _Setup, state: LoopState) -> _Tally:
    """The batches of `state.epoch` from `state.batch` on; raises _RunEnds on a stop or divergence."""
    torch.manual_seed(run.config.seed * 1_000_003 + state.epoch)  # dropout masks reproducible, also after a resume
    shard = run.world.shard(run.sampler.batches(state.epoch - 1)[:run.total_batches])  # this rank's share
    tally = _Tally(*state.epoch_sums)
    while state.batch < run.batches_per_epoch:
        if run.world.any(run.control.should_stop):  # a stop seen by any rank (rank 0 watches the stop file)
            run.control.should_stop = True
            _stop(run, state)
        batch = pad_collate([run.train_data[i] for i in shard[state.batch]]).to(run.device)
        loss_sum, correct, size, grad_norm = _train_step(run, state, batch)
        state.batch, state.step, state.batches_here = state.batch + 1, state.step + 1, state.batches_here + 1
        tally.loss_sum, tally.correct, tally.seen = tally.loss_sum + loss_sum, tally.correct + correct, tally.seen + size
        state.epoch_sums = (tally.loss_sum, tally.correct, tally.seen)
        run.emit(_batch_event(run, state, tally, loss_sum / size, correct / size, grad_norm))
        after_batch()  # a no-op unless SENTIMENT_TEST_BATCH_DELAY slows training for browser tests
        if _periodic_save_due(run, state):
            run.save_state(training_state(run, state))  # after the event: a kill then only repeats batches
    state.epoch_sums = (0.0, 0.0, 0.0)  # the next epoch starts from nothing
    return tally


def _periodic_save_due(run: _Setup, state: LoopState) -> bool:
    """Every `save_every` batches inside an epoch (its end saves anyway): a run killed mid-epoch resumes there."""
    every = run.config.save_every
    return (run.save_state is not None and every is not None and state.batch % every == 0
            and state.batch < run.batches_per_epoch)


def _train_step(run: _Setup, state: LoopState, batch: Batch) -> tuple[float, float, float, float]:
    """One optimizer step; (loss sum, correct, examples) over all ranks and the gradient norm."""
    run.optimizer.zero_grad(set_to_none=True)
    logits = run.trained(batch.tokens, batch.lengths, bptt=run.config.bptt)  # (B, C)
    loss = nn.functional.cross_entropy(logits, batch.labels, weight=run.loss_weights)
    # One all-reduce: whether every rank's loss is finite, and the loss over all shards.
    finite, loss_sum, size = run.world.sum(float(torch.isfinite(loss)), loss.item() * len(batch), len(batch))
    _check_loss(run, state, finite == run.world.size, loss_sum / size)
    loss.backward()
    grad_norm = clip_grad_norm([p for p in run.model.parameters() if p.requires_grad],
                               run.config.clip or math.inf)  # torch's rule and bits (optim.py)
    if not torch.isfinite(grad_norm):  # gradients are averaged over ranks: every rank agrees
        raise _diverged(run, state, f"the gradient norm became {grad_norm.item()}")
    run.optimizer.step()
    correct, = run.world.sum((logits.argmax(dim=1) == batch.labels).sum().item())
    return loss_sum, correct, size, grad_norm.item()


def _check_loss(run: _Setup, state: LoopState, finite: bool, loss: float) -> None:
    if not finite:
        raise _diverged(run, state, f"the loss became {loss}")
    if state.first_loss is None:
        state.first_loss = loss
    elif loss > DIVERGENCE_FACTOR * max(state.first_loss, MIN_FIRST_LOSS):
        raise _diverged(run, state, f"the loss grew to {loss:.4g}, over {DIVERGENCE_FACTOR} times its first "
                                    f"value {state.first_loss:.4g},")


def _diverged(run: _Setup, state: LoopState, what_happened: str) -> _RunEnds:
    config = run.config
    kept = f"the best checkpoint (epoch {state.best_epoch}) was kept" if state.best_epoch else \
        "no epoch had finished, so the saved checkpoint holds the weights from before training"
    advice = "Lower the learning rate" + ("" if config.clip else " or enable gradient clipping (e.g. --clip 5)")
    return _RunEnds(FAILED, f"Training diverged: {what_happened} at epoch {state.epoch}, batch {state.batch + 1} "
                            f"(learning rate {config.lr:g}). {advice} and start again; {kept}.", state.epoch - 1)


def _stop(run: _Setup, state: LoopState) -> None:
    """Save what a resume needs and end the run as stopped."""
    if state.best_model is None and run.save_best:
        # Stopped before any epoch ended: the current weights become a provisional
        # checkpoint (not evaluated, to stop quickly), so a stopped run can always be used.
        run.save_best(run.model, {"epoch": state.epoch - 1, "batch": state.batch, "provisional": True})
    if run.save_state:
        run.save_state(training_state(run, state))
    best = f"best dev accuracy {state.best_dev_accuracy:.1%} at epoch {state.best_epoch}" if state.best_epoch \
        else "no epoch was completed"
    epoch, batch = state.epoch, state.batch
    if batch == 0 and epoch > 1:  # between epochs: name the batch that ended the last one, not "epoch 2, batch 0"
        epoch, batch = epoch - 1, run.batches_per_epoch
    raise _RunEnds(STOPPED, f"Stopped on request at epoch {epoch}, batch {batch} of "
                            f"{run.batches_per_epoch}; {best}.", state.epoch - 1)


def _end_epoch(run: _Setup, state: LoopState, tally: _Tally) -> None:
    """Dev evaluation, best checkpoint, saved state, probe, early stopping; moves to the next epoch."""
    epoch = state.epoch
    # Every rank evaluates the same weights; rank 0's figures decide, so all ranks agree.
    dev = run.world.from_main(evaluate(run.model, run.dev_data, run.num_classes, run.class_names, device=run.device))
    improved = state.best_dev_accuracy is None or dev["accuracy"] > state.best_dev_accuracy
    if improved:
        state.best_dev_accuracy, state.best_epoch, state.stale_epochs = dev["accuracy"], epoch, 0
        state.best_model = copy.deepcopy(run.model.state_dict())
        if run.save_best:
            run.save_best(run.model, {"epoch": epoch, "dev_accuracy": dev["accuracy"], "dev_loss": dev["loss"]})
    else:
        state.stale_epochs += 1
    event = {**_epoch_event(run, state, tally, dev, improved), **run.epoch_fields(run.model)}
    state.history.append(event)
    state.epoch, state.batch = epoch + 1, 0
    if run.save_state:
        run.save_state(training_state(run, state))
    run.emit(event)
    if run.probe is not None and epoch % run.config.probe_every == 0:
        run.emit(run_probe(run.model, run.probe, epoch, run.device))
    patience = run.config.patience
    if patience is not None and state.stale_epochs >= patience and epoch < run.config.epochs:
        raise _RunEnds(FINISHED, f"Early stopping after epoch {epoch}: no better dev accuracy for {patience} "
                                 f"epochs; best {state.best_dev_accuracy:.1%} at epoch {state.best_epoch}.", epoch)


def _end(run: _Setup, state: LoopState, how: str, message: str, epochs_done: int) -> FitResult:
    run.emit({"event": "train_end", "time": time.time(), "state": how, "message": message,
              "epochs_done": epochs_done, "best_dev_accuracy": state.best_dev_accuracy,
              "best_epoch": state.best_epoch, "elapsed": state.elapsed(), "steps": state.step,
              "cpu_seconds": time.process_time() - state.cpu_started})
    if state.best_model is not None:
        run.model.load_state_dict(state.best_model)
    return FitResult(how, message, epochs_done, state.best_dev_accuracy, state.best_epoch, state.history,
                     state.best_model)


# ---------------------------------------------------------------------------------------------
# Events


def _begin_event(run: _Setup, state: LoopState, resumed: bool) -> dict:
    return {"event": "train_begin", "time": time.time(), "epochs": run.config.epochs, "start_epoch": state.epoch,
            "start_batch": state.batch, "batches_per_epoch": run.batches_per_epoch,
            "train_size": len(run.train_data), "dev_size": len(run.dev_data), "batch_size": run.config.batch_size,
            "parameters": sum(p.numel() for p in run.model.parameters() if p.requires_grad), "resumed": resumed,
            "world_size": run.world.size}


def _batch_event(run: _Setup, state: LoopState, tally: _Tally, loss: float, accuracy: float,
                 grad_norm: float) -> dict:
    now = time.monotonic()
    planned = (run.config.epochs - state.epoch) * run.batches_per_epoch + run.batches_per_epoch - state.batch
    rate = state.batches_here / (now - state.started)
    return {"event": "batch_end", "time": time.time(), "epoch": state.epoch, "batch": state.batch,
            "batches": run.batches_per_epoch, "step": state.step, "loss": loss, "accuracy": accuracy,
            "running_loss": tally.loss_sum / tally.seen, "running_accuracy": tally.correct / tally.seen,
            "grad_norm": grad_norm, "sentences_per_second": tally.seen / max(now - tally.started, 1e-9),
            "elapsed": state.elapsed(), "eta": planned / rate, "lr": run.config.lr}


def _epoch_event(run: _Setup, state: LoopState, tally: _Tally, dev: dict, improved: bool) -> dict:
    seconds = time.monotonic() - tally.started
    seen = tally.seen
    return {"event": "epoch_end", "time": time.time(), "epoch": state.epoch, "epochs": run.config.epochs,
            "train_loss": tally.loss_sum / seen if seen else None,
            "train_accuracy": tally.correct / seen if seen else None,
            "dev_loss": dev["loss"], "dev_accuracy": dev["accuracy"], "best_dev_accuracy": state.best_dev_accuracy,
            "best_epoch": state.best_epoch, "improved": improved, "epoch_seconds": seconds,
            "elapsed": state.elapsed(), "sentences_per_second": seen / seconds if seconds > 0 else None,
            "cpu_seconds": time.process_time() - state.cpu_started}


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
