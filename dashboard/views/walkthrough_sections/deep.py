"""Walkthrough section: deep (stacked) recurrent networks: live shapes and parameter counts, the stack's
states for the sentence, and the gradient each layer receives at depths 1, 2 and 3 (measured)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.theme import presented
from dashboard import resources
from dashboard.charts import walkthrough as charts
from dashboard.charts.unrolled import stacked_svg
from dashboard.views.walkthrough_sections.frame import sentence_frame
from sentiment_core.analysis.lessons import stacked
from sentiment_core.analysis.lessons.walk_sentence import TREEBANK_SENTENCES, token_labels

COMPARISON_HIDDEN = 64  # hidden size of the depth comparison: one cached measurement per cell


def show_deep() -> None:
    st.markdown(
        "A **deep** (stacked) RNN feeds the states of one recurrent layer, word by word, as the inputs of the "
        "next: the lower layer reads words, the upper one reads what the lower made of them. A **bidirectional** "
        "layer runs a second cell from the last word back to the first and puts both states side by side, so "
        "each position sees the whole sentence.")
    frame = sentence_frame()
    if frame is None:
        return
    controls, figure, sentence = frame
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
    show_stack(cell, sentence, hidden, layers)
    show_depth_comparison(cell)


STATE_UNITS = 4  # units of each layer's state written out


def show_stack(cell: str, sentence, hidden: int, layers: int) -> None:
    """The stack unrolled over the sentence, and what each layer holds at each word."""
    st.subheader("The stack, word by word")
    st.html(stacked_svg(sentence.tokens, layers, "Each row is one layer; scroll sideways when the sentence is longer "
                                                 "than the screen."))
    states = stacked.layer_states(cell, sentence.x, hidden, layers)
    units = min(STATE_UNITS, hidden)
    st.plotly_chart(presented(charts.layer_states_figure([s.tolist() for s in states], token_labels(sentence.tokens), units,
                                               f"The first {units} units of each layer's state, at every word")),
                    key="wt_deep_states_chart")
    st.caption(f"A seeded, untrained {cell.upper()} stack of {layers} layer{'s' if layers > 1 else ''} of {hidden} "
               "units (one direction), run on this sentence: layer 1 reads the word vectors, each layer above reads "
               "the states of the layer below, word by word.")


def show_depth_comparison(cell: str) -> None:
    """Why depth is harder to optimise, measured: each layer's gradient in networks of 1, 2 and 3 layers."""
    st.subheader("Why depth is harder to optimise")
    results = resources.depth_gradients(cell, COMPARISON_HIDDEN, TREEBANK_SENTENCES)
    st.plotly_chart(presented(charts.depth_gradients_figure(results, f"{cell.upper()}: the gradient each layer's weights "
                                                           "receive, by depth")), key="wt_deep_depth_chart")
    st.markdown(depth_text(results))
    st.caption(f"Measured now, before any training: seeded {cell.upper()} stacks of {COMPARISON_HIDDEN} units and a "
               f"linear classifier on the top layer's last state read the {len(TREEBANK_SENTENCES)} sentences of the "
               "picker; the loss is the cross-entropy against labels drawn at random (untrained, the labels do not "
               "change the sizes); each bar is the norm of ∂L/∂(that layer's weights), averaged over 4 draws of "
               "the weights.")


def depth_text(results) -> str:
    """The comparison in words: how much smaller the first layer's gradient is than the top's, and than alone."""
    alone = results[0].per_layer[0]
    deepest = results[-1]
    first, top = deepest.per_layer[0], deepest.per_layer[-1]
    return (f"In the {deepest.layers}-layer network the first layer, the one that reads the words, receives "
            f"**{top / first:.1f}×** less gradient than the top layer, and **{alone / first:.1f}×** less than the "
            "same layer alone in a 1-layer network. The gradient reaches a lower layer only through every layer "
            "above it, each one multiplying it by its Jacobian, as backpropagation through time does along the "
            "sentence: in depth as well as in time, the early parts learn slowest. Hence deep RNNs need care "
            "(few layers, dropout between them, residual connections, layer normalisation) and rarely go beyond "
            "2 to 4 layers.")
