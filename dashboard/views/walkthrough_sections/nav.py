"""The walkthrough as slides: one section per screen, a table of contents, previous / next, the
section in the URL (?section=3, so a link opens it) and a presenter mode (?present=1: larger type,
no sidebar, no toolbar). st.set_page_config is the router's, so presenter mode is CSS."""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from dashboard.query_params import whole_number

TOC, PRESENT = "wt_toc", "wt_present"   # widget keys: the contents picker, the presenter toggle
PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="collapsedControl"],
[data-testid="stToolbar"], [data-testid="stHeader"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem !important; max-width: 100% !important; }
[data-testid="stMain"] { font-size: 1.3rem; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; line-height: 1.55; }
[data-testid="stMain"] h1 { font-size: 2.8rem; }
[data-testid="stMain"] h2 { font-size: 2.2rem; }
[data-testid="stMain"] .katex { font-size: 1.35em; }
</style>"""
WRAP_CSS = """<style>
[data-testid="stMain"] [data-testid="stCode"] pre, [data-testid="stMain"] [data-testid="stCode"] code {
  white-space: pre-wrap !important; word-break: break-word; }
[data-testid="stMain"] .katex-display { overflow-x: auto; overflow-y: hidden; padding-bottom: 4px; }
</style>"""


def current_section(count: int) -> int:
    """The section in the URL (1-based), or 1 when it is missing or not a section number."""
    return whole_number(st.query_params.get("section", "1"), 1, count) or 1


def go_to(number: int) -> None:
    st.query_params["section"] = str(number)


def presenting() -> bool:
    return st.query_params.get("present") == "1"


def _toggle_presenter() -> None:
    if st.session_state[PRESENT]:
        st.query_params["present"] = "1"
    else:
        st.query_params.pop("present", None)


def show_contents(titles: Sequence[str], current: int) -> None:
    """Progress, the contents (current section marked) and the presenter toggle, at the top."""
    # Widgets follow the URL on every rerun (a link, the browser's back button, the buttons below).
    st.session_state[TOC], st.session_state[PRESENT] = current, presenting()
    st.markdown(PRESENTER_CSS if presenting() else "", unsafe_allow_html=True)
    st.markdown(WRAP_CSS, unsafe_allow_html=True)
    contents, toggle = st.columns([3, 1], vertical_alignment="bottom")
    contents.selectbox("Contents", range(1, len(titles) + 1), key=TOC, on_change=lambda: go_to(st.session_state[TOC]),
                       format_func=lambda n: f"{'▶ ' if n == current else ''}{n}. {titles[n - 1]}")
    toggle.toggle("Presenter mode", key=PRESENT, on_change=_toggle_presenter,
                  help="Larger type, no sidebar or toolbar: for a projector. The link keeps it (?present=1).")
    st.progress(current / len(titles), text=f"Section {current} of {len(titles)}")


def show_pager(titles: Sequence[str], current: int) -> None:
    """Previous / next at the foot of the section, named after where they lead."""
    back, _, forward = st.columns([2, 1, 2])
    if current > 1:
        back.button(f"← {current - 1}. {titles[current - 2]}", key="wt_prev", on_click=go_to, args=(current - 1,),
                    width="stretch")
    if current < len(titles):
        forward.button(f"{current + 1}. {titles[current]} →", key="wt_next", type="primary", on_click=go_to,
                       args=(current + 1,), width="stretch")
