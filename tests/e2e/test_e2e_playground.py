"""The playground in a real browser: a sentence in, the model's answer and the token-by-token chart out.

The model is the small GRU the `trained_run` fixture trained for this session. The
expected answer is computed here with sentiment_core.analysis.inference.predictor on the same checkpoint.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sentiment_core.analysis.inference.predictor import Predictor
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR

SENTENCE = "The acting was not good , but the zorblatt story was truly wonderful ."
TRAJECTORY = """(selector) => {
    const plot = document.querySelector(selector + ' .js-plotly-plot');
    return plot && plot.data ? plot.data.map(trace => ({name: trace.name, x: trace.x.length, y: trace.y})) : null;
}"""


def choose_option(app, key: str, starts_with: str) -> None:
    """Pick the option of a selectbox whose text starts with `starts_with` (if not already chosen)."""
    field = app.widget(key).get_by_role("combobox")
    if field.input_value().startswith(starts_with):
        return
    app.widget(key).get_by_role("button", name="Open").click()
    app.page.get_by_role("option", name=re.compile("^" + re.escape(starts_with))).click()
    app.idle()
    expect(field).to_have_value(re.compile("^" + re.escape(starts_with)))


def test_playground_predicts_a_sentence_token_by_token(app, trained_run):
    model = Predictor.from_run(trained_run)
    expected = model.predict(SENTENCE)
    trajectory = model.prefix_probabilities(expected.encoded)
    assert "zorblatt" in expected.encoded.unknown_words  # the page must flag it as <unk>

    app.open("/playground")
    choose_option(app, "pg_run", trained_run.name)
    box = app.widget("pg_text").locator("textarea")
    box.fill(SENTENCE)
    box.press("Control+Enter")  # a text area sends its value on Ctrl+Enter (or when it loses focus)
    app.idle()

    # What the model sees: the tokens, <sos>/<eos> included, the unknown word highlighted.
    chips = app.main().locator("span.tok, span.unk")
    expect(chips).to_have_count(len(expected.encoded.tokens))
    assert [t.strip() for t in chips.all_inner_texts()] == expected.encoded.tokens
    expect(app.main().locator("span.unk")).to_have_text(["zorblatt"])

    # The answer matches the library's prediction on the same checkpoint.
    answer = app.page.locator('[data-testid="stMetric"]').filter(has_text="Predicted label")
    expect(answer.locator('[data-testid="stMetricValue"]')).to_have_text(expected.label)
    sure = expected.probabilities[expected.index]
    expect(answer.locator('[data-testid="stMetricDelta"]')).to_contain_text(f"{sure:.1%} sure")

    # The token chart: one line per class, one point per token, the library's probabilities.
    traces = app.page.evaluate(TRAJECTORY, ".st-key-pg_trajectory")
    assert [t["name"] for t in traces] == expected.class_names
    for c, trace in enumerate(traces):
        assert trace["x"] == len(expected.encoded.tokens) == len(trajectory)
        assert trace["y"] == pytest.approx([row[c] for row in trajectory], abs=1e-5)
    app.no_exception()
    app.scroll_to(app.main().get_by_role("heading", name="What the model sees"))
    app.screenshot("playground")


# Strong sentences of each kind; the test uses the first one the model classifies each way.
POSITIVE_CANDIDATES = ("A moving, beautifully acted and often very funny film.", "A gorgeous, witty, seductive movie.",
                       "One of the best films of the year: smart, funny and wonderful.")
NEGATIVE_CANDIDATES = ("A dull, tedious and completely forgettable movie.", "The worst, most boring film ever made.",
                       "Bad acting, a stupid plot and no laughs at all.")
# The shipped default model (67% dev accuracy) tells these apart; the session's one-epoch test
# model is too weak to call anything negative.
SHIPPED_RUN = PRETRAINED_DIR / PLAYGROUND_MODEL
SHIPPED_OPTION = "shipped default"


def first_predicted(model, texts, label: str) -> str | None:
    return next((t for t in texts if model.predict(t).label == label), None)


def type_sentence(app, text: str) -> None:
    box = app.widget("pg_text").locator("textarea")
    box.fill(text)
    box.press("Control+Enter")
    app.idle()


def test_attributions_name_the_explained_class_of_the_shown_prediction(app):
    """Issue 14: the legend names the class explained, and that class is the prediction shown on
    the same rerun, for a positive and for a negative sentence."""
    model = Predictor.from_run(SHIPPED_RUN)
    texts = [first_predicted(model, POSITIVE_CANDIDATES, "positive"),
             first_predicted(model, NEGATIVE_CANDIDATES, "negative")]
    assert None not in texts, "the model classifies none of the candidates one way: add a stronger sentence"

    app.open("/playground")
    choose_option(app, "pg_run", SHIPPED_OPTION)
    answer = app.page.locator('[data-testid="stMetric"]').filter(has_text="Predicted label").first
    for text, label in zip(texts, ("positive", "negative")):
        type_sentence(app, text)
        app.page.get_by_role("tab", name="Which words mattered").click()
        expect(answer.locator('[data-testid="stMetricValue"]')).to_have_text(label)
        expect(app.main().get_by_text(f"Explaining {label} (the prediction).")).to_be_visible()
        legends = app.main().locator(".attr-legend:visible")
        expect(legends.first).to_contain_text(f"purple: toward {label} / orange: away from {label}")
        assert all(f"toward {label}" in legend for legend in legends.all_inner_texts())
    app.no_exception()
    app.screenshot("playground-attributions")


def test_what_if_table_lists_the_sentences_words(app):
    label = Predictor.from_run(SHIPPED_RUN).predict("not a good movie").label
    app.open("/playground?text=not%20a%20good%20movie")
    choose_option(app, "pg_run", SHIPPED_OPTION)
    app.page.get_by_role("tab", name="What if").click()
    cells = app.widget("pg_occlusion").locator('[data-testid="stDataFrame"] [role="gridcell"]')
    expect(cells.first).to_be_attached()
    shown = {c.strip() for c in cells.all_inner_texts()}
    assert {"not", "a", "good", "movie"} <= shown, shown
    legend = app.main().locator(".attr-legend:visible")
    expect(legend.first).to_contain_text(f"purple: toward {label} / orange: away from {label}")
    app.no_exception()
    app.scroll_to(app.main().get_by_role("tab", name="What if"))
    app.screenshot("playground-what-if")
