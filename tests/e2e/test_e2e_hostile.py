"""A hostile visitor in a real browser (issue 19, C1 and M1): a catastrophic regular expression over
every training phrase does not hold the server, and a second visitor is answered meanwhile.

Before the fix, `(.+)+#` made Python's backtracking `re` run for minutes holding the interpreter lock:
the health endpoint and every other session got no answer.
"""
from __future__ import annotations

import threading
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCRIPT_SECONDS, VIEWPORT, AppPage

CATASTROPHIC = "(.+)+#"
SUPERSCRIPT_TWO = "\u00b2"


class HealthProbe(threading.Thread):
    """Asks /_stcore/health every 0.2 s and keeps the slowest answer (or the failure)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.slowest, self.failures, self.done = url, 0.0, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as answer:
                    assert answer.read().strip() == b"ok"
            except Exception as err:  # noqa: BLE001  (any failure to answer is the finding)
                self.failures.append(repr(err))
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.done.wait(0.2)


@pytest.mark.slow
def test_a_catastrophic_pattern_does_not_hold_the_server(app, browser, app_server, corpus):
    url, log_path = app_server
    app.open("/explorer")
    app.widget("explorer_level").get_by_text("phrases").click()  # every training phrase: 150k rows
    app.idle()
    app.widget("explorer_search_mode").get_by_text("regular expression").click()
    app.idle()

    probe = HealthProbe(f"{url}/_stcore/health")
    probe.start()
    search = app.widget("explorer_search").locator("input")
    search.fill(CATASTROPHIC)
    search.press("Enter")  # the search runs on the server while the second visitor arrives

    other = browser.new_context(viewport=VIEWPORT, base_url=url)
    other.set_default_timeout(SCRIPT_SECONDS * 1000)
    try:
        visitor_b = AppPage(other.new_page(), log_path)
        visitor_b.open(f"/walkthrough?section={SUPERSCRIPT_TWO}")  # a hostile link too: section 1, no traceback
        expect(visitor_b.main().get_by_role("heading", name="1. Why a sentence needs memory")).to_be_visible()
    finally:
        other.close()

    app.idle()
    probe.done.set()
    probe.join()
    expect(app.main().get_by_text("match.", exact=False).first).to_be_visible()
    assert not probe.failures, probe.failures
    # One second is far above a linear-time search's pause and far below what backtracking took.
    assert probe.slowest < 1.0, f"the health endpoint took {probe.slowest:.2f} s to answer"
