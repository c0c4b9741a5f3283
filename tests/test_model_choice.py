"""Unit tests of the default-model ranking (model_choice), the attribution sign check and the glossary."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from sentiment_core import glossary
from sentiment_core.analysis.lessons import gates_by_hand
from sentiment_core.analysis.inference import model_choice
from sentiment_core.analysis.inference.attributions import Attribution, sign_disagreements
from sentiment_core.models.recurrences import GATE_NAMES
from sentiment_core.pretrained import SHIPPED_PREFIX, shipped_runs
from tests.helpers import tiny_config


def run(name: str, accuracy: float | None, count: int | None = 1101, eval_limit: int | None = None,
        labels: int = 3, state: str = "finished"):
    """A RunInfo-like run whose status records `accuracy` on `count` dev sentences."""
    status = {"state": state}
    if accuracy is not None:
        status["best_dev_accuracy"] = accuracy
        if count is not None:
            status["results"] = {"dev": {"accuracy": accuracy, "count": count}}
    return SimpleNamespace(name=name, state=state, status=status,
                           config=tiny_config(eval_limit=eval_limit, labels=labels))


SHIPPED = run(SHIPPED_PREFIX + "gru-3cls", 0.674)


def test_the_best_whole_split_run_wins_and_says_why():
    runs = [run("newest-weak", 0.571), run("older-strong", 0.702), SHIPPED]
    choice = model_choice.default_run(runs)
    assert choice.run.name == "older-strong"
    assert "70.2% dev on all 1,101 sentences" in choice.reason and "above the shipped model's 67.4%" in choice.reason
    assert "of 2 finished runs" in choice.reason


def test_the_shipped_model_stays_unless_beaten():
    choice = model_choice.default_run([run("quick-a", 0.571), SHIPPED])
    assert choice.run is SHIPPED
    assert "the one finished run here does not beat it (best: quick-a, 57.1%)" in choice.reason
    tie = model_choice.default_run([run("equal", 0.674), SHIPPED])
    assert tie.run is SHIPPED  # a run must beat the shipped model, not tie it


def test_subset_and_other_label_count_runs_never_win():
    subset = run("subset", 0.845, count=60, eval_limit=60)
    binary = run("binary", 0.85, labels=2)
    choice = model_choice.default_run([subset, binary, SHIPPED])
    assert choice.run is SHIPPED
    assert "2 finished runs scored on part of the dev split, another treebank or another label count do not " \
           "compete" in choice.reason
    other_treebank = run("synthetic", 0.9, count=80)
    assert model_choice.default_run([other_treebank, SHIPPED]).run is SHIPPED
    assert "80 sentences, not comparable" in model_choice.against_default(other_treebank,
                                                                        model_choice.default_run([SHIPPED]))
    # A limit larger than the split cut nothing: fewer sentences were evaluated than it allowed.
    assert model_choice.dev_score(run("roomy", 0.7, count=1101, eval_limit=5000)).full
    assert not model_choice.dev_score(subset).full


def test_unfinished_runs_do_not_compete_and_without_figures_the_newest_opens():
    stopped = run("stopped", 0.9, state="stopped")
    assert model_choice.default_run([stopped, SHIPPED]).run is SHIPPED
    nothing = model_choice.default_run([run("a", None), run("b", None)])
    assert nothing.run.name == "a" and "newest" in nothing.reason and nothing.score is None
    assert model_choice.default_run([]) is None


def test_against_default_says_plainly_when_worse():
    choice = model_choice.default_run([run("quick-a", 0.571), SHIPPED])
    assert model_choice.against_default(run("quick-a", 0.571), choice) == \
        "quick-a: 57.1% dev, worse than the shipped model's 67.4%."
    assert model_choice.against_default(SHIPPED, choice) is None
    assert model_choice.against_default(run("better", 0.7), choice) is None
    note = model_choice.against_default(run("subset", 0.845, count=60, eval_limit=60), choice)
    assert "its first 60 sentences only, not comparable" in note
    assert "with 2 classes, not comparable" in model_choice.against_default(run("binary", 0.85, labels=2), choice)


def test_just_finished_is_the_newest_new_run_of_the_visitor():
    runs = [run("mine-new", 0.5), run("theirs-new", 0.6), run("old", 0.7), SHIPPED]
    mine = lambda r: not r.name.startswith("theirs")  # noqa: E731
    assert model_choice.just_finished(runs, ["old", SHIPPED.name], mine).name == "mine-new"
    assert model_choice.just_finished(runs, ["old", "mine-new", SHIPPED.name], mine) is None  # theirs: no switch
    running = [run("training", None, state="running"), *runs[2:]]
    assert model_choice.just_finished(running, ["old", SHIPPED.name], mine) is None


def test_the_real_shipped_model_records_a_whole_split_score():
    (shipped, *_) = shipped_runs()
    score = model_choice.dev_score(shipped)
    assert score.full and score.sentences == shipped.status["results"]["dev"]["count"]
    assert score.accuracy == pytest.approx(shipped.status["results"]["dev"]["accuracy"])


def attribution(method: str, scores: list[float]) -> Attribution:
    return Attribution(method, ["<sos>", "not", "a", "good", "film", "<eos>"], scores, 1, "negative", 0.8,
                       0.4 if method == glossary.INTEGRATED_GRADIENTS else None, 50)


def test_sign_disagreements_skip_near_zero_scores_and_sort_by_size():
    ig = attribution(glossary.INTEGRATED_GRADIENTS, [0.0, 0.30, 0.001, -0.10, 0.02, 0.0])
    gxi = attribution(glossary.GRADIENT_X_INPUT, [0.0, -0.05, -0.20, 0.40, -0.10, 0.0])
    found = sign_disagreements(ig, gxi)
    # "a" is 0.3% of IG's largest score: its sign is noise; "film" is 6.7% and 25%: a real disagreement
    assert [d.token for d in found] == ["good", "not", "film"]
    assert found[0].integrated == -0.10 and found[0].gradient == 0.40
    assert ig.signed_gap == pytest.approx(sum(ig.scores) - (0.8 - 0.4))
    with pytest.raises(ValueError):
        sign_disagreements(ig, Attribution("x", ["a"], [1.0], 0, "positive", 0.5))


def test_the_glossary_names_every_gate_of_every_model_once():
    for cell, keys in GATE_NAMES.items():
        letters = [glossary.model_part(cell, key) for key in keys]
        assert sorted(letters) == sorted(set(letters))  # one letter per gate
        assert all(letter in glossary.CELL_PARTS[cell] for letter in letters)
    assert glossary.part_label("gru", glossary.model_part("gru", "new")) == "candidate n_t"
    assert glossary.part_label("lstm", glossary.model_part("lstm", "cell")) == "candidate g_t"
    assert not glossary.part_term("gru", "n").gate and glossary.part_term("gru", "z").gate
    # the walkthrough's legend is the glossary's
    assert gates_by_hand.PARTS["gru"]["n"].startswith("candidate (")
    assert gates_by_hand.GATES == {"i", "f", "o", "r", "z"}
    assert glossary.LABELS[3] == ("positive", "negative", "neutral")
