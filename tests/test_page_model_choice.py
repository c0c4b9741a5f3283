"""AppTest of the playground's model choice and explanations (issue 22): the default run and why, a run just
trained, links that carry the run, the attribution methods' disagreement, a typed sentence's parse tree, and
one name per concept on the playground and the walkthrough (sentiment_core.glossary)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sentiment_core import glossary
from sentiment_core.analysis.inference.attributions import sign_disagreements
from sentiment_core.analysis.inference.predictor import Predictor
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR, SHIPPED_PREFIX
from tests.helpers import APP, open_page, all_text, open_section, type_text, playground_env, small_playground_run
from tests.helpers import open_playground_on as open_run
from tests.ranked_runs import ranked_copy

PAGE = "views/playground.py"
NEWER = "newer-gru"


@pytest.fixture(scope="module")
def runs_dir(corpus, tmp_path_factory) -> Path:
    """One small GRU scored on 50 dev sentences (eval_limit): it never competes with the shipped model."""
    root = tmp_path_factory.mktemp("playground-choice") / "runs"
    small_playground_run(root, NEWER, corpus, cell="gru")
    return root


@pytest.fixture
def env(monkeypatch, sst_dir, runs_dir):
    return playground_env(monkeypatch, sst_dir, runs_dir)


SHIPPED = SHIPPED_PREFIX + PLAYGROUND_MODEL


def plain(elements) -> str:
    """The elements' text without markdown's backslash escapes (the pages escape every run name and figure)."""
    return all_text(elements).replace("\\", "")


@pytest.fixture
def shipped_dev():
    """(accuracy, dev sentences) that the shipped model records: the figure a run must beat."""
    dev = json.loads((PRETRAINED_DIR / PLAYGROUND_MODEL / "status.json").read_text())["results"]["dev"]
    return dev["accuracy"], dev["count"]


@pytest.fixture
def ranked(monkeypatch, sst_dir, runs_dir, tmp_path, shipped_dev):
    """Runs recording a stronger and a weaker whole-split dev figure than the shipped model, and a higher one
    measured on 60 dev sentences only (eval_limit), each a copy of newer-gru's model."""
    accuracy, count = shipped_dev
    root = tmp_path / "ranked"
    source = runs_dir / "newer-gru"
    figures = {"strong": accuracy + 0.03, "weak": accuracy - 0.1, "subset": min(0.99, accuracy + 0.2)}
    ranked_copy(source, root, "strong", figures["strong"], count)
    ranked_copy(source, root, "weak", figures["weak"], count)
    ranked_copy(source, root, "subset", figures["subset"], 60, eval_limit=60)
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    return figures


def test_the_default_is_the_best_whole_split_run_and_says_why(ranked, shipped_dev):
    accuracy, count = shipped_dev
    at = open_page(PAGE)
    assert at.selectbox(key="pg_run").value == "strong"  # not the newest (subset), not the shipped model
    reason = plain(at.caption)
    assert (f"Chosen: the best dev accuracy of 2 finished runs ({ranked['strong']:.1%} dev on all {count:,} "
            f"sentences, above the shipped model's {accuracy:.1%})") in reason
    assert "1 finished run scored on part of the dev split, another treebank or another label count does not " \
           "compete" in reason
    assert not at.warning
    at.selectbox(key="pg_run").set_value("weak").run()
    assert f"weak: {ranked['weak']:.1%} dev, worse than run strong's {ranked['strong']:.1%}." in plain(at.warning)
    assert "Chosen:" not in plain(at.caption)  # the visitor's own pick: no reason claimed for it
    at.selectbox(key="pg_run").set_value("subset").run()
    assert "its first 60 sentences only, not comparable with run strong's" in plain(at.warning)


def test_a_run_just_trained_is_switched_to_and_said_worse(monkeypatch, sst_dir, runs_dir, tmp_path, shipped_dev):
    """The quick model finishing (here: appearing finished) moves the playground onto it, saying how it compares."""
    accuracy, count = shipped_dev
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    at = open_page(PAGE)
    assert at.selectbox(key="pg_run").value == SHIPPED
    assert "Chosen: the shipped model" in plain(at.caption)
    quick = accuracy - 0.103
    ranked_copy(runs_dir / "newer-gru", root, "quick-a", quick, count)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="pg_run").value == "quick-a"
    assert "Switched to quick-a, the run you have just trained." in plain(at.caption)
    assert f"quick-a: {quick:.1%} dev, worse than the shipped model's {accuracy:.1%}." in plain(at.warning)
    at.selectbox(key="pg_run").set_value(SHIPPED).run()
    at.run()
    assert at.selectbox(key="pg_run").value == SHIPPED  # switched once, then the visitor's pick stays
    at.selectbox(key="pg_run").set_value("quick-a").run()
    assert "Switched to" not in plain(at.caption)  # picked again by hand: no longer "just trained"
    assert f"worse than the shipped model's {accuracy:.1%}" in plain(at.warning)


