"""escape_markdown and escape_plotly: whatever a visitor types renders as those characters and nothing else:
no markup, no link (also none of the automatic links GFM makes of bare addresses), no image.

The renderer the pages really use (Streamlit's react-markdown with remark-gfm, and plotly) is tested
in Chromium in tests/e2e/test_e2e_visitor_text.py; these are the fast checks of the same rules.
"""
from __future__ import annotations

import html
import re
import string

import pytest
from markdown_it import MarkdownIt

from dashboard.escape import WORD_JOINER, escape_markdown, escape_plotly

_ESCAPED = re.compile(r"\\([" + re.escape(string.punctuation) + "])")


def unescape(markdown: str) -> str:
    """What escape_markdown's output reads as, without its invisible word joiners (for tests that look for
    words in escaped text)."""
    return _ESCAPED.sub(r"\1", markdown).replace(WORD_JOINER, "")


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
    "www.evil.example WWW.EVIL.EXAMPLE/x and https://evil.example/p?q=1 or HTTP://EVIL.EXAMPLE",
    "mail@evil.example, user+tag@mail.evil.example, mailto:a@b.co and xmpp:a@b.co/r",
    "<a href='http://evil.example'>html</a> <img src=http://evil.example/i.png> [x](mailto:a@b.co)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_commonmark_renders_the_characters_typed(text):
    rendered = MarkdownIt("commonmark").render(escape_markdown(text)).replace(WORD_JOINER, "")
    expected = " ".join(text.split("\n"))
    assert rendered == f"<p>{html.escape(expected, quote=False)}</p>\n"


def test_nothing_but_punctuation_is_touched():
    assert escape_markdown("Ok 12 éà") == "Ok 12 éà"
    assert escape_markdown("$5") == "\\$5"  # Streamlit's LaTeX starts with $
    assert escape_markdown(":red[x]") == "\\:red\\[x\\]"


@pytest.mark.parametrize("text", HOSTILE)
def test_unescape_undoes_escape_markdown(text):
    assert unescape(escape_markdown(text)) == " ".join(text.split("\n"))


# ---------------------------------------------------------------------------------------------
# GFM's autolink literals: what the renderer reads after the escapes holds no address it would link

# What each kind of GFM autolink literal needs, read broadly (remark-gfm links "www." after a space
# or punctuation, "http://" and "https://", and word@domain.tld; any scheme is checked here):
# the text the renderer sees once the backslash escapes are read must hold none of them.
AUTOLINK_STARTS = {"www": re.compile(r"(?i)www\."), "scheme": re.compile(r"(?i)[a-z][a-z0-9+.-]*:/"),
                   "e-mail": re.compile(r"[A-Za-z0-9_.+-]@")}
ADDRESSES = ["www.evil.example", "WwW.Evil.Example/path?x=1&y=2", "(www.evil.example)", "x_www.evil.example",
             "see https://evil.example/x now", "HTTPS://EVIL.EXAMPLE", "http://127.0.0.1:8501/training",
             "ftp://evil.example", "a@b.co", "mail@evil.example", "user+tag@mail.evil.example", "mailto:a@b.co",
             "xmpp:a@b.co/r", "a@@b.co", "www.www.evil.example", "https://www.evil.example/a@b",
             "[x](http://evil.example)", "<https://evil.example>", "![i](http://evil.example/i.png)"]


def read_by_renderer(markdown: str) -> str:
    """The characters a markdown renderer sees once it has read the backslash escapes (word joiners kept)."""
    return _ESCAPED.sub(r"\1", markdown)


@pytest.mark.parametrize("text", ADDRESSES)
def test_no_autolink_literal_survives_escaping(text):
    seen = read_by_renderer(escape_markdown(text))
    for kind, start in AUTOLINK_STARTS.items():
        assert not start.search(seen), f"{kind} autolink in {seen!a}"
    assert seen.replace(WORD_JOINER, "") == text  # the same characters, only the invisible joiners added


@pytest.mark.parametrize("text", ADDRESSES)
def test_commonmark_makes_no_link_or_image_of_an_address(text):
    rendered = MarkdownIt("commonmark").render(escape_markdown(text))
    assert "<a" not in rendered and "<img" not in rendered
    assert rendered.replace(WORD_JOINER, "") == f"<p>{html.escape(text, quote=False)}</p>\n"


def test_word_joiners_go_only_inside_autolink_triggers():
    assert escape_markdown("www.x") == f"www{WORD_JOINER}\\.x"
    assert escape_markdown("http://x") == f"http\\:{WORD_JOINER}\\/\\/x"
    assert escape_markdown("a@b") == f"a{WORD_JOINER}\\@b"
    assert WORD_JOINER not in escape_markdown("Note: wwwx 10:30 a.b www")  # nothing to break up


# ---------------------------------------------------------------------------------------------
# Plotly: tags, entities and hover-template fields shown as typed

PLOTLY_HOSTILE = ["<a href='http://evil.example'>x</a>", "<b>bold</b><br>", "&amp; &lt;", "%{y} {x} 50%",
                  "www.evil.example a@b.co"]


@pytest.mark.parametrize("text", PLOTLY_HOSTILE)
def test_escape_plotly_leaves_no_tag_or_template_field(text):
    shown = escape_plotly(text)
    assert "<" not in shown and ">" not in shown and "{" not in shown and "%" not in shown
    assert html.unescape(shown) == text  # plotly decodes the references: the characters typed


def test_run_names_reach_comparison_and_analysis_charts_escaped():
    from dashboard.charts import analysis, comparison

    name = "<a href='http://evil.example'>%{y}</a>"
    rows = [{"epoch": 1, "dev_accuracy": 0.5}]
    figures = [comparison.overlay_chart({name: rows}, "dev_accuracy", {}),
               comparison.batch_loss_overlay({name: ([0.5], [1.0])}, {}),
               analysis.slices_chart({name: [{"name": "negation", "accuracy": 0.5, "count": 3}]}, {}),
               analysis.phrase_chart({name: [{"bucket": "1", "accuracy": 0.5, "count": 3}]}, {}, "t", "x")]
    for figure in figures:
        trace = figure.data[0]
        assert trace.name == escape_plotly(name)
        assert "<a" not in trace.hovertemplate and "%{y}</a>" not in trace.hovertemplate


def test_typed_tokens_reach_playground_charts_escaped():
    from dashboard.charts.playground import token_labels, trajectory_chart

    tokens = ["<sos>", "<b>x</b>", "50%", "%{y}", "<eos>"]
    assert token_labels(tokens) == ["0: <sos>", "1: &lt;b&gt;x&lt;/b&gt;", "2: 50&#37;", "3: &#37;&#123;y&#125;",
                                    "4: <eos>"]
    figure = trajectory_chart(tokens, [[0.5, 0.5]] * len(tokens), ["negative", "positive"])
    assert list(figure.data[0].x) == token_labels(tokens)
