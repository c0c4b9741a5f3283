"""The tutorial's recurrent network, and a general recurrent sentence classifier.

Two families live here:

* `RNNLayer` and `SentimentRNN`: the tutorial's model, written from its equations
  (h_t = phi_h(W_xh x_t + W_hh h_{t-1} + b_h), y_t = phi_y(W_hy h_t + b_y)). Its forward reads
  a sequence-first batch (S, B) and, as the tutorial says itself, treats padding as if it were
  words. Passing `lengths` switches on the fix: finished sentences keep their state.
* `RecurrentClassifier`, made by `build_model(config, vocab)`: our RNN cell ("scratch") or
  torch's RNN / LSTM / GRU modules, with layers, both directions, dropout, pooling, pretrained
  vectors and truncated backpropagation. Every model `build_model` returns has one interface:
  `forward(tokens (B, T), lengths (B,), bptt=None) -> logits (B, C)` and
  `trace(tokens, lengths) -> Trace`.

How the classifier is fast on a CPU: a batch is sorted by length and laid out "packed" (time
step by time step, only the sentences still running), so padding is never computed and the
active batch shrinks as sentences end. The input projection of every time step is one matrix
product before the time loop; the loop only does the recurrent product and the activations,
and the backward pass through time is written out by hand (see "Backpropagation through time
written out by hand" below), checked against autograd in tests/test_models.py.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sentiment_core.models import native
from sentiment_core.training.config import CELLS, POOLINGS, ModelConfig
from sentiment_core.data.text import PAD_INDEX, SPECIALS

GATE_NAMES = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new")}


# --------------------------------------------------------------------------------------------
# The tutorial's model
# --------------------------------------------------------------------------------------------

class RNNLayer(nn.Module):
    """One recurrent layer: three affine maps and two non-linearities, stepped by the caller.

    `out_dim=None` drops the output map (y_t is h_t): the form used when layers are stacked.
    """

    def __init__(self, in_dim: int, h_dim: int, out_dim: int | None,
                 phi_h: Callable = torch.tanh, phi_y: Callable | None = torch.sigmoid):
        super().__init__()
        self.phi_h, self.phi_y = phi_h, phi_y
        self.fc_xh = nn.Linear(in_dim, h_dim, bias=False)  # input -> hidden
        self.fc_hh = nn.Linear(h_dim, h_dim, bias=True)    # hidden -> hidden, carries b_h
        self.fc_hy = nn.Linear(h_dim, out_dim, bias=True) if out_dim is not None else None

    def forward(self, x_t: torch.Tensor, h_prev: torch.Tensor | None = None):
        # x_t: (B, in_dim); h_prev: (B, h_dim) or None for a zero state
        if h_prev is None:
            h_prev = x_t.new_zeros(x_t.shape[0], self.fc_hh.in_features)
        h_t = self.phi_h(self.fc_xh(x_t) + self.fc_hh(h_prev))  # (B, h_dim)
        if self.fc_hy is None:
            return h_t, h_t
        y_t = self.fc_hy(h_t)  # (B, out_dim)
        if self.phi_y is not None:
            y_t = self.phi_y(y_t)
        return y_t, h_t


class SentimentRNN(nn.Module):
    """The tutorial's classifier: embedding, one RNNLayer stepped over time, log-softmax.

    `forward(X)` is the tutorial's model exactly: X is (S, B) sequence-first and every position,
    padding included, updates the state. `forward(X, lengths)` is the fix the tutorial asks for:
    once a sentence has ended its state (and output) stay frozen, so padding changes nothing.
    `bptt=k` detaches the state every k steps (truncated backpropagation through time).
    """

    def __init__(self, vocab_dim: int, embedding_dim: int, h_dim: int, out_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_dim, embedding_dim)  # no padding_idx: the tutorial's count
        self.rnn = RNNLayer(in_dim=embedding_dim, h_dim=h_dim, out_dim=out_dim, phi_y=None)
        self.log_softmax = nn.LogSoftmax(dim=1)

    def forward(self, X: torch.Tensor, lengths: torch.Tensor | None = None, bptt: int | None = None,
                states: list | None = None) -> torch.Tensor:
        return self.forward_embedded(self.embedding(X), lengths, bptt, states)  # X: (S, B) -> (S, B, E)

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor | None = None,
                         bptt: int | None = None, states: list | None = None) -> torch.Tensor:
        # embedded: (S, B, E) word vectors; the rest as forward
        h_t = y_t = None
        for t, x_t in enumerate(embedded):  # x_t: (B, E)
            if bptt and t > 0 and t % bptt == 0:
                h_t = h_t.detach()
            y_new, h_new = self.rnn(x_t, h_t)  # (B, C), (B, H)
            if lengths is not None and h_t is not None:
                running = (t < lengths).unsqueeze(1).to(x_t.device)  # (B, 1)
                y_new, h_new = torch.where(running, y_new, y_t), torch.where(running, h_new, h_t)
            y_t, h_t = y_new, h_new
            if states is not None:
                states.append(h_t)
        return self.log_softmax(y_t)  # (B, C) log-probabilities


def count_parameters(model: nn.Module) -> int:
    """Trainable weights (frozen pretrained vectors do not count)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------------
