"""AppTest of the playground page with runs trained in the test on a slice of the treebank."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sentiment_core.runs import jobs
from sentiment_core.analysis.inference.predictor import QUICK_PRESET, Predictor, usable_runs
from sentiment_core.runs.limits import Limits
from sentiment_core.runs.processes import is_process_alive
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR, SHIPPED_PREFIX
from sentiment_core.analysis.inference.hidden_units import most_moving_units, order_by_last_value
from sentiment_core.analysis.inference.occlusion import occlude
from tests.helpers import chart_spec, metric, open_page, all_text, open_section, type_text, playground_env, small_playground_run
from tests.helpers import open_playground_on as open_run

PAGE = "views/playground.py"
NEGATION = "This movie was actually neither that funny, nor super witty."




@pytest.fixture(scope="module")
def runs_dir(corpus, tmp_path_factory) -> Path:
    """Two small runs: an older bidirectional LSTM and a newer GRU (the page's default)."""
    root = tmp_path_factory.mktemp("playground") / "runs"
    small_playground_run(root, "older-lstm", corpus, cell="lstm", bidirectional=True)
    time.sleep(0.01)  # distinct creation times: newest first
    small_playground_run(root, "newer-gru", corpus, cell="gru")
    return root


@pytest.fixture
def env(monkeypatch, sst_dir, runs_dir):
    return playground_env(monkeypatch, sst_dir, runs_dir)




NEWER = "newer-gru"


def test_predicts_a_sentence_with_its_trajectory(env):
    at = open_run(NEWER)
    assert at.selectbox(key="pg_run").value == "newer-gru"  # the run the link names
    assert at.text_area(key="pg_text").value == NEGATION      # the tutorial's sentence by default
    predictor = Predictor.from_run(env / "newer-gru")
    expected = predictor.predict(NEGATION)
    label = next(m for m in at.metric if m.label == "Predicted label")
    assert label.value == expected.label
    bars = chart_spec(at, "pg_probabilities")["data"][0]
    assert bars["y"] == expected.class_names and bars["x"] == pytest.approx(expected.probabilities, abs=1e-6)
    traces = {t["name"]: t for t in chart_spec(at, "pg_trajectory")["data"]}
    assert list(traces) == expected.class_names
    tokens = expected.encoded.tokens
    assert traces["positive"]["x"] == [f"{i}: {t}" for i, t in enumerate(tokens)]
    last = [traces[name]["y"][-1] for name in expected.class_names]
    assert last == pytest.approx(expected.probabilities, abs=1e-5)  # the trajectory ends at the answer
    assert "Completeness" in all_text(open_section(at, "Which words mattered").caption)
    open_section(at, "Inside the network")
    # a GRU's gates and its candidate, named as the walkthrough names them (sentiment_core.glossary)
    assert at.radio(key="pg_gate").options == ["reset gate r_t", "update gate z_t", "candidate n_t"]
    at.radio(key="pg_gate").set_value("update").run()
    assert "GRU update gate z_t" in json.dumps(chart_spec(at, "pg_gates")["layout"]["title"])


def test_hidden_state_shows_the_units_that_move_most(env):
    at = open_section(open_run(NEWER), "Inside the network")
    inside = Predictor.from_run(env / "newer-gru").inside(Predictor.from_run(env / "newer-gru").encode(NEGATION))
    units = most_moving_units(inside.states, 8)
    states = chart_spec(at, "pg_states")["data"][0]
    assert states["y"] == [f"unit {u}" for u in units]
    assert states["z"][0] == pytest.approx(inside.states[units[0]], abs=1e-5)
    assert f"The 8 of {len(inside.states)} units of h_t that move most" in all_text(at.caption)
    assert chart_spec(at, "pg_gates")["data"][0]["y"] == states["y"]  # the gates of the same units
    whole = chart_spec(at, "pg_all_states")["data"][0]  # in the expander: every unit
    assert len(whole["y"]) == len(inside.states)
    at.slider(key="pg_unit_count").set_value(3).run()
    assert chart_spec(at, "pg_states")["data"][0]["y"] == [f"unit {u}" for u in units[:3]]


def test_what_if_lists_every_word_by_effect(env):
    at = open_section(type_text(open_run(NEWER), "not a good movie"), "What if")
    predictor = Predictor.from_run(env / "newer-gru")
    expected = occlude(predictor, predictor.encode("not a good movie"))
    table = next(d for d in at.dataframe if "word" in d.value.columns).value
    assert list(table["word"]) == [v.word for v in expected.by_effect()]
    assert sorted(table["word"]) == sorted(["not", "a", "good", "movie"])
    name = expected.class_names[expected.index]
    assert list(table[f"change in {name}"]) == pytest.approx([r[f"change in {name}"] for r in expected.rows()])
    assert "purple: toward " + name in all_text(at.markdown)
    at.radio(key="pg_occlude_edit").set_value("replace it with a word").run()
    at.text_input(key="pg_occlude_word").input("two words").run()
    assert "exactly one word" in all_text(at.error)
    at.text_input(key="pg_occlude_word").input("bad").run()
    assert not at.error
    table = next(d for d in at.dataframe if "word" in d.value.columns).value
    replaced = occlude(predictor, predictor.encode("not a good movie"), "bad")
    assert list(table["word"]) == [v.word for v in replaced.by_effect()]
    # the word replaced first, then what it became ("Replacing with great not moves" was the old grammar)
    assert f"Replacing **{replaced.by_effect()[0].word}** with **bad** moves p(" in all_text(at.markdown)


def test_two_versions_side_by_side(env):
    at = open_section(type_text(open_run(NEWER), "a good movie"), "What if")
    assert at.text_area(key="pg_version_a").value == "a good movie"
    assert at.text_area(key="pg_version_b").value  # the sentence less its most telling word
    at.text_area(key="pg_version_b").input("not a good movie").run()
    predictor = Predictor.from_run(env / "newer-gru")
    first, second = predictor.predict("a good movie"), predictor.predict("not a good movie")
    assert metric(at, "First version says") == first.label and metric(at, "Second version says") == second.label
    change = chart_spec(at, "pg_version_changes")["data"][0]
    assert change["x"] == pytest.approx([100 * (b - a) for a, b in zip(first.probabilities, second.probabilities)],
                                        abs=1e-4)
    at.text_area(key="pg_version_b").input("<b>x</b> $x$ [a](http://e.x)").run()
    assert not at.exception and "<b>x</b>" not in all_text(at.markdown)
    at.text_area(key="pg_version_b").input("   ").run()
    assert "nothing to classify" in all_text(at.info)
    assert not [c for c in at.get("plotly_chart") if "pg_version_changes" in c.proto.id]  # no difference to draw


def test_the_explained_class_is_named_from_this_reruns_prediction(env):
    """Typing a sentence with the opposite answer must not leave the old class beside the new answer."""
    at = open_section(open_run(NEWER), "Which words mattered")  # the tab stays open while the text changes
    predictor = Predictor.from_run(env / "newer-gru")
    for text in ("A gorgeous, witty, seductive movie.", "A dull, tedious and completely forgettable movie."):
        at.text_area(key="pg_text").set_value(text).run()
        expected = predictor.predict(text).label
        assert next(m for m in at.metric if m.label == "Predicted label").value == expected
        assert at.selectbox(key="pg_target").value == -1  # "the predicted class": no class named in the option
        assert f"Explaining **{expected}** (the prediction)." in all_text(at.caption)


def test_example_picker_and_query_parameter(env):
    at = open_page(PAGE, {"text": "The film is not bad at all.", "run": NEWER})
    assert at.text_area(key="pg_text").value == "The film is not bad at all."
    at.selectbox(key="pg_example").set_value("I did not like this movie.").run()
    assert at.text_area(key="pg_text").value == "I did not like this movie."
    assert not at.exception


def test_unknown_words_are_highlighted(env):
    at = type_text(open_run(NEWER), "The movie was zorglubious and flimflammy")
    html = all_text(at.markdown)
    assert 'class="unk"' in html and "zorglubious" in html and "flimflammy" in html
    assert html.count('class="unk"') == 2
    assert "2 of 6 tokens are not in the training vocabulary" in all_text(at.caption)
    table = at.dataframe[0].value
    assert list(table.loc[table["unknown"], "token"]) == ["zorglubious", "flimflammy"]
    assert set(table.loc[table["unknown"], "index"]) == {0}


def test_empty_odd_and_too_long_text(env, monkeypatch):
    at = type_text(open_run(NEWER), "   ")
    assert "nothing to classify" in all_text(at.info)
    for odd in ("!!! ???", "😀 🎬", "映画はとても良かった"):
        at = type_text(at, odd)
        assert any(m.label == "Predicted label" for m in at.metric)
    monkeypatch.setenv("SENTIMENT_MAX_INPUT_TOKENS", "12")
    at = type_text(open_run(NEWER), NEGATION + " And more words here.")
    assert "cap of 12" in all_text(at.error) and not at.get("plotly_chart")
    at = type_text(at, "Short and fine.")
    assert not at.error and any(m.label == "Predicted label" for m in at.metric)


def test_compare_two_runs(env):
    at = open_run(NEWER)
    at.radio(key="pg_mode").set_value("Compare two runs").run()
    assert not at.exception
    assert at.selectbox(key="pg_run_b").value == "older-lstm"
    for tag, run in (("a", "newer-gru"), ("b", "older-lstm")):
        expected = Predictor.from_run(env / run).predict(NEGATION)
        assert chart_spec(at, f"pg_compare_bars_{tag}")["data"][0]["x"] == pytest.approx(expected.probabilities,
                                                                                         abs=1e-6)
    assert len([c for c in at.get("plotly_chart") if "compare_trajectory" in c.proto.id]) == 2


def test_many_sentences_from_a_csv(env):
    at = open_run(NEWER)
    at.radio(key="pg_mode").set_value("Many sentences").run()
    at.radio(key="pg_batch_source").set_value("Upload a CSV file").run()
    at.button(key="pg_batch_go").click().run()
    assert "no file yet" in all_text(at.error) and not at.dataframe  # nothing to predict yet
    data = 'id,text\n1,"A fine, moving film."\n2,Dull and tedious.\n3,\n'.encode()
    at.file_uploader(key="pg_csv").set_value(("reviews.csv", data, "text/csv")).run()
    at.button(key="pg_batch_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["text"]) == ["A fine, moving film.", "Dull and tedious.", ""]
    predictor = Predictor.from_run(env / "newer-gru")
    assert table["label"][0] == predictor.predict("A fine, moving film.").label
    assert "nothing to classify" in table["note"][2]
    assert "2 sentences classified" in all_text(at.success)
    assert at.get("download_button")

    at.file_uploader(key="pg_csv").set_value(("bad.csv", b"id,review\n1,good\n", "text/csv")).run()
    at.button(key="pg_batch_go").click().run()
    assert "no text column" in all_text(at.error) and not at.get("download_button")


def test_many_sentences_pasted_with_a_row_limit(env, monkeypatch):
    monkeypatch.setenv("SENTIMENT_MAX_BATCH_ROWS", "2")
    at = open_run(NEWER)
    at.radio(key="pg_mode").set_value("Many sentences").run()
    at.button(key="pg_batch_go").click().run()
    assert "no sentences" in all_text(at.error)
    at.text_area(key="pg_lines").input("good film\nbad film\nok film").run()
    at.button(key="pg_batch_go").click().run()
    assert "limit of 2 rows" in all_text(at.error)
    at.text_area(key="pg_lines").input("good film\n\nbad film").run()
    at.button(key="pg_batch_go").click().run()
    assert len(at.dataframe[0].value) == 2


def test_without_runs_offers_a_quick_model(monkeypatch, sst_dir, tmp_path):
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page(PAGE)
    assert "no trained model yet" in all_text(at.info) and "shipped default model" in all_text(at.info)
    assert at.button(key="pg_quick").label == "Train a quick model"
    monkeypatch.delenv("SST_DIR")
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "empty"))
    at = open_page(PAGE)
    assert "needs the Stanford Sentiment Treebank" in all_text(at.warning)
    assert not at.get("button")  # no button that cannot work
    assert any(m.label == "Predicted label" for m in at.metric)  # the shipped model needs no treebank


