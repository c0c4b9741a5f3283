"""escape_markdown: whatever a visitor types renders as those characters and nothing else."""
from __future__ import annotations

import html
import re
import string

import pytest
from markdown_it import MarkdownIt

from dashboard.escape import escape_markdown

_ESCAPED = re.compile(r"\\([" + re.escape(string.punctuation) + "])")


def unescape(markdown: str) -> str:
    """What escape_markdown's output reads as (for tests that look for words in escaped text)."""
    return _ESCAPED.sub(r"\1", markdown)


HOSTILE = [
    "plain words stay plain",
    "`code` and `` double `` spans",
    "a` [click](http://evil.example) `b",
    "<script>alert(1)</script> <b>bold</b>",
    "**strong** _em_ ~~strike~~ # heading",
    "$x^2$ and $$\\int f$$",
    ":red[alarm] :smile:",
    "![img](http://evil.example/x.png)",
    "<http://evil.example> https://evil.example",
    "1. list\n- item\n> quote",
    "back\\slash \\` escaped",
    "&amp; &#x41; entity",
    "| a | b |\n|---|---|",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_commonmark_renders_the_characters_typed(text):
    rendered = MarkdownIt("commonmark").render(escape_markdown(text))
    expected = " ".join(text.split("\n"))
    assert rendered == f"<p>{html.escape(expected, quote=False)}</p>\n"


def test_nothing_but_punctuation_is_touched():
    assert escape_markdown("Ok 12 éà") == "Ok 12 éà"
    assert escape_markdown("$5") == "\\$5"  # Streamlit's LaTeX starts with $
    assert escape_markdown(":red[x]") == "\\:red\\[x\\]"


@pytest.mark.parametrize("text", HOSTILE)
def test_unescape_undoes_escape_markdown(text):
    assert unescape(escape_markdown(text)) == " ".join(text.split("\n"))