# Packed layout of a batch
# --------------------------------------------------------------------------------------------

@dataclass
class PackedLayout:
    """Where each (time step, sentence) of a length-sorted batch sits in a packed tensor.

    Sentences are sorted by falling length; at step t the first `batch_sizes[t]` of them are
    still running, and their rows are `offsets[t] : offsets[t] + batch_sizes[t]` of the packed
    data (the layout of torch's PackedSequence).
    """

    order: torch.Tensor          # (B,) sorted position -> original index
    inverse: torch.Tensor        # (B,) original index -> sorted position
    lengths: torch.Tensor        # (B,) sorted lengths, falling
    batch_sizes: list[int]       # (T,) running sentences per step
    offsets: list[int]           # (T,) first packed row of each step
    time_of: torch.Tensor        # (N,) time step of each packed row
    row_of: torch.Tensor         # (N,) sorted sentence of each packed row
    sentence_of: torch.Tensor    # (N,) original batch index of each packed row (order[row_of])
    reverse_index: torch.Tensor  # (N,) packed row of the same sentence read right to left
    last_index: torch.Tensor     # (B,) packed row of each sorted sentence's last step

    @property
    def steps(self) -> int:
        return len(self.batch_sizes)


def packed_layout(lengths: torch.Tensor, device=None) -> PackedLayout:
    # Index arithmetic on a few hundred integers: numpy does it in microseconds, where a dozen
    # small torch operations cost more than the recurrent step of a small model.
    if lengths.dim() != 1 or lengths.numel() == 0:
        raise ValueError("lengths must be a non-empty 1-D tensor, one length per sentence")
    lengths = lengths.detach().to("cpu", torch.long).numpy()
    if int(lengths.min()) < 1:
        raise ValueError("every sentence needs at least one token (a length of 0 was given)")
    order = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[order]
    count, steps = len(lengths), int(sorted_lengths[0])
    ended_by = np.cumsum(np.bincount(sorted_lengths, minlength=steps + 1))[:steps]  # lengths <= t
    batch_sizes = count - ended_by                                                  # (T,) lengths > t
    offsets = np.cumsum(batch_sizes) - batch_sizes
    time_of = np.repeat(np.arange(steps), batch_sizes)                              # (N,)
    row_of = np.arange(len(time_of)) - offsets[time_of]                             # (N,)
    reverse_index = offsets[sorted_lengths[row_of] - 1 - time_of] + row_of
    last_index = offsets[sorted_lengths - 1] + np.arange(count)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(count)

    def tensor(values: np.ndarray) -> torch.Tensor:
        result = torch.from_numpy(np.ascontiguousarray(values, dtype=np.int64))
        return result if device is None or str(device) == "cpu" else result.to(device)

    return PackedLayout(tensor(order), tensor(inverse), tensor(sorted_lengths), batch_sizes.tolist(),
                        offsets.tolist(), tensor(time_of), tensor(row_of), tensor(order[row_of]),
                        tensor(reverse_index), tensor(last_index))


# --------------------------------------------------------------------------------------------
# Recurrent steps: the math of each cell, shared by the fast loop and the trace
# --------------------------------------------------------------------------------------------

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
    """One direction, stepped with autograd: x (N, D) packed -> hidden states (N, H) packed.

    The reference implementation (plain, slow backward): `run_packed` must agree with it.
    """
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
    """One direction, fast: x (N, D) packed -> hidden states (N, H) packed.

    The input projection of all steps is one matrix product (autograd handles it); the
    recurrence runs in an autograd Function whose backward is written out by hand.
    """
    xp = weights.project(x)  # (N, G*H)
    sizes, cut = tuple(layout.batch_sizes), int(bptt or 0)
    if cell == "lstm":
        return PackedLSTM.apply(xp, weights.w_hh, sizes, cut)
    if cell == "gru":
        return PackedGRU.apply(xp, weights.w_hh, weights.b_hn, sizes, cut)
    return PackedTanhRNN.apply(xp, weights.w_hh, sizes, cut)


# --------------------------------------------------------------------------------------------
# Backpropagation through time written out by hand
#
# Autograd records a dozen small operations per time step and replays them one by one; here the
# forward pass writes each step into preallocated packed buffers, and the backward pass walks
# the steps in reverse doing only what the recurrence requires (the gradient carried into
# h_{t-1} and c_{t-1}); everything that does not depend on that carry (derivatives of the
# activations, the recurrent weights' gradient) is computed for all steps at once.
# Conventions: packed tensors (N, ...) hold step t's rows at offsets[t] : offsets[t] + sizes[t];
# `cut` > 0 stops the gradient from crossing into step t-1 when t % cut == 0 (truncated BPTT).
# --------------------------------------------------------------------------------------------

