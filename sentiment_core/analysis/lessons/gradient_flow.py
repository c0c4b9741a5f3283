"""Gradients through time, the walkthrough's sections 4 to 6: a plain function per step.

Backpropagation through time as a product of Jacobians on a random recurrence
(`recurrent_matrix`, `gradient_norms_through_time`, `truncate_norms`, `kept_steps_back`, `gradient_regime`), and
the same measured on trained networks: the gradient-through-time probes that training runs
record (`probe_curves`) and the vanilla-RNN-against-LSTM runs the page can start
(`comparison_config`). The page (dashboard/views/walkthrough.py) lays them out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from sentiment_core.config import comparison_config  # noqa: F401 (defined below pretrained/, which uses it too)
from sentiment_core.runs.store import WALKTHROUGH_PREFIX


VANISHING_BELOW = 1e-3  # a gradient shrunk a thousandfold no longer teaches the early steps much
EXPLODING_ABOVE = 1e3   # one grown a thousandfold swamps every other term of the update

# name -> (phi, phi'): the derivative is what multiplies the gradient at each step back.
ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "tanh": (torch.tanh, lambda a: 1.0 - torch.tanh(a) ** 2),
    "relu": (torch.relu, lambda a: (a > 0).to(a.dtype)),
    "identity": (lambda a: a, torch.ones_like),
}
MATRIX_KINDS = ("orthogonal", "gaussian")


def recurrent_matrix(size: int, radius: float, kind: str = "orthogonal", seed: int = 0) -> torch.Tensor:
    """A random (size, size) W_hh whose spectral radius (largest |eigenvalue|) is `radius`.

    "orthogonal": radius times a random orthogonal matrix. It is normal, so every singular value
    equals the radius too and a product of k copies has norm exactly radius**k.
    "gaussian": a random Gaussian matrix rescaled to the radius; not normal, so its powers can
    grow for a while before the radius takes over, as with real trained weights.
    """
    if size < 1:
        raise ValueError(f"the hidden size must be at least 1, not {size!r}")
    if not radius > 0:
        raise ValueError(f"the spectral radius must be positive, not {radius!r}")
    generator = torch.Generator().manual_seed(seed)
    gaussian = torch.randn(size, size, generator=generator, dtype=torch.float64)
    if kind == "orthogonal":
        q, r = torch.linalg.qr(gaussian)
        q = q * torch.sign(torch.diagonal(r))  # makes the draw uniform over orthogonal matrices
        return radius * q
    if kind == "gaussian":
        return gaussian * (radius / spectral_radius(gaussian))
    raise ValueError(f"matrix kind must be one of {', '.join(MATRIX_KINDS)}, not {kind!r}")


def spectral_radius(matrix: torch.Tensor) -> float:
    return float(torch.linalg.eigvals(matrix).abs().max())


@dataclass
class RandomSequence:
    inputs: torch.Tensor    # (T, H) the input drive u_t = W_xh x_t + b_h of each step
    upstream: torch.Tensor  # (H,) dL/dh_T, a random direction of unit size


def random_sequence(length: int, size: int, seed: int = 0, input_scale: float = 1.0) -> RandomSequence:
    """Random inputs for the recurrence and a random unit gradient arriving at the last state."""
    if length < 1:
        raise ValueError(f"the sequence length must be at least 1, not {length!r}")
    generator = torch.Generator().manual_seed(seed)
    inputs = input_scale * torch.randn(length, size, generator=generator, dtype=torch.float64)
    upstream = torch.randn(size, generator=generator, dtype=torch.float64)
    return RandomSequence(inputs, upstream / upstream.norm())


def sentence_sequence(inputs: torch.Tensor, size: int, seed: int = 0, input_scale: float = 1.0) -> RandomSequence:
    """The input drive of a real sentence: its word vectors x_t (T, E) through a seeded W_xh (size, E).

    The drive is rescaled so its entries have standard deviation `input_scale`, as the random
    sequence's do, and the unit gradient at the last state is drawn from the same seed.
    """
    if inputs.dim() != 2 or inputs.shape[0] < 1:
        raise ValueError(f"the sentence's vectors must be (T, E) with T >= 1, not {tuple(inputs.shape)}")
    generator = torch.Generator().manual_seed(seed)
    w_xh = torch.randn(size, inputs.shape[1], generator=generator, dtype=torch.float64)
    drive = inputs.to(torch.float64) @ w_xh.T
    spread = float(drive.std()) if drive.numel() > 1 else float(drive.abs().max())
    drive = drive * (input_scale / spread) if spread > 0 else drive
    upstream = torch.randn(size, generator=generator, dtype=torch.float64)
    return RandomSequence(drive, upstream / upstream.norm())


def by_position(norms_back: Sequence[float]) -> list[float]:
    """Norms indexed by steps back from the last step (k = 0 .. T-1) re-indexed by position t = 1 .. T.

    Every gradient-flow chart reads left to right along the sentence, with the loss at the right end.
    """
    return list(reversed(list(norms_back)))


def gradient_norms_through_time(w_hh: torch.Tensor, activation: str, sequence: RandomSequence) -> list[float]:
    """Norms of dL/dh_{T-k} for k = 0 .. T-1 steps back from the last step, with ||dL/dh_T|| = 1.

    Runs h_t = phi(W_hh h_{t-1} + u_t) forward from h_0 = 0, then carries the gradient backwards
    through the Jacobians dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh: one step back, g becomes
    W_hh^T (phi'(a_t) * g). Its norm k steps back is how loudly the loss at the last step
    speaks to the state k steps earlier.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
    phi, phi_prime = ACTIVATIONS[activation]
    w_hh = w_hh.to(torch.float64)
    length = sequence.inputs.shape[0]
    h = torch.zeros(w_hh.shape[0], dtype=torch.float64)
    pre_activations = []
    for t in range(length):
        pre_activations.append(w_hh @ h + sequence.inputs[t])  # a_t, (H,)
        h = phi(pre_activations[-1])
    grad = sequence.upstream
    norms = [float(grad.norm())]
    for t in range(length - 1, 0, -1):  # from h_T back to h_1: length - 1 Jacobians
        grad = w_hh.T @ (phi_prime(pre_activations[t]) * grad)
        norms.append(float(grad.norm()))
    return norms


def truncate_norms(norms: Sequence[float], steps: int | None) -> list[float]:
    """Truncated BPTT at k steps: the gradient reaches k steps back and nothing beyond (zero)."""
    if steps is None:
        return list(norms)
    if steps < 1:
        raise ValueError(f"truncation must keep at least 1 step, not {steps!r}")
    return [n if k <= steps else 0.0 for k, n in enumerate(norms)]


def detach_points(length: int, every: int) -> list[int]:
    """The words (1-based) after which truncated BPTT detaches the state, as the project's models do
    (`bptt=k`: before reading word t + 1 when t % k == 0): after words k, 2k, ... before the last."""
    if every < 1:
        raise ValueError(f"the state must be detached every 1 or more words, not {every!r}")
    return list(range(every, length, every))


def kept_steps_back(length: int, every: int) -> int:
    """How many steps back the loss read after the last word still reaches when the state is detached
    every `every` words: back to the last detach point, so (T - 1) mod k (T - 1 when never detached)."""
    points = detach_points(length, every)
    return length - 1 - (points[-1] if points else 0)


def detached_norms(norms: Sequence[float], every: int) -> list[float]:
    """Norms k = 0 .. T-1 steps back when the state is detached every `every` words: zero beyond the
    last detach point (kept_steps_back), as the project's models compute it."""
    kept = kept_steps_back(len(norms), every)
    return [n if k <= kept else 0.0 for k, n in enumerate(norms)]


def truncated_share(norms: Sequence[float], steps: int) -> float:
    """The share of the summed gradient norm that lies more than `steps` steps back: what truncation drops."""
    total = sum(norms)
    return sum(norms[steps + 1:]) / total if total > 0 else 0.0


@dataclass
class GradientRegime:
    first_vanished: int | None   # first step back whose norm is below VANISHING_BELOW
    first_exploded: int | None   # first step back whose norm is above EXPLODING_ABOVE
    rate_per_step: float         # geometric mean factor per step back over the whole curve


def gradient_regime(norms: Sequence[float]) -> GradientRegime:
    vanished = next((k for k, n in enumerate(norms) if 0 < n < VANISHING_BELOW), None)
    exploded = next((k for k, n in enumerate(norms) if n > EXPLODING_ABOVE), None)
    steps = len(norms) - 1
    last = norms[-1]
    if steps == 0:
        rate = 1.0
    elif last <= 0:
        rate = 0.0
    else:
        rate = math.exp(math.log(last / norms[0]) / steps)
    return GradientRegime(vanished, exploded, rate)


# ---------------------------------------------------------------------------------------------
# 4. The same measured on trained models: the runs' gradient-through-time probes


VANILLA_CELLS = ("scratch", "rnn")  # the cells without gates: our RNNLayer and torch's nn.RNN


@dataclass
class ProbeCurve:
    run: str                 # run name (its folder)
    cell: str                # the run's recurrent cell
    epoch: int               # the epoch the probe was taken after (0: before training)
    norms: list[float]       # gradient norm at each position t = 1 .. T, relative to the last step


def probe_curve(run: str, cell: str, event: dict) -> ProbeCurve | None:
    """A training probe event (|dLoss/dh_t| for t = 1..T) as a curve over positions, left to right.

    Dividing by the last step's norm puts runs on one scale: 1 at t = T, as in the lesson's plot.
    """
    norms = [float(n) for n in event.get("norms") or []]
    if not norms or not norms[-1] > 0:
        return None
    last = norms[-1]
    return ProbeCurve(run, cell, int(event.get("epoch", 0)), [n / last for n in norms])


def probe_curves(runs: Sequence[tuple[str, str, Sequence[dict]]], first: bool = False) -> list[ProbeCurve]:
    """The last (or first, before training) usable probe of each run, from (name, cell, metrics events)."""
    curves = []
    for name, cell, events in runs:
        probes = [e for e in events if e.get("event") == "probe" and e.get("norms")]
        if probes:
            curve = probe_curve(name, cell, probes[0] if first else probes[-1])
            if curve is not None:
                curves.append(curve)
    return curves


def newest_vanilla_and_gated(runs: Sequence[tuple[str, str]]) -> list[str]:
    """From (name, cell) pairs, newest first: the newest vanilla run and the newest gated run."""
    picked = []
    for wanted in (lambda cell: cell in VANILLA_CELLS, lambda cell: cell not in VANILLA_CELLS):
        name = next((name for name, cell in runs if wanted(cell)), None)
        if name is not None:
            picked.append(name)
    return picked


def has_vanilla_and_gated(curves: Sequence[ProbeCurve]) -> bool:
    cells = {c.cell for c in curves}
    return bool(cells & set(VANILLA_CELLS)) and bool(cells - set(VANILLA_CELLS))


COMPARISON_CELLS = ("scratch", "lstm")  # the vanilla RNN (our RNNLayer) against the LSTM
COMPARISON_PREFIX = WALKTHROUGH_PREFIX  # the comparison's runs are tagged by name: other run lists hide them


def comparison_run_name(stamp: str, cell: str) -> str:
    return f"{COMPARISON_PREFIX}{stamp}-{cell}"




def comparison_seconds(statuses: Sequence[dict]) -> float | None:
    """How long one comparison run took, measured: the longest wall time (creation to end) among
    finished runs' status.json (the shipped pair, built with this same config). None if unknown."""
    times = [s["ended_at"] - s.get("created_at", s.get("started_at", s["ended_at"]))
             for s in statuses if s.get("state") == "finished" and s.get("ended_at")]
    return max(times) if times else None
