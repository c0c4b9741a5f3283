"""Charts of the run comparison: one line per run in its own colour (theme.run_colours), never train/dev's.

Run names go into the figure through escape_plotly (legend, hover): plotly renders tags in both.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go

from dashboard import theme
from dashboard.escape import escape_plotly
from dashboard.charts.training import _figure, _reference_lines, accuracy_range, thin_out
from sentiment_core.runs.comparison import is_share, metric_title


def overlay_chart(curves: Mapping[str, Sequence[Mapping]], metric: str, colours: Mapping[str, str],
                  references: Sequence[tuple[str, float, str]] = ()) -> go.Figure:
    """One line per run of an epoch metric (`dev_accuracy`, `epoch_seconds`, ...), each in its run colour.

    Reference lines (accuracy baselines) are drawn only for a share; the axis fits the data.
    """
    share = is_share(metric)
    traces = [dict(type="scatter", mode="lines+markers", name=escape_plotly(run),
                   x=[row["epoch"] for row in rows], y=[row.get(metric) for row in rows], line=dict(color=colours.get(run)),
                   hovertemplate=f"epoch %{{x}}: %{{y:{'.1%' if share else '.3~g'}}}<extra>{escape_plotly(run)}</extra>")
              for run, rows in curves.items()]
    values = [y for trace in traces for y in trace["y"]]
    single = bool(curves) and all(len(rows) == 1 for rows in curves.values())
    if single:   # one epoch each: dots alone say little, so each is large and labelled with its value
        for trace in traces:
            trace.update(mode="markers+text", marker=dict(size=12, color=trace["line"]["color"]),
                         texttemplate=f"%{{y:{'.1%' if share else '.3~g'}}}", textposition="middle right")
    shapes, annotations = _reference_lines(references if share else ())
    # Every other per-epoch metric (losses, seconds, speeds) is at least 0.
    axis = dict(tickformat=".0%", range=accuracy_range(values, references)) if share else \
        dict(range=theme.fitted_range(values, floor=0))
    title = metric_title(metric)
    title = title[:1].upper() + title[1:] + (" (a single epoch each)" if single else "")
    return _figure(traces, title, height=380,
                   xaxis=dict(title=dict(text="epoch"), dtick=1),
                   yaxis=dict(title=dict(text=metric_title(metric)), **axis), shapes=shapes, annotations=annotations)


def batch_loss_overlay(runs: Mapping[str, tuple[Sequence[float], Sequence[float]]], colours: Mapping[str, str]
                       ) -> go.Figure:
    """Each run's smoothed batch loss (positions in epochs, smoothed losses), in its run colour."""
    traces = []
    for run, (positions, smoothed) in runs.items():
        xs, ys = thin_out(positions, smoothed)
        traces.append(dict(type="scattergl", mode="lines", name=escape_plotly(run), x=xs, y=ys,
                           line=dict(color=colours.get(run), width=2),
                           hovertemplate=f"epoch %{{x:.2f}}: %{{y:.3f}}<extra>{escape_plotly(run)}</extra>"))
    values = [y for trace in traces for y in trace["y"]]
    return _figure(traces, "Training loss per batch (smoothed)", height=360,
                   xaxis=dict(title=dict(text="epoch"), rangemode="tozero"),
                   yaxis=dict(title=dict(text="cross-entropy loss"), range=theme.fitted_range(values, floor=0)))
