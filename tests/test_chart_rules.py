"""Charts that do not exaggerate (issue 22): bars of a rate start at zero, the confusion grid is shaded by
share of row with equal cells, a single epoch is drawn readably, and a phone sees every title whole."""
from __future__ import annotations

import re

import pytest
from plotly.colors import unlabel_rgb

from dashboard import style, theme
from dashboard.charts import analysis as analysis_charts
from dashboard.charts import confusion
from dashboard.charts import data as data_charts
from dashboard.charts import training as training_charts
from dashboard.charts.comparison import overlay_chart
from dashboard.charts.gradient_flow import flow_chart

NAMES = ("negative", "neutral", "positive")
BASELINE = [("always 'positive' (dev)", 0.403, "baseline")]


def rate_bar_charts():
    """Every bar chart of a rate, share or accuracy in charts/* (the playground's are another helper's), with
    the axis its bars stand on."""
    slices = {"run": [{"name": "negation", "accuracy": 0.45, "macro_f1": 0.4, "count": 9},
                      {"name": "contrast", "accuracy": 0.52, "macro_f1": 0.5, "count": 7}]}
    one_epoch = [{"epoch": 1, "train_accuracy": 0.55, "dev_accuracy": 0.58, "train_loss": 0.9, "dev_loss": 0.95}]
    split_labels = {"train": {"negative": 40, "neutral": 20, "positive": 45}, "dev": {"negative": 4, "positive": 5}}
    hard = {g: {"rows": 10, "shares": [0.4, 0.25, 0.35], "counts": [4, 2, 4]} for g in ("negation", "rest")}
    shares = {"cap": 3, "lengths": [1, 2, 3], "shares": [[0.3, 0.35, 0.4], [0.4, 0.3, 0.2], [0.3, 0.35, 0.4]],
              "totals": [10, 10, 10]}
    return {
        "slices (accuracy)": (analysis_charts.slices_chart(slices, {"run": theme.RUN_PALETTE[0]}), "xaxis"),
        "slices (macro-F1)": (analysis_charts.slices_chart(slices, {"run": theme.RUN_PALETTE[0]}, "macro-F1"), "xaxis"),
        "accuracy after one epoch": (training_charts.epoch_accuracy_chart(one_epoch, BASELINE), "yaxis"),
        "loss after one epoch": (training_charts.epoch_loss_chart(one_epoch), "yaxis"),
        "labels per split": (data_charts.label_distribution_chart(split_labels, NAMES), "yaxis"),
        "hard cases": (data_charts.hard_cases_chart(hard, NAMES), "yaxis"),
        "label share by length": (data_charts.label_share_by_length_chart(shares, NAMES), "yaxis"),
    }


@pytest.mark.parametrize("name", list(rate_bar_charts()))
def test_bars_of_a_rate_start_at_zero(name):
    figure, axis_name = rate_bar_charts()[name]
    assert all(trace.type == "bar" for trace in figure.data)
    axis = figure.layout[axis_name]
    # Either a range from 0, or plotly's own autorange, which puts a bar chart's base at 0.
    if axis.range is not None:
        low, high = axis.range
        assert low == 0, f"{name}: its bars stand on an axis starting at {low}"
        tallest = max(v for trace in figure.data for v in (trace.x if axis_name == "xaxis" else trace.y))
        assert high >= tallest  # and no bar is cut at the top
    else:
        assert axis.rangemode in (None, "normal", "tozero")


def test_slice_bars_start_at_zero_though_the_values_sit_far_above_it():
    """The issue's case: accuracies of 60-80% drew an axis from about 27%."""
    rows = {"run": [{"name": f"slice {i}", "accuracy": 0.6 + i / 50, "macro_f1": 0.5, "count": 5} for i in range(9)]}
    figure = analysis_charts.slices_chart(rows, {"run": theme.RUN_PALETTE[0]})
    assert figure.layout.xaxis.range[0] == 0 and figure.data[0].orientation == "h"
    assert list(figure.data[0].y) == [f"slice {i}" for i in range(9)]  # names on the axis a phone can read


