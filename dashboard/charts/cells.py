"""The LSTM and GRU cells drawn by hand as SVG, with the additive path (the LSTM's cell state, the
GRU's update) drawn thick along the top: the path the gradient travels back with only a gate
multiplying it at each step. Each gate box can carry its value for one unit of the current step.

Plain data in, HTML out (an <img> of the SVG, as charts/unrolled.py does); testable without Streamlit.
"""
from __future__ import annotations

import base64
from html import escape
from typing import Mapping

from dashboard.theme import GATE_SCALE, NOTE_COLOUR, STATE_POSITIVE, TRAIN_COLOUR

TEXT, BOX_FILL, OP_FILL = "#222222", "#f2f2f2", "#ffffff"
PATH_COLOUR = STATE_POSITIVE     # the additive path (brown, the states' colour)
GATE_FILL = GATE_SCALE[-1][1]    # teal: a gate
WIDTH, HEIGHT = 620, 330

# Each cell: (name, activation, x of its box) for the gate boxes on the bottom row.
LSTM_GATES = (("f", "σ", 120), ("i", "σ", 212), ("g", "tanh", 308), ("o", "σ", 410))
GRU_GATES = (("r", "σ", 140), ("z", "σ", 240), ("n", "tanh", 360))
TOP, GATE_Y, BUS_Y = 60, 210, 290


def _text(x: float, y: float, label: str, size: int = 15, colour: str = TEXT, weight: str = "normal",
          anchor: str = "middle") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
            f'fill="{colour}">{escape(label)}</text>')


def _line(x1, y1, x2, y2, colour: str = NOTE_COLOUR, width: float = 1.5, arrow: bool = True) -> str:
    marker = ' marker-end="url(#cell-arrow)"' if arrow else ""
    return (f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="{colour}" '
            f'stroke-width="{width}"{marker}/>')


def _op(x: float, y: float, symbol: str) -> str:
    """A pointwise operation: a small circle with × or + in it."""
    return (f'<circle cx="{x:.0f}" cy="{y:.0f}" r="13" fill="{OP_FILL}" stroke="{NOTE_COLOUR}" stroke-width="1.5"/>'
            + _text(x, y + 5, symbol, 17))


def _gate(x: float, name: str, activation: str, value: float | None) -> str:
    """A gate box on the bottom row: its name and activation, and its value for the shown unit."""
    gate = activation == "σ"
    fill = GATE_FILL if gate else BOX_FILL
    colour = "#ffffff" if gate else TEXT
    box = (f'<rect x="{x - 40:.0f}" y="{GATE_Y - 22:.0f}" width="80" height="44" rx="6" fill="{fill}" '
           f'stroke="{TRAIN_COLOUR}" stroke-width="1.5"/>' + _text(x, GATE_Y - 2, f"{name} = {activation}", 14,
                                                                      colour, "600"))
    if value is not None:
        box += _text(x, GATE_Y + 15, f"{value:.3f}", 13, colour)
    return box


def _frame(parts: list[str], label: str) -> str:
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'role="img" aria-label="{escape(label)}">'
           '<defs><marker id="cell-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" markerHeight="10" '
           f'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           f'fill="{NOTE_COLOUR}"/></marker></defs>'
           + "".join(parts) + "</svg>")
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return (f'<div class="wt-cell" style="overflow-x:auto;border:1px solid #e6e6e6;border-radius:8px;padding:6px">'
            f'<img src="{source}" width="{WIDTH}" height="{HEIGHT}" '
            # scales down to its column, but no smaller than its labels can be read (then it scrolls)
            f'style="max-width:100%;min-width:{WIDTH * 3 // 4}px;height:auto" alt="{escape(label)}"/></div>')


def _inputs_bus(gates: tuple, previous: str) -> list[str]:
    """[h_{t-1}, x_t] along the bottom, feeding every gate box from below."""
    left, right = 40, gates[-1][2]
    parts = [_line(left, BUS_Y, right, BUS_Y, arrow=False),
             _text(left - 4, BUS_Y + 22, f"{previous} and xₜ (the word) feed every gate", 13, NOTE_COLOUR,
                   anchor="start")]
    parts += [_line(x, BUS_Y, x, GATE_Y + 24) for _, _, x in gates]
    return parts


def svg_values(values: Mapping[str, float] | None, name: str) -> float | None:
    return None if values is None or name not in values else float(values[name])


