"""User text on a page: shown as the characters typed, never as markdown, HTML, LaTeX or links.

Every page passes a visitor's text (a typed sentence, a token, a CSV cell, a run name) through
`escape_markdown` before it reaches st.markdown, st.caption, a label or a help text. CommonMark
lets any ASCII punctuation be escaped with a backslash, and Streamlit's own extensions (LaTeX
`$...$`, colours `:red[...]`, emoji `:smile:`) start with punctuation too, so escaping all of
it neutralises every construct whatever the text holds; letters, digits and spaces are kept.
"""
from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\t\f\v]+")


def escape_markdown(text: str) -> str:
    """`text` as literal characters in markdown, on one line."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))
