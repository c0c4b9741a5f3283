"""Walkthrough section: deep (stacked) recurrent networks, with live shapes and parameter counts."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.views.walkthrough_sections.sentence import pick_sentence
from sentiment_core.analysis import stacked


def show_deep() -> None:
    st.markdown(
        "A **deep** (stacked) RNN feeds the states of one recurrent layer, word by word, as the inputs of the "
        "next: the lower layer reads words, the upper one reads what the lower made of them. A **bidirectional** "
        "layer runs a second cell from the last word back to the first and puts both states side by side, so "
        "each position sees the whole sentence.")
    controls, figure = st.columns([1, 2], gap="large")
    sentence = pick_sentence(controls)
    if sentence is None:
        return
    for key, value in {"wt_deep_cell": "lstm", "wt_deep_layers": 2, "wt_deep_hidden": 64, "wt_deep_bi": False}.items():
        st.session_state.setdefault(key, value)
    cell = controls.radio("cell", stacked.DEEP_CELLS, key="wt_deep_cell", horizontal=True, format_func=str.upper)
    layers = controls.slider("layers", 1, stacked.MAX_LAYERS, key="wt_deep_layers")
    hidden = controls.select_slider("hidden size H", [8, 16, 32, 64, 128, 256], key="wt_deep_hidden")
    bidirectional = controls.toggle("bidirectional", key="wt_deep_bi")
    summary = stacked.stacked_summary(cell, sentence.x, hidden, layers, bidirectional)
    T, _, E = summary.input_shape
    d = summary.directions
    rows = [{"layer": row.layer, "reads x_t of size": row.input_size, "h_t per direction": f"(1, {hidden})",
             "outputs (T, B, D·H)": f"({T}, 1, {d * hidden})", "parameters": f"{row.parameters:,}",
             "formula": row.formula} for row in summary.layers]
    with figure:
        st.markdown(f"The encoder `RecurrentEncoder('{cell}', {E}, {hidden}, layers={layers}, "
                    f"bidirectional={bidirectional})` from `sentiment_core.models`, run on this sentence:")
        a, b, c = st.columns(3)
        a.metric("input (T, B, E)", str(summary.input_shape))
        b.metric("output: top layer's h_t", str(summary.output_shape))
        c.metric("final states h_T", str(summary.final_state_shape), help="one per layer and direction")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        blocks = stacked.GATE_BLOCKS[cell]
        st.latex(r"\text{parameters per layer} = D \times " + (f"{blocks} \\times " if blocks > 1 else "")
                 + r"\big(H\,(D_{in} + H) + 2H\big)")
        st.caption(f"D = {d} direction{'s' if d > 1 else ''}; {blocks} weight block{'s' if blocks > 1 else ''} per "
                   f"layer ({'candidate only' if blocks == 1 else 'the candidate and the gates'}); D_in is {E} for the "
                   f"first layer (the word vectors) and D·H = {d * hidden} above it; torch keeps two biases per block. "
                   f"Counted on the module: **{summary.total:,}** parameters in all.")
