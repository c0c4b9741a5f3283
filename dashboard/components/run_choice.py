"""The run a page opens on, and the line that says why (the playground, analysis and explorer pages).

The ranking is sentiment_core.analysis.inference.model_choice's (the best finished run by dev accuracy on the
whole dev split, the shipped model unless a run beats it); this module only applies, in order:
a run the visitor has just trained (switched to once, as it finishes), a link's `?run=NAME` (once
per value), the visitor's own pick, else the default. Every sentence shown is escaped.
"""
from __future__ import annotations

import streamlit as st

from dashboard import visitor
from dashboard.escape import escape_markdown
from dashboard.query_params import one_of, shown_value
from sentiment_core import settings
from sentiment_core.analysis.inference import model_choice
from sentiment_core.runs import jobs

QUERY_RUN = "run"   # ?run=NAME: the run a link was about
MAX_NAME = 200      # characters: longer cannot be a run's folder name


def visitor_trained(run) -> bool:
    """Whether this visitor started the run (every run counts locally, where the operator is the only visitor)."""
    if not settings.is_public():
        return True
    return jobs.owns(visitor.requester(), jobs.listed_job(run.path))


def linked_run(names: list[str], key: str) -> str | None:
    """The run named by the URL's ?run=, once per value (later picks stay the visitor's); an unknown name is said."""
    raw = st.query_params.get(QUERY_RUN)
    seen = key + "_link_seen"
    if raw is None or st.session_state.get(seen) == raw:
        return None
    st.session_state[seen] = raw
    name = one_of(raw, names, MAX_NAME)
    if name is None:
        st.warning(f"The link names run {escape_markdown(shown_value(raw))}, which is not offered here (it may be "
                   "someone else's, unfinished or deleted); showing the default instead.")
    return name


def override(runs: list, key: str) -> str | None:
    """A run to select now instead of the current one: the run the visitor has just trained, else a link's
    ?run=; None to keep the selection. Remembers which runs the page has listed and why a run was selected."""
    names = [r.name for r in runs]
    listed_key = key + "_listed"
    fresh = None
    if listed_key in st.session_state:  # the first render only takes note of what exists
        fresh = model_choice.just_finished(runs, st.session_state[listed_key], visitor_trained)
    st.session_state[listed_key] = names
    linked = linked_run(names, key)
    if fresh is not None:
        st.session_state[key + "_why"] = (fresh.name, "trained")
        return fresh.name
    if linked is not None:
        st.session_state[key + "_why"] = (linked, "link")
    return linked


def why_chosen(key: str, name: str, choice) -> str:
    """'trained', 'link', 'default' or 'kept' (the visitor's own pick) for the run `name` selected now."""
    recorded = st.session_state.get(key + "_why")
    if recorded and recorded[0] == name:
        return recorded[1]
    st.session_state.pop(key + "_why", None)  # the visitor moved on: picking that run again later is their own pick
    return "default" if choice is not None and name == choice.run.name else "kept"


def explain_choice(run, choice, why: str) -> None:
    """One line under the selector: why this run, and, when it falls short of the default `choice`, how far."""
    lines = {"trained": [f"Switched to {run.name}, the run you have just trained."],
             "link": [f"Opened on {run.name}, the run the link was about."]}.get(why, [])
    if choice is not None and choice.run.name == run.name:
        lines.append(choice.reason)
    if lines:
        st.caption(escape_markdown(" ".join(lines)))
    note = model_choice.against_default(run, choice)
    if note:
        st.warning(escape_markdown(note), icon=":material/trending_down:")
