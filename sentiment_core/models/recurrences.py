"""The recurrences: each cell's step maths, and the fast packed loops that train the models.

* `rnn_step`, `lstm_step`, `gru_step`: one time step of each cell, written plainly with torch
  operations. `run_packed_autograd` steps them under autograd: the reference for the fast path,
  and what the trace (models/classifier.py) uses to keep every state as a graph node.
* `run_packed`: the same recurrence, fast. The input projection of every step is one matrix
  product before the time loop; the loop runs in an autograd Function whose backward pass
  through time is written out by hand: in C where it can (models/native.py), else with torch
  operations (models/recurrences_torch.py). Autograd would record a dozen small operations per
  step and replay them one by one; here the forward pass writes each step into preallocated
  packed buffers and the backward pass does only what the recurrence requires.
  tests/test_models.py and tests/test_native.py hold every path to autograd.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sentiment_core.models import native, recurrences_torch
from sentiment_core.models.packing import PackedLayout
from sentiment_core.models.recurrences_torch import offsets_of, previous_states

GATE_NAMES = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new")}


@dataclass
class DirectionWeights:
    """One direction of one layer, with the biases that can be folded into the input projection."""

    w_ih: torch.Tensor         # (G*H, D) input weights, G = 1 (rnn), 3 (gru), 4 (lstm)
    b_in: torch.Tensor | None  # (G*H,) bias added to the input projection (folded biases)
    w_hh: torch.Tensor         # (G*H, H) recurrent weights
    b_hn: torch.Tensor | None  # (H,) GRU only: the bias inside the reset gate's product

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.w_ih, self.b_in)  # (N, G*H) for every step at once


def rnn_step(xp_t, state, w_hh_t, b_hn, gates=None):
    h = torch.tanh(torch.addmm(xp_t, state[0], w_hh_t))  # (b, H)
    return (h,)


def lstm_step(xp_t, state, w_hh_t, b_hn, gates=None):
    h, c = state
    z = torch.addmm(xp_t, h, w_hh_t)        # (b, 4H): input, forget, cell, output
    s = torch.sigmoid(z)
    H = h.shape[1]
    i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
    g = torch.tanh(z[:, 2 * H:3 * H])
    c = torch.addcmul(f * c, i, g)           # (b, H)
    h = o * torch.tanh(c)
    if gates is not None:
        gates.append((i, f, g, o))
    return h, c


def gru_step(xp_t, state, w_hh_t, b_hn, gates=None):
    h = state[0]
    H = h.shape[1]
    hp = torch.mm(h, w_hh_t)                 # (b, 3H): reset, update, new
    rz = torch.sigmoid(xp_t[:, :2 * H] + hp[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    n = torch.tanh(torch.addcmul(xp_t[:, 2 * H:], r, hp[:, 2 * H:] + b_hn))
    h = n + z * (h - n)                      # = (1 - z) * n + z * h
    if gates is not None:
        gates.append((r, z, n))
    return (h,)


STEPS = {"scratch": rnn_step, "rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


def run_packed_autograd(step, weights: DirectionWeights, x: torch.Tensor, layout: PackedLayout,
                        n_state: int, bptt: int | None = None) -> torch.Tensor:
    """One direction, stepped with autograd: x (N, D) packed -> hidden states (N, H) packed."""
    xp_steps = weights.project(x).split(layout.batch_sizes)  # T tensors (b_t, G*H)
    w_hh_t = weights.w_hh.t()                                # (H, G*H)
    hidden = weights.w_hh.shape[1]
    state = tuple(x.new_zeros(layout.batch_sizes[0], hidden) for _ in range(n_state))
    outputs = []
    for t, xp_t in enumerate(xp_steps):
        if xp_t.shape[0] < state[0].shape[0]:
            state = tuple(s[:xp_t.shape[0]] for s in state)  # sentences that ended leave the batch
        if bptt and t > 0 and t % bptt == 0:
            state = tuple(s.detach() for s in state)
        state = step(xp_t, state, w_hh_t, weights.b_hn)
        outputs.append(state[0])
    return torch.cat(outputs)                                # (N, H) packed


def run_packed(cell: str, weights: DirectionWeights, x: torch.Tensor, layout: PackedLayout,
               bptt: int | None = None) -> torch.Tensor:
    """One direction, fast: x (N, D) packed -> hidden states (N, H) packed."""
    xp = weights.project(x)  # (N, G*H)
    sizes, cut = tuple(layout.batch_sizes), int(bptt or 0)
    if cell == "lstm":
        return PackedLSTM.apply(xp, weights.w_hh, sizes, cut)
    if cell == "gru":
        return PackedGRU.apply(xp, weights.w_hh, weights.b_hn, sizes, cut)
    return PackedTanhRNN.apply(xp, weights.w_hh, sizes, cut)


# Below, packed tensors (N, ...) hold step t's rows at offsets[t] : offsets[t] + sizes[t], and
# `cut` > 0 stops the gradient from crossing into step t-1 when t % cut == 0 (truncated BPTT).

def _loop(name: str, *args):
    """Run the loop `name` in C when every tensor suits it (CPU, float32, contiguous), else with torch."""
    kernels = native.kernels() if native.suits(*(a for a in args if isinstance(a, torch.Tensor))) else None
    return getattr(kernels or recurrences_torch, name)(*args)


class PackedTanhRNN(torch.autograd.Function):
    """h_t = tanh(xp_t + h_{t-1} W_hh^T); xp already holds W_xh x_t + biases."""

    @staticmethod
    def forward(ctx, xp, w_hh, sizes, cut):
        out = xp.clone()  # (N, H): each step adds h_{t-1} W_hh^T to its rows in place
        _loop("rnn_forward", out, w_hh, sizes)
        ctx.save_for_backward(out, w_hh)
        ctx.sizes, ctx.cut = sizes, cut
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        out, w_hh = ctx.saved_tensors
        sizes, cut = ctx.sizes, ctx.cut
        dz = grad_out.contiguous().clone()  # (N, H): dLoss/dh, becomes dLoss/d(pre-activation)
        _loop("rnn_backward", dz, out, w_hh, sizes, cut)
        d_w = None
        if ctx.needs_input_grad[1]:  # sum_t dz_t^T h_{t-1} (a cut keeps it)
            d_w = dz.t().mm(previous_states(out, sizes, offsets_of(sizes)))
        return dz, d_w, None, None


class PackedLSTM(torch.autograd.Function):
    """torch's LSTM step (gates input, forget, cell, output); xp holds W_ih x_t + b_ih + b_hh."""

    @staticmethod
    def forward(ctx, xp, w_hh, sizes, cut):
        N, H = xp.shape[0], w_hh.shape[1]
        gates = xp.clone()                       # (N, 4H) pre-activations, then activated i, f, g, o
        cells = xp.new_empty(N, H)               # (N, H) c_t
        tanh_cells = xp.new_empty(N, H)          # (N, H) tanh(c_t)
        out = xp.new_empty(N, H)                 # (N, H) h_t
        _loop("lstm_forward", gates, cells, tanh_cells, out, w_hh, sizes)
        ctx.save_for_backward(gates, cells, tanh_cells, out, w_hh)
        ctx.sizes, ctx.cut = sizes, cut
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        gates, cells, tanh_cells, out, w_hh = ctx.saved_tensors
        sizes, cut = ctx.sizes, ctx.cut
        dh = grad_out.contiguous().clone()       # (N, H) dLoss/dh, grows with the carry
        dz = _loop("lstm_backward", dh, gates, cells, tanh_cells, w_hh, sizes, cut)  # (N, 4H)
        d_w = dz.t().mm(previous_states(out, sizes, offsets_of(sizes))) if ctx.needs_input_grad[1] else None
        return dz, d_w, None, None


