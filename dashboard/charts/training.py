"""Charts of the training page: plain data in, a plotly Figure out (testable without Streamlit).

Every figure is built in one `go.Figure(data=..., layout=...)` call from plain dicts (the
live view redraws them every second).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import plotly.graph_objects as go

# One orientation everywhere (issue 14): the gradient-flow chart lives in charts/gradient_flow.py.
from dashboard.charts.gradient_flow import probe_epochs_chart as gradient_flow_chart  # noqa: F401
from dashboard.charts.gradient_flow import spread_pick  # noqa: F401

from dashboard import theme
from dashboard.theme import BASELINE_COLOUR, DEV_COLOUR, PUBLISHED_COLOUR, TRAIN_COLOUR

RAW_OPACITY = 0.3  # each batch's loss, faint under its moving average (the same train colour)
BAR_HEADROOM = 0.15  # room above the tallest bar for its label
MAX_RAW_POINTS = 2_000  # raw batch losses sent to the browser; the smoothed line uses every batch


def _figure(traces: list[dict], title: str, **layout) -> go.Figure:
    return go.Figure(data=traces, layout=theme.chart_layout(title, **{"height": 340, **layout}))


def thin_out(xs: Sequence[float], ys: Sequence[float], max_points: int = MAX_RAW_POINTS) -> tuple[list, list]:
    """Every k-th point (and the last), so at most about `max_points` go to the browser."""
    if len(xs) <= max_points:
        return list(xs), list(ys)
    stride = math.ceil(len(xs) / max_points)
    keep = list(range(0, len(xs), stride))
    if keep[-1] != len(xs) - 1:
        keep.append(len(xs) - 1)
    return [xs[i] for i in keep], [ys[i] for i in keep]


def batch_loss_chart(positions: Sequence[float], losses: Sequence[float], smoothed: Sequence[float]) -> go.Figure:
    """Each batch's loss (faint) and its moving average, against epochs done."""
    raw_x, raw_y = thin_out(positions, losses)
    smooth_x, smooth_y = thin_out(positions, smoothed)
    traces = [dict(type="scattergl", mode="lines", name="batch loss", x=raw_x, y=raw_y, opacity=RAW_OPACITY,
                   line=dict(color=TRAIN_COLOUR, width=1), hovertemplate="epoch %{x:.2f}: %{y:.3f}<extra></extra>"),
              dict(type="scattergl", mode="lines", name="smoothed", x=smooth_x, y=smooth_y,
                   line=dict(color=TRAIN_COLOUR, width=2.5), hovertemplate="epoch %{x:.2f}: %{y:.3f}<extra></extra>")]
    return _figure(traces, "Training loss per batch", xaxis=dict(title=dict(text="epoch"), rangemode="tozero"),
                   yaxis=dict(title=dict(text="cross-entropy loss"), range=theme.fitted_range(raw_y, floor=0)))


def epoch_loss_chart(epoch_rows: Sequence[Mapping]) -> go.Figure:
    """Mean train loss and dev loss per epoch (after a single epoch: a labelled bar per split)."""
    if len(epoch_rows) == 1:
        traces = _split_bars(epoch_rows[0], "loss", ".3f")
        values = [y for trace in traces for y in trace["y"] if y is not None]
        return _figure(traces, f"Loss after {_one_epoch(epoch_rows[0])}", xaxis=dict(type="category"),
                       yaxis=dict(title=dict(text="cross-entropy loss"),
                                  range=[0, max(values, default=1.0) * (1 + BAR_HEADROOM)]))
    traces = _split_traces(epoch_rows, "loss")
    values = [y for trace in traces for y in trace["y"]]
    return _figure(traces, "Loss per epoch", xaxis=dict(title=dict(text="epoch"), dtick=1),
                   yaxis=dict(title=dict(text="cross-entropy loss"), range=theme.fitted_range(values, floor=0)))