def test_links_carry_the_run_and_the_page_honours_run(env):
    at = open_run(NEWER)
    links = [link.proto for link in at.get("page_link")]
    to_analysis = [link for link in links if link.page.endswith("analysis")]
    assert to_analysis and to_analysis[0].query_string == f"run={NEWER}"
    at = open_run("no-such-run")
    assert "The link names run no-such-run, which is not offered here" in plain(at.warning)
    assert at.selectbox(key="pg_run").value == SHIPPED  # the default instead (these runs saw 50 dev sentences)


def test_a_sign_disagreement_is_said_with_which_method_to_trust(env):
    text = "I did not like this movie."
    at = open_section(type_text(open_run(SHIPPED), text), "Which words mattered")
    predictor = Predictor.from_run(PRETRAINED_DIR / PLAYGROUND_MODEL)
    encoded, predicted = predictor.encode(text), predictor.predict(text).index
    steps = at.slider(key="pg_ig_steps").value
    ig = predictor.integrated_gradients(encoded, steps, predicted)
    found = sign_disagreements(ig, predictor.gradient_times_input(encoded, predicted))
    assert found, "the shipped model's two methods disagree on this sentence"
    note = plain(at.warning)
    assert f"The two methods disagree in sign on {len(found)} word" in note
    assert all(f"**{d.token}** (integrated gradients {d.integrated:+.4f}" in note for d in found[:4])
    assert "trust **integrated gradients**" in note and "local slope" in note
    assert f"gap {ig.signed_gap:+.4f}" in note  # the completeness gap: sum of IG minus the output difference
    assert f"Gap (sum minus that move): {ig.signed_gap:+.4f}" in plain(at.caption)


def test_a_typed_sentence_has_no_treebank_parse(env):
    at = type_text(open_run(NEWER), "zorglub is the finest film nobody has seen")
    at.session_state["pg_tree_open"] = True
    at.run()
    assert "not a treebank sentence, so it has no treebank parse tree" in all_text(at.info)
    assert at.selectbox(key="pg_tree_index").value is None  # no stand-in sentence drawn
    assert not [c for c in at.get("plotly_chart") if "pg_tree_chart" in c.proto.id]


def test_the_gates_have_the_walkthroughs_names(env):
    """One name per concept (sentiment_core.glossary): the GRU's n_t is the candidate on both pages."""
    at = open_section(open_run(NEWER), "Inside the network")
    candidate = glossary.part_term("gru", "n").name
    assert f"{candidate} n_t" in at.radio(key="pg_gate").options
    walkthrough = AppTest.from_file(APP, default_timeout=120)
    walkthrough.query_params["section"] = "7"
    walkthrough.switch_page("views/walkthrough.py").run()
    walkthrough.radio(key="wt_gate_cell").set_value("gru").run()
    assert not walkthrough.exception, [e.value for e in walkthrough.exception]
    assert f"n: {candidate}" in walkthrough.radio(key="wt_gate_part").options
    for letter in ("r", "z"):
        name = glossary.part_term("gru", letter).name
        assert f"{letter}: {name}" in walkthrough.radio(key="wt_gate_part").options
        assert f"{name} {letter}_t" in at.radio(key="pg_gate").options


def test_a_visitor_is_never_offered_someone_elses_run(monkeypatch, sst_dir, runs_dir, tmp_path, shipped_dev):
    """Public mode: a better run the visitor did not start is neither the default nor opened by a link."""
    accuracy, count = shipped_dev
    root = tmp_path / "runs"
    ranked_copy(runs_dir / NEWER, root, "someone-elses", accuracy + 0.05, count)  # no owner: not this visitor's
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    at = open_page(PAGE, {"run": "someone-elses"})
    assert at.selectbox(key="pg_run").value == SHIPPED
    assert not any("someone-elses" in option for option in at.selectbox(key="pg_run").options)
    assert "The link names run someone-elses, which is not offered here" in plain(at.warning)
    assert "Chosen: the shipped model" in plain(at.caption)
