"""The model on the tree in pages (AppTest): the explorer opened from a link, the playground's section, the chart."""
from __future__ import annotations

import pytest

from dashboard.charts.tree import model_tree_chart
from dashboard.escape import escape_markdown
from dashboard.theme import class_colours
from sentiment_core.analysis.exploration.explore import tree_layout
from sentiment_core.analysis.inference.predictor import Predictor
from sentiment_core.analysis.exploration.tree_view import assemble, flip_sentence, model_tree
from sentiment_core.data.text import Tokenizer, label_scheme
from sentiment_core.data.treebank import parse_tree
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR, SHIPPED_PREFIX
from tests.helpers import chart_spec, open_page

EXPLORER, PLAYGROUND = "views/explorer.py", "views/playground.py"
SHIPPED = SHIPPED_PREFIX + PLAYGROUND_MODEL


@pytest.fixture
def env(monkeypatch, sst_dir, tmp_path):
    """The real treebank and an empty runs folder: the shipped default model is the only run."""
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.delenv("SENTIMENT_DATA_DIR", raising=False)
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))


@pytest.fixture(scope="module")
def negation_sentence(corpus):
    """(index, ModelTree) of the first short test sentence with 'not' whose label flips there."""
    predictor = Predictor.from_run(PRETRAINED_DIR / PLAYGROUND_MODEL)
    tokenizer = Tokenizer()
    for index, (tokens, _, _) in enumerate(corpus.sentences["test"]):
        if "not" in tokens and len(tokens) < 15:
            tree = model_tree(corpus.tree("test", index), predictor.model, predictor.vocab, predictor.scheme,
                              tokenizer.split_word)
            if tree.flips:
                return index, tree
    pytest.fail("no test sentence with a flip at 'not'")


def all_text(at) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "warning", "info", "error")
                     for e in getattr(at, kind))


def test_a_link_opens_the_explorer_on_the_models_tree(env, corpus, negation_sentence):
    index, expected = negation_sentence
    at = open_page(EXPLORER, {"split": "test", "index": str(index)})
    assert at.selectbox(key="explorer_tree_run").value == SHIPPED
    text = all_text(at)
    assert f"test sentence {index}" in text
    assert (f"Phrase-level agreement: {expected.agreement:.1%}**: the model gives the treebank's label to "
            f"{expected.agreed} of {expected.labelled} labelled phrases") in text
    assert "Flips at negation and contrast words" in text
    assert escape_markdown(flip_sentence(expected, expected.flips[0])) in text  # the flip, escaped
    spec = chart_spec(at, "explorer_model_tree_chart")
    names = [trace.get("name") for trace in spec["data"]]
    assert "model: positive" in names and any(str(n).startswith("treebank: ") for n in names)
    notes = [a["text"] for a in spec["layout"]["annotations"]]
    assert "flip: not" in notes
    # back to the table's rows: the link is forgotten, the row picker returns
    at.button(key="explorer_unlink").click().run()
    assert not at.exception and "index" not in at.query_params
    assert at.number_input(key="explorer_tree_row").value == 0


def test_a_bad_link_and_an_unknown_run_are_said_not_raised(env):
    at = open_page(EXPLORER, {"split": "nope", "index": "12"})
    assert "The link names no treebank sentence" in all_text(at)
    at = open_page(EXPLORER, {"split": "test", "index": "99999999"})
    assert "from 0 to" in all_text(at)
    at = open_page(EXPLORER, {"split": "test", "index": "3", "run": "no-such-run"})
    assert "There is no run named no\\-such\\-run" in all_text(at)
    assert at.selectbox(key="explorer_tree_run").value == SHIPPED


def test_the_playground_offers_the_tree_of_a_typed_treebank_sentence(env, corpus, negation_sentence):
    index, expected = negation_sentence
    at = open_page(PLAYGROUND)
    assert not at.get("plotly_chart") or all("pg_tree_chart" not in c.proto.id for c in at.get("plotly_chart"))
    at.session_state["pg_tree_open"] = True  # the expander is lazy: open it
    at.text_area(key="pg_text").input(corpus.sentences["test"][index][2]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"test sentence {index}" in all_text(at)
    assert (at.radio(key="pg_tree_split").value, at.selectbox(key="pg_tree_index").value) == ("test", index)
    assert f"Phrase-level agreement: {expected.agreement:.1%}" in all_text(at)
    assert chart_spec(at, "pg_tree_chart")["layout"]["width"] >= 640
    at.text_input(key="pg_tree_search").input("zzzqqq nothing").run()
    assert "No sentence of this split holds all these words" in all_text(at)


def test_the_chart_escapes_words_marks_disagreement_and_grows_with_the_sentence():
    tree = parse_tree("(3 (2 <b>bold</b>) (3 (2 a&b) (3 good)))")
    spans = [(0, 3, 3, (1, 2)), (0, 1, 2, ()), (1, 3, 3, (3, 4)), (1, 2, 2, ()), (2, 3, 3, ())]
    probabilities = [[0.674, 0.2, 0.126], [0.1, 0.2, 0.7], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]]
    result = assemble(["<b>bold</b>", "a&b", "good"], spans, label_scheme(3), probabilities)
    spec = model_tree_chart(tree_layout(tree), result).to_plotly_json()
    hovers = " ".join(h for trace in spec["data"] for h in (trace.get("customdata") or []))
    assert "<b>bold</b>" not in hovers and "&lt;b&gt;bold&lt;/b&gt;" in hovers and "a&amp;b" in hovers
    assert "positive 67.4%" in hovers and "(disagrees)" in hovers
    assert "&lt;b&gt;bold&lt;/b&gt;" in [a["text"] for a in spec["layout"]["annotations"]]
    traces = {t.get("name"): t for t in spec["data"]}
    colours = dict(zip(["positive", "negative", "neutral"], class_colours(["positive", "negative", "neutral"])))
    # fill = the treebank's class: nodes 0, 2 and 4 are positive
    assert traces["treebank: positive"]["marker"]["color"] == colours["positive"]
    assert len(traces["treebank: positive"]["x"]) == 3
    # ring = the model's class: node 2 ("a&b good") is positive in the treebank, the model says negative,
    # so it has a negative ring, larger than the agreeing nodes' rings
    negative_ring, positive_ring = traces["model: negative"], traces["model: positive"]
    assert negative_ring["marker"]["color"] == colours["negative"] and len(negative_ring["x"]) == 1
    assert negative_ring["marker"]["size"][0] > max(positive_ring["marker"]["size"])
    assert {"treebank: neutral", "model: neutral", "larger ring: model disagrees"} <= set(traces)


@pytest.mark.parametrize("leaves", [2, 60])
def test_the_chart_is_as_wide_as_the_sentence_is_long(leaves):
    line = "(2 w)"
    for _ in range(leaves - 1):
        line = f"(2 {line} (2 w))"
    layout = tree_layout(parse_tree(line))
    result = assemble(["w"] * leaves, [(0, 1, 2, ())] * len(layout.x), label_scheme(3),
                      [[0.2, 0.2, 0.6]] * len(layout.x))
    assert model_tree_chart(layout, result).layout.width == max(640, 38 * leaves + 120)
