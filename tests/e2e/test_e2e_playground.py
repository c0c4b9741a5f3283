"""The playground in a real browser: a sentence in, the model's answer and the token-by-token chart out.

The model is the small GRU the `trained_run` fixture trained for this session. The
expected answer is computed here with sentiment_core.analysis.inference on the same checkpoint.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sentiment_core.analysis.inference import Predictor

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
