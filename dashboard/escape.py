"""User text on a page: shown as the characters typed, never as markdown, HTML, LaTeX or links.

Every page passes a visitor's text (a typed sentence, a token, a CSV cell, a run name) through
`escape_markdown` before it reaches st.markdown, st.caption, a label or a help text. CommonMark
lets any ASCII punctuation be escaped with a backslash, and Streamlit's own extensions (LaTeX
`$...$`, colours `:red[...]`, emoji `:smile:`) start with punctuation too, so escaping all of
it neutralises every construct whatever the text holds; letters, digits and spaces are kept.

Escaping is not enough for links: Streamlit's markdown (react-markdown with remark-gfm) links bare
`www.` addresses, `http://` / `https://` addresses and e-mail addresses in the text *after* the
escapes are read, so `www\\.evil\\.example` is still a live link. A WORD JOINER (U+2060: no glyph,
no line break) inside each trigger defeats GFM's detection while the page shows the same
characters: after `www` before `.`, between `:` and `/`, before `@`. Measured in Chromium
(tests/e2e/test_e2e_visitor_text.py); an HTML character reference (`&#64;`) does not help, the
renderer decodes it first and links the result. A copy of the text keeps the invisible joiners.

Plotly charts are the other renderer: `escape_plotly` is their one function (see there).
"""
from __future__ import annotations

import html
import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\t\f\v]+")
WORD_JOINER = "\u2060"
# Where GFM's autolink literals start: "www." (any case), "://" (http, https), "@" (e-mail, mailto:, xmpp:).
_AUTOLINK_TRIGGERS = re.compile(r"(?i)(?<=www)(?=\.)|(?<=:)(?=/)|(?=@)")


def escape_markdown(text: str) -> str:
    """`text` as literal characters in markdown, on one line, and never an automatic link."""
    one_line = _LINE_BREAKS.sub(" ", str(text))
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK_TRIGGERS.sub(WORD_JOINER, one_line))


def escape_plotly(text: str) -> str:
    """`text` as literal characters in a plotly chart: a trace name, an axis label, hover text or a hover template.

    Plotly draws the tags it knows in every text (`<a href>` becomes a live link, `<b>`, `<br>`...)
    and fills `%{...}` in hover templates; it links no bare address (measured in Chromium). So the
    text is HTML-escaped, and its braces and percent signs become character references, which
    plotly shows as the characters themselves.
    """
    escaped = html.escape(str(text), quote=False)
    return escaped.replace("{", "&#123;").replace("}", "&#125;").replace("%", "&#37;")
