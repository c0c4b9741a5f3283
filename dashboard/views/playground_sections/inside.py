"""Inside the network: the few hidden units that move most for this sentence, their gates, and the
whole state on demand.

Which units: sentiment_core.analysis.hidden_units (largest range over the tokens). Colours:
theme STATE_SCALE for states and tanh gates (-1..1), GATE_SCALE for sigmoid gates (0..1), each
with its labelled colour bar.
"""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.charts import playground as charts
from dashboard.views.playground_sections.common import K, Sentence
from sentiment_core.analysis.hidden_units import DEFAULT_UNITS, most_moving_units, order_by_last_value, unit_rows

SQUASHED_GATES = {"cell", "new"}  # tanh candidates: -1..1; the other gates are sigmoids: 0..1


def inside_the_network(sentence: Sentence) -> None:
    inside = resources.inside(sentence.run.path, sentence.max_tokens, sentence.text)
    if inside.note:
        st.caption(inside.note)
    hidden = len(inside.states)
    count = hidden if hidden < 2 else st.slider(
        "Units to show", 1, min(32, hidden), min(DEFAULT_UNITS, hidden), key=K + "unit_count",
        help="The units whose value moves most over this sentence (largest range), most first.")
    units = most_moving_units(inside.states, count)
    st.caption(f"The {count} of {hidden} units of h_t that move most while reading this sentence; the others "
               "change less. Hover a cell for its value.")
    st.plotly_chart(charts.units_by_tokens_heatmap(inside.tokens, unit_rows(inside.states, units),
                                                   "Hidden state h_t", units),
                    key=K + "states")
    cell = sentence.predictor.cell
    if inside.gates:
        gate = st.radio("Gate", list(inside.gates), horizontal=True, key=K + "gate",
                        help="The same units as above, at each token.")
        st.plotly_chart(charts.units_by_tokens_heatmap(inside.tokens, unit_rows(inside.gates[gate], units),
                                                       f"{cell.upper()} {gate} gate", units,
                                                       gate=gate not in SQUASHED_GATES),
                        key=K + "gates")
    else:
        st.caption(f"A {cell} cell has no gates: its state is tanh(W_xh x_t + W_hh h_(t-1) + b).")
    with st.expander(f"The whole hidden state: all {hidden} units"):
        whole_state(inside)


def whole_state(inside) -> None:
    ordered = st.checkbox("Order the units by their value at the end of the sentence", value=True,
                          key=K + "order_units", help="Otherwise by unit number.")
    order = order_by_last_value(inside.states) if ordered else list(range(len(inside.states)))
    st.plotly_chart(charts.units_by_tokens_heatmap(inside.tokens, unit_rows(inside.states, order),
                                                   "Hidden state h_t (units by tokens)", order),
                    key=K + "all_states")
