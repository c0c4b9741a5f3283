"""AppTest of the training page inside the app's navigation: start, watch and stop a real background
run; failed and interrupted runs (and resuming one); limits, prefilled settings, a full queue;
results, comparison, damaged metrics, deleting."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sentiment_core.runs import jobs
from sentiment_core.runs.execution import train_run
from sentiment_core.runs.store import create_run, read_status, write_status
from tests.test_escape import unescape
from tests.helpers import StopAt, dead_pid, metric, open_page, tiny_config

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGE = "views/training.py"


@pytest.fixture
def runs_root(sst_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    root = tmp_path / "runs"
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    for name in ("SENTIMENT_MAX_QUEUE", "SENTIMENT_ALLOW_DELETE", "SENTIMENT_MAX_CONCURRENT_RUNS"):
        monkeypatch.delenv(name, raising=False)
    return root






def texts(elements) -> str:
    """The elements' text as a visitor reads it (names and messages reach the page markdown-escaped)."""
    return " | ".join(unescape(str(e.value)) for e in elements)


def chart(at: AppTest, key: str) -> dict | None:
    found = [c for c in at.get("plotly_chart") if key in c.proto.id]
    return json.loads(found[0].proto.spec) if found else None


def run_picker(at: AppTest):
    """The run selector: its widget key is train_watch plus a digest of its labels (components/live_select.py)."""
    return next(w for w in at.selectbox if str(w.key).startswith("train_watch__"))


def probe_slider(at: AppTest, run: str):
    """The probe sentences' epoch slider: keyed by run and number of epochs (training_sections/probes.py)."""
    return next(w for w in at.select_slider if str(w.key).startswith(f"train_probe_epoch_{run}_"))


def header(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown if m.value.startswith("### "))


