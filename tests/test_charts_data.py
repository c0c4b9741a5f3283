"""Chart builders of the explorer and vocabulary pages, as plain functions (no Streamlit)."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the dashboard is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from dashboard import theme  # noqa: E402
from dashboard.charts import data as charts  # noqa: E402
from dashboard.charts.tree import model_tree_chart  # noqa: E402
from sentiment_core.analysis.exploration import explore, vocab_stats  # noqa: E402
from sentiment_core.analysis.exploration.tree_view import assemble  # noqa: E402
from sentiment_core.data.text import label_scheme  # noqa: E402
from sentiment_core.data.treebank import parse_tree  # noqa: E402
from sentiment_core.analysis.exploration.stats import data_summary  # noqa: E402

THREE = ("positive", "negative", "neutral")


def test_class_colours_are_fixed_per_sentiment():
    assert charts.class_colours(THREE) == [theme.CLASS_COLOURS[n] for n in THREE]
    assert charts.class_colours(["positive"])[0] == charts.class_colours(THREE)[0]
    assert len(set(charts.class_colours(["a", "b", "c"]))) == 3


def test_label_distribution_chart_shows_shares_with_counts(corpus):
    summary = data_summary(corpus, 3)
    fig = charts.label_distribution_chart({s: v["labels"] for s, v in summary["splits"].items()}, THREE)
    assert [t.name for t in fig.data] == list(THREE)
    for split_at, split in enumerate(("train", "dev", "test")):
        assert sum(t.y[split_at] for t in fig.data) == pytest.approx(1.0)
        assert sum(t.customdata[split_at] for t in fig.data) == summary["splits"][split]["examples"]


def test_length_histogram_counts_every_row_once():
    lengths, labels = [3, 3, 5, 9, 3], [0, 1, 0, 2, 0]
    fig = charts.length_histogram_chart(lengths, labels, THREE)
    assert list(fig.data[0].x) == list(range(3, 10))
    assert sum(sum(t.y) for t in fig.data) == len(lengths)
    assert fig.data[0].y[0] == 2 and fig.data[1].y[0] == 1 and fig.data[2].y[-1] == 1
    assert fig.layout.barmode == "stack"


def test_label_share_by_length_chart_marks_the_pooled_length():
    share = {"lengths": [1, 2, 3], "totals": [4, 2, 1], "cap": 3,
             "shares": [[0.25, 0.5, 1.0], [0.0, 0.5, 0.0], [0.75, 0.0, 0.0]]}
    fig = charts.label_share_by_length_chart(share, THREE)
    assert list(fig.data[0].x) == ["1", "2", "3+"]
    assert list(fig.data[2].y) == [0.75, 0.0, 0.0]


def test_parse_tree_chart_draws_every_node_edge_and_word():
    layout = explore.tree_layout(parse_tree("(1 (2 not) (3 (3 very) (4 good)))"))
    fig = charts.parse_tree_chart(layout, explore.FINE_LABEL_NAMES)
    nodes = sum(len(t.x) for t in fig.data[1:])
    assert nodes == len(layout.x) == 5
    assert sum(1 for v in fig.data[0].x if v is None) == len(layout.edges) == 4
    assert [a.text for a in fig.layout.annotations] == ["not", "very", "good"]
    by_label = {t.name: list(t.customdata) for t in fig.data[1:]}
    assert by_label["1: negative"] == ["not very good"]
    assert by_label["4: very positive"] == ["good"]


def test_both_trees_draw_their_edges_alike_in_the_themes_colour():
    """The treebank's tree and the model's tree share one edge trace: same segments, theme's colour."""
    tree = parse_tree("(1 (2 not) (3 (3 very) (4 good)))")
    layout = explore.tree_layout(tree)
    spans = [(0, 3, 1, (1, 2)), (0, 1, 2, ()), (1, 3, 3, (3, 4)), (1, 2, 3, ()), (2, 3, 4, ())]
    result = assemble(["not", "very", "good"], spans, label_scheme(3), [[0.2, 0.7, 0.1]] * 5)
    treebank_edges = charts.parse_tree_chart(layout, explore.FINE_LABEL_NAMES).data[0]
    model_edges = model_tree_chart(layout, result).data[0]
    assert treebank_edges.to_plotly_json() == model_edges.to_plotly_json()
    assert treebank_edges.line.color == theme.TREE_EDGE_COLOUR and treebank_edges.mode == "lines"
    segments = [(x, y) for x, y in zip(treebank_edges.x, treebank_edges.y) if x is not None]
    assert len(segments) == 2 * len(layout.edges)  # each edge: parent, then child


