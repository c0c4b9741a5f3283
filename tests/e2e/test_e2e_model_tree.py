"""The model on the tree in a real browser: the explorer opened from a link on a treebank sentence.

The model is the small GRU the `trained_run` fixture trained for this session; the expected
agreement and flips are computed here with sentiment_core.analysis.exploration.tree_view on the same checkpoint.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from sentiment_core.analysis.inference.predictor import Predictor
from sentiment_core.analysis.exploration.tree_view import model_tree
from sentiment_core.data.text import Tokenizer

TRACES = """(selector) => {
    const plot = document.querySelector(selector + ' .js-plotly-plot');
    return plot && plot.data ? plot.data.map(trace => trace.name) : null;
}"""


def test_the_explorer_shows_a_models_answers_on_a_sentence_tree(app, trained_run, corpus):
    predictor = Predictor.from_run(trained_run)
    tokenizer = Tokenizer()
    index = next(i for i, (tokens, _, _) in enumerate(corpus.sentences["test"]) if "not" in tokens
                 and model_tree(corpus.tree("test", i), predictor.model, predictor.vocab, predictor.scheme,
                                tokenizer.split_word).flips)
    expected = model_tree(corpus.tree("test", index), predictor.model, predictor.vocab, predictor.scheme,
                          tokenizer.split_word)

    app.open(f"/explorer?split=test&index={index}&run={trained_run.name}")
    main = app.main()
    expect(main.get_by_text(f"test sentence {index}")).to_be_visible()
    expect(app.widget("explorer_tree_run").get_by_role("combobox")).to_have_value(
        re.compile("^" + re.escape(trained_run.name)))  # the run the link names
    agreement = main.locator("p").filter(has_text="Phrase-level agreement:")
    expect(agreement).to_contain_text(f"{expected.agreement:.1%}")
    expect(agreement).to_contain_text(f"{expected.agreed} of {expected.labelled} labelled phrases")

    # the chart: the treebank's classes as fills, the model's as rings, the flip marked on the tree
    names = app.page.evaluate(TRACES, ".st-key-explorer_model_tree_chart")
    assert any(name.startswith("treebank: ") for name in names if name)
    assert any(name.startswith("model: ") for name in names if name)
    expect(app.widget("explorer_model_tree_chart").get_by_text(f"flip: {expected.flips[0].word}").first).to_be_attached()
    expect(main.get_by_text("Flips at negation and contrast words")).to_be_visible()
    expect(main.get_by_text(f"the model follows {sum(f.caught for f in expected.flips)} of "
                            f"{len(expected.flips)}")).to_be_visible()
    app.no_exception()
    app.scroll_to(main.get_by_role("heading", name="A model on this tree"))
    app.screenshot("explorer-model-tree")
