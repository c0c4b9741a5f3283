"""Every page at a laptop's 1440x900 and a phone's 390 px: it runs, nothing runs off the edge.

Each visit saves a screenshot (test-artifacts/screenshots/screen-PAGE-WIDTH.png), the set a
reviewer reads. At phone width the page itself may not scroll sideways, and every formula or
table wider than the screen must scroll inside its own frame instead of being clipped.
"""
from __future__ import annotations

import pytest

from tests.e2e.conftest import SCRIPT_SECONDS, AppPage

PAGES = {"home": "/", "explorer": "/explorer", "vocabulary": "/vocabulary", "walkthrough": "/walkthrough",
         "training": "/training", "playground": "/playground?text=not%20a%20good%20movie", "analysis": "/analysis"}
VIEWPORTS = {"laptop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}

# Elements wider than their box: (selector, computed overflow-x) pairs for those that do not scroll.
CLIPPED_WIDE_ELEMENTS = """() => {
  const wide = [];
  for (const node of document.querySelectorAll('.katex-display, [data-testid="stMarkdownContainer"] pre, [data-testid="stCode"] pre')) {
    const style = getComputedStyle(node);
    if (node.scrollWidth > node.clientWidth + 1 && !['auto', 'scroll'].includes(style.overflowX)) {
      wide.push(node.className + ': ' + node.innerText.slice(0, 60));
    }
  }
  return wide;
}"""


@pytest.fixture
def sized_app(browser, app_server, request):
    viewport = VIEWPORTS[request.param]
    context = browser.new_context(viewport=viewport, base_url=app_server[0])
    context.set_default_timeout(SCRIPT_SECONDS * 1000)
    yield AppPage(context.new_page(), app_server[1]), request.param
    context.close()


@pytest.mark.parametrize("sized_app", list(VIEWPORTS), indirect=True)
@pytest.mark.parametrize("name", list(PAGES))
def test_page_fits_the_screen(sized_app, name, trained_run):
    app, size = sized_app
    app.open(PAGES[name])
    width = VIEWPORTS[size]["width"]
    app.screenshot(f"screen-{name}-{width}")
    page_width = app.page.evaluate("() => document.documentElement.scrollWidth")
    assert page_width <= width + 1, f"the {name} page scrolls sideways at {width} px ({page_width} px wide)"
    assert app.page.evaluate(CLIPPED_WIDE_ELEMENTS) == [], f"clipped formulas or code on the {name} page"