def _offsets(sizes: tuple[int, ...]) -> list[int]:
    offsets, total = [], 0
    for size in sizes:
        offsets.append(total)
        total += size
    return offsets


def _previous_states(h: torch.Tensor, sizes, offsets) -> torch.Tensor:
    """(N, H) packed h_{t-1} of every row: zeros at t = 0, else the same sentence's previous row."""
    rows = [h.new_zeros(sizes[0], h.shape[1])]
    rows += [h[offsets[t - 1]:offsets[t - 1] + sizes[t]] for t in range(1, len(sizes))]
    return torch.cat(rows)


def _carries(t: int, cut: int) -> bool:
    return t > 0 and not (cut and t % cut == 0)


class PackedTanhRNN(torch.autograd.Function):
    """h_t = tanh(xp_t + h_{t-1} W_hh^T); xp already holds W_xh x_t + biases."""

    @staticmethod
    def forward(ctx, xp, w_hh, sizes, cut):
        out = xp.clone()  # (N, H): each step adds h_{t-1} W_hh^T to its rows in place
        kernels = _native_loops(out, w_hh)
        if kernels is not None:
            kernels.rnn_forward(len(sizes), _step_sizes(sizes), w_hh.shape[1], out.data_ptr(), w_hh.data_ptr())
        else:
            offsets, w_t = _offsets(sizes), w_hh.t().contiguous()  # (H, G*H): contiguous is faster
            prev = None
            for start, size in zip(offsets, sizes):
                h_t = out[start:start + size]
                if prev is not None:
                    h_t.addmm_(prev[:size], w_t)
                prev = h_t.tanh_()
        ctx.save_for_backward(out, w_hh)
        ctx.sizes, ctx.cut = sizes, cut
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        out, w_hh = ctx.saved_tensors
        sizes, cut = ctx.sizes, ctx.cut
        offsets = _offsets(sizes)
        dz = grad_out.contiguous().clone()       # (N, H): dLoss/dh, becomes dLoss/d(pre-activation)
        kernels = _native_loops(dz, out, w_hh)
        if kernels is not None:
            kernels.rnn_backward(len(sizes), _step_sizes(sizes), w_hh.shape[1], cut, dz.data_ptr(),
                                 out.data_ptr(), w_hh.data_ptr())
        else:
            slope = 1.0 - out * out              # (N, H) tanh'
            for t in range(len(sizes) - 1, -1, -1):
                start, size = offsets[t], sizes[t]
                dz_t = dz[start:start + size].mul_(slope[start:start + size])
                if _carries(t, cut):
                    prev = offsets[t - 1]
                    dz[prev:prev + size].addmm_(dz_t, w_hh)  # into dLoss/dh_{t-1}
        d_w = None
        if ctx.needs_input_grad[1]:
            d_w = dz.t().mm(_previous_states(out, sizes, offsets))  # sum_t dz_t^T h_{t-1} (a cut keeps it)
        return dz, d_w, None, None


def _native_loops(*tensors: torch.Tensor):
    """The compiled recurrences when every tensor suits them (CPU, float32, contiguous), else None."""
    if not all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors):
        return None
    return native.recurrence_kernels()


def _step_sizes(sizes: tuple[int, ...]):
    """The running sentences per step as a C array of int64."""
    return (ctypes.c_int64 * len(sizes))(*sizes)


class PackedLSTM(torch.autograd.Function):
    """torch's LSTM step (gates input, forget, cell, output); xp holds W_ih x_t + b_ih + b_hh."""

    @staticmethod
    def forward(ctx, xp, w_hh, sizes, cut):
        N, H = xp.shape[0], w_hh.shape[1]
        gates = xp.clone()                       # (N, 4H) pre-activations, then activated i, f, g, o
        cells = xp.new_empty(N, H)               # (N, H) c_t
        tanh_cells = xp.new_empty(N, H)          # (N, H) tanh(c_t)
        out = xp.new_empty(N, H)                 # (N, H) h_t
        kernels = _native_loops(gates, w_hh)
        if kernels is not None:
            kernels.lstm_forward(len(sizes), _step_sizes(sizes), H, gates.data_ptr(), cells.data_ptr(),
                                 tanh_cells.data_ptr(), out.data_ptr(), w_hh.data_ptr())
        else:
            _lstm_forward_torch(gates, cells, tanh_cells, out, w_hh, sizes)
        ctx.save_for_backward(gates, cells, tanh_cells, out, w_hh)
        ctx.sizes, ctx.cut = sizes, cut
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        gates, cells, tanh_cells, out, w_hh = ctx.saved_tensors
        sizes, cut = ctx.sizes, ctx.cut
        offsets, H = _offsets(sizes), w_hh.shape[1]
        dh = grad_out.contiguous().clone()                    # (N, H) dLoss/dh, grows with the carry
        kernels = _native_loops(dh, gates, w_hh)
        if kernels is not None:
            dz = torch.empty_like(gates)                      # (N, 4H) dLoss/d(pre-activations)
            carry = gates.new_empty(sizes[0], H)              # scratch: dLoss/dc carried one step back
            kernels.lstm_backward(len(sizes), _step_sizes(sizes), H, cut, dh.data_ptr(), gates.data_ptr(),
                                  cells.data_ptr(), tanh_cells.data_ptr(), dz.data_ptr(), carry.data_ptr(),
                                  w_hh.data_ptr())
        else:
            dz = _lstm_backward_torch(dh, gates, cells, tanh_cells, w_hh, sizes, offsets, cut)
        d_w = dz.t().mm(_previous_states(out, sizes, offsets)) if ctx.needs_input_grad[1] else None
        return dz, d_w, None, None


