"""The walkthrough on a projector (issue 21, point 7): presenter mode at 1280x720 in Chromium.

Every section: body text at least 20 px, captions, code and chart ticks at least 16 px (computed
sizes, as the browser draws them), the page chrome on one line; a screenshot of each at 1280x720
and 1440x900 (test-artifacts/screenshots/walkthrough-present-NN-WIDTH.png, copied to
docs/screenshots/). A clicker's keys change the section; a prepared link opens a section with
its sentence and settings.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from sentiment_core.analysis.lessons.walk_sentence import TREEBANK_SENTENCES
from tests.e2e.conftest import SCRIPT_SECONDS, AppPage

SECTIONS = 10
CHAIN_OR_CHART = (2, 3, 4, 5, 6)   # sections whose main figure is the unrolled chain or a plotly chart
PROJECTOR, LAPTOP = {"width": 1280, "height": 720}, {"width": 1440, "height": 900}

# The smallest computed font size (px) of each kind of visible text in the main area.
FONT_SIZES = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const visible = node => { const box = node.getBoundingClientRect();
    const text = String(['INPUT', 'TEXTAREA'].includes(node.tagName) ? node.value : (node.innerText ?? node.textContent ?? ''));
    return box.width > 0 && box.height > 0 && getComputedStyle(node).visibility !== 'hidden' && text.trim(); };
  const smallest = selector => {
    const sizes = [...main.querySelectorAll(selector)].filter(visible).map(n => parseFloat(getComputedStyle(n).fontSize));
    return sizes.length ? Math.min(...sizes) : null;
  };
  return {
    body: smallest('[data-testid="stMarkdownContainer"] p:not([data-testid="stCaptionContainer"] p), ' +
                   '[data-testid="stMarkdownContainer"] li, input, textarea'),
    caption: smallest('[data-testid="stCaptionContainer"] p, [data-testid="stCaptionContainer"]'),
    code: smallest('[data-testid="stCode"] code, .wt-code'),
    metric: smallest('[data-testid="stMetricValue"]'),
    table: smallest('table td, table th'),
    ticks: smallest('[data-testid="stPlotlyChart"] .xtick text, [data-testid="stPlotlyChart"] .ytick text'),
    legend: smallest('[data-testid="stPlotlyChart"] .legendtext'),
    // The drawn diagrams (the chain, the LSTM / GRU cell, the stacked layers) are SVG images: their smallest
    // label's size in the SVG times the image's drawn scale.
    drawing: (() => {
      const sizes = [];
      for (const img of main.querySelectorAll('.wt-unrolled img, .wt-cell img, .wt-stacked img')) {
        const box = img.getBoundingClientRect();
        if (!box.width || !img.src.startsWith('data:image/svg+xml;base64,')) continue;
        const labels = [...atob(img.src.split(',')[1]).matchAll(/font-size="([0-9.]+)"/g)].map(m => parseFloat(m[1]));
        if (labels.length) sizes.push(Math.min(...labels) * box.width / parseFloat(img.getAttribute('width')));
      }
      return sizes.length ? Math.min(...sizes) : null;
    })(),
  };
}"""


@pytest.fixture
def sized(browser, app_server, request):
    """A tab at a given viewport: `sized(PROJECTOR)`."""
    contexts = []

    def open_tab(viewport: dict) -> AppPage:
        context = browser.new_context(viewport=viewport, base_url=app_server[0])
        context.set_default_timeout(SCRIPT_SECONDS * 1000)
        contexts.append(context)
        return AppPage(context.new_page(), app_server[1])

    yield open_tab
    for context in contexts:
        context.close()


def header(app):
    return app.main().locator('[data-testid="stHeading"] h2')


