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
from dashboard.theme import fitted_range

METRIC_KEYS = {"accuracy": "accuracy", "macro-F1": "macro_f1"}


def _layout(title: str, **extra) -> dict:
    return {"title": dict(text=title), "margin": dict(l=10, r=10, t=50, b=10), "height": 380,
            "legend": dict(orientation="h", y=-0.3, title=dict(text="")), **extra}


def _value_axis(values, metric: str) -> dict:
    return dict(title=dict(text=metric), tickformat=".0%", range=fitted_range(values, (), floor=0.0, ceiling=1.0))


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
    """Grouped bars: one group per slice, one bar per run (its run colour), the slice's `metric`."""
    traces, values = _run_traces(by_run, colours, METRIC_KEYS[metric], "name", dict(type="bar"), "marker",
                                 "sentences")
    return go.Figure(data=traces, layout=_layout(title, barmode="group", yaxis=_value_axis(values, metric),
                                                 xaxis=dict(tickangle=-30)))


def phrase_chart(by_run: Mapping[str, Sequence[Mapping]], colours: Mapping[str, str], title: str, axis_title: str,
                 metric: str = "accuracy") -> go.Figure:
    """One line per run over the buckets of a phrase breakdown (by length or by depth)."""
    traces, values = _run_traces(by_run, colours, METRIC_KEYS[metric], "bucket",
                                 dict(type="scatter", mode="lines+markers"), "line", "phrases")
    return go.Figure(data=traces, layout=_layout(title, yaxis=_value_axis(values, metric),
                                                 xaxis=dict(title=dict(text=axis_title), type="category")))