def _lstm_forward_torch(gates, cells, tanh_cells, out, w_hh, sizes):
    """The LSTM recurrence with torch operations; fills the buffers as lstm_forward (C) does."""
    H = w_hh.shape[1]
    offsets, w_t = _offsets(sizes), w_hh.t().contiguous()  # (H, G*H): contiguous is faster
    for t, (start, size) in enumerate(zip(offsets, sizes)):
        rows = slice(start, start + size)
        z = gates[rows]
        if t > 0:
            prev = offsets[t - 1]
            z.addmm_(out[prev:prev + size], w_t)
        z[:, :2 * H].sigmoid_()
        z[:, 2 * H:3 * H].tanh_()
        z[:, 3 * H:].sigmoid_()
        c = cells[rows]
        if t == 0:
            torch.mul(z[:, :H], z[:, 2 * H:3 * H], out=c)
        else:
            torch.mul(z[:, H:2 * H], cells[prev:prev + size], out=c).addcmul_(z[:, :H], z[:, 2 * H:3 * H])
        torch.mul(z[:, 3 * H:], torch.tanh(c, out=tanh_cells[rows]), out=out[rows])


def _lstm_backward_torch(dh, gates, cells, tanh_cells, w_hh, sizes, offsets, cut):
    """dLoss/d(pre-activations) (N, 4H) with torch operations, as lstm_backward (C) computes it."""
    H = w_hh.shape[1]
    i, f, g, o = gates.split(H, 1)
    c_prev = _previous_states(cells, sizes, offsets)     # (N, H) c_{t-1}, 0 at t = 0
    # Everything that does not depend on the carried gradient, for all steps at once:
    # d(pre-activation of input, forget, cell gates) per unit of dLoss/dc_t, side by side as in dz,
    per_dc = torch.cat([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g)], 1).view(-1, 3, H)
    # d(pre-activation of output gate) and dc_t per unit of dLoss/dh_t.
    per_dh = tanh_cells * o * (1.0 - o)                   # (N, H)
    dh_to_dc = o * (1.0 - tanh_cells * tanh_cells)        # (N, H)
    dz = torch.empty_like(gates)                          # (N, 4H) dLoss/d(pre-activations)
    dc_carry = None                                       # (b_{t+1}, H) dLoss/dc_t from step t+1
    for t in range(len(sizes) - 1, -1, -1):
        start, size = offsets[t], sizes[t]
        rows = slice(start, start + size)
        dh_t, dz_t = dh[rows], dz[rows]
        dc = dh_t * dh_to_dc[rows]                        # (b, H) dLoss/dc_t
        if dc_carry is not None:
            dc[:dc_carry.shape[0]] += dc_carry
        torch.mul(dc.unsqueeze(1), per_dc[rows], out=dz_t[:, :3 * H].view(size, 3, H))
        torch.mul(dh_t, per_dh[rows], out=dz_t[:, 3 * H:])
        if _carries(t, cut):
            prev = offsets[t - 1]
            dc_carry = dc * f[rows]
            dh[prev:prev + size].addmm_(dz_t, w_hh)
        else:
            dc_carry = None
    return dz


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
        xp = xp.contiguous()
        kernels = _native_loops(xp, w_hh, b_hn)
        if kernels is not None:
            scratch = xp.new_empty(sizes[0], 3 * H)  # W_hh h_{t-1} of one step
            kernels.gru_forward(len(sizes), _step_sizes(sizes), H, xp.data_ptr(), w_hh.data_ptr(), b_hn.data_ptr(),
                                rz.data_ptr(), hn.data_ptr(), new.data_ptr(), out.data_ptr(), scratch.data_ptr())
        else:
            _gru_forward_torch(xp, w_hh, b_hn, sizes, rz, hn, new, out)
        ctx.save_for_backward(rz, hn, new, out, w_hh)
        ctx.sizes, ctx.cut = sizes, cut
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        rz, hn, new, out, w_hh = ctx.saved_tensors
        sizes, cut = ctx.sizes, ctx.cut
        offsets, H = _offsets(sizes), w_hh.shape[1]
        h_prev = _previous_states(out, sizes, offsets)       # (N, H)
        dh = grad_out.contiguous().clone()                    # (N, H) dLoss/dh, grows with the carry
        dx = torch.empty(out.shape[0], 3 * H, dtype=out.dtype, device=out.device)  # (N, 3H)
        dhp = torch.empty_like(dx)                            # (N, 3H) dLoss/d(W_hh h_{t-1} + ...)
        kernels = _native_loops(dh, rz, w_hh)
        if kernels is not None:
            kernels.gru_backward(len(sizes), _step_sizes(sizes), H, cut, dh.data_ptr(), rz.data_ptr(), hn.data_ptr(),
                                 new.data_ptr(), out.data_ptr(), dx.data_ptr(), dhp.data_ptr(), w_hh.data_ptr())
        else:
            _gru_backward_torch(dh, rz, hn, new, h_prev, w_hh, sizes, offsets, cut, dx, dhp)
        d_w = dhp.t().mm(h_prev) if ctx.needs_input_grad[1] else None
        d_b = dhp[:, 2 * H:].sum(0) if ctx.needs_input_grad[2] else None
        return dx, d_w, d_b, None, None


