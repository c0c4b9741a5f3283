"""AppTest of the model analysis page and the confusion drill-down, with runs trained in the test on the
synthetic treebank (always there)."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from dashboard.theme import run_colours
from sentiment_core.analysis.evaluation.confusion import cell_sentences, score_sentences
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR, SHIPPED_NAMES, SHIPPED_PREFIX
from sentiment_core.runs.execution import load_model, train_run
from tests.helpers import chart_spec, open_page, tiny_config
from tests.ranked_runs import ranked_copy

PAGE = "views/analysis.py"


@pytest.fixture(scope="module")
def runs_dir(tiny_corpus, tmp_path_factory) -> Path:
    """A 2-class LSTM (older) and a 3-class GRU (newer: the page's default)."""
    root = tmp_path_factory.mktemp("analysis") / "runs"
    small = dict(train_limit=None, eval_limit=None, epochs=1, batch_size=32, probe_every=0)
    train_run(tiny_config(cell="lstm", labels=2, **small), root=root, name="two-lstm", corpus=tiny_corpus,
              catch_signals=False)
    time.sleep(0.01)  # distinct creation times: newest first
    train_run(tiny_config(cell="gru", **small), root=root, name="three-gru", corpus=tiny_corpus, catch_signals=False)
    return root


@pytest.fixture
def env(monkeypatch, tiny_sst_dir, runs_dir, tmp_path):
    monkeypatch.setenv("SST_DIR", str(tiny_sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    return runs_dir


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def table(at, first_column: str):
    """The one dataframe on the page whose first column is `first_column` (AppTest keeps no dataframe keys)."""
    found = [d.value for d in at.dataframe if list(d.value.columns)[:1] == [first_column]]
    assert len(found) == 1, f"expected one table starting with {first_column}"
    return found[0]


def test_one_run_from_a_link_with_overall_slices_and_phrases(env):
    at = open_page(PAGE, {"run": "three-gru"})
    runs = at.multiselect(key="analysis_runs")
    assert runs.value == ["three-gru"]  # the run the link names
    assert "Opened on three-gru, the run the link was about." in texts(at.caption).replace("\\", "")
    assert SHIPPED_PREFIX + PLAYGROUND_MODEL in runs.options or any(PLAYGROUND_MODEL in o for o in runs.options)
    overall = table(at, "run")
    assert list(overall["run"]) == ["three-gru"] and list(overall["sentences"]) == [80]
    assert {"recall positive", "recall negative", "recall neutral"} <= set(overall.columns)
    slices = table(at, "slice")
    assert "negation" in list(slices["slice"]) and "accuracy · three-gru" in slices.columns
    bars = chart_spec(at, "analysis_slices_chart")["data"]
    assert [b["name"] for b in bars] == ["three-gru"]
    # Its colour on every page: the map over every run the server knows (these two and the shipped models).
    assert bars[0]["marker"]["color"] == run_colours(["two-lstm", "three-gru", *(SHIPPED_PREFIX + n
                                                                                 for n in SHIPPED_NAMES)])["three-gru"]
    depth = chart_spec(at, "analysis_phrase_depth")["data"]
    assert depth[0]["x"][0] == "0" and 0 <= depth[0]["y"][0] <= 1
    assert "not comparable" in texts(at.warning).replace("\\", "")  # 80 synthetic dev sentences vs the real 1,101
    assert "different label counts" not in texts(at.warning)  # one run: no label-count note


def test_two_runs_side_by_side_say_their_label_counts_differ(env):
    at = open_page(PAGE, {"run": "three-gru"})
    at.multiselect(key="analysis_runs").set_value(["three-gru", "two-lstm"]).run()
    assert not at.exception
    assert "different label counts" in texts(at.warning)
    slices = table(at, "slice")
    assert {"accuracy · three-gru", "accuracy · two-lstm", "count · two-lstm"} <= set(slices.columns)
    overall = table(at, "run")
    assert list(overall["labels"]) == [3, 2]
    assert [b["name"] for b in chart_spec(at, "analysis_slices_chart")["data"]] == ["three-gru", "two-lstm"]
    at.radio(key="analysis_split").set_value("test").run()
    assert not at.exception and at.selectbox(key="analysis_drill_run").value == "three-gru"


def test_a_confusion_cell_lists_its_sentences_with_links(env, tiny_corpus):
    model, vocab, _, scheme = load_model(env / "three-gru")
    scored = score_sentences(model, vocab, scheme, tiny_corpus, "dev")
    true, predicted = max(((i, j) for i in range(3) for j in range(3) if i != j),
                          key=lambda c: len(cell_sentences(scored.sentences, *c)))
    expected = cell_sentences(scored.sentences, true, predicted)
    assert expected, "the tiny model makes mistakes"

    at = open_page(PAGE, {"run": "three-gru"})
    assert not any(m.value.startswith("| # | sentence") for m in at.markdown)  # nothing listed before a click
    button = at.button(key=f"analysis_confusion_cell_{true}_{predicted}")
    assert button.label.startswith(f"{len(expected):,} · ")
    button.click().run()
    assert not at.exception
    table = next(m.value for m in at.markdown if m.value.startswith("| # | sentence"))
    rows = table.splitlines()[2:]
    assert len(rows) == min(len(expected), 50)
    first = expected[0]
    assert f"(explorer?split=dev&index={first.index}&run=three-gru)" in rows[0]
    assert f"**{first.confidence:.1%}**" in rows[0] and "(playground?text=" in rows[0]
    # every link carries the run it is about: the playground link too (it dropped the model, issue 22)
    links = re.findall(r"\]\(([a-z]+\?[^)]*)\)", table)
    assert links and all(link.endswith("&run=three-gru") for link in links)
    assert re.search(rf"\*\*{len(expected):,}\*\* ", texts(at.markdown))

    # A slice narrows the matrix: the negation slice's counts add up to its sentences.
    at.selectbox(key="analysis_confusion_slice").set_value("negation").run()
    negated = sum(1 for s in scored.sentences if "negation" in s.slices)
    counts = [int(b.label.split(" · ")[0].replace(",", "")) for b in at.button
              if b.key and b.key.startswith("analysis_confusion_cell_")]
    assert sum(counts) == negated > 0


def test_training_results_confusion_cells_list_their_sentences(env):
    at = open_page("views/training.py")
    # the run selector's key is train_watch plus a digest of its labels (components/live_select.py)
    next(w for w in at.selectbox if str(w.key).startswith("train_watch")).set_value("three-gru").run()
    cells = [b for b in at.button if b.key and b.key.startswith("train_confusion_test_cell_")]
    assert len(cells) == 9  # 3 classes: a 3 x 3 grid
    max(cells, key=lambda b: int(b.label.split(" · ")[0].replace(",", ""))).click().run()
    assert not at.exception
    table = next(m.value for m in at.markdown if m.value.startswith("| # | sentence"))
    assert "(explorer?split=test&index=" in table and "&run=three-gru)" in table


def test_the_default_is_the_best_whole_split_run_and_says_why(monkeypatch, tiny_sst_dir, runs_dir, tmp_path):
    """Issue 22: not the newest run but the best by dev accuracy on the whole dev split, with its reason."""
    shipped = json.loads((PRETRAINED_DIR / PLAYGROUND_MODEL / "status.json").read_text())["results"]["dev"]
    root = tmp_path / "ranked"
    strong = shipped["accuracy"] + 0.02
    ranked_copy(runs_dir / "three-gru", root, "strong", strong, shipped["count"])
    ranked_copy(runs_dir / "three-gru", root, "newest-subset", 0.99, 60, eval_limit=60)
    monkeypatch.setenv("SST_DIR", str(tiny_sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    at = open_page(PAGE)
    assert at.multiselect(key="analysis_runs").value == ["strong"]
    reason = texts(at.caption).replace("\\", "")
    assert (f"Chosen: the best dev accuracy of the one finished run ranked ({strong:.1%} dev on all "
            f"{shipped['count']:,} sentences, above the shipped model's {shipped['accuracy']:.1%})") in reason
    assert "1 finished run scored on part of the dev split" in reason
    assert not at.warning
    at.multiselect(key="analysis_runs").set_value(["newest-subset"]).run()
    assert "newest-subset: 99.0% dev on its first 60 sentences only, not comparable" in texts(at.warning).replace(
        "\\", "")
