"""Issue 22's chart rules, read off the page in Chromium: the confusion grid's cells shaded by share of row and
equally wide; on a phone plotly's toolbar is hidden and no chart or axis title is cut at the figure's edge.

The shade is read back from the button's computed colour (where it lies between white and the slate of
100%), the share from the counts the buttons print: the two are measured independently.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_chart_rules import share_from_colour

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1440, "height": 900}


def open_analysis(app) -> None:
    """The analysis page on its default model (which one does not matter here: the grid is read as drawn)."""
    app.open("/analysis")


def grid_cells(app) -> dict[tuple[int, int], dict]:
    """Every confusion cell's count (from its label), computed background colour and width."""
    cells = {}
    for locator in app.page.locator('[class*="st-key-analysis_confusion_cell_"]').all():
        i, j = map(int, re.search(r"_cell_(\d+)_(\d+)", locator.get_attribute("class")).groups())
        button = locator.locator("button:visible").first   # not the zero-size copy Streamlit keeps beside it
        count = int(re.match(r"([\d,]+) ·", button.inner_text()).group(1).replace(",", ""))
        colour = button.evaluate("b => getComputedStyle(b).backgroundColor")
        cells[(i, j)] = {"count": count, "colour": colour, "width": button.bounding_box()["width"]}
    return cells


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_confusion_cells_are_shaded_by_row_share_and_equally_wide(app, viewport):
    app.page.set_viewport_size(viewport)
    open_analysis(app)
    expect(app.widget("analysis_confusion_cell_0_0")).to_be_visible()
    cells = grid_cells(app)
    size = max(i for i, _ in cells) + 1
    assert len(cells) == size * size and size >= 2
    for (i, j), cell in cells.items():
        total = sum(cells[(i, k)]["count"] for k in range(size))
        expected = cell["count"] / total if total else 0.0
        assert share_from_colour(cell["colour"]) == pytest.approx(expected, abs=0.01), (i, j, cell)
    widths = [cell["width"] for cell in cells.values()]
    assert max(widths) - min(widths) <= 1.0, f"cell widths differ: {sorted(widths)}"
    app.scroll_to(app.widget("analysis_confusion_cell_0_0"))
    app.screenshot(f"analysis-confusion-grid-{viewport['width']}")


def boxes_inside(app) -> list[str]:
    """Each chart's title and axis titles that reach outside its figure (cut off), as 'chart: text'."""
    return app.page.evaluate("""() => {
        const cut = [];
        for (const plot of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
            const frame = plot.querySelector('.main-svg').getBoundingClientRect();
            for (const text of plot.querySelectorAll('.gtitle, .xtitle, .ytitle, [class*="xtitle"], [class*="ytitle"]')) {
                const box = text.getBoundingClientRect();
                if (box.width === 0) continue;
                if (box.left < frame.left - 1 || box.right > frame.right + 1 || box.top < frame.top - 1
                    || box.bottom > frame.bottom + 1) cut.push(text.textContent);
            }
        }
        return cut;
    }""")


def test_a_phone_hides_the_chart_toolbar_and_cuts_no_title(app):
    app.page.set_viewport_size(PHONE)
    open_analysis(app)
    chart = app.page.locator('[data-testid="stPlotlyChart"]').first
    app.scroll_to(chart)
    chart.click(position={"x": 200, "y": 150})   # a tap: plotly would show its toolbar over the title
    expect(chart.locator(".modebar-container")).to_be_hidden()
    assert boxes_inside(app) == []
    app.page.set_viewport_size(LAPTOP)
    app.idle()
    chart.hover(position={"x": 300, "y": 150})
    modebar = chart.locator(".modebar")
    expect(modebar).to_be_visible()
    title = chart.locator(".gtitle").first.bounding_box()
    bar = modebar.bounding_box()
    assert bar["height"] > bar["width"]   # vertical, at the right edge
    overlap = bar["x"] < title["x"] + title["width"] and bar["y"] < title["y"] + title["height"]
    assert not overlap, "the chart toolbar covers the chart's title"
    assert boxes_inside(app) == []
