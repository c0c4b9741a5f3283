"""The walkthrough as slides: one section per screen, a table of contents, previous / next, the
section in the URL (?section=3, so a link opens it) and a presenter mode (?present=1: larger type,
no sidebar, no toolbar). st.set_page_config is the router's, so presenter mode is CSS."""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from dashboard.query_params import whole_number

TOC, PRESENT = "wt_toc", "wt_present"   # widget keys: the contents picker, the presenter toggle
# Presenter mode: a projector at 1280x720 read from the back of a room. Body text >= 20 px, captions,
# code and small print >= 17 px (1rem = 16 px); charts scale through theme.presenter_fonts.
PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="collapsedControl"],
[data-testid="stToolbar"], [data-testid="stHeader"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.6rem 1.5rem 2rem !important; max-width: 100% !important; }
[data-testid="stMain"] { font-size: 1.3rem; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; line-height: 1.5; }
[data-testid="stMain"] h1 { font-size: 2.4rem; }
[data-testid="stMain"] h2 { font-size: 1.9rem; padding: 0.2rem 0; }
[data-testid="stMain"] h3 { font-size: 1.6rem; }
[data-testid="stMain"] .katex { font-size: 1.35em; }
[data-testid="stMain"] [data-testid="stCaptionContainer"],
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 1.1rem !important; line-height: 1.45; }
[data-testid="stMain"] [data-testid="stCode"] pre, [data-testid="stMain"] [data-testid="stCode"] code,
[data-testid="stMain"] .wt-code { font-size: 1.1rem !important; }
[data-testid="stMain"] [data-testid="stWidgetLabel"] p { font-size: 1.25rem !important; }
[data-testid="stMain"] input, [data-testid="stMain"] textarea, [data-testid="stMain"] [data-baseweb="select"] div,
[data-testid="stMain"] button p, [data-testid="stMain"] button div { font-size: 1.25rem !important; }
[data-testid="stMain"] [data-testid="stSliderThumbValue"], [data-testid="stMain"] [data-testid="stSliderTickBarMin"],
[data-testid="stMain"] [data-testid="stSliderTickBarMax"] { font-size: 1.1rem !important; }
[data-testid="stMain"] [data-testid="stMetricLabel"] p { font-size: 1.25rem !important; }
[data-testid="stMain"] [data-testid="stMetricValue"],
[data-testid="stMain"] [data-testid="stMetricValue"] * { font-size: 2.4rem !important; line-height: 1.2; }
[data-testid="stMain"] [data-testid="stMetricDelta"] div { font-size: 1.2rem !important; }
[data-testid="stMain"] table th, [data-testid="stMain"] table td { font-size: 1.2rem !important; }
/* A data frame is drawn on a canvas (no CSS font): zoom it, at 1/1.3 of the width so it still fits its column. */
[data-testid="stMain"] [data-testid="stElementContainer"]:has([data-testid="stDataFrame"]) { zoom: 1.3;
  width: calc(100% / 1.3) !important; }
[data-testid="stMain"] [data-testid="stGraphVizChart"] svg { zoom: 1.3; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] code,
[data-testid="stMain"] [data-testid="stCaptionContainer"] code { font-size: 0.95em; }
[data-testid="stMain"] [data-testid="stExpander"] summary p { font-size: 1.25rem !important; }
[data-testid="stMain"] .wt-unrolled img { zoom: 1.3; }
[data-testid="stElementContainer"]:has(.wt-presenting) { display: none; }
[data-testid="stMain"] .wt-unrolled + div { font-size: 1.1rem !important; }
/* The LSTM / GRU cell and the stacked layers are drawn as images whose labels are 13 to 17 px. The cell fills
   its figure column (about 1.27x at 1280 px): a fixed 1.3 zoom ran its right-hand labels (c_t = 0.213) past
   the column's edge. The stacked layers, narrower, are zoomed like the chain. */