@pytest.mark.slow
def test_every_section_is_readable_on_a_projector(sized, trained_run):
    app = sized(PROJECTOR)
    small = {}
    for section in range(1, SECTIONS + 1):
        app.open(f"/walkthrough?section={section}&present=1")
        expect(header(app)).to_have_text(re.compile(rf"^{section}\. "))
        # The chrome is one line: the heading, the contents and the presenter switch share a row.
        tops = [app.page.locator(sel).first.bounding_box()["y"] for sel in
                ('[data-testid="stHeading"]', ".st-key-wt_toc", ".st-key-wt_present")]
        assert max(tops) - min(tops) < 40, f"section {section}: the chrome takes more than one line ({tops})"
        app.screenshot(f"walkthrough-present-{section:02d}-1280")
        # The main figure of the sections drawn as a chain or a chart starts on the first screen (the BPTT
        # chart used to start below it).
        if section in CHAIN_OR_CHART:
            figure = app.main().locator('.wt-unrolled, [data-testid="stPlotlyChart"]').first
            assert figure.bounding_box()["y"] < PROJECTOR["height"] - 150, f"section {section}: figure below the fold"
        # The LSTM / GRU diagram fits its framed column: no label runs past the frame's edge (the unrolled chain
        # scrolls sideways on purpose: a long sentence is wider than any screen).
        overflow = app.page.evaluate("""() => [...document.querySelectorAll('.wt-cell img')]
            .map(img => img.getBoundingClientRect().right - img.parentElement.getBoundingClientRect().right)
            .filter(px => px > 1)""")
        assert not overflow, f"section {section}: a diagram runs {overflow} px past its frame"
        sizes = app.page.evaluate(FONT_SIZES)
        floors = {"body": 20, "caption": 16, "code": 16, "metric": 20, "table": 16, "ticks": 16, "legend": 16,
                  "drawing": 16}
        small.update({f"{section}: {kind} {size}px": size for kind, size in sizes.items()
                      if size is not None and size < floors[kind] - 0.01})
        # The same section on a 1440 px laptop screen, for the screenshots (a resize, not a second page load).
        app.page.set_viewport_size(LAPTOP)
        expect(header(app)).to_have_text(re.compile(rf"^{section}\. "))
        app.page.wait_for_timeout(300)  # plotly redraws its charts at the new width
        app.screenshot(f"walkthrough-present-{section:02d}-1440")
        app.page.set_viewport_size(PROJECTOR)
    assert not small, f"text too small for a projector: {sorted(small)}"


def test_a_clickers_keys_change_the_section_but_not_while_typing(sized, trained_run):
    app = sized(PROJECTOR)
    app.open("/walkthrough?section=2&present=1")
    app.page.keyboard.press("ArrowRight")
    app.idle()
    expect(header(app)).to_have_text("3. Unrolling through time")
    expect(app.page).to_have_url(re.compile(r"[?&]section=3\b"))
    app.page.keyboard.press("PageDown")
    app.idle()
    expect(header(app)).to_have_text("4. Backpropagation through time")
    app.page.keyboard.press("PageUp")
    app.idle()
    expect(header(app)).to_have_text("3. Unrolling through time")
    app.page.keyboard.press("ArrowLeft")
    app.idle()
    expect(header(app)).to_have_text("2. The recurrent cell, word by word")
    # Space on a focused button presses that button (Next word), not the next section.
    step = app.widget("wt_next_step").get_by_role("button")
    step.focus()
    step.press("Space")
    app.idle()
    expect(step).to_contain_text("feed x_2")
    expect(header(app)).to_have_text("2. The recurrent cell, word by word")
    # Section 1 has text boxes: an arrow key moves the cursor there, not the section.
    app.open("/walkthrough?section=1&present=1")
    box = app.widget("wt_order_a").locator("input")
    box.click()
    box.press("ArrowRight")
    box.press("Space")
    app.idle()
    expect(header(app)).to_have_text("1. Why a sentence needs memory")
    # Out of presenter mode the keys scroll the page as usual.
    app.open("/walkthrough?section=2")
    app.page.keyboard.press("ArrowRight")
    app.idle()
    expect(header(app)).to_have_text("2. The recurrent cell, word by word")