def _additive_path(state: str, values: Mapping[str, float] | None, multiply_x: int, add_x: int,
                   note: str) -> list[str]:
    """The thick path along the top of a cell: the state (c or h) from t-1, multiplied by a gate at
    `multiply_x`, added to at `add_x`, and its value at t written at the end."""
    shown = f" = {values[state]:.3f}" if values and state in values else ""
    return [_text(12, TOP - 22, f"{state}ₜ₋₁", 15, PATH_COLOUR, "600", "start"),
            _line(20, TOP, multiply_x - 15, TOP, PATH_COLOUR, 4), _op(multiply_x, TOP, "×"),
            _line(multiply_x + 13, TOP, add_x - 15, TOP, PATH_COLOUR, 4), _op(add_x, TOP, "+"),
            _line(add_x + 13, TOP, WIDTH - 20, TOP, PATH_COLOUR, 4),
            _text(WIDTH - 12, TOP - 22, f"{state}ₜ{shown}", 15, PATH_COLOUR, "600", "end"),
            _text(80, TOP - 22, note, 13, PATH_COLOUR, anchor="start")]


def lstm_cell_html(values: Mapping[str, float] | None = None, caption: str = "") -> str:
    """The LSTM cell; `values` (one unit's i, f, g, o, c, h at the current step) written in its boxes."""
    forget_x, add_x, out_x = 120, 260, 500
    parts = [
        *_additive_path("c", values, forget_x, add_x, "the additive path: ∂cₜ/∂cₜ₋₁ = fₜ"),
        _line(forget_x, GATE_Y - 22, forget_x, TOP + 15),                     # f multiplies c_{t-1}
        _op(260, 140, "×"), _line(212, GATE_Y - 22, 250, 150), _line(308, GATE_Y - 22, 270, 150),  # i × g
        _line(add_x, 127, add_x, TOP + 15),                                     # ... added to the cell
        _line(out_x, TOP, out_x, 105, arrow=False), _text(out_x + 8, 122, "tanh", 13, TEXT, anchor="start"),
        _line(out_x, 128, out_x, 168), _op(out_x, 182, "×"), _line(410 + 40, GATE_Y, out_x - 14, 186),
        _line(out_x + 13, 182, WIDTH - 20, 182),
        _text(WIDTH - 12, 172, "hₜ" + (f" = {values['h']:.3f}" if values and "h" in values else ""), 15, TEXT,
              "600", "end"),
    ]
    parts += [_gate(x, name, act, svg_values(values, name)) for name, act, x in LSTM_GATES]
    parts += _inputs_bus(LSTM_GATES, "hₜ₋₁")
    label = "an LSTM cell: the cell state runs along the top, multiplied by f and added to"
    return _frame(parts, label) + _note(caption)


def gru_cell_html(values: Mapping[str, float] | None = None, caption: str = "") -> str:
    """The GRU cell; `values` (one unit's r, z, n, h at the current step) written in its boxes."""
    keep_x, add_x = 240, 440
    parts = [
        *_additive_path("h", values, keep_x, add_x, "the additive path: ∂hₜ/∂hₜ₋₁ ∋ zₜ"),
        _line(keep_x, GATE_Y - 22, keep_x, TOP + 15),                          # z keeps h_{t-1}
        _op(add_x, 140, "×"), _line(360 + 40, GATE_Y - 10, add_x - 10, 150),  # (1 - z) × n ...
        _text(add_x + 18, 132, "(1 − z)", 13, TEXT, anchor="start"), _line(add_x, 127, add_x, TOP + 15),
        _line(140 + 40, GATE_Y, 200, GATE_Y, arrow=False), _line(280, GATE_Y, 360 - 42, GATE_Y),
        _text(250, GATE_Y - 30, "r scales hₜ₋₁ inside n", 13, NOTE_COLOUR, anchor="start"),
    ]
    parts += [_gate(x, name, act, svg_values(values, name)) for name, act, x in GRU_GATES]
    parts += _inputs_bus(GRU_GATES, "hₜ₋₁")
    return _frame(parts, "a GRU cell: the state runs along the top, kept by z and mixed with the candidate") + \
        _note(caption)


def _note(caption: str) -> str:
    return f'<div style="font-size:0.85rem;color:{NOTE_COLOUR}">{escape(caption)}</div>' if caption else ""
