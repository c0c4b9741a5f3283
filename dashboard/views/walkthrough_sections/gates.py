"""Walkthrough section: the LSTM and GRU gates stepped by hand over the sentence, with the numbers."""
from __future__ import annotations

import streamlit as st

from dashboard.charts import walkthrough as charts
from dashboard.views.walkthrough_sections.sentence import pick_sentence
from sentiment_core.analysis import gates_by_hand
from sentiment_core.analysis.walk_sentence import token_labels

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


def show_gates() -> None:
    st.markdown(
        "A vanilla cell rewrites its whole state at every word, which is why its gradient fades. The **LSTM** and "
        "the **GRU** add *gates*: vectors of numbers between 0 (closed) and 1 (open), computed from the word and "
        "the state, that decide how much to keep, write and show. Step through the sentence and watch them.")
    controls, figure = st.columns([1, 2], gap="large")
    sentence = pick_sentence(controls)
    if sentence is None:
        return
    st.session_state.setdefault("wt_gate_cell", "lstm")
    st.session_state.setdefault("wt_gate_units", 4)
    cell = controls.radio("cell", gates_by_hand.GATE_CELLS, key="wt_gate_cell", horizontal=True, format_func=str.upper)
    units = controls.slider("hidden units", 2, 8, key="wt_gate_units")
    labels = token_labels(sentence.tokens)
    if st.session_state.get("wt_gate_step") not in labels:
        st.session_state["wt_gate_step"] = labels[0]
    label = controls.select_slider("step t (the word read)", labels, key="wt_gate_step")
    t = labels.index(label) + 1
    module = gates_by_hand.seeded_gate_cell(cell, sentence.x.shape[1], units, seed=0)
    step = gates_by_hand.walk_gates(cell, module, sentence.x)[t - 1]
    with figure:
        for line in EQUATIONS[cell]:
            st.latex(line)
        st.latex(f"x_{{{t}}} = \\text{{“{_latex_text(sentence.tokens[t - 1])}”}} = "
                 f"{vector(sentence.x[t - 1], SHOWN_INPUTS)}, \\quad h_{{{t - 1}}} = {vector(step.h_prev)}")
        st.caption(f"x_{t} has {sentence.x.shape[1]} entries; the first {SHOWN_INPUTS} are written out. The weights "
                   f"are a fresh, seeded {cell.upper()} of {units} units, so every number below can be redone by hand.")
        parts = {name: step.parts[name].tolist() for name in gates_by_hand.PARTS[cell]}
        st.plotly_chart(charts.gate_figure(parts, gates_by_hand.GATES, f"Step {t}: reading “{sentence.tokens[t - 1]}”"),
                        key="wt_gate_chart")
        st.caption("Gates on white (0, closed) to teal (1, open); candidates and states on blue (−1) to brown (+1). "
                   + " ".join(f"**{n}**: {what}." for n, what in gates_by_hand.PARTS[cell].items()))


def _latex_text(token: str) -> str:
    """A token inside \\text{}: LaTeX's special characters escaped (a visitor's words)."""
    specials = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\^{}",
                "_": r"\_", "%": r"\%", "~": r"\~{}"}
    return "".join(specials.get(ch, ch) for ch in token)
