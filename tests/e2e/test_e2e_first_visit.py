"""Issue 13, ready at the first visit: a public deployment with an EMPTY runs folder answers in the
playground and draws the walkthrough's measured curves, with no button pressed.

The server here is this module's own (SENTIMENT_PUBLIC=1, a new empty runs folder), not the shared
one, whose runs folder holds a trained run; browser, waits and checks come from conftest.py.
"""
from __future__ import annotations

import re
import subprocess
import urllib.parse

import pytest
from playwright.sync_api import expect

from sentiment_core.analysis.inference.predictor import Predictor
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR
from tests.e2e.conftest import (ROOT, SERVER_START_SECONDS, SCRIPT_SECONDS, VIEWPORT, AppPage, free_port,
                                server_command, stop_process_group, wait_for_health)

TYPED = "A dull, tedious and completely forgettable movie."
LINKED = "The film is not bad at all."


@pytest.fixture(scope="module")
def first_visit_server(e2e_env, tmp_path_factory, request):
    """(base URL, log path, runs folder) of a public server whose runs folder is empty."""
    root = tmp_path_factory.mktemp("first-visit")
    runs = root / "data" / "runs"
    runs.mkdir(parents=True)
    env = {**e2e_env, "SENTIMENT_PUBLIC": "1", "SENTIMENT_DATA_DIR": str(root / "data"),
           "SENTIMENT_RUNS_DIR": str(runs)}
    port = free_port()
    log_path = root / "streamlit.log"
    log = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(server_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)

    def stop():
        stop_process_group(process)
        log.close()

    request.addfinalizer(stop)
    url = f"http://127.0.0.1:{port}"
    wait_for_health(f"{url}/_stcore/health", process, log_path, SERVER_START_SECONDS)
    return url, log_path, runs


@pytest.fixture
def visit(browser, first_visit_server):
    url, log_path, _ = first_visit_server
    context = browser.new_context(viewport=VIEWPORT, base_url=url)
    context.set_default_timeout(SCRIPT_SECONDS * 1000)
    yield AppPage(context.new_page(), log_path)
    context.close()


def predicted_label(app: AppPage):
    answer = app.page.locator('[data-testid="stMetric"]').filter(has_text="Predicted label")
    return answer.locator('[data-testid="stMetricValue"]')


def test_playground_answers_with_the_shipped_model_without_a_button(visit, first_visit_server):
    model = Predictor.from_run(PRETRAINED_DIR / PLAYGROUND_MODEL)
    visit.open("/playground?text=" + urllib.parse.quote(LINKED))
    expect(visit.widget("pg_run").get_by_role("combobox")).to_have_value(
        re.compile(r"^shipped default gru-3cls \(read-only\)"))
    expect(predicted_label(visit)).to_have_text(model.predict(LINKED).label)

    box = visit.widget("pg_text").locator("textarea")
    box.fill(TYPED)
    box.press("Control+Enter")  # what typing and leaving the box does; no button
    visit.idle()
    expect(predicted_label(visit)).to_have_text(model.predict(TYPED).label)
    assert not visit.errors()
    assert not list(first_visit_server[2].iterdir())  # nothing was trained or written
    visit.screenshot("first-visit-playground")


def test_walkthrough_draws_the_shipped_probes(visit):
    visit.open("/walkthrough?section=6")  # "Train for real: gradients measured"
    chart = visit.widget("wt_probe_chart").locator(".js-plotly-plot")
    expect(chart).to_have_count(1)
    names = visit.page.evaluate("""() => document.querySelector('.st-key-wt_probe_chart .js-plotly-plot')
        .data.map(trace => trace.name)""")
    assert len(names) == 4 and any("walkthrough-scratch" in n for n in names), names
    visit.scroll_to(visit.widget("wt_probe_chart"))
    visit.screenshot("first-visit-walkthrough-probes")
