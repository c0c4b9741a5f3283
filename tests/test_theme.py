"""dashboard/theme.py: one colour per meaning, run colours that never move, axes that fit, phone layout."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from dashboard import theme
from dashboard.charts import data as charts

ROOT = Path(__file__).resolve().parent.parent

# Every categorical meaning the theme defines, with its colours. Scales (state, gate,
# attribution) are continuous: their end colours are listed as the meaning they carry.
MEANINGS = {
    "class": set(theme.CLASS_COLOURS.values()),
    "unnamed class": set(theme.UNNAMED_CLASS_COLOURS),
    "attribution": {theme.ATTRIBUTION_TOWARD, theme.ATTRIBUTION_AWAY},
    "hidden state": {theme.STATE_NEGATIVE, theme.STATE_POSITIVE},
    "gate": {theme.GATE_SCALE[-1][1]},
    "run": set(theme.RUN_PALETTE),
    "split": {theme.TRAIN_COLOUR, theme.DEV_COLOUR},
    "baseline": {theme.BASELINE_COLOUR},
    "published": {theme.PUBLISHED_COLOUR},
    "note": {theme.NOTE_COLOUR},
    "series": {theme.SERIES_COLOUR},
    "choice": {theme.CHOICE_COLOUR},
    "batch cell": {theme.BATCH_PAD_COLOUR, theme.BATCH_MARKER_COLOUR, theme.BATCH_WORD_COLOUR},
}


def test_no_two_meanings_share_a_colour():
    seen: dict[str, str] = {}
    for meaning, colours in MEANINGS.items():
        for colour in colours:
            key = colour.lower()
            assert key not in seen, f"{colour} means both {seen[key]} and {meaning}"
            seen[key] = meaning


def test_every_palette_entry_is_distinct_within_its_palette():
    assert len(set(theme.RUN_PALETTE)) == len(theme.RUN_PALETTE)
    assert len(set(theme.CLASS_COLOURS.values())) == len(theme.CLASS_COLOURS)


def test_five_classes_take_the_ordinal_ramp_and_three_a_subset_of_it():
    five = ("very negative", "negative", "neutral", "positive", "very positive")
    assert theme.class_colours(five) == [theme.CLASS_COLOURS[name] for name in five]
    assert theme.class_colours(("positive", "negative", "neutral")) == [
        theme.CLASS_COLOURS["positive"], theme.CLASS_COLOURS["negative"], theme.CLASS_COLOURS["neutral"]]
    assert not set(theme.class_colours(("a", "b"))) & set(theme.CLASS_COLOURS.values())  # unnamed: greys


def test_run_colours_are_stable_under_subsets_order_and_new_runs():
    every = ["seed-rnn", "quick-gru", "lstm-5cls", "my-run", "another"]
    colours = theme.run_colours(every)
    assert len(set(colours.values())) == len(every) and set(colours.values()) <= set(theme.RUN_PALETTE)
    assert theme.run_colours(reversed(every)) == colours  # the order runs are listed in does not matter
    assert theme.run_colours(every + every[:2]) == colours  # nor duplicates
    grown = theme.run_colours(every + ["zz-latest"])  # a new run (sorted last) recolours no other run
    assert {name: grown[name] for name in every} == colours
    # A page that shows a subset colours it from the whole store's map: the same colour on every page.
    for subset in (every[:2], every[1:4], ["my-run"]):
        assert all(theme.run_colours(every)[name] == colours[name] for name in subset)


def test_fitted_range_fits_the_data_and_keeps_baselines_in_view():
    accuracies = [0.55, 0.61, 0.66]
    low, high = theme.fitted_range(accuracies, floor=0.0, ceiling=1.0)
    assert 0.45 < low < 0.55 and 0.66 < high < 0.75  # not 0..1: the change is visible
    low, high = theme.fitted_range(accuracies, keep_in_view=[0.403], floor=0.0, ceiling=1.0)
    assert low < 0.403 < high  # the majority-class line stays on the chart
    assert theme.fitted_range([0.99, 1.0], floor=0.0, ceiling=1.0)[1] == 1.0  # clipped at the ceiling
    assert theme.fitted_range([None, None]) is None
    low, high = theme.fitted_range([0.5])
    assert low < 0.5 < high  # one point still gets a range


def test_wrap_title_keeps_every_line_phone_wide():
    title = "Labels of sentences with negation or contrast words, against the rest of the treebank"
    lines = theme.wrap_title(title).split("<br>")
    assert len(lines) > 1 and all(len(line) <= theme.TITLE_CHARACTERS for line in lines)
    assert " ".join(lines) == title
    assert theme.wrap_title("Short") == "Short"


def test_chart_layout_puts_the_legend_below_and_grows_the_top_margin():
    one = theme.chart_layout("Labels per split")
    two = theme.chart_layout("Labels of sentences with negation or contrast words, against the rest")
    assert one["legend"]["orientation"] == "h" and one["legend"]["yref"] == "container"
    assert one["legend"]["y"] == 0 and one["legend"]["yanchor"] == "bottom"
    assert two["margin"]["t"] > one["margin"]["t"]
    merged = theme.chart_layout("t", legend=dict(traceorder="normal"), margin=dict(t=80), height=300)
    assert merged["legend"]["traceorder"] == "normal" and merged["legend"]["orientation"] == "h"
    assert merged["margin"] == {**one["margin"], "t": 80} and merged["height"] == 300
    above = theme.chart_layout("t", legend=dict(y=1.02, yanchor="bottom"))
    assert above["legend"]["yref"] == "paper"  # an explicit y is in plot coordinates, as plotly's default


def test_chart_colours_come_from_the_theme():
    """charts/data.py holds no colour literal of its own (parse_tree_chart's edges excepted: another
    engineer is replacing that chart)."""
    source = (ROOT / "dashboard" / "charts" / "data.py").read_text()
    tree = source[source.index("def parse_tree_chart"):source.index("def _wrap")]
    literals = re.findall(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", source.replace(tree, ""))
    assert literals == []


def test_padding_and_coverage_axes_fit_their_data():
    padding = {"batch_sizes": [4, 64], "bucketed": [0.01, 0.02], "unbucketed": [0.3, 0.5]}
    low, high = charts.padding_chart(padding).layout.yaxis.range
    assert 0.0 <= low <= 0.01 and 0.5 < high < 0.6
    low, high = charts.coverage_chart([10, 100], [0.3, 0.55]).layout.yaxis.range
    assert 0.2 < low < 0.3 and 0.55 < high < 0.65


def test_widget_accent_is_the_neutral_slate_not_a_class_colour():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    accent = config["theme"]["primaryColor"].lower()
    assert accent == theme.SERIES_COLOUR.lower()
    assert accent not in {c.lower() for c in theme.CLASS_COLOURS.values()}


@pytest.mark.parametrize("names", [("positive", "negative"), ("negative", "neutral", "positive")])
def test_class_charts_use_class_colours(names):
    split_labels = {"train": {name: 1 for name in names}}
    fig = charts.label_distribution_chart(split_labels, names)
    assert [t.marker.color for t in fig.data] == theme.class_colours(names)