def _gru_forward_torch(xp, w_hh, b_hn, sizes, rz, hn, new, out):
    """The GRU recurrence with torch operations; fills the buffers as gru_forward (C) does."""
    H = w_hh.shape[1]
    offsets, w_t = _offsets(sizes), w_hh.t().contiguous()  # (H, G*H): contiguous is faster
    h_prev = xp.new_zeros(sizes[0], H)
    for t, (start, size) in enumerate(zip(offsets, sizes)):
        rows = slice(start, start + size)
        h_prev = h_prev[:size]
        hp = torch.mm(h_prev, w_t)           # (b, 3H)
        torch.add(xp[rows, :2 * H], hp[:, :2 * H], out=rz[rows]).sigmoid_()
        torch.add(hp[:, 2 * H:], b_hn, out=hn[rows])
        torch.addcmul(xp[rows, 2 * H:], rz[rows, :H], hn[rows], out=new[rows]).tanh_()
        torch.addcmul(new[rows], rz[rows, H:], h_prev - new[rows], out=out[rows])
        h_prev = out[rows]


def _gru_backward_torch(dh, rz, hn, new, h_prev, w_hh, sizes, offsets, cut, dx, dhp):
    """Fills dx and dhp (N, 3H) with torch operations, as gru_backward (C) does."""
    H = w_hh.shape[1]
    r, z = rz[:, :H], rz[:, H:]
    # dLoss/d(pre-activation) per unit of dLoss/dh_t, for z and n side by side (the layout of dx).
    per_dh = torch.cat([(h_prev - new) * z * (1.0 - z),   # update gate
                        (1.0 - z) * (1.0 - new * new)], 1).view(-1, 2, H)  # new gate
    reset_slope = hn * r * (1.0 - r)                      # (N, H) d(pre r) per d(pre n)
    for t in range(len(sizes) - 1, -1, -1):
        start, size = offsets[t], sizes[t]
        rows = slice(start, start + size)
        dh_t, dx_t, dhp_t = dh[rows], dx[rows], dhp[rows]
        torch.mul(dh_t.unsqueeze(1), per_dh[rows], out=dx_t[:, H:].view(size, 2, H))
        torch.mul(dx_t[:, 2 * H:], reset_slope[rows], out=dx_t[:, :H])
        dhp_t[:, :2 * H] = dx_t[:, :2 * H]
        torch.mul(dx_t[:, 2 * H:], r[rows], out=dhp_t[:, 2 * H:])
        if _carries(t, cut):
            prev = offsets[t - 1]
            carry = dh[prev:prev + size]
            carry.addcmul_(dh_t, z[rows]).addmm_(dhp_t, w_hh)


# --------------------------------------------------------------------------------------------
# The general classifier
# --------------------------------------------------------------------------------------------

@dataclass
class Trace:
    """What happens inside the network for one batch (original batch order)."""

    logits: torch.Tensor                          # (B, C), as forward returns
    states: list[torch.Tensor]                    # T tensors (B, H): top layer, left-to-right
    gates: dict[str, torch.Tensor] | None = None  # lstm / gru: name -> (B, T, H), 0 after the end


