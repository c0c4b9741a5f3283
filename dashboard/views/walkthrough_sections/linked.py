"""The walkthrough's sentence and settings in the URL, so a prepared link opens a section as set up.

Each kept widget has a short name in the URL (its key without `wt_`: ?section=4&pick=...&radius=1.2)
and a reader that accepts only a value its widget can take (dashboard.query_params: a link is
typed by anyone, and a value out of a slider's range would stop the page). A value read from the
link seeds the widget only when this session has none yet (opening the link); from then on the
widgets lead and the URL follows them at the end of every run.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from dashboard.query_params import bounded_text, one_of, whole_number
from dashboard.views.walkthrough_sections.sentence import MAX_TYPED_CHARS, OWN, PICK, TYPED
from sentiment_core.analysis.lessons import gradient_flow, stacked
from sentiment_core.analysis.lessons.walk_sentence import TREEBANK_SENTENCES

PREFIX = "wt_"


def _grid(low: float, high: float, step: float) -> dict[str, float]:
    """A float slider's values, by the text a link spells them with ('1.2', not '1.2000000001')."""
    count = round((high - low) / step)
    return {f"{round(low + i * step, 4):g}": round(low + i * step, 4) for i in range(count + 1)}


def _number(low: int, high: int) -> Callable[[str], int | None]:
    return lambda raw: whole_number(raw, low, high)


def _choice(choices: Callable[[], object]) -> Callable[[str], str | None]:
    # a callable, read when the link is: the sentence pickers' lists may grow
    return lambda raw: one_of(raw, tuple(choices()), max_chars=MAX_TYPED_CHARS)


def _from_text(values: dict[str, object]) -> Callable[[str], object | None]:
    return lambda raw: values.get(raw) if raw is not None and len(raw) <= 10 else None


def _text(raw: str) -> str | None:
    return bounded_text(raw, MAX_TYPED_CHARS)


def _switch(raw: str) -> bool | None:
    return {"1": True, "0": False}.get(raw)


# The widgets a link can set (their ranges are the widgets' own, in the sections named).
READERS: dict[str, Callable[[str], object | None]] = {
    "wt_order_a": _text, "wt_order_b": _text,                                          # 1, story.py
    PICK: _choice(lambda: (*TREEBANK_SENTENCES, OWN)), TYPED: _text,                   # sentence.py
    "wt_h_dim": _number(1, 32), "wt_seed": _number(0, 10_000),                         # 2, cell.py
    "wt_radius": _from_text(_grid(0.5, 1.5, 0.05)),                                    # 4, bptt.py
    "wt_activation": _choice(lambda: gradient_flow.ACTIVATIONS),
    "wt_matrix_kind": _choice(lambda: gradient_flow.MATRIX_KINDS),
    "wt_input_scale": _from_text(_grid(0.0, 3.0, 0.1)), "wt_bptt_seed": _number(0, 10_000),
    "wt_gate_cell": _choice(lambda: ("lstm", "gru")), "wt_gate_units": _number(2, 8),  # 7, gates.py
    "wt_deep_cell": _choice(lambda: stacked.DEEP_CELLS),                               # 8, deep.py
    "wt_deep_layers": _number(1, stacked.MAX_LAYERS),
    "wt_deep_hidden": _from_text({str(n): n for n in (8, 16, 32, 64, 128, 256)}), "wt_deep_bi": _switch,
    "wt_sentence": _text, "wt_batch_size": _number(2, 16), "wt_batch_seed": _number(0, 10_000),  # 9, tensors.py
    "wt_loop_batch": _number(2, 64),
    "wt_loop_clip": _from_text({"0.1": 0.1, "0.5": 0.5, "1": 1.0, "5": 5.0, "25": 25.0}),
}


def link_name(key: str) -> str:
    return key.removeprefix(PREFIX)


def as_link_text(value: object) -> str:
    """How the URL spells a widget's value (the readers above read it back)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_from_link() -> list[str]:
    """Seed each widget the link sets and this session has not set yet; the names of the values refused."""
    refused = []
    for key, read in READERS.items():
        raw = st.query_params.get(link_name(key))
        if raw is None or key in st.session_state:
            continue
        value = read(raw)
        if value is None:
            refused.append(link_name(key))
            del st.query_params[link_name(key)]   # said once; the URL keeps only what it can open
        else:
            st.session_state[key] = value
    return refused


def settings_to_link() -> None:
    """Write every kept widget's value into the URL (only those that changed: each write is a message)."""
    for key in READERS:
        if key in st.session_state:
            text = as_link_text(st.session_state[key])
            if READERS[key](text) is not None and st.query_params.get(link_name(key)) != text:
                st.query_params[link_name(key)] = text


def keep_linked_values() -> None:
    """Streamlit forgets a widget's value on a run that does not draw it: write the linked ones back
    (as sentence.keep_widget_values does for the sentence sections), so they outlive their section."""
    for key in READERS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
