"""Walkthrough section: the LSTM and GRU as the fix. Each cell drawn with its additive path, its gates
stepped by hand over the sentence (one unit worked out in full), every gate along the whole sentence,
and the keep gate beside the gradient it lets through; untrained (seeded) or trained weights."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

from dashboard.theme import presented
from dashboard import resources
from dashboard.charts import cells
from dashboard.charts import walkthrough as charts
from dashboard.escape import escape_markdown, escape_plotly
from dashboard.messages import user_message
from dashboard.views.walkthrough_sections import WALKTHROUGH, page_link
from dashboard.views.walkthrough_sections.measured import read_shipped_runs, visible_runs
from dashboard.views.walkthrough_sections.frame import sentence_frame
from sentiment_core import glossary
from sentiment_core.analysis.lessons import gates_by_hand
from sentiment_core.analysis.lessons.walk_sentence import sentence_inputs, token_labels
from sentiment_core.data.text import Tokenizer
from sentiment_core.pretrained import is_shipped, shipped_label
from sentiment_core.runs.store import RunError

EQUATIONS = {
    "lstm": [r"i_t = \sigma(W_i x_t + U_i h_{t-1} + b_i), \quad f_t = \sigma(W_f x_t + U_f h_{t-1} + b_f)",
             r"g_t = \tanh(W_g x_t + U_g h_{t-1} + b_g), \quad o_t = \sigma(W_o x_t + U_o h_{t-1} + b_o)",
             r"c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t)"],
    "gru": [r"r_t = \sigma(W_r x_t + U_r h_{t-1} + b_r), \quad z_t = \sigma(W_z x_t + U_z h_{t-1} + b_z)",
            r"n_t = \tanh\big(W_n x_t + b_n + r_t \odot (U_n h_{t-1} + b_{hn})\big)",
            r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}"],
}
SHOWN_INPUTS = 4  # entries of x_t written out


def vector(values, most: int | None = None) -> str:
    shown = [f"{float(v):.2f}" for v in (values[:most] if most else values)]
    more = r", \dots" if most and len(values) > most else ""
    return r"\begin{bmatrix}" + r" & ".join(shown) + more + r"\end{bmatrix}"


WEIGHTS = {"untrained": "untrained (seeded)", "trained": "trained"}
SHIPPED_LSTM_NOTE = ("The shipped LSTM (`walkthrough-lstm`) comes with its gradient probes only, not its weights. "
                     "Train the vanilla RNN and the LSTM in section 6 (seconds) and that LSTM appears here.")


@dataclass
class GateCell:
    module: object            # nn.LSTMCell / nn.GRUCell
    x: torch.Tensor           # (T, E) the sentence as this cell's model reads it
    about: str                # where the weights come from, for the caption


def trained_sources(cell: str) -> dict[str, Path]:
    """label -> run folder of the trained models whose first layer is this cell: the shipped ones that
    hold weights (the playground's GRU), then the visitor's runs."""
    sources = {}
    for run in [*read_shipped_runs(), *visible_runs(resources.runs_root())]:
        if run.config is not None and run.config.model.cell == cell and run.has_checkpoint:
            sources[shipped_label(run) if is_shipped(run) else f"{run.name} (your run)"] = run.path
    return sources


def choose_cell(where, cell: str, sentence, units: int) -> GateCell | None:
    """The cell the section steps: a seeded one of `units` units, or a trained run's first layer."""
    if st.session_state["wt_gate_weights"] == "untrained":
        module = gates_by_hand.seeded_gate_cell(cell, sentence.x.shape[1], units, seed=0)
        return GateCell(module, sentence.x, f"a fresh, seeded {cell.upper()} of {units} units")
    sources = trained_sources(cell)
    if not sources:
        where.info(SHIPPED_LSTM_NOTE)
        return None
    label = where.selectbox("trained model", list(sources), key="wt_gate_source")
    run_dir = sources[label]
    try:
        module = resources.trained_gate_cell(run_dir, cell)
        vocab, weight = resources.run_embedding(run_dir)
        x = sentence_inputs(sentence.text, Tokenizer(), vocab, weight).x
    except (RunError, OSError, ValueError) as err:
        where.error(f"That model could not be read: {user_message(err)}")
        return None
    note = f" {SHIPPED_LSTM_NOTE}" if cell == "lstm" else ""
    return GateCell(module, x, f"the first layer of {escape_markdown(label)}, {module.hidden_size} units, the first {units} shown; "
                               f"its own word vectors{note}")


def show_gates() -> None:
    st.markdown(
        "A vanilla cell rewrites its whole state at every word, which is why its gradient fades (section 4). The "
        "**LSTM** and the **GRU** add *gates*: vectors of numbers between 0 (closed) and 1 (open), computed from "
        "the word and the state, that decide how much to keep, write and show. Their fix is the path along the "
        "top of each diagram: the state passes from word to word multiplied only by a gate, and *added* to, never "
        "squashed, so the gradient can travel back along it.")
    frame = sentence_frame()
    if frame is None:
        return
    controls, figure, sentence = frame
    for key, value in {"wt_gate_cell": "lstm", "wt_gate_units": 4, "wt_gate_weights": "untrained",
                       "wt_gate_unit": 1}.items():
        st.session_state.setdefault(key, value)
    cell = controls.radio("cell", gates_by_hand.GATE_CELLS, key="wt_gate_cell", horizontal=True, format_func=str.upper)
    controls.radio("weights", list(WEIGHTS), key="wt_gate_weights", horizontal=True, format_func=WEIGHTS.get)
    units = controls.slider("units", 2, 8, key="wt_gate_units",
                            help="Untrained: the size of the fresh cell. Trained: how many of its units are shown.")
    chosen = choose_cell(controls, cell, sentence, units)
    if chosen is None:
        return
    units = min(units, chosen.module.hidden_size)
    labels = token_labels(sentence.tokens)
    if st.session_state.get("wt_gate_step") not in labels:  # the third word: h_{t-1} is no longer zero
        st.session_state["wt_gate_step"] = labels[min(2, len(labels) - 1)]
    label = controls.select_slider("step t (the word read)", labels, key="wt_gate_step", format_func=escape_markdown)
    st.session_state["wt_gate_unit"] = min(int(st.session_state["wt_gate_unit"]), units)
    unit = controls.selectbox("unit worked out by hand", list(range(1, units + 1)), key="wt_gate_unit")
    t = labels.index(label) + 1
    steps = gates_by_hand.walk_gates(cell, chosen.module, chosen.x)
    step = steps[t - 1]
    hand = gates_by_hand.hand_computation(cell, chosen.module, step, chosen.x[t - 1], unit - 1)
    with figure:
        diagram = cells.lstm_cell_html if cell == "lstm" else cells.gru_cell_html
        st.html(diagram({line.name: line.value for line in hand},
                        f"Step {t}, unit {unit}: each box holds its value for “{sentence.tokens[t - 1]}”."))
        for line in EQUATIONS[cell]:
            st.latex(line)
        st.latex(f"x_{{{t}}} = \\text{{“{_latex_text(sentence.tokens[t - 1])}”}} = "
                 f"{vector(chosen.x[t - 1], SHOWN_INPUTS)}")
        st.latex(f"h_{{{t - 1}}} = {vector(step.h_prev, units)}")
        st.caption(f"x_{t} has {chosen.x.shape[1]} entries; the first {SHOWN_INPUTS} are written out. The weights are "
                   f"{chosen.about}.")
        parts = {name: step.parts[name][:units].tolist() for name in gates_by_hand.PARTS[cell]}
        st.plotly_chart(presented(charts.gate_figure(parts, gates_by_hand.GATES, f"Step {t}: reading “{escape_plotly(sentence.tokens[t - 1])}”")),
                        key="wt_gate_chart")
        st.caption("Gates on white (0, closed) to teal (1, open); candidates and states on blue (−1) to brown (+1). "
                   + " ".join(f"**{n}**: {what}." for n, what in gates_by_hand.PARTS[cell].items()))
        st.markdown(f"**Unit {unit} by hand** (each sum: the word's part W·x, its bias, the state's part "
                    "U·h_{t−1}, its bias):")
        st.code("\n".join(hand_lines(hand)), language="text")
    show_gates_over_sentence(cell, chosen, steps, labels, units)


def hand_lines(hand: list) -> list[str]:
    """'f = σ(1.812 + 0.451 + 0.051 − 0.175) = σ(2.138) = 0.895', one line per part."""
    return [f"{line.name} = {line.formula} = {line.value:.3f}".replace("-", "−") for line in hand]


def show_gates_over_sentence(cell: str, chosen: GateCell, steps: list, labels: list[str], units: int) -> None:
    """Every step at once: one part along the sentence, then the keep gate beside the gradient it lets through."""
    keep = gates_by_hand.KEEP_GATE[cell]
    st.subheader("Over the whole sentence")
    names = list(gates_by_hand.PARTS[cell])
    if st.session_state.get("wt_gate_part") not in names:
        st.session_state["wt_gate_part"] = keep
    part = st.radio("show", names, key="wt_gate_part", horizontal=True,
                    format_func=lambda n: f"{n}: {glossary.part_term(cell, n).name}")  # one name per concept
    values = [s.parts[part][:units].tolist() for s in steps]
    st.plotly_chart(presented(charts.gate_over_sentence_figure(values, labels, part, part in gates_by_hand.GATES,
                                                     list(range(1, units + 1)),
                                                     f"{part} at every word, unit by unit")), key="wt_gate_sentence_chart")
    path = gates_by_hand.additive_path(cell, chosen.module, chosen.x)
    keep_rows = path.keep.tolist()
    st.plotly_chart(presented(charts.additive_path_figure(labels, keep_rows, keep, path.measured, path.path_only,
                                                f"The {keep} gate along the sentence, beside the gradient it lets through")),
                    key="wt_gate_path_chart")
    state = "c" if cell == "lstm" else "h"
    st.markdown(
        f"Along the additive path, one step back multiplies the gradient by the gate alone: "
        f"∂{state}_t/∂{state}_{{t−1}} {'=' if cell == 'lstm' else '∋'} diag({keep}_t), with no W_hh and no "
        "tanh′. "
        f"Where {keep}_t stays near 1 the dotted line stays flat and the gradient reaches early words; where it "
        f"closes, the word is forgotten on purpose. The solid line is what autograd measures through every path "
        f"of this cell, for L = u·h_T as in section 4. Section 6 measures the same quantity, ‖∂L/∂h_t‖, on "
        "trained models over a dev batch: the LSTM's curve fades far more slowly than the vanilla RNN's for this "
        "reason.")
    page_link(WALKTHROUGH, "Section 6: the gradient measured on trained models", {"section": "6"},
              icon=":material/show_chart:")


def _latex_text(token: str) -> str:
    """A token inside \\text{}: LaTeX's special characters escaped (a visitor's words)."""
    specials = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\^{}",
                "_": r"\_", "%": r"\%", "~": r"\~{}"}
    return "".join(specials.get(ch, ch) for ch in token)