[data-testid="stMain"] .wt-cell img { width: 100% !important; max-width: none !important; height: auto !important; }
[data-testid="stMain"] .wt-stacked img { zoom: 1.3; max-width: none !important; }
[data-testid="stMain"] .wt-cell + div, [data-testid="stMain"] .wt-stacked + div { font-size: 1.1rem !important; }
</style>"""
# A presenter's clicker sends Page Down / Page Up (some: the arrow keys, Space): in presenter mode
# they press the pager's buttons. st.html runs this in the page itself (not an iframe); a rerun
# replaces the listener rather than adding one, and it does nothing once the marker span is gone
# (presenter mode off, another page), nor while the visitor types or moves a slider, radio or menu;
# Space on a focused button presses that button, as everywhere.
PRESENTER_KEYS = """<span class="wt-presenting" hidden></span><script>
(() => {
  const SKIP = 'input, textarea, select, [contenteditable="true"], [role="combobox"], [role="listbox"], ' +
               '[role="option"], [role="slider"], [role="radio"], [role="radiogroup"], [role="tab"], [role="switch"]';
  const NEXT = ['ArrowRight', 'PageDown', ' '], PREVIOUS = ['ArrowLeft', 'PageUp'];
  function onKey(event) {
    if (!document.querySelector('.wt-presenting')) return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.defaultPrevented) return;
    const target = event.target && event.target.closest ? event.target : null;
    if (target && target.closest(SKIP)) return;
    if (event.key === ' ' && target && target.closest('button, a, [role="button"]')) return;  // Space presses it
    const key = NEXT.includes(event.key) ? 'wt_next' : PREVIOUS.includes(event.key) ? 'wt_prev' : null;
    const button = key && document.querySelector('.st-key-' + key + ' button');
    if (!button || button.disabled) return;
    event.preventDefault();
    button.click();
  }
  if (window.wtPresenterKeys) document.removeEventListener('keydown', window.wtPresenterKeys);
  window.wtPresenterKeys = onKey;
  document.addEventListener('keydown', onKey);
})();
</script>"""
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
    """Progress, the contents (current section marked) and the presenter toggle, at the top; the
    section's heading below them. Presenting, all of it is one line, so the section gets the screen."""
    # Widgets follow the URL on every rerun (a link, the browser's back button, the buttons below).
    st.session_state[TOC], st.session_state[PRESENT] = current, presenting()
    st.html(WRAP_CSS)   # style only: st.html puts it where it takes no room on the page
    toc = dict(label="Contents", options=range(1, len(titles) + 1), key=TOC,
               on_change=lambda: go_to(st.session_state[TOC]),
               format_func=lambda n: f"{'▶ ' if n == current else ''}{n}. {titles[n - 1]}")
    toggle = dict(label="Presenter mode", key=PRESENT, on_change=_toggle_presenter,
                  help="Larger type, no sidebar or toolbar, one line of contents; Page Down / Page Up, the arrow "
                       "keys and Space go to the next or previous section (a clicker). The link keeps it (?present=1).")
    if presenting():
        st.html(PRESENTER_CSS)
        st.html(PRESENTER_KEYS, unsafe_allow_javascript=True)
        heading, contents, switch = st.columns([6, 3, 2], vertical_alignment="center")
        heading.header(f"{current}. {titles[current - 1]}", anchor=False)
        contents.selectbox(**toc, label_visibility="collapsed")
        switch.toggle(**{**toggle, "label": f"{current} / {len(titles)} · presenter"})
        return
    st.title("Walkthrough: how a recurrent network reads a review")
    contents, switch = st.columns([3, 1], vertical_alignment="bottom")
    contents.selectbox(**toc)
    switch.toggle(**toggle)
    st.progress(current / len(titles), text=f"Section {current} of {len(titles)}")
    st.header(f"{current}. {titles[current - 1]}")


def show_pager(titles: Sequence[str], current: int) -> None:
    """Previous / next at the foot of the section, named after where they lead."""
    back, _, forward = st.columns([2, 1, 2])
    if current > 1:
        back.button(f"← {current - 1}. {titles[current - 2]}", key="wt_prev", on_click=go_to, args=(current - 1,),
                    width="stretch")
    if current < len(titles):
        forward.button(f"{current + 1}. {titles[current]} →", key="wt_next", type="primary", on_click=go_to,
                       args=(current + 1,), width="stretch")