def rerun_until(at: AppTest, condition, timeout: float = 150.0) -> None:
    """Rerun the page (as its 1 s polling does) until condition(at) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if condition(at):
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out; the page shows: {header(at)} {texts(at.error)} {texts(at.info)}")


def set_settings(at: AppTest, **values) -> None:
    for key, value in values.items():
        widget = next(w for w in [*at.number_input, *at.selectbox, *at.checkbox] if w.key == f"train_{key}")
        widget.set_value(value)
    at.run()


def test_a_run_started_on_the_page_shows_live_metrics_and_stops(runs_root):
    at = open_page(PAGE)
    at.selectbox(key="train_preset").set_value("custom").run()
    set_settings(at, cell="gru", embedding_dim=16, hidden_dim=16, epochs=20, batch_size=10, train_limit=400,
                 eval_limit=60, patience=0)
    assert not at.error, texts(at.error)
    at.text_input(key="train_name").set_value("from-the-page")
    at.button(key="train_start").click().run()
    assert "from-the-page** started in the background" in texts(at.success)
    assert (runs_root / "from-the-page" / jobs.LOG_FILE).is_file()  # a real process writes it

    # Live: progress bar, batch losses, then the first epoch's dev accuracy.
    rerun_until(at, lambda a: metric(a, "Best dev accuracy so far") not in (None, "-"))
    assert "running" in header(at)
    progress = at.get("progress")[0].proto
    assert "epoch" in progress.text and "sentences/s" in progress.text and 0 < progress.value < 100
    losses = chart(at, "train_batch_loss")
    assert losses and len(losses["data"][0]["y"]) >= 40  # epoch 1's 40 batches at least
    accuracy = chart(at, "train_epoch_accuracy")
    # The note sits under the chart (on it, it ran into the title), the majority line on it.
    assert any(c.value.startswith("No published figure exists for the 3-class") for c in at.caption)
    assert not any(a["text"].startswith("No published") for a in accuracy["layout"]["annotations"])
    assert any("always" in a["text"] for a in accuracy["layout"]["annotations"])  # the majority baseline
    assert chart(at, "train_gradient_flow") is not None

    # A second browser (a new session) sees the same run in progress.
    other = open_page(PAGE)
    assert run_picker(other).value == "from-the-page" and "running" in header(other)

    at.button(key="train_stop").click().run()
    rerun_until(at, lambda a: "stopped" in header(a))
    stopped = texts(at.warning)
    assert "Stopped on request" in stopped
    # What it keeps, truly: its best epoch's checkpoint, or before any epoch ended a provisional one (issue 22).
    status = read_status(runs_root / "from-the-page")
    assert (f"checkpoint of its best epoch (epoch {status['best_epoch']}) is kept" in stopped if status.get("best_epoch")
            else "provisional checkpoint" in stopped and "best checkpoint" not in stopped)
    assert "not evaluated when it stops" in texts(at.caption)  # stopping skips the final evaluation
    assert read_status(runs_root / "from-the-page")["state"] == "stopped"
    assert (runs_root / "from-the-page" / "checkpoint.pt").is_file() and at.button(key="train_resume")
    # ... which one click fills in: the test and dev figures of the best checkpoint.
    at.button(key="train_evaluate").click().run()
    assert not at.exception and "Evaluated from-the-page" in texts(at.info)
    results = read_status(runs_root / "from-the-page")["results"]
    assert results["test"]["count"] == 60
    shown = {m.label: m.value for m in at.metric}
    assert shown["test accuracy"] == f"{results['test']['accuracy']:.1%}"
    assert not [b for b in at.button if b.key == "train_evaluate"]  # nothing left to evaluate


def test_failed_and_interrupted_runs_say_so_and_an_interrupted_one_resumes(runs_root, corpus):
    failed, _ = train_run(tiny_config(optimizer="sgd", lr=1e38, clip=None), root=runs_root, name="diverged",
                          corpus=corpus, catch_signals=False)
    holder = {}
    callback = StopAt(lambda: holder["dir"], 2, 1)
    interrupted = runs_root / "killed"
    holder["dir"] = interrupted
    train_run(tiny_config(), interrupted, corpus=corpus, callbacks=[callback], catch_signals=False)
    write_status(interrupted, state="running", pid=dead_pid())  # what a killed process leaves behind

    at = open_page(PAGE)
    run_picker(at).set_value("diverged").run()
    assert "failed" in header(at) and "Training diverged" in texts(at.error) and "learning rate" in texts(at.error)
    assert not [b for b in at.button if b.key == "train_resume"]

    run_picker(at).set_value("killed").run()
    assert "interrupted" in header(at) and "Interrupted" in texts(at.error)
    at.button(key="train_resume").click().run()
    assert "will resume" in texts(at.info)
    rerun_until(at, lambda a: "finished" in header(a))
    assert "Finished 2 epochs" in texts(at.success) and metric(at, "test accuracy") is not None


def test_prefilled_settings_limits_and_a_full_queue(runs_root, monkeypatch):
    at = open_page(PAGE, {"preset": "seed", "cell": "lstm"})
    assert at.selectbox(key="train_preset").value == "seed" and at.selectbox(key="train_cell").value == "lstm"
    assert at.number_input(key="train_batch_size").value == 4 and at.number_input(key="train_max_batches").value == 200
    assert not at.error and not at.button(key="train_start").disabled

    set_settings(at, hidden_dim=100_000)
    assert "Hidden size is 100000, above this server's limit" in texts(at.error)
    assert at.button(key="train_start").disabled
    set_settings(at, hidden_dim=16, lr=0.0)
    assert "Learning rate must be positive" in texts(at.error)
    assert not runs_root.exists() or jobs.run_dirs(runs_root) == []

    bad = open_page(PAGE, {"preset": "nope", "cell": "transformer"})
    assert "no preset called 'nope'" in texts(bad.warning) and "no cell called 'transformer'" in texts(bad.warning)

    # A run training in a terminal holds the only slot, and no queue is allowed.
    monkeypatch.setenv("SENTIMENT_MAX_QUEUE", "0")
    busy = create_run(tiny_config(), root=runs_root, name="terminal-run")
    write_status(busy, state="running", pid=os.getpid())
    at = open_page(PAGE)
    set_settings(at, embedding_dim=16, hidden_dim=16, train_limit=100, eval_limit=50, max_batches=0)
    at.button(key="train_start").click().run()
    assert "The queue is full" in texts(at.error) and "SENTIMENT_MAX_QUEUE" in texts(at.error)
    assert [p.name for p in jobs.run_dirs(runs_root)] == ["terminal-run"]


def test_results_comparison_damaged_metrics_and_deleting(runs_root, corpus, monkeypatch):
    first, _ = train_run(tiny_config(), root=runs_root, name="first", corpus=corpus, catch_signals=False)
    second, _ = train_run(tiny_config(lr=3e-3), root=runs_root, name="second", corpus=corpus, catch_signals=False)
    at = open_page(PAGE)
    run_picker(at).set_value("first").run()
    assert "finished" in header(at) and metric(at, "test accuracy").endswith("%")
    assert metric(at, "majority class (test)") is not None
    per_class = [d.value for d in at.dataframe if "precision" in d.value.columns]
    assert list(per_class[0]["class"]) == ["positive", "negative", "neutral"]  # test, then dev
    assert per_class[0]["support"].sum() == 60 and at.button(key="train_confusion_test_cell_0_0")  # the drill-down grid
    summary = next(d.value for d in at.dataframe if "test macro F1" in d.value.columns)
    assert {"test accuracy", "dev accuracy", "test recall neutral", "dev recall positive"} <= set(summary.columns)

    # The probe sentences at every epoch: the slider moves the table to another epoch.
    def probe_table():
        return next(m.value for m in at.markdown if "probe-table" in m.value)
    assert "after epoch 2" in probe_table() and "not bad at all" in probe_table() and "▲" in probe_table() + "▼="
    probe_slider(at, "first").set_value(0).run()
    assert "before training" in probe_table() and "▲" not in probe_table()  # nothing before it to compare
    probe_slider(at, "first").set_value(1).run()
    assert "after epoch 1" in probe_table()

    at.multiselect(key="train_compare").set_value(["first", "second"]).run()
    overlay = chart(at, "train_overlay")
    assert [t["name"] for t in overlay["data"]] == ["first", "second"]
    from dashboard import theme
    assert [t["line"]["color"] for t in overlay["data"]] == [theme.run_colours(["first", "second"])[n]
                                                             for n in ("first", "second")]
    results = [d.value for d in at.dataframe if "test macro F1" in d.value.columns][-1]  # the run's own, then these
    assert list(results["run"]) == ["first", "second"] and "test recall neutral" in results.columns
    assert "epoch_seconds" in at.selectbox(key="train_compare_metric").options or \
        "seconds per epoch" in at.selectbox(key="train_compare_metric").options
    at.selectbox(key="train_compare_metric").set_value("epoch_seconds").run()
    assert chart(at, "train_overlay")["layout"]["title"]["text"] == "Seconds per epoch"
    smooth_before = chart(at, "train_compare_batch_loss")["data"][0]["y"]
    at.slider(key="train_compare_smoothing").set_value(0.0).run()
    raw = chart(at, "train_compare_batch_loss")["data"][0]["y"]
    assert raw != smooth_before and len(raw) == len(smooth_before)
    table = at.dataframe[-1].value
    assert list(table["run"]) == ["first", "second"] and list(table["lr"]) == [1e-3, 3e-3]

    with open(first / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write("{this line is damaged\n")
    at.run()
    assert "could not be read" in texts(at.warning) and "not valid JSON" in texts(at.warning)
    assert "finished" in header(at)  # the other events still show

    run_picker(at).set_value("second").run()
    at.checkbox(key="train_confirm_delete_second").check().run()
    monkeypatch.setenv("SENTIMENT_ALLOW_DELETE", "0")
    at.button(key="train_delete").click().run()
    assert "switched off" in texts(at.error) and second.exists()
    monkeypatch.setenv("SENTIMENT_ALLOW_DELETE", "1")
    at.button(key="train_delete").click().run()
    assert "Deleted second" in texts(at.success) and not second.exists()

    run_picker(at).set_value("first").run()
    shutil.rmtree(first)  # deleted behind the page's back
    at.run()
    assert not at.exception and "No runs yet" in texts(at.info)


def test_chart_builders_thin_long_curves_and_spread_probe_lines():
    from dashboard.charts import training as charts

    xs, ys = charts.thin_out(list(range(10_001)), list(range(10_001)), max_points=100)
    assert len(xs) <= 102 and xs[0] == 0 and xs[-1] == 10_000 and xs == ys
    assert charts.spread_pick(list(range(21)), 6) == [0, 4, 8, 12, 16, 20]
    probes = {e: {"norms": [10.0 ** -(5 - t) for t in range(6)], "length": 6, "size": 16} for e in range(21)}
    probes[3] = {"norms": [], "error": "probe failed"}  # a failed probe draws nothing
    figure = charts.gradient_flow_chart(probes)
    names = [t.name for t in figure.data]
    assert len(names) == 6 and names[0] == "before training" and names[-1] == "after epoch 20"
    assert "after epoch 3" not in names
    assert figure.layout.yaxis.type == "log"

def test_charts_take_the_theme_colours_and_fit_their_axes_with_baselines_in_view():
    from dashboard import theme
    from dashboard.charts import training as charts
    from dashboard.charts.comparison import batch_loss_overlay, overlay_chart

    rows = [{"epoch": 1, "dev_accuracy": 0.5, "train_accuracy": 0.52, "train_loss": 1.0, "dev_loss": 0.98,
             "epoch_seconds": 12.0},
            {"epoch": 2, "dev_accuracy": 0.6, "train_accuracy": 0.66, "train_loss": 0.8, "dev_loss": 0.9,
             "epoch_seconds": 11.0}]
    accuracy = charts.epoch_accuracy_chart(rows, [("always 'positive' (dev)", 0.403, "baseline")])
    assert [t.line.color for t in accuracy.data] == [theme.TRAIN_COLOUR, theme.DEV_COLOUR]
    low, high = accuracy.layout.yaxis.range
    assert 0.3 < low < 0.403 and 0.66 < high < 0.75  # zoomed to the data, the baseline kept in view
    assert accuracy.layout.shapes[0].line.color == theme.BASELINE_COLOUR
    assert not accuracy.layout.annotations or all(a.y != 1.0 for a in accuracy.layout.annotations)  # no note on the title
    low, high = charts.epoch_loss_chart(rows).layout.yaxis.range
    assert 0.7 < low < 0.8 and 1.0 < high < 1.1
    batch = charts.batch_loss_chart([0.5, 1.0], [1.1, 0.9], [1.1, 1.0])
    assert {t.line.color for t in batch.data} == {theme.TRAIN_COLOUR} and batch.layout.yaxis.range[0] > 0.8

    colours = theme.run_colours(["a", "b", "zed"])
    overlay = overlay_chart({"a": rows, "b": rows[:1]}, "dev_accuracy", colours,
                            [("RNTN (published, test)", 0.854, "published")])
    assert [t.name for t in overlay.data] == ["a", "b"] and overlay.layout.shapes[0].y0 == 0.854
    assert [t.line.color for t in overlay.data] == [colours["a"], colours["b"]]
    assert not {theme.TRAIN_COLOUR, theme.DEV_COLOUR} & {t.line.color for t in overlay.data}
    assert overlay.layout.yaxis.range[1] > 0.854  # the published line stays in view
    seconds = overlay_chart({"a": rows}, "epoch_seconds", colours, [("x", 0.5, "baseline")])
    assert not seconds.layout.shapes and seconds.layout.title.text == "Seconds per epoch"  # any measure, in words
    losses = batch_loss_overlay({"zed": ([0.5, 1.0], [1.0, 0.8])}, colours)
    assert losses.data[0].line.color == colours["zed"]


def test_the_default_is_the_quick_preset_and_a_run_below_the_majority_says_why():
    from sentiment_core.analysis.evaluation.baselines import below_majority_note, majority_baseline
    from sentiment_core.config import preset

    at = open_page(PAGE)
    assert at.selectbox(key="train_preset").value == "quick"
    at.selectbox(key="train_preset").set_value("seed").run()
    assert any("as the contrast" in c.value for c in at.caption)
    majority = majority_baseline({"positive": 909, "negative": 912, "neutral": 389}, "test")
    note = below_majority_note(0.39, majority, preset("seed"))
    assert "no better than always answering 'negative' (41.3%)" in note
    assert "padding as words" in note and "800 sentences" in note
