"""The walkthrough in a real browser, as a class would see it: one section per screen, the section in
the URL, previous / next and the contents moving between sections, and presenter mode (?present=1)
hiding the sidebar and the toolbar and enlarging the type. Also steps the cell over a sentence."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def header(app):
    return app.main().locator('[data-testid="stHeading"] h2')


def font_size(app, selector: str) -> float:
    return float(app.page.locator(selector).first.evaluate("node => parseFloat(getComputedStyle(node).fontSize)"))


def test_section_navigation_changes_the_section_and_the_url(app):
    app.open("/walkthrough?section=3")
    expect(header(app)).to_have_text("3. Unrolling through time")
    expect(app.main().get_by_text("Section 3 of 10")).to_be_visible()
    app.widget("wt_next").get_by_role("button").click()
    app.idle()
    expect(header(app)).to_have_text("4. Backpropagation through time")
    expect(app.page).to_have_url(re.compile(r"[?&]section=4\b"))
    app.widget("wt_prev").get_by_role("button").click()
    app.idle()
    expect(header(app)).to_have_text("3. Unrolling through time")
    expect(app.page).to_have_url(re.compile(r"[?&]section=3\b"))
    # The contents: choose section 8 by its title.
    box = app.widget("wt_toc").get_by_role("combobox")
    box.click()
    box.press_sequentially("Deep (stacked)")
    box.press("Enter")
    app.idle()
    expect(header(app)).to_have_text("8. Deep (stacked) RNNs")
    expect(app.page).to_have_url(re.compile(r"[?&]section=8\b"))
    app.screenshot("walkthrough-deep")


def test_presenter_mode_hides_the_sidebar_and_toolbar_and_enlarges_the_type(app):
    app.open("/walkthrough?section=2")
    expect(app.page.locator('[data-testid="stSidebar"]')).to_be_visible()
    normal = font_size(app, '[data-testid="stMain"] [data-testid="stMarkdownContainer"] p')
    app.open("/walkthrough?section=2&present=1")
    expect(app.page.locator('[data-testid="stSidebar"]')).to_be_hidden()
    expect(app.page.locator('[data-testid="stToolbar"]')).to_be_hidden()
    expect(app.widget("wt_present").locator('input[type="checkbox"]')).to_be_checked()
    assert font_size(app, '[data-testid="stMain"] [data-testid="stMarkdownContainer"] p') > normal * 1.15
    app.screenshot("walkthrough-presenter")
    # The toggle and the URL agree: switching it off brings the sidebar back and drops ?present.
    app.widget("wt_present").locator("label").first.click()
    app.idle()
    expect(app.page.locator('[data-testid="stSidebar"]')).to_be_visible()
    expect(app.page).not_to_have_url(re.compile(r"present=1"))
    expect(header(app)).to_have_text("2. The recurrent cell, word by word")


def test_the_cell_reads_the_words_of_a_sentence(app):
    app.open("/walkthrough?section=2")
    step = app.widget("wt_next_step").get_by_role("button")
    expect(step).to_have_text("Next word: feed x_1 (“a”)")
    step.click()
    app.idle()
    expect(step).to_have_text("Next word: feed x_2 (“warm”)")
    expect(app.page.locator('[data-testid="stCode"]').filter(has_text="read “a”")).to_have_count(1)
    expect(app.main().locator(".wt-unrolled img")).to_have_count(1)
    app.screenshot("walkthrough")