def test_hard_cases_chart():
    summary = {"negation": {"rows": 2, "counts": [1, 1, 0], "shares": [0.5, 0.5, 0.0]},
               "other": {"rows": 4, "counts": [2, 1, 1], "shares": [0.5, 0.25, 0.25]}}
    fig = charts.hard_cases_chart(summary, THREE)
    assert list(fig.data[0].x) == ["negation (2)", "other (4)"]
    assert list(fig.data[1].y) == [0.5, 0.25]


def test_vocab_size_chart_marks_the_chosen_min_freq(vocab):
    min_freqs = [1, 2, 5]
    sizes = vocab_stats.vocab_size_by_min_freq(vocab.freqs, min_freqs)
    fig = charts.vocab_size_chart(min_freqs, sizes, chosen=2)
    assert list(fig.data[0].y) == sizes and fig.data[0].y[0] == len(vocab)
    assert list(fig.data[1].x) == [2] and list(fig.data[1].y) == [sizes[1]]
    assert len(charts.vocab_size_chart(min_freqs, sizes, chosen=3).data) == 1  # not on the curve: no marker


def test_zipf_chart_samples_ranks_on_a_log_scale(vocab):
    ranked = vocab_stats.ranked_counts(vocab.freqs)
    fig = charts.zipf_chart(ranked, points=300)
    ranks = list(fig.data[0].x)
    assert ranks[0] == 1 and ranks[-1] == len(ranked) and ranks == sorted(set(ranks))
    assert len(ranks) <= 300
    assert fig.data[0].customdata[0] == ranked[0][0] and fig.data[0].y[-1] == ranked[-1][1]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert list(charts.log_spaced_ranks(0, 10)) == []


def test_coverage_chart():
    freqs = Counter({"a": 6, "b": 3, "c": 1})
    ks = [1, 2, 3]
    fig = charts.coverage_chart(ks, vocab_stats.top_k_coverage(freqs, ks), chosen=2)
    assert list(fig.data[0].y) == [0.6, 0.9, 1.0] and list(fig.data[1].y) == [0.9]


def test_polarised_words_chart_has_one_panel_per_class():
    words = [[vocab_stats.PolarWord("great", 3.0, 20, 0), vocab_stats.PolarWord("fun", 2.0, 5, 1)],
             [vocab_stats.PolarWord("awful", 4.0, 20, 0)], []]
    fig = charts.polarised_words_chart(words, THREE)
    assert len(fig.data) == 3
    assert list(fig.data[0].y) == ["fun", "great"]  # highest at the top of a horizontal bar chart
    # stacked top to bottom (a phone has no room for side-by-side panels' words)
    assert fig.data[1].yaxis == "y2" and fig.layout.yaxis2.domain[1] < fig.layout.yaxis.domain[0]
    assert [a.text for a in fig.layout.annotations] == [f"<b>{n}</b>" for n in THREE]


def test_padding_chart():
    padding = {"batch_sizes": [4, 64], "bucketed": [0.01, 0.02], "unbucketed": [0.3, 0.5]}
    fig = charts.padding_chart(padding, chosen=64)
    assert [t.name for t in fig.data] == ["random batches", "bucketed batches"]
    assert list(fig.data[1].y) == [0.01, 0.02] and fig.layout.shapes[0].x0 == 64


def test_batch_chart_marks_padding_and_markers():
    tokens = [[2, 2], [5, 7], [3, 8], [1, 3]]
    words = [["<sos>", "<sos>"], ["the", "a"], ["<eos>", "film"], ["<pad>", "<eos>"]]
    fig = charts.batch_chart(tokens, words)
    heatmap = fig.data[0]
    assert [list(row) for row in heatmap.z] == [[1, 1], [2, 2], [1, 2], [0, 1]]
    assert heatmap.text[3][0] == "1" and heatmap.customdata[3][0] == "<pad>"
    assert list(heatmap.x) == ["sentence 0", "sentence 1"]
