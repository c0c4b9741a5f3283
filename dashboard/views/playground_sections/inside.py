"""Inside the network: the few hidden units that move most for this sentence, their gates, and the
whole state on demand.

Which units: sentiment_core.analysis.inference.hidden_units (largest range over the tokens). Colours:
theme STATE_SCALE for states and tanh gates (-1..1), GATE_SCALE for sigmoid gates (0..1), each
with its labelled colour bar.
"""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.charts import playground as charts
from dashboard.escape import escape_markdown
from dashboard.views.playground_sections.common import K, Sentence
from sentiment_core import glossary
from sentiment_core.analysis.inference.hidden_units import DEFAULT_UNITS, most_moving_units, order_by_last_value, unit_rows

HIDDEN = glossary.TERMS["hidden state"].name


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
                                                   f"{HIDDEN.capitalize()} h_t", units),
                    key=K + "states")
    cell = sentence.predictor.cell
    if inside.gates:
        gate_part(inside, cell, units)
    else:
        st.caption(f"A {glossary.cell_name(cell)} cell has no gates: its {HIDDEN} is "
                   "tanh(W_xh x_t + W_hh h_(t-1) + b).")
    with st.expander(f"The whole {HIDDEN}: all {hidden} units"):
        whole_state(inside)


def gate_part(inside, cell: str, units: list[int]) -> None:
    """One gate (or the candidate) of the same units, named as the walkthrough names it (sentiment_core.glossary)."""
    letters = {key: glossary.model_part(cell, key) for key in inside.gates}
    key = st.radio("Gate or candidate", list(inside.gates), horizontal=True, key=K + "gate",
                   format_func=lambda k: glossary.part_label(cell, letters[k]),
                   help="The same units as above, at each token. Gates are sigmoids (0 closed, 1 open); the "
                        "candidate is a tanh value (-1 to 1), the new content the cell could write.")
    term, label = glossary.part_term(cell, letters[key]), glossary.part_label(cell, letters[key])
    st.plotly_chart(charts.units_by_tokens_heatmap(inside.tokens, unit_rows(inside.gates[key], units),
                                                   f"{glossary.cell_name(cell)} {label}", units, gate=term.gate),
                    key=K + "gates")
    st.caption(escape_markdown(f"{term.name.capitalize()} {letters[key]}_t: {term.meaning}."))  # h_{t-1} as typed


def whole_state(inside) -> None:
    ordered = st.checkbox("Order the units by their value at the end of the sentence", value=True,
                          key=K + "order_units", help="Otherwise by unit number.")
    order = order_by_last_value(inside.states) if ordered else list(range(len(inside.states)))
    st.plotly_chart(charts.units_by_tokens_heatmap(inside.tokens, unit_rows(inside.states, order),
                                                   f"{HIDDEN.capitalize()} h_t (units by tokens)", order),
                    key=K + "all_states")
