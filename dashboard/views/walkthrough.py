"""Walkthrough: recurrent networks for sentiment analysis, told as a course would, with live code.

One section per screen (a slide deck for a classroom): the section is in the URL (?section=3),
with contents, progress, previous / next and a presenter mode (?present=1), in
walkthrough_sections/nav.py. Each section is a function in walkthrough_sections/*.py; every
number and chart is computed on the spot by sentiment_core.analysis (lessons, gradient_flow,
gates_by_hand, stacked, walk_sentence) or torch. This file only puts them in order.

The tutorial's own code is shown beside the numbers it computed (walkthrough_sections/code.py,
read from the modules by sentiment_core.analysis.lessons.tutorial_code); the sentence and settings live
in the URL (walkthrough_sections/linked.py), so a prepared link opens a section as set up.
"""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.views.walkthrough_sections import EXPLORER, VOCABULARY, page_link
from dashboard.views.walkthrough_sections.bptt import show_bptt, show_truncation
from dashboard.views.walkthrough_sections.cell import show_cell, show_unrolling
from dashboard.views.walkthrough_sections.deep import show_deep
from dashboard.views.walkthrough_sections.gates import show_gates
from dashboard.views.walkthrough_sections.measured import visible_runs, watch_probe_comparison
from dashboard.theme import presenter_fonts
from dashboard.views.walkthrough_sections.linked import keep_linked_values, settings_from_link, settings_to_link
from dashboard.views.walkthrough_sections.nav import current_section, presenting, show_contents, show_pager
from dashboard.views.walkthrough_sections.sentence import keep_widget_values
from dashboard.views.walkthrough_sections.story import show_memory, show_try_it
from dashboard.views.walkthrough_sections.tensors import show_text_to_tensors


def show_measured() -> None:
    st.markdown(
        "During training the project measures the real thing: after each epoch it takes a fixed dev batch, "
        "computes the loss and records ‖∂L/∂h_t‖ at every position (the *gradient-through-time probe* in a "
        "run's `metrics.jsonl`). A vanilla RNN multiplies the same Jacobians as in section 4; an LSTM carries its "
        "cell state through a sum gated by the forget gate, so its gradient fades far more slowly.")
    watch_probe_comparison(resources.runs_root())


def show_tensors() -> None:
    st.markdown(
        "A network multiplies numbers, not words. A review becomes a tensor in four moves: the tokenizer splits "
        "the text into tokens, the vocabulary maps each token to an index, the embedding table maps each index "
        "to a vector (the x_t of the sections before), and sentences of different lengths are padded into one "
        "rectangular batch.")
    show_text_to_tensors(visible_runs(resources.runs_root()))
    page_link(EXPLORER, "Browse the treebank's sentences and parse trees in the Dataset explorer",
              icon=":material/table_view:")
    page_link(VOCABULARY, "See the whole vocabulary, its coverage and padding by batch size", icon=":material/abc:")


SECTIONS = (
    ("Why a sentence needs memory", show_memory),
    ("The recurrent cell, word by word", show_cell),
    ("Unrolling through time", show_unrolling),
    ("Backpropagation through time", show_bptt),
    ("Truncated backpropagation through time", show_truncation),
    ("Train for real: gradients measured", show_measured),
    ("Gates: the LSTM and the GRU by hand", show_gates),
    ("Deep (stacked) RNNs", show_deep),
    ("From text to tensors", show_tensors),
    ("Try it yourself", show_try_it),
)
TITLES = [title for title, _ in SECTIONS]

refused = settings_from_link()   # a prepared link's sentence and settings, before any widget is drawn
keep_widget_values()
keep_linked_values()
current = current_section(len(SECTIONS))
show_contents(TITLES, current)
if refused:
    st.warning(f"This link's {', '.join(refused)} could not be used (not a value its control offers), so the "
               "section starts from its default there.")
if current == 1:
    st.markdown(
        "A short course in recurrent neural networks (RNNs) for sentiment analysis, one section per screen. "
        "Every number, chart and tensor is computed from the project's own library (`sentiment_core`) and "
        "PyTorch while you watch, and sections 2 to 8 read the words of a real sentence you pick.")
with presenter_fonts(presenting()):   # charts drawn below take the projector's type sizes
    SECTIONS[current - 1][1]()
st.divider()
show_pager(TITLES, current)
settings_to_link()   # the URL now opens this section exactly as it stands
