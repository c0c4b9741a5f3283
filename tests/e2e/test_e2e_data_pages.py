"""Home, dataset explorer and vocabulary in a real browser: what they show follows the widgets.

Expected figures come from the library on the same treebank (the `corpus` fixture), never from
numbers written into the test.
"""
from __future__ import annotations

from playwright.sync_api import expect

from dashboard.views.home import WAYS_IN
from sentiment_core.analysis.exploration import explore
from sentiment_core.data.treebank import SPLITS


def metric_values(app) -> dict[str, str]:
    """{label: shown value} of every st.metric on the page."""
    values = {}
    for box in app.page.locator('[data-testid="stMetric"]').all():
        label = box.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        values[label] = box.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return values


def dataframe_cells(frame) -> list[str]:
    """The cell texts of an st.dataframe (drawn on a canvas; its accessible grid holds the text)."""
    return [cell.text_content() for cell in frame.locator('[data-testid^="glide-cell"]').all()]


def test_home_shows_the_treebank_and_the_runs(app, corpus, trained_run):
    app.open("/")
    expect(app.main().get_by_text("Treebank found in")).to_be_visible()
    metrics = metric_values(app)
    for split in SPLITS:
        assert metrics[f"{split} sentences"] == f"{len(corpus.sentences[split]):,}"
    assert metrics["vocabulary (min_freq 1)"] == f"{len(corpus.build_vocab(1)):,}"
    # The runs table lists the run the fixture trained into the temporary runs folder.
    runs_tables = [frame for frame in app.page.locator('[data-testid="stDataFrame"]').all()
                   if trained_run.name in dataframe_cells(frame)]
    assert runs_tables, "the home page does not list the trained run"
    assert "finished" in dataframe_cells(runs_tables[0])
    for page_title in ("Dataset explorer", "Vocabulary"):
        expect(app.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=page_title)).to_be_visible()
    app.screenshot("home")


def test_home_three_ways_in_are_above_the_fold_on_a_laptop_and_a_phone(app):
    """Issue 14: learn, experiment and try are the first thing a newcomer sees, at 1440x900 and 390x844."""
    for width, height in ((1440, 900), (390, 844)):
        app.page.set_viewport_size({"width": width, "height": height})
        app.open("/")
        bottoms = []
        for way in WAYS_IN:
            link = app.widget(way.key).get_by_role("link")
            expect(link).to_contain_text(way.label)
            box = link.bounding_box()
            assert box is not None and box["y"] + box["height"] <= height, f"{way.label} below the fold at {width}"
            bottoms.append(box["y"] + box["height"])
        setup = app.main().get_by_role("heading", name="Setup and status")
        assert setup.bounding_box()["y"] > max(bottoms)  # the setup comes after the ways in
        app.screenshot(f"home-ways-in-{width}")
    app.no_exception()


def match_count_text(count: int, total: int) -> str:
    return f"{count:,} of {total:,} sentences match."


def test_explorer_filters_and_draws_a_parse_tree(app, corpus):
    rows = explore.example_rows(corpus, 3, SPLITS)
    longest = max(row.length for row in rows)
    query = "not funny"
    matches = explore.compile_search(query, "words")
    all_labels = explore.filter_rows(rows, matches, [0, 1, 2], (1, longest))
    no_neutral = explore.filter_rows(rows, matches, [0, 1], (1, longest))  # 3-class ids: 2 is neutral
    assert 1 < len(no_neutral) < len(all_labels) < len(rows)  # the filters below change the count

    app.open("/explorer")
    expect(app.main().get_by_text(match_count_text(len(rows), len(rows)))).to_be_visible()

    search = app.widget("explorer_search").locator("input")
    search.fill(query)
    search.press("Enter")
    app.idle()
    expect(app.main().get_by_text(match_count_text(len(all_labels), len(rows)))).to_be_visible()

    app.widget("explorer_label_filter_3").get_by_role("button", name="Remove neutral").click()
    app.idle()
    expect(app.main().get_by_text(match_count_text(len(no_neutral), len(rows)))).to_be_visible()

    # The parse tree of a chosen matching row (the shortest after the first): its words along the bottom.
    tab = app.page.get_by_role("tab", name="Sentence tree")
    tab.click()
    app.idle()
    position = min(range(1, len(no_neutral)), key=lambda i: no_neutral[i].length)
    chosen = no_neutral[position]
    row_input = app.widget("explorer_tree_row").locator("input")
    row_input.fill(str(position))
    row_input.press("Enter")
    app.idle()
    expect(app.main().get_by_text(f"{chosen.split} sentence {chosen.index} · {chosen.length} tokens")).to_be_visible()
    words = app.widget("chart_tree").locator(".annotation-text")
    expect(words).to_have_count(len(corpus.tree(chosen.split, chosen.index).leaves()))
    assert " ".join(w.strip() for w in words.all_text_contents()) == chosen.text
    app.no_exception()
    app.scroll_to(app.widget("explorer_search"))
    app.screenshot("explorer")


def test_vocabulary_slider_changes_the_vocabulary(app, corpus):
    app.open("/vocabulary")
    metrics = metric_values(app)
    assert metrics["vocabulary size"] == f"{len(corpus.build_vocab(1)):,}"

    slider = app.widget("vocab_min_freq")
    slider.locator('input[type="range"]').focus()
    app.page.keyboard.press("ArrowRight")  # min_freq 1 -> 2, the next of the slider's values
    app.idle()
    expect(slider.locator('[data-testid="stSliderThumbValue"]')).to_have_text("2")
    smaller = len(corpus.build_vocab(2))
    assert smaller < len(corpus.build_vocab(1))
    expect(app.page.locator('[data-testid="stMetric"]').filter(has_text="vocabulary size")
           .locator('[data-testid="stMetricValue"]')).to_have_text(f"{smaller:,}")
    metrics = metric_values(app)
    assert metrics["words"] == f"{smaller - 4:,}"  # the 4 specials are not words
    app.screenshot("vocabulary")
