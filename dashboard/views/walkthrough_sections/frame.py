"""The frame of the walkthrough sections that read a sentence (the cell, unrolling, BPTT, truncation, gates
and deep sections): the controls, the sentence picker first, in a narrow column on the left, the figures
in the wider one on the right (a phone stacks them, controls first)."""
from __future__ import annotations

from typing import Any, NamedTuple

import streamlit as st

from dashboard.views.walkthrough_sections.sentence import pick_sentence
from sentiment_core.analysis.lessons.walk_sentence import SentenceInputs

COLUMN_WIDTHS = [1, 2]  # controls : figures


class SentenceFrame(NamedTuple):
    controls: Any              # the column the section's controls go in, under the picker
    figure: Any                # the column its figures go in
    sentence: SentenceInputs   # the picked sentence, as the x_t it reads


def control_columns() -> tuple[Any, Any]:
    """(controls, figure): the two columns of a section, also for one without the sentence picker."""
    controls, figure = st.columns(COLUMN_WIDTHS, gap="large")
    return controls, figure


def sentence_frame() -> SentenceFrame | None:
    """The two columns with the sentence picker at the top of the controls; None when no sentence could be
    read (the picker has said why, and the section draws nothing more)."""
    controls, figure = control_columns()
    sentence = pick_sentence(controls)
    return None if sentence is None else SentenceFrame(controls, figure, sentence)
