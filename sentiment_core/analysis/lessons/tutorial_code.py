"""The tutorial's code as the walkthrough shows it: read from the modules that run it, never copied.

- `source_of` reads a function's or class's source with inspect, so the page shows the code
  that computed its numbers (sentiment_core.models.tutorial) and cannot drift from it;
- `executed_lines` calls a function and records which of its own lines ran, so the page can
  highlight the lines a step executed (the tutorial's forward pass skips the padding fix);
- `parameter_rows` breaks a model's parameter count down by tensor (the tutorial's 1,577,899);
- `train_step` is the tutorial's training loop body (forward, loss, zero_grad, backward, clip,
  step), and `step_on_batch` runs it once on one real batch and reports the loss before and after.
"""
from __future__ import annotations

import inspect
import math
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from sentiment_core.data.batching import BucketBatchSampler, pad_collate
from sentiment_core.data.text import PAD_INDEX, label_scheme
from sentiment_core.models.tutorial import SentimentRNN
from sentiment_core.analysis.lessons.basics import build_without_init, seeded_init

# The model the tutorial printed: Embedding(15482, 100), hidden 128, three classes -> 1,577,899 weights.
TUTORIAL_SIZES = {"vocab_dim": 15_482, "embedding_dim": 100, "h_dim": 128, "out_dim": 3}
TUTORIAL_PARAMETERS = 1_577_899
TUTORIAL_LR, TUTORIAL_CLASSES = 1e-3, 3   # optim.Adam(lr=1e-3), nn.NLLLoss over 3 classes
MAX_STEP_BATCH = 64                       # sentences one demonstration step reads


# ---------------------------------------------------------------------------------------------
# Source and the lines a call ran


@dataclass(frozen=True)
class SourceLines:
    first_line: int     # the file's line number of lines[0]
    lines: list[str]    # dedented source, one entry per line

    def index_of(self, line_number: int) -> int | None:
        """Position in `lines` of a file line number, None when outside this source."""
        index = line_number - self.first_line
        return index if 0 <= index < len(self.lines) else None

    def find(self, fragment: str) -> int:
        """Position of the one line containing `fragment` (a ValueError if none or several)."""
        hits = [i for i, line in enumerate(self.lines) if fragment in line]
        if len(hits) != 1:
            raise ValueError(f"{fragment!r} is on {len(hits)} lines of the source, not one")
        return hits[0]


def source_of(obj: Any) -> SourceLines:
    """The source of a function, method or class, as the module that runs it holds it."""
    lines, first = inspect.getsourcelines(obj)
    return SourceLines(first, textwrap.dedent("".join(lines)).splitlines())


def executed_lines(function: Callable, *args, **kwargs) -> tuple[Any, list[int]]:
    """Call `function(*args, **kwargs)`; return its result and the file line numbers of its own
    body that ran, each once, in the order they first ran. `function` may be a bound method or a
    module (its `forward` is traced; the call still goes through the module's __call__)."""
    target = function.forward if isinstance(function, nn.Module) else function
    code = inspect.unwrap(getattr(target, "__func__", target)).__code__
    ran: list[int] = []

    def local_trace(frame, event, arg):
        if event == "line" and frame.f_lineno not in ran:
            ran.append(frame.f_lineno)
        return local_trace

    def call_trace(frame, event, arg):  # only the traced function's own frames get line events
        return local_trace if frame.f_code is code else None

    previous = sys.gettrace()  # a debugger's or coverage's tracer comes back afterwards
    sys.settrace(call_trace)
    try:
        result = function(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, ran


# ---------------------------------------------------------------------------------------------
# Parameters by tensor


@dataclass(frozen=True)
class ParameterRow:
    name: str                 # as model.named_parameters() names it
    shape: tuple[int, ...]
    count: int

    @property
    def product(self) -> str:
        """How the count is made: '15,482 × 100'."""
        return " × ".join(f"{n:,}" for n in self.shape)


def tutorial_model(vocab_dim: int, embedding_dim: int, h_dim: int, out_dim: int, device: str = "meta") -> nn.Module:
    """The tutorial's SentimentRNN; on the meta device by default (shapes only, no memory, no drawing)."""
    with torch.device(device):
        return SentimentRNN(vocab_dim, embedding_dim, h_dim, out_dim)


def seeded_tutorial_model(vocab_dim: int, embedding_dim: int = 100, h_dim: int = 128, out_dim: int = 3,
                          seed: int = 0) -> nn.Module:
    """A SentimentRNN with weights drawn from a private seeded generator (what training starts from)."""
    model = build_without_init(SentimentRNN, vocab_dim, embedding_dim, h_dim, out_dim)
    return seeded_init(model, torch.Generator().manual_seed(seed))


def parameter_rows(model: nn.Module) -> list[ParameterRow]:
    """Every trainable tensor of `model`, its shape and number of weights (the tutorial's count_parameters, split)."""
    return [ParameterRow(name, tuple(p.shape), p.numel()) for name, p in model.named_parameters() if p.requires_grad]


# ---------------------------------------------------------------------------------------------
# One step of the training loop on a real batch


def train_step(model, optimizer, loss_fn, X, y, clip):
    """The body of the tutorial's training loop, plus the gradient clipping this project's trainer adds."""
    y_pred_log_proba = model(X)  # forward: (B, C) log-probabilities
    loss = loss_fn(y_pred_log_proba, y)  # mean of -log p(true class)
    optimizer.zero_grad()  # clear the last batch's gradients
    loss.backward()  # backpropagation through time: every .grad
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)  # norm <= clip
    optimizer.step()  # Adam moves each weight against its gradient
    return loss.item(), float(grad_norm)