def _split_traces(epoch_rows: Sequence[Mapping], measure: str) -> list[dict]:
    """The train and dev lines of one measure ("loss", "accuracy") of a single run."""
    epochs = [row["epoch"] for row in epoch_rows]
    return [dict(type="scatter", mode="lines+markers", name=split, x=epochs,
                 y=[row.get(f"{split}_{measure}") for row in epoch_rows], line=dict(color=colour))
            for split, colour in (("train", TRAIN_COLOUR), ("dev", DEV_COLOUR))]


def _one_epoch(row: Mapping) -> str:
    return f"epoch {row['epoch']} (a single epoch: a bar per split)"


def _split_bars(row: Mapping, measure: str, number_format: str) -> list[dict]:
    """One epoch's train and dev `measure` as two labelled bars (issue 22: after one epoch, the `quick`
    preset's per-epoch charts were two lone dots on an axis with nothing to compare them to)."""
    bars = []
    for split, colour in (("train", TRAIN_COLOUR), ("dev", DEV_COLOUR)):
        value = row.get(f"{split}_{measure}")
        bars.append(dict(type="bar", name=split, x=[split], y=[value], marker=dict(color=colour),
                         text=["" if value is None else format(value, number_format)], textposition="outside",
                         cliponaxis=False, hovertemplate=f"{split} after epoch {row['epoch']}: %{{y:{number_format}}}"
                                                         "<extra></extra>"))
    return bars


def _reference_lines(references: Sequence[tuple[str, float, str]]) -> tuple[list, list]:
    """Horizontal lines (shapes) with labels for (label, accuracy, kind) references.

    A note about the references (why no published figure is drawn) is not drawn here: on a
    narrow chart it ran into the title, so the page writes it under the chart.
    """
    shapes, annotations = [], []
    for label, value, kind in references:
        colour = BASELINE_COLOUR if kind == "baseline" else PUBLISHED_COLOUR
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, y0=value, y1=value,
                           line=dict(color=colour, width=1, dash="dot" if kind == "baseline" else "dash")))
        annotations.append(dict(xref="paper", x=1, xanchor="right", y=value, yanchor="bottom", showarrow=False,
                                text=f"{label} {value:.1%}", font=dict(size=10, color=colour),
                                bgcolor="rgba(255, 255, 255, 0.85)"))   # readable over a bar or a line
    return shapes, annotations


def accuracy_range(values, references: Sequence[tuple[str, float, str]]) -> list[float] | None:
    """An accuracy axis fitted to the data with every reference line kept in view."""
    return theme.fitted_range(values, keep_in_view=[value for _, value, _ in references], floor=0, ceiling=1)


def epoch_accuracy_chart(epoch_rows: Sequence[Mapping],
                         references: Sequence[tuple[str, float, str]] = ()) -> go.Figure:
    """Train and dev accuracy per epoch, with reference lines, on an axis fitted to them.

    `references`: (label, accuracy, kind) with kind "baseline" (dotted grey) or "published" (dashed).
    """
    shapes, annotations = _reference_lines(references)
    if len(epoch_rows) == 1:   # bars of a share: from zero, with every reference line in view
        traces = _split_bars(epoch_rows[0], "accuracy", ".1%")
        values = [y for trace in traces for y in trace["y"]] + [value for _, value, _ in references]
        return _figure(traces, f"Accuracy after {_one_epoch(epoch_rows[0])}", xaxis=dict(type="category"),
                       yaxis=dict(title=dict(text="accuracy"), tickformat=".0%", range=theme.zero_based_range(values)),
                       shapes=shapes, annotations=annotations)
    traces = _split_traces(epoch_rows, "accuracy")
    values = [y for trace in traces for y in trace["y"]]
    return _figure(traces, "Accuracy per epoch", xaxis=dict(title=dict(text="epoch"), dtick=1),
                   yaxis=dict(title=dict(text="accuracy"), tickformat=".0%", range=accuracy_range(values, references)),
                   shapes=shapes, annotations=annotations)

