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

from sentiment_core.analysis.lessons import build_without_init

GATE_CELLS = ("lstm", "gru")
# name -> (what it is, its activation): the page's legend and its colour scale (gates 0..1, states -1..1)
PARTS = {
    "lstm": {"i": "input gate (how much of the candidate to write)", "f": "forget gate (how much of c_{t-1} to keep)",
             "g": "candidate (what could be written)", "o": "output gate (how much of the cell to show)",
             "c": "cell state c_t", "h": "hidden state h_t"},
    "gru": {"r": "reset gate (how much of h_{t-1} the candidate sees)", "z": "update gate (how much of h_{t-1} to keep)",
            "n": "candidate (the new content)", "h": "hidden state h_t"},
}
GATES = {"i", "f", "o", "r", "z"}  # sigmoids, 0..1; the rest are tanh values or states


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