def test_a_prepared_link_opens_the_section_as_set_up(sized, trained_run):
    app = sized(PROJECTOR)
    sentence = TREEBANK_SENTENCES[1]
    app.open("/walkthrough?" + urlencode({"section": 4, "present": 1, "pick": sentence, "radius": "1.2",
                                          "activation": "identity"}))
    expect(header(app)).to_have_text("4. Backpropagation through time")
    expect(app.widget("wt_pick").get_by_role("combobox")).to_have_value(re.compile("^" + re.escape(sentence)))
    expect(app.widget("wt_radius").get_by_role("slider")).to_have_value("1.2")
    expect(app.widget("wt_activation").get_by_role("radio", name="identity")).to_be_checked()
    # Through the next section and back, by key: the settings stay, and so does the URL.
    app.page.keyboard.press("PageDown")
    app.idle()
    expect(header(app)).to_have_text(re.compile(r"^5\. "))
    app.page.keyboard.press("PageUp")
    app.idle()
    expect(app.widget("wt_radius").get_by_role("slider")).to_have_value("1.2")
    expect(app.page).to_have_url(re.compile(r"[?&]radius=1\.2\b"))
    expect(app.page).to_have_url(re.compile(r"[?&]activation=identity\b"))


def test_next_word_sits_under_the_figure_on_a_phone(sized, trained_run):
    app = sized({"width": 390, "height": 844})
    app.open("/walkthrough?section=2")
    figure = app.main().locator(".wt-unrolled").first.bounding_box()
    button = app.widget("wt_next_step").bounding_box()
    gap = button["y"] - (figure["y"] + figure["height"])
    assert 0 <= gap < 80, f"the Next word button is {gap:.0f} px from the bottom of the diagram"
    app.widget("wt_next_step").get_by_role("button").click()
    app.idle()
    expect(app.main().locator(".wt-code .wt-now")).to_have_count(3)  # the lines that computed h_1 and y_1
    app.screenshot("walkthrough-phone-next-word")


def test_the_code_lights_up_as_the_learner_steps(sized, trained_run):
    """Sections 2 and 9 on the projector: the lines each step ran, and the training loop to the loss after."""
    app = sized(PROJECTOR)
    app.open("/walkthrough?section=2&present=1")
    step = app.widget("wt_next_step").get_by_role("button")
    for word in ("a", "warm", ","):
        expect(step).to_contain_text(f"(“{word}”)")
        step.click()
        app.idle()
    expect(app.main().locator(".wt-code .wt-now")).to_have_count(3)
    ran = app.main().locator(".wt-code").first.locator(".wt-ran")   # the listing of the step (not the whole class)
    expect(ran.filter(has_text="if h_prev is None")).to_have_count(1)
    expect(ran.filter(has_text="new_zeros")).to_have_count(0)  # h_2 was carried over, not made
    app.scroll_to(app.main().get_by_text("The code that ran"))
    app.screenshot("walkthrough-present-02-code-1280")
    app.open("/walkthrough?section=9&present=1")
    step = app.widget("wt_loop_next").get_by_role("button")
    for _ in range(6):
        step.click()
        app.idle()
    expect(step).to_have_text("Every line has run")
    expect(app.main().locator(".wt-code .wt-now")).to_contain_text("optimizer.step()")
    before = float(app.main().locator('[data-testid="stMetric"]').filter(has_text="loss before")
                   .locator('[data-testid="stMetricValue"]').inner_text())
    after = float(app.main().locator('[data-testid="stMetric"]').filter(has_text="loss after")
                  .locator('[data-testid="stMetricValue"]').inner_text())
    assert after < before
    app.scroll_to(app.main().get_by_text("One step of the training loop, on a real batch"))
    app.screenshot("walkthrough-present-09-loop-1280")