# Each line of train_step the page steps through, found in its source by these fragments.
TRAIN_STEP_LINES = {"forward": "model(X)", "loss": "loss_fn(", "zero_grad": "optimizer.zero_grad()",
                    "backward": "loss.backward()", "clip": "clip_grad_norm_", "step": "optimizer.step()"}


@dataclass(frozen=True)
class LabelledBatch:
    X: torch.Tensor          # (S, B) token indices, sequence-first as the tutorial's model reads them
    y: torch.Tensor          # (B,) class ids under the 3-class scheme
    lengths: list[int]       # true lengths (<sos> and <eos> included)
    members: list[int]       # training-sentence index of each column
    class_names: tuple[str, ...]


def labelled_batch(train_ids: Sequence[Sequence[int]], fine_labels: Sequence[int], batch_size: int,
                   seed: int = 0) -> LabelledBatch:
    """The first batch of a bucketed, shuffled epoch over the training sentences, with 3-class labels."""
    if len(train_ids) != len(fine_labels) or not train_ids:
        raise ValueError("give one fine label for each training sentence, and at least one sentence")
    if not 1 <= batch_size <= MAX_STEP_BATCH:
        raise ValueError(f"the batch size must be between 1 and {MAX_STEP_BATCH}, not {batch_size}")
    scheme = label_scheme(TUTORIAL_CLASSES)
    sampler = BucketBatchSampler([len(s) for s in train_ids], batch_size, shuffle=True, seed=seed)
    members = sampler.batches(0)[0]
    items = [(torch.tensor(list(train_ids[i]), dtype=torch.long), scheme.map(fine_labels[i])) for i in members]
    collated = pad_collate(items, PAD_INDEX)
    return LabelledBatch(collated.tokens.t().contiguous(), collated.labels, collated.lengths.tolist(), list(members),
                         scheme.class_names)


@dataclass(frozen=True)
class StepReport:
    log_proba_before: torch.Tensor     # (B, C) what the forward pass gave, before the step
    loss_before: float
    grad_norms: dict[str, float]       # each tensor's gradient norm after backward, before clipping
    grad_norm: float                   # the global norm clip_grad_norm_ measured
    clip: float
    update_norms: dict[str, float]     # how far the step moved each tensor (L2 norm of the change)
    loss_after: float                  # the same batch through the updated model

    @property
    def clipped_norm(self) -> float:
        return min(self.grad_norm, self.clip)


def step_on_batch(model: nn.Module, batch: LabelledBatch, lr: float = TUTORIAL_LR, clip: float = 5.0) -> StepReport:
    """Run `train_step` once (Adam, NLLLoss, as the tutorial) on `batch`; measure before and after.

    The model is changed in place (it is the step's point); pass a fresh one for a repeatable report.
    """
    if not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"the clipping norm must be a positive number, not {clip}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.NLLLoss()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    with torch.no_grad():
        log_proba_before = model(batch.X)
    loss_before, grad_norm = train_step(model, optimizer, loss_fn, batch.X, batch.y, clip)
    # clip_grad_norm_ scaled every gradient by one factor (Adam leaves .grad as it was): undo it
    # to report each tensor's gradient as backward left it.
    scale = min(1.0, clip / (grad_norm + 1e-6))
    grads = {name: float(p.grad.norm()) / scale for name, p in model.named_parameters() if p.grad is not None}
    with torch.no_grad():
        loss_after = float(loss_fn(model(batch.X), batch.y))
        updates = {name: float((p - before[name]).norm()) for name, p in model.named_parameters()}
    return StepReport(log_proba_before, loss_before, grads, grad_norm, clip, updates, loss_after)
