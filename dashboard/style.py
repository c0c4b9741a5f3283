"""The app's few global CSS rules, injected once per run by app.py: what a 390 px phone needs.

Streamlit lays pages out well on a laptop; on a phone, wide formulas, long unbroken words and
markdown tables push past the right edge and get cut off. Each rule below fixes one of those,
and only widens what scrolls inside its own frame, never the page. A constant string: no
visitor's text ever reaches it.
"""
from __future__ import annotations

import streamlit as st

CSS = """
<style>
/* Display formulas wider than the column scroll sideways inside their own box, never cut off. */
.katex-display { overflow-x: auto; overflow-y: hidden; padding: 0.2rem 0; }
/* Captions, notes and markdown: a long token (a path, a URL, a regex) breaks instead of running off the
   edge. break-word, not anywhere: a table cell keeps its longest word whole ("symbol", not "sym|bol"). */
[data-testid="stCaptionContainer"], [data-testid="stMarkdownContainer"], [data-testid="stAlertContainer"] {
  overflow-wrap: break-word;
}
/* Markdown tables scroll inside their frame (st.dataframe already does) instead of squeezing their words. */
[data-testid="stMarkdownContainer"] table { display: block; max-width: 100%; overflow-x: auto; }
[data-testid="stMarkdownContainer"] th, [data-testid="stMarkdownContainer"] td { overflow-wrap: normal; }
/* Code and tensor printouts scroll sideways instead of being clipped. */
[data-testid="stCode"] pre { overflow-x: auto; }
/* A chart never forces the page wider than the phone. */
[data-testid="stPlotlyChart"] { max-width: 100%; overflow-x: auto; }
/* The home page's three ways in: the link is the card's heading. */
[class*="st-key-home_way_"] [data-testid="stPageLink-NavLink"] p { font-size: 1.15rem; font-weight: 600; }
/* Plotly's toolbar (zoom, pan, download) on a phone or a touch screen: a tap shows it over the chart's title
   (issue 22) and a finger zooms without it, so it is hidden there; Streamlit's own fullscreen button stays. */
@media (max-width: 640px), (hover: none) {
  [data-testid="stPlotlyChart"] .modebar-container { display: none !important; }
}
@media (max-width: 640px) {
  /* A phone: smaller headings, so a page's title takes two lines, not four. */
  h1 { font-size: 2rem !important; }
  h2 { font-size: 1.5rem !important; }
  /* Radio options and tabs wrap instead of overflowing. */
  [data-testid="stRadio"] [role="radiogroup"] { flex-wrap: wrap; }
}
</style>
"""


def inject() -> None:
    """Add the rules to the page (st.html of a lone <style> takes no space in the layout)."""
    st.html(CSS)