def test_one_epoch_draws_labelled_bars_and_says_so():
    row = {"epoch": 1, "train_accuracy": 0.612, "dev_accuracy": 0.574, "train_loss": 0.88, "dev_loss": 0.93}
    accuracy = training_charts.epoch_accuracy_chart([row], BASELINE)
    assert [t.type for t in accuracy.data] == ["bar", "bar"]
    assert [t.text[0] for t in accuracy.data] == ["61.2%", "57.4%"]
    assert [t.marker.color for t in accuracy.data] == [theme.TRAIN_COLOUR, theme.DEV_COLOUR]
    assert "single epoch" in accuracy.layout.title.text and accuracy.layout.shapes[0].y0 == 0.403
    loss = training_charts.epoch_loss_chart([row])
    assert [t.text[0] for t in loss.data] == ["0.880", "0.930"] and "single epoch" in loss.layout.title.text
    # Two epochs: lines again, zoomed to the data.
    two = training_charts.epoch_accuracy_chart([row, {**row, "epoch": 2, "dev_accuracy": 0.6}], BASELINE)
    assert {t.type for t in two.data} == {"scatter"} and "single" not in two.layout.title.text


def test_comparison_of_one_epoch_runs_labels_each_point():
    rows = [{"epoch": 1, "dev_accuracy": 0.57}]
    figure = overlay_chart({"a": rows, "b": [{"epoch": 1, "dev_accuracy": 0.61}]}, "dev_accuracy",
                           theme.run_colours(["a", "b"]))
    assert all(t.mode == "markers+text" and t.texttemplate for t in figure.data)
    assert "single epoch" in figure.layout.title.text
    longer = overlay_chart({"a": rows + [{"epoch": 2, "dev_accuracy": 0.6}]}, "dev_accuracy", theme.run_colours(["a"]))
    assert longer.data[0].mode == "lines+markers"


# -- the confusion grid ---------------------------------------------------------------------------
CELL_RULE = re.compile(r"\.st-key-(\w+)_cell_(\d+)_(\d+) button \{ background-color: (rgb\([^)]*\))")


def share_from_colour(colour: str) -> float:
    """Read a cell's shade back as a share: where it lies between the scale's white (0) and slate (1)."""
    red, green, blue = unlabel_rgb(colour)
    slate = unlabel_rgb(confusion.share_colour(1.0))
    shares = [(255 - value) / (255 - end) for value, end in zip((red, green, blue), slate)]
    assert max(shares) - min(shares) < 0.02, f"{colour} is not on the white-to-slate scale"
    return sum(shares) / 3


@pytest.mark.parametrize("counts", [[[334, 83, 27], [42, 359, 27], [68, 112, 49]],
                                    [[5, 0], [0, 0]],
                                    [[1, 2, 3, 4, 90], [50, 50, 0, 0, 0], [0, 0, 7, 0, 0], [3, 3, 3, 3, 3], [0, 0, 0, 1, 9]]])
def test_each_confusion_cell_is_shaded_by_its_row_share(counts):
    css = confusion.grid_css("analysis_confusion", counts, 76)
    cells = {(int(i), int(j)): colour for key, i, j, colour in CELL_RULE.findall(css)}
    assert set(cells) == {(i, j) for i in range(len(counts)) for j in range(len(counts))}
    for (i, j), colour in cells.items():
        total = sum(counts[i])
        expected = counts[i][j] / total if total else 0.0
        assert share_from_colour(colour) == pytest.approx(expected, abs=0.01), (i, j, colour)


def test_confusion_cells_take_equal_widths_whatever_their_text():
    css = confusion.grid_css("k", [[1, 2], [3, 4]], 76)
    assert '[class*="st-key-k_grid_"] > div { flex: 1 1 0 !important; min-width: 0 !important; }' in css
    assert "flex: 0 0 76px" in css   # the label column keeps its width
    assert all(c not in css.lower() for c in theme.CLASS_COLOURS.values())  # a cell is not a class


# -- a phone: titles whole ------------------------------------------------------------------------
def test_long_axis_titles_wrap_and_their_margin_grows():
    figure = flow_chart([{"name": "tanh", "norms": [0.1, 0.5, 1.0]}], "Gradient flow",
                        y_title="||dL/dh_t|| relative to the last word of the sentence")
    for axis, width in ((figure.layout.xaxis, theme.X_TITLE_CHARACTERS), (figure.layout.yaxis, theme.Y_TITLE_CHARACTERS)):
        lines = axis.title.text.split("<br>")
        assert all(len(line) <= width for line in lines) and axis.automargin
    assert "<br>" in figure.layout.yaxis.title.text


def test_the_toolbar_stands_aside_and_a_phone_hides_it():
    assert theme.chart_layout("t")["modebar"] == {"orientation": "v"}
    phone = re.search(r"@media \(max-width: 640px\), \(hover: none\) \{(.*?)\n\}", style.CSS, re.S)
    assert phone and ".modebar-container { display: none" in phone.group(1)
