"""Visitor text in a real browser (issue 20, point 3): no bare URL, `www.` address, e-mail address,
markdown or HTML that a visitor typed, put in a link or gave a run as its name becomes a link, an
image or markup on any page that shows it.

Escaping markdown's punctuation was not enough: Streamlit's renderer (react-markdown with remark-gfm)
links bare addresses after reading the escapes. dashboard.escape.escape_markdown breaks each
address up with an invisible word joiner; this test renders the text through the pages themselves
and looks at what Chromium drew: no `<a>` leading to the visitor's addresses (or `mailto:`), no
`<img>` from them, no bold from their `**...**` or `<b>`, while the text itself still shows.

Stored text: two runs named like addresses (copies of the shipped GRU; run names allow dots, and an
operator's folder may hold `@`), on the training page (heading, delete box, comparison charts) and
the playground (picker, two runs side by side). Reflected text: the playground's `?text=`, and the
training page's and the explorer's query parameters, quoted in their warnings.
"""
from __future__ import annotations

import re
import shutil
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from dashboard.escape import WORD_JOINER
from tests.e2e.test_e2e_playground import choose_option
from tests.test_bounded_files import shipped_copy

SENTENCE = ("see www.evil.example , https://evil.example/path and mail@evil.example : [click](http://evil.example/md) "
            "![img](http://evil.example/img.png) <a href='http://evil.example/html'>html</a> "
            "<img src='http://evil.example/tag.png'> **boldmark** <b>boldtag</b>")
WWW_RUN, MAIL_RUN = "www.evil.example", "mail@evil.example"

# Everything on the page (main area, sidebar, tooltips) that came from the visitor's text: links to
# their addresses, images from them, and bold or emphasis made of their markers. The app's own links
# (its pages, heading anchors, the confusion table's links) lead to the app, never to evil.example.
PRODUCED = r"""() => {
  const evil = (raw) => {
    try {
      const url = new URL(raw || '', location.href);
      return url.protocol === 'mailto:' || url.protocol === 'xmpp:' || url.hostname.includes('evil');
    } catch (e) { return true; }
  };
  const found = [];
  for (const a of document.querySelectorAll('a')) {
    const href = a.getAttribute('href') || a.getAttribute('xlink:href');
    if (evil(href)) found.push('link ' + href);
  }
  for (const img of document.querySelectorAll('img')) {
    if (evil(img.getAttribute('src'))) found.push('image ' + img.getAttribute('src'));
  }
  for (const node of document.querySelectorAll('b, strong, em, i, tspan')) {
    const bold = node.tagName !== 'tspan' || /bold|italic/.test(node.getAttribute('style') || '');
    if (bold && /boldmark|boldtag/.test(node.textContent)) found.push('markup ' + node.outerHTML.slice(0, 120));
  }
  return found;
}"""


@pytest.fixture
def address_runs(e2e_dirs):
    """Two finished runs named like a web address and an e-mail address; removed afterwards.

    The oldest runs of the folder (created_at 1.0), so other tests' newest-first defaults stay theirs."""
    runs = [shipped_copy(e2e_dirs["runs"], name) for name in (WWW_RUN, MAIL_RUN)]
    yield runs
    for run in runs:
        shutil.rmtree(run, ignore_errors=True)


def shown_text(app) -> str:
    """The page's text as a visitor reads it (the word joiners are invisible)."""
    return app.page.locator("body").inner_text().replace(WORD_JOINER, "")


def check(app, *visible: str) -> None:
    """Nothing on the page was produced from visitor text, and each of `visible` shows as typed."""
    app.no_exception()
    assert app.page.evaluate(PRODUCED) == []
    text = shown_text(app)
    for part in visible:
        assert part in text, f"{part!r} is not shown"


def pick_in_multiselect(app, key: str, name: str) -> None:
    """Type `name` into a multiselect and take the option it leaves (typing opens the list, as a click may not)."""
    field = app.widget(key).get_by_role("combobox")
    field.focus()
    field.press_sequentially(name)
    expect(app.page.get_by_role("option", name=re.compile("^" + re.escape(name))).first).to_be_visible()
    field.press("Enter")
    field.press("Escape")  # close the list, so the next click reaches the page
    app.idle()


@pytest.mark.slow
def test_visitor_text_never_becomes_a_link_an_image_or_markup(app, address_runs, trained_run):
    # Reflected: a sentence in the playground's link (tokens, unknown-words caption, charts, each tab).
    app.open("/playground?text=" + quote(SENTENCE, safe=""))
    check(app, "www.evil.example", "mail@evil.example", "[click](http:")
    for tab in ("Which words mattered", "What if", "Inside the network"):
        app.main().get_by_role("tab", name=tab).click()
        app.idle()
        check(app, "www.evil.example")

    # Stored: the address-named runs side by side on the same sentence.
    app.main().get_by_text("Compare two runs").click()
    app.idle()
    choose_option(app, "pg_run", WWW_RUN)
    choose_option(app, "pg_run_b", MAIL_RUN)
    check(app, WWW_RUN, MAIL_RUN)

    # Stored: the training page's heading, delete box and comparison charts (legends, hover names).
    app.open(f"/training?run={WWW_RUN}")
    joinable = re.escape(WWW_RUN).replace("www", f"www{WORD_JOINER}?")  # the joiner is in the heading's name
    expect(app.main().get_by_role("heading", name=re.compile(joinable + ": finished"))).to_be_visible()
    check(app, f"{WWW_RUN}: finished", f"Yes, delete {WWW_RUN}")
    for name in (WWW_RUN, MAIL_RUN):
        pick_in_multiselect(app, "train_compare", name)
    legend = app.widget("train_overlay").locator(".legendtext")
    expect(legend).to_have_text([WWW_RUN, MAIL_RUN])
    check(app)

    # Stored: the analysis page's captions, tables and charts name the runs.
    app.open("/analysis")
    pick_in_multiselect(app, "analysis_runs", WWW_RUN)
    expect(app.widget("analysis_slices_chart").locator(".legendtext")).to_contain_text([WWW_RUN])
    check(app, f"{WWW_RUN}: ")

    # Reflected: query parameters quoted in the app's own warnings.
    app.open("/training?preset=www.evil.example&cell=mail%40evil.example&run=https%3A%2F%2Fevil.example%2Fx")
    check(app, "no preset called 'www.evil.example'", "no cell called 'mail@evil.example'",
           "no run called 'https://evil.example/x'")
    app.open("/explorer?split=www.evil.example&index=mail%40evil.example&run=https%3A%2F%2Fevil.example%2Fr")
    check(app, "split www.evil.example, index mail@evil.example", "no run named https://evil.example/r")

    # Reflected: a sentence typed into the walkthrough's link, read in the sections that quote its words
    # (the chain and "Next word", backpropagation's captions, the gates' slider, diagram and chart).
    typed = "www.evil.example and mail@evil.example or https://evil.example/x <b>boldtag</b>"
    for section in (2, 4, 7):
        app.open(f"/walkthrough?section={section}&pick={quote('type your own...')}&typed={quote(typed)}")
        check(app, "www.evil.example")
