"""The model analysis page in a real browser: a click on a confusion cell lists its sentences, each
linking to its parse tree in the explorer and to the playground, both with the run (`run=`).

The model is the small GRU the `trained_run` fixture trained for this session; the cell's
sentences are computed here with sentiment_core.analysis.evaluation.confusion on the same checkpoint.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from sentiment_core.analysis.evaluation.confusion import cell_sentences, score_sentences
from sentiment_core.data.corpus import load_corpus
from sentiment_core.runs.execution import load_model


def test_a_confusion_cell_click_lists_its_sentences(app, trained_run, sst_dir):
    model, vocab, _, scheme = load_model(trained_run)
    corpus = load_corpus(sst_dir)
    scored = score_sentences(model, vocab, scheme, corpus, "dev")
    cells = [(i, j) for i in range(scheme.num_classes) for j in range(scheme.num_classes) if i != j]
    true, predicted = max(cells, key=lambda c: len(cell_sentences(scored.sentences, *c)))
    expected = cell_sentences(scored.sentences, true, predicted)
    assert expected, "a one-epoch model makes mistakes"

    app.open(f"/analysis?run={trained_run.name}")  # a link about the session's run opens the page on it
    expect(app.widget("analysis_runs")).to_contain_text(trained_run.name)
    button = app.widget(f"analysis_confusion_cell_{true}_{predicted}").locator("button").first
    expect(button).to_contain_text(f"{len(expected):,} · ")
    app.scroll_to(button)
    button.click()
    app.idle()

    table = app.main().locator("table").filter(has_text="parse tree")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(min(len(expected), 50))
    first = rows.first
    expect(first).to_contain_text(f"{expected[0].confidence:.1%}")
    tree = first.get_by_role("link", name="parse tree")
    query = parse_qs(urlsplit(tree.get_attribute("href")).query)
    assert query == {"split": ["dev"], "index": [str(expected[0].index)], "run": [trained_run.name]}
    assert corpus.sentences["dev"][expected[0].index][2] == expected[0].text
    playground = first.get_by_role("link", name="playground")
    href = playground.get_attribute("href")
    assert parse_qs(urlsplit(href).query) == {"text": [expected[0].text], "run": [trained_run.name]}
    for row in rows.all()[:5]:  # every row links to its tree
        expect(row.get_by_role("link", name="parse tree")).to_have_count(1)
    app.screenshot("analysis-confusion-cell")

    # The playground link opens the playground on that sentence with that run answering (issue 22: it dropped
    # the model and the newest run answered instead).
    link = urlsplit(href)
    app.open(f"/{link.path.lstrip('/')}?{link.query}")
    expect(app.widget("pg_run").get_by_role("combobox")).to_have_value(re.compile("^" + re.escape(trained_run.name)))
    expect(app.widget("pg_text").locator("textarea")).to_have_value(expected[0].text)
    expect(app.main().get_by_text(f"Opened on {trained_run.name}, the run the link was about.")).to_be_visible()
    app.no_exception()