class RecurrentEncoder(nn.Module):
    """Stacked (bi)directional recurrent layers over packed batches.

    cell "scratch": one RNNLayer (without output map) per layer and direction, our own cell.
    cells "rnn" / "lstm" / "gru": torch's nn.RNN / nn.LSTM / nn.GRU modules (their weights, their
    math). Training runs the recurrence through `run_packed` on those weights; inference (no
    gradient) runs torch's fused kernel on the same packed batch; the trace steps in Python.
    """

    def __init__(self, cell: str, input_dim: int, hidden_dim: int, layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, use_fused_kernel: bool = False):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {cell!r}")
        self.cell, self.hidden_dim, self.layers = cell, hidden_dim, layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.step = STEPS[cell]
        self.n_state = 2 if cell == "lstm" else 1
        if cell == "scratch":
            self.cells = nn.ModuleList(
                RNNLayer(input_dim if layer == 0 else hidden_dim * self.directions, hidden_dim, None)
                for layer in range(layers) for _ in range(self.directions))
        else:
            kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            self.rnn = kind(input_dim, hidden_dim, num_layers=layers, bidirectional=bidirectional,
                            dropout=dropout if layers > 1 else 0.0)
        # Training steps our hand-written recurrence (faster than torch's packed kernels on a CPU:
        # `python -m sentiment_core bench`); without gradients torch's fused kernel is the faster.
        self.use_fused_kernel = bool(use_fused_kernel)

    @property
    def output_dim(self) -> int:
        return self.hidden_dim * self.directions

    def weights(self, layer: int, direction: int) -> DirectionWeights:
        if self.cell == "scratch":
            rnn = self.cells[layer * self.directions + direction]
            return DirectionWeights(rnn.fc_xh.weight, rnn.fc_hh.bias, rnn.fc_hh.weight, None)
        suffix = f"l{layer}" + ("_reverse" if direction else "")
        w_ih, w_hh = getattr(self.rnn, f"weight_ih_{suffix}"), getattr(self.rnn, f"weight_hh_{suffix}")
        b_ih, b_hh = getattr(self.rnn, f"bias_ih_{suffix}"), getattr(self.rnn, f"bias_hh_{suffix}")
        if self.cell == "gru":  # the new gate's recurrent bias sits inside r * (W_hn h + b_hn)
            H = self.hidden_dim
            return DirectionWeights(w_ih, b_ih + torch.cat([b_hh[:2 * H], b_hh.new_zeros(H)]), w_hh, b_hh[2 * H:])
        return DirectionWeights(w_ih, b_ih + b_hh, w_hh, None)

    def run_direction(self, layer: int, direction: int, x: torch.Tensor, layout: PackedLayout,
                      bptt: int | None = None) -> torch.Tensor:
        """x (N, D) packed -> (N, H) packed; direction 1 reads each sentence right to left."""
        if direction:
            x = x[layout.reverse_index]
        out = run_packed(self.cell, self.weights(layer, direction), x, layout, bptt)
        return out[layout.reverse_index] if direction else out

    def run_layer(self, layer: int, x: torch.Tensor, layout: PackedLayout, bptt: int | None = None):
        outs = [self.run_direction(layer, d, x, layout, bptt) for d in range(self.directions)]
        return torch.cat(outs, 1) if len(outs) > 1 else outs[0]  # (N, H * directions)

    def between_layers(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.dropout, self.training)

    def forward(self, x: torch.Tensor, layout: PackedLayout, bptt: int | None = None) -> torch.Tensor:
        # x: (N, D) packed -> (N, H * directions) packed outputs of the top layer
        if self.cell != "scratch" and not bptt and (self.use_fused_kernel or not torch.is_grad_enabled()):
            sizes = torch.tensor(layout.batch_sizes, dtype=torch.long)
            out, _ = self.rnn(nn.utils.rnn.PackedSequence(x, sizes))
            return out.data
        for layer in range(self.layers):
            if layer:
                x = self.between_layers(x)
            x = self.run_layer(layer, x, layout, bptt)
        return x


