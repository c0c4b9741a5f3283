"""LSTM and GRU cells stepped by hand over a sentence: every gate of every step, as the equations say.

The weights are torch's own nn.LSTMCell / nn.GRUCell (seeded from a private generator); the
arithmetic is written out here gate by gate, and a test checks it against the cells' forward.
Gate rows in torch's weight layout: LSTM i, f, g, o; GRU r, z, n.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from sentiment_core import glossary
from sentiment_core.analysis.lessons.basics import build_without_init

GATE_CELLS = ("lstm", "gru")
# name -> what it is (the page's legend), named by sentiment_core.glossary like every other page
PARTS = {cell: {letter: glossary.part_description(cell, letter) for letter in glossary.CELL_PARTS[cell]}
         for cell in GATE_CELLS}
GATES = {letter for cell in GATE_CELLS for letter in glossary.CELL_PARTS[cell]
         if glossary.part_term(cell, letter).gate}  # sigmoids, 0..1; the rest are tanh values or states


@dataclass
class GateStep:
    t: int                               # 1-based position in the sentence
    parts: dict[str, torch.Tensor]       # name -> (H,) values, in PARTS order
    h_prev: torch.Tensor                 # (H,)
    c_prev: torch.Tensor | None          # (H,) for the LSTM


def seeded_gate_cell(cell: str, in_dim: int, hidden: int, seed: int = 0) -> nn.Module:
    """nn.LSTMCell or nn.GRUCell with PyTorch's default U(-1/sqrt(H), 1/sqrt(H)) weights, drawn from `seed`."""
    if cell not in GATE_CELLS:
        raise ValueError(f"cell must be one of {', '.join(GATE_CELLS)}, not {cell!r}")
    module = build_without_init(nn.LSTMCell if cell == "lstm" else nn.GRUCell, in_dim, hidden)
    generator = torch.Generator().manual_seed(seed)
    bound = 1.0 / math.sqrt(hidden)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-bound, bound, generator=generator)
    return module


