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

from dashboard.charts.data import FALLBACK_COLOURS

TRAIN_COLOUR, DEV_COLOUR, RAW_COLOUR, SMOOTH_COLOUR = "#4c78a8", "#f58518", "rgba(76, 120, 168, 0.30)", "#1f3b73"
BASELINE_COLOUR, PUBLISHED_COLOUR = "#7f7f7f", "#54a24b"
MAX_RAW_POINTS = 2_000  # raw batch losses sent to the browser; the smoothed line uses every batch


def _figure(traces: list[dict], title: str, **layout) -> go.Figure:
    base = dict(title=dict(text=title), margin=dict(l=10, r=10, t=50, b=10), height=340,
                legend=dict(orientation="h", y=-0.22, title=dict(text="")))
    return go.Figure(data=traces, layout={**base, **layout})


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
    traces = [dict(type="scattergl", mode="lines", name="batch loss", x=raw_x, y=raw_y,
                   line=dict(color=RAW_COLOUR, width=1), hovertemplate="epoch %{x:.2f}: %{y:.3f}<extra></extra>"),
              dict(type="scattergl", mode="lines", name="smoothed", x=smooth_x, y=smooth_y,
                   line=dict(color=SMOOTH_COLOUR, width=2), hovertemplate="epoch %{x:.2f}: %{y:.3f}<extra></extra>")]
    return _figure(traces, "Training loss per batch", xaxis=dict(title=dict(text="epoch"), rangemode="tozero"),
                   yaxis=dict(title=dict(text="cross-entropy loss"), rangemode="tozero"))


def epoch_loss_chart(epoch_rows: Sequence[Mapping]) -> go.Figure:
    """Mean train loss and dev loss per epoch."""
    epochs = [row["epoch"] for row in epoch_rows]
    traces = [dict(type="scatter", mode="lines+markers", name="train", x=epochs,
                   y=[row.get("train_loss") for row in epoch_rows], line=dict(color=TRAIN_COLOUR)),
              dict(type="scatter", mode="lines+markers", name="dev", x=epochs,
                   y=[row.get("dev_loss") for row in epoch_rows], line=dict(color=DEV_COLOUR))]
    return _figure(traces, "Loss per epoch", xaxis=dict(title=dict(text="epoch"), dtick=1),
                   yaxis=dict(title=dict(text="cross-entropy loss"), rangemode="tozero"))


def _reference_lines(references: Sequence[tuple[str, float, str]], note: str | None) -> tuple[list, list]:
    """Horizontal lines (shapes) with labels for (label, accuracy, kind) references."""
    shapes, annotations = [], []
    for label, value, kind in references:
        colour = BASELINE_COLOUR if kind == "baseline" else PUBLISHED_COLOUR
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, y0=value, y1=value,
                           line=dict(color=colour, width=1, dash="dot" if kind == "baseline" else "dash")))
        annotations.append(dict(xref="paper", x=1, xanchor="right", y=value, yanchor="bottom", showarrow=False,
                                text=f"{label} {value:.1%}", font=dict(size=10, color=colour)))
    if note:
        annotations.append(dict(xref="paper", yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom",
                                showarrow=False, text=note.replace(": ", ":<br>", 1), font=dict(size=10, color="#555")))
    return shapes, annotations


def epoch_accuracy_chart(epoch_rows: Sequence[Mapping], references: Sequence[tuple[str, float, str]] = (),
                         note: str | None = None) -> go.Figure:
    """Train and dev accuracy per epoch, with reference lines.

    `references`: (label, accuracy, kind) with kind "baseline" (dotted grey) or "published"
    (dashed green); `note` is written on the chart (e.g. why no published figure is drawn).
    """
    epochs = [row["epoch"] for row in epoch_rows]
    traces = [dict(type="scatter", mode="lines+markers", name="train", x=epochs,
                   y=[row.get("train_accuracy") for row in epoch_rows], line=dict(color=TRAIN_COLOUR)),
              dict(type="scatter", mode="lines+markers", name="dev", x=epochs,
                   y=[row.get("dev_accuracy") for row in epoch_rows], line=dict(color=DEV_COLOUR))]
    shapes, annotations = _reference_lines(references, note)
    return _figure(traces, "Accuracy per epoch", xaxis=dict(title=dict(text="epoch"), dtick=1),
                   yaxis=dict(title=dict(text="accuracy"), tickformat=".0%", range=[0, 1]),
                   shapes=shapes, annotations=annotations)


def confusion_chart(confusion: Sequence[Sequence[int]], class_names: Sequence[str], title: str) -> go.Figure:
    """Counts of true class (rows) against predicted class (columns), coloured by row share."""
    totals = [sum(row) or 1 for row in confusion]
    shares = [[count / total for count in row] for row, total in zip(confusion, totals)]
    trace = dict(type="heatmap", z=shares, x=list(class_names), y=list(class_names), zmin=0, zmax=1,
                 colorscale="Blues", text=[[str(c) for c in row] for row in confusion], texttemplate="%{text}",
                 customdata=shares, colorbar=dict(title=dict(text="share of row"), tickformat=".0%"),
                 hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.1%} of the row)<extra></extra>")
    return _figure([trace], title, height=360, xaxis=dict(title=dict(text="predicted"), side="bottom"),
                   yaxis=dict(title=dict(text="true"), autorange="reversed"))


METRIC_TITLES = {"dev_accuracy": "dev accuracy", "train_accuracy": "train accuracy",
                 "dev_loss": "dev loss", "train_loss": "train loss"}


def overlay_chart(curves: Mapping[str, Sequence[Mapping]], metric: str,
                  references: Sequence[tuple[str, float, str]] = (), note: str | None = None) -> go.Figure:
    """One line per run of an epoch metric (`dev_accuracy`, `train_loss`, ...)."""
    traces = []
    for index, (run, rows) in enumerate(curves.items()):
        traces.append(dict(type="scatter", mode="lines+markers", name=run, x=[row["epoch"] for row in rows],
                           y=[row.get(metric) for row in rows],
                           line=dict(color=FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)] if index < 5 else None)))
    accuracy = metric.endswith("accuracy")
    shapes, annotations = _reference_lines(references if accuracy else (), note if accuracy else None)
    return _figure(traces, f"{METRIC_TITLES.get(metric, metric)} per epoch", height=380,
                   xaxis=dict(title=dict(text="epoch"), dtick=1),
                   yaxis=dict(title=dict(text=METRIC_TITLES.get(metric, metric)),
                              **(dict(tickformat=".0%", range=[0, 1]) if accuracy else dict(rangemode="tozero"))),
                   shapes=shapes, annotations=annotations)