class PackedGRU(torch.autograd.Function):
    """torch's GRU step: r, z = sigmoid, n = tanh(xn + r * (W_hn h + b_hn)), h = n + z (h_prev - n).

    xp holds W_ih x_t + b_ih + (b_hr, b_hz, 0); b_hn is passed on its own.
    """

    @staticmethod
    def forward(ctx, xp, w_hh, b_hn, sizes, cut):
        N, H = xp.shape[0], w_hh.shape[1]
        rz = xp.new_empty(N, 2 * H)              # (N, 2H) reset, update gates
        hn = xp.new_empty(N, H)                  # (N, H) W_hn h_{t-1} + b_hn
        new = xp.new_empty(N, H)                 # (N, H) n_t
        out = xp.new_empty(N, H)                 # (N, H) h_t
        _loop("gru_forward", xp.contiguous(), w_hh, b_hn.contiguous(), sizes, rz, hn, new, out)
        ctx.save_for_backward(rz, hn, new, out, w_hh)
        ctx.sizes, ctx.cut = sizes, cut
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        rz, hn, new, out, w_hh = ctx.saved_tensors
        sizes, cut, H = ctx.sizes, ctx.cut, w_hh.shape[1]
        h_prev = previous_states(out, sizes, offsets_of(sizes))  # (N, H)
        dh = grad_out.contiguous().clone()                         # (N, H) dLoss/dh, grows with the carry
        dx = out.new_empty(out.shape[0], 3 * H)                    # (N, 3H) dLoss/d(xp)
        dhp = torch.empty_like(dx)                                 # (N, 3H) dLoss/d(W_hh h_{t-1} + ...)
        _loop("gru_backward", dh, rz, hn, new, h_prev, w_hh, sizes, cut, dx, dhp)
        d_w = dhp.t().mm(h_prev) if ctx.needs_input_grad[1] else None
        d_b = dhp[:, 2 * H:].sum(0) if ctx.needs_input_grad[2] else None
        return dx, d_w, d_b, None, None