def lstm_by_hand(cell: nn.LSTMCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> dict[str, torch.Tensor]:
    """One LSTM step, x (E,), h and c (H,): i f g o from W_i x + b_i + W_h h + b_h, then c_t, h_t."""
    pre = cell.weight_ih @ x + cell.bias_ih + cell.weight_hh @ h + cell.bias_hh
    i, f, g, o = pre.chunk(4)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_t = f * c + i * g
    return {"i": i, "f": f, "g": g, "o": o, "c": c_t, "h": o * torch.tanh(c_t)}


def gru_by_hand(cell: nn.GRUCell, x: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
    """One GRU step: r and z from input and state, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t."""
    from_x = (cell.weight_ih @ x + cell.bias_ih).chunk(3)
    from_h = (cell.weight_hh @ h + cell.bias_hh).chunk(3)
    r = torch.sigmoid(from_x[0] + from_h[0])
    z = torch.sigmoid(from_x[1] + from_h[1])
    n = torch.tanh(from_x[2] + r * from_h[2])
    return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}


def walk_gates(cell: str, module: nn.Module, inputs: torch.Tensor) -> list[GateStep]:
    """Every step of `module` over inputs (T, E) from zero states, each computed by hand."""
    hidden = module.hidden_size
    h, c = torch.zeros(hidden), torch.zeros(hidden)
    steps = []
    with torch.no_grad():
        for t, x in enumerate(inputs, start=1):
            parts = lstm_by_hand(module, x, h, c) if cell == "lstm" else gru_by_hand(module, x, h)
            steps.append(GateStep(t, parts, h, c if cell == "lstm" else None))
            h, c = parts["h"], parts.get("c", c)
    return steps


def cell_from_state(cell: str, model_state: dict, layer: int = 0) -> nn.Module:
    """The first (or `layer`-th) forward layer of a trained RecurrentClassifier as an nn.LSTMCell / nn.GRUCell.

    torch's nn.LSTM / nn.GRU and their cells share one weight layout (LSTM i, f, g, o; GRU r, z, n),
    so the trained tensors are copied as they are: the cell computes exactly what the trained layer does.
    """
    if cell not in GATE_CELLS:
        raise ValueError(f"cell must be one of {', '.join(GATE_CELLS)}, not {cell!r}")
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    found = {name: model_state.get(f"encoder.rnn.{name}_l{layer}") for name in names}
    if any(tensor is None for tensor in found.values()):
        raise ValueError(f"the checkpoint holds no {cell.upper()} layer {layer + 1} (encoder.rnn.*_l{layer})")
    blocks, in_dim = found["weight_ih"].shape
    hidden = found["weight_hh"].shape[1]
    if blocks != {"lstm": 4, "gru": 3}[cell] * hidden:
        raise ValueError(f"the checkpoint's layer is not an {cell.upper()} (weight_ih is {blocks} × {in_dim})")
    module = build_without_init(nn.LSTMCell if cell == "lstm" else nn.GRUCell, in_dim, hidden)
    with torch.no_grad():
        for name, tensor in found.items():
            getattr(module, name).copy_(tensor)
    return module


@dataclass
class HandLine:
    """One line of a hand computation: `name` = `formula` (its numbers written in) = `value`."""
    name: str
    formula: str
    value: float


def _affine(cell: nn.Module, x: torch.Tensor, h: torch.Tensor, block: int,
            unit: int) -> tuple[float, float, float, float]:
    """(W x)_unit, b_ih, (U h)_unit and b_hh of gate block `block` for one unit."""
    row = block * cell.hidden_size + unit
    return (float(cell.weight_ih[row] @ x), float(cell.bias_ih[row]), float(cell.weight_hh[row] @ h),
            float(cell.bias_hh[row]))


def _num(value: float) -> str:
    """A number as the hand computation writes it: 3 decimals, a true minus sign, negatives in brackets."""
    return f"({_plain(value)})" if value < 0 else _plain(value)


def _plain(value: float) -> str:
    return f"{value:.3f}".replace("-", "−")


def _sum(*terms: float) -> str:
    """'0.120 − 0.030 + 0.050': a sum written the way one adds it."""
    text = _plain(terms[0])
    for term in terms[1:]:
        text += f" {'−' if term < 0 else '+'} {abs(term):.3f}"
    return text


def _sigmoid_line(name: str, cell, x, h, block: int, unit: int) -> HandLine:
    terms = _affine(cell, x, h, block, unit)
    a = sum(terms)
    return HandLine(name, f"σ({_sum(*terms)}) = σ({_plain(a)})", 1 / (1 + math.exp(-a)))


def hand_computation(cell: str, module: nn.Module, step: GateStep, x: torch.Tensor, unit: int) -> list[HandLine]:
    """Every part of one step for one unit (0-based), written as sums of four numbers a learner can add:
    (W x)_unit, the input bias, (U h_{t-1})_unit and the recurrent bias, then the activation."""
    if not 0 <= unit < module.hidden_size:
        raise ValueError(f"unit must be 0 to {module.hidden_size - 1}, not {unit!r}")
    h = step.h_prev
    with torch.no_grad():
        if cell == "lstm":
            i, f, o = (_sigmoid_line(n, module, x, h, b, unit) for n, b in (("i", 0), ("f", 1), ("o", 3)))
            terms = _affine(module, x, h, 2, unit)
            g = HandLine("g", f"tanh({_sum(*terms)}) = tanh({_plain(sum(terms))})", math.tanh(sum(terms)))
            c_prev = float(step.c_prev[unit])
            c = HandLine("c", f"f·c_prev + i·g = {_num(f.value)}·{_num(c_prev)} + {_num(i.value)}·{_num(g.value)}",
                         f.value * c_prev + i.value * g.value)
            out = HandLine("h", f"o·tanh(c) = {_num(o.value)}·tanh({_plain(c.value)})", o.value * math.tanh(c.value))
            return [i, f, g, o, c, out]
        r, z = (_sigmoid_line(n, module, x, h, b, unit) for n, b in (("r", 0), ("z", 1)))
        wx, bi, uh, bh = _affine(module, x, h, 2, unit)
        n = HandLine("n", f"tanh({_sum(wx, bi)} + {_num(r.value)}·({_sum(uh, bh)}))",
                     math.tanh(wx + bi + r.value * (uh + bh)))
        h_prev = float(h[unit])
        mixed = f"{_num(1 - z.value)}·{_num(n.value)} + {_num(z.value)}·{_num(h_prev)}"
        out = HandLine("h", f"(1 − z)·n + z·h_prev = {mixed}", (1 - z.value) * n.value + z.value * h_prev)
        return [r, z, n, out]


# The gate on the additive path: c_t = f ⊙ c_{t-1} + ..., h_t = z ⊙ h_{t-1} + ...
KEEP_GATE = {"lstm": "f", "gru": "z"}


@dataclass
class AdditivePath:
    keep: torch.Tensor        # (T, H) the keep gate (LSTM f_t, GRU z_t) at every word
    measured: list[float]     # ||dL/dh_t|| by autograd, t = 1 .. T, relative to the last word
    path_only: list[float]    # the gradient carried by the additive path alone, (prod_{s>t} keep_s) ⊙ dL/d(state)_T


def additive_path(cell: str, module: nn.Module, inputs: torch.Tensor, seed: int = 0) -> AdditivePath:
    """The gradient of L = u · h_T (u a seeded unit vector, as in the BPTT section) at every word.

    `measured` is what autograd finds for dL/dh_t through every path of the cell; `path_only` is
    what the additive path alone carries: the LSTM's cell state (dc_t/dc_{t-1} = diag(f_t)), the
    GRU's update (dh_t/dh_{t-1} ⊇ diag(z_t)), from the state gradient at the last word. Both are
    relative to their value at the last word, as section 6's probes are.
    """
    steps = walk_gates(cell, module, inputs)
    keep = torch.stack([s.parts[KEEP_GATE[cell]] for s in steps])
    generator = torch.Generator().manual_seed(seed)
    u = torch.randn(module.hidden_size, generator=generator)
    u = u / u.norm()
    hs, cs = [], []
    h = c = torch.zeros(1, module.hidden_size)
    with torch.enable_grad():
        for x in inputs:
            if cell == "lstm":
                h, c = module(x.unsqueeze(0), (h, c))
                cs.append(c)
            else:
                h = module(x.unsqueeze(0), h)
            hs.append(h)
        # autograd.grad, not backward: the module may be a shared (cached) trained cell, whose .grad stays untouched
        grads = torch.autograd.grad((hs[-1][0] * u).sum(), hs + cs[-1:])
    measured = [float(g.norm()) for g in grads[:len(hs)]]
    last_state_grad = grads[-1][0]  # dL/dc_T (LSTM) or dL/dh_T (GRU)
    path = [float((last_state_grad * keep[t + 1:].prod(dim=0)).norm()) for t in range(len(hs))]
    return AdditivePath(keep, _relative(measured), _relative(path))


def _relative(norms: list[float]) -> list[float]:
    last = norms[-1]
    return [n / last if last > 0 else 0.0 for n in norms]