class RecurrentClassifier(nn.Module):
    """Embedding -> recurrent encoder -> pooling over the sentence -> linear class scores."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=PAD_INDEX)
        self.encoder = RecurrentEncoder(config.cell, config.embedding_dim, config.hidden_dim, config.layers,
                                        config.bidirectional, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_dim, config.num_classes)
        self.pooling = config.pooling
        self.vector_coverage: dict | None = None  # set by build_model when pretrained vectors are used

    def embed(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, PackedLayout]:
        layout = packed_layout(lengths, tokens.device)
        if layout.steps > tokens.shape[1]:
            raise ValueError(f"a length of {layout.steps} is longer than the batch's {tokens.shape[1]} tokens")
        packed_tokens = tokens[layout.sentence_of, layout.time_of]  # (N,)
        return self.dropout(self.embedding(packed_tokens)), layout           # (N, E)

    def pool(self, out: torch.Tensor, layout: PackedLayout) -> torch.Tensor:
        """Packed outputs (N, H*dirs) -> one vector per sentence (B, H*dirs), original order."""
        if self.pooling == "last":
            H = self.encoder.hidden_dim
            pooled = out[layout.last_index]  # (B, H*dirs); the backward direction ends at t = 0
            if self.encoder.directions == 2:
                first = torch.arange(len(layout.lengths), device=out.device)
                pooled = torch.cat([pooled[:, :H], out[first, H:]], 1)
        elif self.pooling == "mean":
            sums = out.new_zeros(len(layout.lengths), out.shape[1]).index_add(0, layout.row_of, out)
            pooled = sums / layout.lengths.unsqueeze(1).to(out.dtype)
        else:  # max over valid steps: padding is never a candidate
            B = len(layout.lengths)
            grid = out.new_full((layout.steps * B, out.shape[1]), float("-inf"))
            grid = grid.index_copy(0, layout.time_of * B + layout.row_of, out)
            pooled = grid.view(layout.steps, B, -1).amax(0)
        return pooled[layout.inverse]

    def classify(self, out: torch.Tensor, layout: PackedLayout) -> torch.Tensor:
        return self.head(self.dropout(self.pool(out, layout)))  # (B, C)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, bptt: int | None = None) -> torch.Tensor:
        # tokens: (B, T) padded with PAD_INDEX; lengths: (B,) -> logits (B, C)
        x, layout = self.embed(tokens, lengths)
        return self.classify(self.encoder(x, layout, bptt), layout)

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # embedded: (B, T, E) word vectors -> logits (B, C); lets callers take gradients w.r.t.
        # the vectors (attributions), which token indices cannot carry.
        layout = packed_layout(lengths, embedded.device)
        x = embedded[layout.sentence_of, layout.time_of]  # (N, E) packed
        return self.classify(self.encoder(self.dropout(x), layout), layout)

    def trace(self, tokens: torch.Tensor, lengths: torch.Tensor) -> Trace:
        """Forward pass with the top layer's left-to-right states kept as graph nodes.

        The top layer's forward direction is stepped over the full batch in its original order,
        freezing finished sentences, so `states[t]` is exactly the tensor h_{t+1} is computed
        from and autograd.grad(loss, states) is dLoss/dh_t through time.
        """
        enc = self.encoder
        x, layout = self.embed(tokens, lengths)
        for layer in range(enc.layers - 1):
            x = enc.run_layer(layer, enc.between_layers(x) if layer else x, layout)
        if enc.layers > 1:
            x = enc.between_layers(x)
        top = enc.layers - 1
        weights = enc.weights(top, 0)
        B, T = len(layout.lengths), layout.steps
        xp = weights.project(x)                                          # (N, G*H) packed, sorted
        grid = xp.new_zeros(T, B, xp.shape[1]).index_put((layout.time_of, layout.sentence_of), xp)
        lengths_orig = layout.lengths[layout.inverse]                     # (B,) original order
        w_hh_t = weights.w_hh.t()
        state = tuple(xp.new_zeros(B, enc.hidden_dim) for _ in range(enc.n_state))
        states, gate_steps = [], ([] if enc.cell in GATE_NAMES else None)
        for t in range(T):
            new = enc.step(grid[t], state, w_hh_t, weights.b_hn, gate_steps)  # (B, H) each
            running = (t < lengths_orig).unsqueeze(1)                          # (B, 1)
            state = tuple(torch.where(running, n, s) for n, s in zip(new, state))
            states.append(state[0])
        stacked = torch.stack(states)                                     # (T, B, H) original order
        forward_out = stacked[layout.time_of, layout.sentence_of]  # (N, H) packed
        if enc.directions == 2:
            forward_out = torch.cat([forward_out, enc.run_direction(top, 1, x, layout)], 1)
        gates = None
        if gate_steps is not None:
            mask = (torch.arange(T, device=xp.device).unsqueeze(0) < lengths_orig.unsqueeze(1)).unsqueeze(2)
            gates = {name: torch.stack([g[k] for g in gate_steps], 1).detach() * mask  # (B, T, H)
                     for k, name in enumerate(GATE_NAMES[enc.cell])}
        return Trace(self.classify(forward_out, layout), states, gates)


class TutorialClassifier(nn.Module):
    """The tutorial's SentimentRNN behind the common interface (batch-first tokens, lengths).

    Padding is processed as tokens, as the tutorial wrote it: `lengths` only names the
    sentences' real ends for callers; the output is log-probabilities (fine as logits).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.net = SentimentRNN(config.vocab_size, config.embedding_dim, config.hidden_dim, config.num_classes)
        self.vector_coverage: dict | None = None

    @property
    def embedding(self) -> nn.Embedding:
        return self.net.embedding

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, bptt: int | None = None) -> torch.Tensor:
        return self.net(tokens.t(), bptt=bptt)  # tokens (B, T) -> (T, B) as the tutorial expects

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # embedded: (B, T, E) word vectors -> log-probabilities (B, C); padding read as words, as forward
        return self.net.forward_embedded(embedded.transpose(0, 1))

    def trace(self, tokens: torch.Tensor, lengths: torch.Tensor) -> Trace:
        states: list[torch.Tensor] = []
        logits = self.net(tokens.t(), states=states)
        return Trace(logits, states, None)


# --------------------------------------------------------------------------------------------
# Pretrained vectors
# --------------------------------------------------------------------------------------------