def test_with_an_empty_runs_folder_the_shipped_model_answers_at_once(monkeypatch, tmp_path):
    """Issue 13: a fresh deployment answers a typed sentence with no button pressed."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    shipped = PRETRAINED_DIR / PLAYGROUND_MODEL
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in shipped.iterdir()}
    at = open_page(PAGE)
    assert at.selectbox(key="pg_run").value == SHIPPED_PREFIX + PLAYGROUND_MODEL
    assert at.selectbox(key="pg_run").options[0].startswith("shipped default gru-3cls (read-only) · gru")
    assert "read-only" in all_text(at.caption) and "pretrained --build" in all_text(at.caption)
    expected = Predictor.from_run(shipped).predict(NEGATION)
    assert metric(at, "Predicted label") == expected.label
    at = type_text(at, "A dull, tedious and completely forgettable movie.")
    assert metric(at, "Predicted label") == "negative"
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in shipped.iterdir()} == before  # read-only
    assert not list(root.iterdir())  # nothing was trained or written


@pytest.mark.slow
def test_quick_model_trains_in_the_background_then_answers(monkeypatch, sst_dir, tmp_path):
    """The real thing: the button starts `python -m sentiment_core train` as a background process
    (the quick model's settings on a slice of the treebank: the test is about the process and the page)."""
    from dashboard.views.playground_sections import runs as runs_section
    from sentiment_core.analysis.inference.predictor import quick_run_config
    from sentiment_core.config import with_changes
    monkeypatch.setattr(runs_section, "quick_run_config",
                        lambda: with_changes(quick_run_config(), {"train_limit": 400, "eval_limit": 100}))
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    root = tmp_path / "runs"
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    at = open_page(PAGE)
    at.button(key="pg_quick").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (run,) = jobs.list_jobs(root)
    assert run.status.get("preset") == QUICK_PRESET
    try:
        assert at.get("progress")  # the bar that follows the run
        deadline = time.monotonic() + 600
        while not usable_runs(root):
            assert time.monotonic() < deadline, "the quick model did not finish in 10 minutes"
            assert jobs.job_view(run.path).state not in ("failed", "interrupted"), jobs.job_view(run.path).message
            time.sleep(0.5)
            jobs.advance_queue(root, Limits())
    finally:
        view = jobs.job_view(run.path)
        if view.active:
            jobs.stop_run(run.path, limits=Limits())
        pid, deadline = (view.job or {}).get("pid"), time.monotonic() + 60
        while is_process_alive(pid) and time.monotonic() < deadline:  # leave no process behind
            time.sleep(0.5)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.label == "Predicted label" for m in at.metric)
    # the page moves onto the model just trained and says how it compares with the default (issue 22)
    assert at.selectbox(key="pg_run").value == run.name
    assert f"Switched to {run.name}" in all_text(at.caption).replace("\\", "")


