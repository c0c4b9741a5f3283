"""A run picker whose option labels stay true while the runs they name change state.

Why not a plain keyed st.selectbox: since Streamlit 1.4x a keyed selectbox keeps its identity
whatever its options say, and the browser keeps showing the label it holds for the chosen option
("quick-a (starting)") after the server sends new labels ("quick-a (running)") until the user
picks again (tried in Chromium: issue 22's stale selector). A label the server formatted at an
earlier run is also no longer an option, so reading it back can fall to the first run.

So the choice lives in session_state[key] (a plain value, the run's name), and the widget is keyed
by key plus a digest of the labels it shows: when a label changes, it is a new widget, drawn with
the current labels and the choice. A wrapping container keeps the CSS class st-key-<key>.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import streamlit as st


def labels_digest(labels: Sequence[str]) -> str:
    return hashlib.blake2b("\x1f".join(labels).encode("utf-8"), digest_size=6).hexdigest()


def widget_key(key: str, labels: Sequence[str]) -> str:
    """The widget's key: new whenever any label changes, so the browser gets fresh labels."""
    return f"{key}__{labels_digest(labels)}"


def live_selectbox(label: str, options: Sequence[str], *, key: str, format_func: Callable[[str], str],
                   default: str | None = None, **kwargs) -> str:
    """st.selectbox over `options` (strings, e.g. run names) whose labels follow format_func at every run.

    Returns the chosen option, kept in session_state[key]; `default` (else the first option) when
    the kept one is gone. kwargs go to st.selectbox (help, width...; not index, key or on_change).
    """
    options = list(options)
    labels = [format_func(option) for option in options]
    chosen = st.session_state.get(key)
    if chosen not in options:
        chosen = default if default in options else options[0]
    st.session_state[key] = chosen
    inner = widget_key(key, labels)

    def keep() -> None:  # the visitor picked: the choice outlives this widget
        st.session_state[key] = st.session_state[inner]

    with st.container(key=key):
        value = st.selectbox(label, options, index=options.index(chosen), key=inner, on_change=keep,
                             format_func=lambda option: labels[options.index(option)], **kwargs)
    st.session_state[key] = value
    return value