class VectorFileError(ValueError):
    """A pretrained vector file that cannot be read as GloVe text."""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_glove_vectors(path, vocab, dim: int) -> tuple[torch.Tensor, dict]:
    """Rows for the vocabulary from a GloVe-format text file ("word v1 ... v_dim" per line).

    Words of the vocabulary without a vector get random rows with the found vectors' spread
    (so both kinds start on the same scale); the padding row is zero. Coverage counts the
    vocabulary's words (specials excluded): {"found", "total", "share"}.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no pretrained vector file at {path}; give the path of a GloVe-format text file")
    weights = torch.zeros(len(vocab), dim)
    found = torch.zeros(len(vocab), dtype=torch.bool)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # a word2vec-style header "count dimension"
            if parts == [""]:
                continue
            if len(parts) > dim + 1 and not _is_number(parts[-dim - 1]):
                parts = [" ".join(parts[:-dim]), *parts[-dim:]]  # a word with spaces (GloVe 840B has some)
            if len(parts) != dim + 1:
                raise VectorFileError(
                    f"{path} line {number}: expected a word and {dim} numbers, found {len(parts) - 1} numbers; "
                    f"the vectors must have embedding_dim={dim} dimensions (set embedding_dim to the file's size)")
            index = vocab.stoi.get(parts[0])
            if index is None or found[index]:
                continue
            try:
                weights[index] = torch.tensor([float(v) for v in parts[1:]])
            except ValueError:
                raise VectorFileError(f"{path} line {number}: a value after {parts[0]!r} is not a number") from None
            found[index] = True
    words = torch.ones(len(vocab), dtype=torch.bool)
    words[:len(SPECIALS)] = False
    n_found, total = int((found & words).sum()), int(words.sum())
    spread = float(weights[found].std()) if int(found.sum()) > 1 else 1.0
    missing = ~found
    weights[missing] = torch.randn(int(missing.sum()), dim) * spread
    weights[PAD_INDEX] = 0.0
    return weights, {"found": n_found, "total": total, "share": n_found / total if total else 0.0}


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------

def build_model(config: ModelConfig, vocab=None, load_vectors: bool = True) -> nn.Module:
    """The model a ModelConfig describes. `vocab` sizes the embedding and maps pretrained vectors.

    `load_vectors=False` skips reading `config.vectors` (a checkpoint's state_dict will supply
    the rows) but still freezes them when `freeze_vectors` is set.
    """
    vocab_size = config.vocab_size or (len(vocab) if vocab is not None else 0)
    if vocab is not None and config.vocab_size and config.vocab_size != len(vocab):
        raise ValueError(f"the model expects {config.vocab_size} words but the vocabulary has {len(vocab)}; "
                         "build the model from the run's own vocabulary")
    if vocab_size < len(SPECIALS):
        raise ValueError("vocab_size is not set: pass the vocabulary to build_model or set config.vocab_size")
    if config.cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {config.cell!r}")
    if config.pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {config.pooling!r}")
    if config.num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, not {config.num_classes!r}")
    config = replace(config, vocab_size=vocab_size)
    if config.tutorial:
        if (config.cell != "scratch" or config.layers != 1 or config.bidirectional or config.pooling != "last"
                or config.dropout):
            raise ValueError("the tutorial's model is one left-to-right scratch RNN layer read at its last step, "
                             "without dropout; set tutorial off to use other cells, layers, directions, pooling "
                             "or dropout")
        model = TutorialClassifier(config)
    else:
        model = RecurrentClassifier(config)
    if config.vectors:
        if load_vectors:
            if vocab is None:
                raise ValueError("pretrained vectors need the vocabulary: call build_model(config, vocab)")
            weights, coverage = load_glove_vectors(config.vectors, vocab, config.embedding_dim)
            with torch.no_grad():
                model.embedding.weight.copy_(weights)
            model.vector_coverage = coverage
        model.embedding.weight.requires_grad_(not config.freeze_vectors)
    return model


def gradient_through_time(model: nn.Module, batch_tokens: torch.Tensor, lengths: torch.Tensor,
                          labels: torch.Tensor) -> list[float]:
    """Norm of dLoss/dh_t for t = 0..T-1 (mean cross-entropy over the batch).

    Only sentences still running at step t count; the model is put in eval mode (no dropout)
    for the measurement and returned to its previous mode.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            trace = model.trace(batch_tokens, lengths)
            loss = F.cross_entropy(trace.logits, labels)
            grads = torch.autograd.grad(loss, trace.states, allow_unused=True)
    finally:
        model.train(was_training)
    norms = []
    for t, grad in enumerate(grads):
        running = (lengths.to(trace.logits.device) > t)
        norms.append(0.0 if grad is None else float(grad[running].norm()))
    return norms


__all__ = ["RNNLayer", "SentimentRNN", "RecurrentClassifier", "TutorialClassifier", "RecurrentEncoder", "Trace",
           "PackedLayout", "packed_layout", "build_model", "count_parameters", "load_glove_vectors",
           "VectorFileError", "gradient_through_time", "GATE_NAMES"]