def test_chart_helpers_escape_text_and_use_the_theme():
    from dashboard.charts import playground as charts
    from dashboard.theme import GATE_SCALE, STATE_SCALE

    html = charts.tokens_html(["<sos>", "<b>bold</b>", "ok", "<eos>"], [False, True, False, False])
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html and html.count('class="unk"') == 1
    attribution = charts.attribution_html(["good", "<script>"], [0.5, -0.25], "negative")
    assert "<script>" not in attribution
    assert "rgba(123,50,148,0.80)" in attribution  # the strongest, toward: fully purple (ATTRIBUTION_TOWARD)
    assert "rgba(224,130,20,0.44)" in attribution  # half as strong, away: orange (ATTRIBUTION_AWAY)
    assert "purple: toward negative / orange: away from negative" in attribution
    assert "27,120,55" not in attribution and "178,24,43" not in attribution  # never the class green / red
    assert order_by_last_value([[0.0, 0.1], [0.0, 0.9], [0.0, -0.5]]) == [1, 0, 2]
    figure = charts.units_by_tokens_heatmap(["a", "b"], [[0.0, 0.9], [0.0, 0.1]], "h", units=[17, 3])
    trace = figure.data[0]
    assert list(trace.y) == ["unit 17", "unit 3"] and list(trace.z[0]) == [0.0, 0.9]
    assert [list(c) for c in trace.colorscale] == [list(c) for c in STATE_SCALE] and trace.zmin == -1
    assert "+1 (brown)" in trace.colorbar.ticktext
    gate = charts.units_by_tokens_heatmap(["a"], [[0.5]], "g", gate=True).data[0]
    assert [list(c) for c in gate.colorscale] == [list(c) for c in GATE_SCALE] and gate.zmin == 0
    bars = charts.change_bars(["negative", "positive"], [0.042, -0.042]).data[0]
    assert list(bars.text) == ["+4.2 pts", "-4.2 pts"]

