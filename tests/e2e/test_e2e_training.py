"""The training page in a real browser: start a real background run, watch its curve grow, stop it.

The run is the `train` command as its own process (sentiment_core.runs.jobs), writing into the
session's temporary runs folder; the test reads that run directory to check what the page said.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sentiment_core.runs.metrics import read_metrics
from sentiment_core.runs.store import read_status

RUN_NAME = "e2e-live-curve"
LIVE_SECONDS = 120  # a cold training process needs a while to load torch and the data on 2 busy cores
POINTS = """([selector, more_than]) => {
    const plot = document.querySelector(selector + ' .js-plotly-plot');
    return !!(plot && plot.data && plot.data.length && plot.data[0].x.length > more_than);
}"""


def batch_points(app) -> int:
    """How many batches the live loss chart has drawn (its first trace: the raw batch losses)."""
    return app.page.evaluate("""(selector) => {
        const plot = document.querySelector(selector + ' .js-plotly-plot');
        return plot && plot.data && plot.data.length ? plot.data[0].x.length : 0;
    }""", ".st-key-train_batch_loss")


def set_number(app, key: str, value: int) -> None:
    field = app.widget(key).locator("input")
    field.fill(str(value))
    field.press("Enter")
    app.idle()
    expect(field).to_have_value(str(value))


def open_every_setting(app) -> None:
    """The settings beyond the preset fold under one expander below Start (issue 22, point 7)."""
    every = app.main().get_by_text("Every setting", exact=True)
    if not every.is_visible():  # "New run" starts folded while a run of this visitor's trains
        app.main().get_by_text("New run", exact=True).click()
    every.click()
    expect(app.widget("train_epochs").locator("input")).to_be_visible()


@pytest.mark.slow
def test_training_runs_live_and_stops(app, e2e_dirs):
    app.open("/training?preset=seed")  # the page's default is `quick`; the tutorial's preset is the slow one to stop
    expect(app.main().get_by_role("heading", name="Training runner")).to_be_visible()
    # The seed preset (the tutorial's RNN, 200 batches of 4 per epoch), with more epochs than the test
    # will wait for, so the run is still going when Stop is pressed, and a small dev slice.
    # Start within reach: in the first screen, above every setting (it sat 1,400 px down under 20 fields).
    start = app.widget("train_start").get_by_role("button").bounding_box()
    assert start and start["y"] + start["height"] < app.page.viewport_size["height"], start
    expect(app.widget("train_epochs").locator("input")).to_be_hidden()
    open_every_setting(app)
    set_number(app, "train_epochs", 20)
    set_number(app, "train_eval_limit", 200)
    expect(app.main().get_by_text(re.compile(r"training examples and 200 batches per epoch"))).to_be_visible()
    name = app.widget("train_name").locator("input")
    name.fill(RUN_NAME)
    name.press("Enter")
    app.idle()
    assert not app.errors(), app.errors()

    app.widget("train_start").get_by_role("button").click()
    heading = app.main().get_by_role("heading", name=re.compile(rf"{RUN_NAME}: (queued|starting|running)"))
    expect(heading).to_be_visible(timeout=30_000)

    # The live curve: first points, then more points on a later redraw, without reloading the page.
    app.page.wait_for_function(POINTS, arg=[".st-key-train_batch_loss", 2], timeout=LIVE_SECONDS * 1000)
    first = batch_points(app)
    app.page.wait_for_function(POINTS, arg=[".st-key-train_batch_loss", first], timeout=LIVE_SECONDS * 1000)
    grown = batch_points(app)
    assert grown > first
    progress = app.page.locator('[data-testid="stProgress"]').first.inner_text()
    # Which epoch depends on this machine's speed against the page's (an epoch of 200 batches of 4 takes seconds).
    assert re.search(r"epoch \d+ of 20 · batch \d+ of 200", progress), progress
    app.no_exception()

    app.main().get_by_role("button", name="Stop").first.click()
    expect(app.main().get_by_role("heading", name=f"{RUN_NAME}: stopped")).to_be_visible(timeout=60_000)
    # Where it stopped depends on how fast this machine trains against how fast the page redraws
    # (an epoch of the seed preset is a few seconds): the page must say it, and say it truly.
    stopped_at = app.main().get_by_text(re.compile(r"Stopped on request at epoch \d+, batch \d+"))
    expect(stopped_at).to_be_visible()
    epoch, batch, per_epoch = map(int, re.search(r"epoch (\d+), batch (\d+) of (\d+)",
                                                 stopped_at.first.inner_text()).groups())
    # A stopped run keeps its training state: it can be resumed.
    expect(app.main().get_by_role("button", name="Resume").first).to_be_visible()
    app.idle()  # polling ends with the run: the page is still now
    expect(app.widget("train_batch_loss").locator(".main-svg").first).to_be_visible()
    app.scroll_to(app.main().get_by_role("heading", name=f"{RUN_NAME}: stopped"))
    app.screenshot("training")

    # The page told the truth: the run directory holds the same story.
    run_dir = e2e_dirs["runs"] / RUN_NAME
    status = read_status(run_dir)
    completed = epoch if batch == per_epoch else epoch - 1  # a stop between epochs names the last one's end
    assert status["state"] == "stopped" and status["epoch"] == completed
    events, _ = read_metrics(run_dir)
    batches = [e for e in events if e["event"] == "batch_end"]
    assert len(batches) >= grown and (batches[-1]["epoch"], batches[-1]["batch"]) == (epoch, batch)
    assert events[-1]["event"] in ("train_end", "evaluation")


FINISHING_RUN = "e2e-finishes"
FINISH_SECONDS = 240  # a cold process, the data, one small epoch and the dev/test evaluation on 2 busy cores


# The run selector's shown choice (an input's value or the combobox's text) is one of `labels`.
SELECTOR_SAYS = """(labels) => {
    const box = document.querySelector('.st-key-train_watch [role="combobox"]');
    const shown = box ? (box.value || box.textContent || '') : '';
    return labels.some(label => shown.includes(label));
}"""


@pytest.mark.slow
def test_run_selector_reaches_finished(app, e2e_dirs):
    """A run started from the page: its entry in the run selector follows it to "finished" (issue 14)."""
    app.open("/training")  # the quick preset, the page's default: one epoch of a small GRU
    expect(app.main().get_by_role("heading", name="Training runner")).to_be_visible()
    open_every_setting(app)
    set_number(app, "train_train_limit", 3000)  # a slice of the phrases: the test is about the labels
    set_number(app, "train_eval_limit", 300)
    name = app.widget("train_name").locator("input")
    name.fill(FINISHING_RUN)
    name.press("Enter")
    app.idle()
    app.widget("train_start").get_by_role("button").click()
    app.page.wait_for_function(SELECTOR_SAYS, arg=[f"{FINISHING_RUN} (queued)", f"{FINISHING_RUN} (starting)",
                                                   f"{FINISHING_RUN} (running)"], timeout=30_000)
    # The selector's own label, not only the panel's heading, reaches "finished" without a reload.
    app.page.wait_for_function(SELECTOR_SAYS, arg=[f"{FINISHING_RUN} (finished)"], timeout=FINISH_SECONDS * 1000)
    expect(app.main().get_by_role("heading", name=f"{FINISHING_RUN}: finished")).to_be_visible()
    assert read_status(e2e_dirs["runs"] / FINISHING_RUN)["state"] == "finished"
    app.no_exception()


def probe_table_text(app) -> str:
    return app.main().locator("table.probe-table").first.inner_text()


def test_the_probe_slider_moves(app, trained_run):
    """The probe sentences scored at each epoch: moving the slider shows another epoch's answers (issue 15)."""
    app.open(f"/training?run={trained_run.name}")
    slider = app.widget(f"train_probe_epoch_{trained_run.name}")
    expect(slider).to_be_visible()
    table = app.main().locator("table.probe-table").first
    expect(table).to_contain_text("after epoch 1")
    expect(table).to_contain_text("not bad at all")
    after = probe_table_text(app)
    assert "▲" in after or "▼" in after  # changes since the epoch before are drawn
    app.scroll_to(app.main().get_by_role("heading", name="Watch it learn, sentence by sentence"))
    app.screenshot("training-probes")

    slider.get_by_role("slider").focus()
    app.page.keyboard.press("ArrowLeft")  # one stop back: before training
    expect(table).to_contain_text("before training")
    app.idle()
    before = probe_table_text(app)
    assert before != after and "▲" not in before and "▼" not in before
    app.no_exception()
