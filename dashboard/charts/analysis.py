"""Charts of the model analysis page: slices and phrase breakdowns of several runs, side by side.

Plain data in (analysis.slices rows, keyed by run name), a plotly Figure out. Runs take their
colour from the caller's map (resources.run_colour_map: every run the server knows, so a run
looks the same here as on the training page). Run names go into the figure through
escape_plotly: plotly renders tags in trace names and hover text, and fills %{...} in templates.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go

from dashboard.escape import escape_plotly
from dashboard.theme import chart_layout, fitted_range, zero_based_range

METRIC_KEYS = {"accuracy": "accuracy", "macro-F1": "macro_f1"}


def _layout(title: str, **extra) -> dict:
    """The theme's phone rules (a title that wraps, the legend below everything), 380 px high."""
    return chart_layout(title, **{"height": 380, **extra})


def _value_axis(values, metric: str, bars: bool = False) -> dict:
    """A share's axis: fitted to a line's points, but from zero under bars (issue 22: a bar's length is its
    value; bars on an axis starting at 27% made 40% look twice 33%)."""
    span = zero_based_range(values) if bars else fitted_range(values, (), floor=0.0, ceiling=1.0)
    return dict(title=dict(text=metric), tickformat=".0%", range=span)


def _run_traces(by_run: Mapping[str, Sequence[Mapping]], colours: Mapping[str, str], value_key: str, x_key: str,
                base: dict, colour_key: str, counted: str) -> tuple[list[dict], list[float]]:
    """One trace per run (its run colour, its name escaped), x = row[x_key], y = row[value_key]; and every y."""
    traces, values = [], []
    for run, rows in by_run.items():
        name = escape_plotly(run)
        ys = [row[value_key] for row in rows]
        values += ys
        traces.append(dict(base, name=name, x=[row[x_key] for row in rows], y=ys,
                           customdata=[row["count"] for row in rows], **{colour_key: dict(color=colours.get(run))},
                           hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}} of %{{customdata:,}} {counted}<extra></extra>"))
    return traces, values


def slices_chart(by_run: Mapping[str, Sequence[Mapping]], colours: Mapping[str, str], metric: str = "accuracy",
                 title: str = "By slice of sentences") -> go.Figure:
    """Grouped horizontal bars from zero: one group per slice (top to bottom), one bar per run (its run colour).

    Horizontal: a slice's name ("negation and contrast") reads whole on a 390 px phone, where slanted
    names under upright bars were cut at the chart's left edge.
    """
    traces, values = [], []
    for run, rows in by_run.items():
        name = escape_plotly(run)
        xs = [row[METRIC_KEYS[metric]] for row in rows]
        values += xs
        traces.append(dict(type="bar", orientation="h", name=name, y=[row["name"] for row in rows], x=xs,
                           customdata=[row["count"] for row in rows], marker=dict(color=colours.get(run)),
                           hovertemplate=f"{name}<br>%{{y}}: %{{x:.1%}} of %{{customdata:,}} sentences<extra></extra>"))
    slices = max((len(rows) for rows in by_run.values()), default=1)
    bar_px = 10 + 14 * max(len(by_run), 1)   # one group: a bar per run and a gap
    return go.Figure(data=traces, layout=_layout(
        title, barmode="group", height=160 + slices * bar_px, xaxis=_value_axis(values, metric, bars=True),
        yaxis=dict(autorange="reversed", automargin=True, type="category"),
        legend=dict(traceorder="normal")))


def phrase_chart(by_run: Mapping[str, Sequence[Mapping]], colours: Mapping[str, str], title: str, axis_title: str,
                 metric: str = "accuracy") -> go.Figure:
    """One line per run over the buckets of a phrase breakdown (by length or by depth)."""
    traces, values = _run_traces(by_run, colours, METRIC_KEYS[metric], "bucket",
                                 dict(type="scatter", mode="lines+markers"), "line", "phrases")
    return go.Figure(data=traces, layout=_layout(title, yaxis=_value_axis(values, metric),
                                                 xaxis=dict(title=dict(text=axis_title), type="category")))
