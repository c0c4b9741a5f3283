"""Figures of the walkthrough page: plain data in, a plotly Figure or Graphviz DOT text out (testable without Streamlit)."""
from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

VANISH_COLOR, EXPLODE_COLOR, CUT_COLOR = "rgba(52, 120, 200, 0.12)", "rgba(210, 60, 50, 0.12)", "rgba(120, 120, 120, 0.18)"
CELL_COLORS = {"scratch": "#d9534f", "rnn": "#f0883e", "lstm": "#2e86de", "gru": "#27ae60"}


def _log_range(values: Sequence[float], vanish_below: float, explode_above: float) -> list[float]:
    """A log10 y-range that shows every positive value and a decade of each band."""
    positive = [v for v in values if v and v > 0 and math.isfinite(v)]
    low = min([vanish_below / 10, *positive])
    high = max([explode_above * 10, *positive])
    return [math.floor(math.log10(low)), math.ceil(math.log10(high))]


def _bands(fig: go.Figure, y_range: list[float], vanish_below: float, explode_above: float) -> None:
    fig.add_hrect(y0=10 ** y_range[0], y1=vanish_below, fillcolor=VANISH_COLOR, line_width=0, layer="below")
    fig.add_hrect(y0=explode_above, y1=10 ** y_range[1], fillcolor=EXPLODE_COLOR, line_width=0, layer="below")
    # Annotations on a log axis take log10 positions (shapes take data values).
    fig.add_annotation(xref="paper", x=0.01, y=math.log10(vanish_below), yanchor="top", xanchor="left",
                       text=f"vanishing (below {vanish_below:g})", showarrow=False, font=dict(color="#2a5d9f"))
    fig.add_annotation(xref="paper", x=0.01, y=math.log10(explode_above), yanchor="bottom", xanchor="left",
                       text=f"exploding (above {explode_above:g})", showarrow=False, font=dict(color="#a93226"))


def _steps_back_layout(fig: go.Figure, title: str, y_title: str, y_range: list[float], height: int,
                       legend_y: float) -> go.Figure:
    """Steps back from the last step along x, a log gradient norm up y, the legend below."""
    fig.update_layout(title=title, xaxis_title="steps back from the last step (k)", yaxis_title=y_title,
                      yaxis=dict(type="log", range=y_range, exponentformat="power"), height=height,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=legend_y))
    return fig


def gradient_flow_figure(norms: Sequence[float], radius: float, activation: str, vanish_below: float,
                         explode_above: float, truncate_at: int | None = None) -> go.Figure:
    """Gradient norm k steps back from the last step, on a log scale, with the r**k line.

    With truncation at k steps the curve stops at k (beyond it the gradient is zero, which a
    log axis cannot draw) and the cut region is shaded; the untruncated curve stays, faint.
    """
    steps = list(range(len(norms)))
    reference = [radius ** k for k in steps]
    y_range = _log_range([*norms, *reference], vanish_below, explode_above)
    fig = go.Figure()
    _bands(fig, y_range, vanish_below, explode_above)
    fig.add_trace(go.Scatter(x=steps, y=reference, name=f"r^k = {radius:g}^k", mode="lines",
                             line=dict(color="gray", dash="dot")))
    truncated = truncate_at is not None and truncate_at < len(norms) - 1
    fig.add_trace(go.Scatter(x=steps, y=[n if n > 0 else None for n in norms],
                             name=f"{activation}: without truncation" if truncated else activation,
                             mode="lines", line=dict(color="#d9534f", width=2),
                             opacity=0.35 if truncated else 1.0))
    if truncated:
        kept = steps[:truncate_at + 1]
        fig.add_trace(go.Scatter(x=kept, y=[norms[k] if norms[k] > 0 else None for k in kept],
                                 name=f"{activation}: truncated at k = {truncate_at}", mode="lines",
                                 line=dict(color="#d9534f", width=3)))
        fig.add_vrect(x0=truncate_at + 0.5, x1=len(norms) - 1, fillcolor=CUT_COLOR, line_width=0, layer="below")
        fig.add_annotation(x=(truncate_at + len(norms) - 0.5) / 2, yref="paper", y=0.5, showarrow=False,
                           text=f"cut by truncation:<br>no gradient beyond k = {truncate_at}", font=dict(color="#444"))
    return _steps_back_layout(fig, "Gradient norm reaching k steps back from the last step",
                              "||dL/dh_(T-k)||  (1 at the last step)", y_range, height=420, legend_y=-0.2)


def probe_figure(curves: Sequence, vanish_below: float, explode_above: float,
                 before: Sequence = ()) -> go.Figure:
    """Measured gradient norms of trained runs (lessons.ProbeCurve), one line per run.

    `before` holds the same runs' probes before training, drawn dotted.
    """
    values = [v for c in [*curves, *before] for v in c.norms]
    y_range = _log_range(values, vanish_below, explode_above)
    fig = go.Figure()
    _bands(fig, y_range, vanish_below, explode_above)
    for curve, dash, suffix in [*((c, "dot", "before training") for c in before),
                                *((c, "solid", f"after epoch {c.epoch}") for c in curves)]:
        fig.add_trace(go.Scatter(x=list(range(len(curve.norms))), y=[n if n > 0 else None for n in curve.norms],
                                 name=f"{curve.cell} · {curve.run} ({suffix})", mode="lines+markers",
                                 line=dict(color=CELL_COLORS.get(curve.cell, "#555"), dash=dash)))
    return _steps_back_layout(fig, "Measured on trained models: dLoss/dh_(T-k), relative to the last step",
                              "relative gradient norm", y_range, height=400, legend_y=-0.25)


# Autograd graphs (lessons.AutogradGraph) as DOT: parameters blue, inputs amber, the output green,
# and one highlighted leaf red with its edges, so a weight used at every step stands out.
NODE_STYLES = {
    "output": 'shape=box, style=filled, fillcolor="#b9e3b0"',
    "operation": 'shape=box, style=filled, fillcolor="#e8e8e8"',
    "parameter": 'shape=box, style=filled, fillcolor="#a8c8f0"',
    "leaf": 'shape=box, style=filled, fillcolor="#f5d08a"',
}
HOT_NODE_STYLE = 'shape=box, style=filled, fillcolor="#f4a3a3", penwidth=2, color="#c0392b"'
HOT_EDGE_STYLE = ' [color="#c0392b", penwidth=2]'


def autograd_graph_dot(graph, highlight: str | None = None) -> str:
    """Graphviz DOT text of a lessons.AutogradGraph; the leaf named `highlight` and its edges drawn in red."""
    hot = graph.node_of(highlight) if highlight else None
    lines = ["digraph {", '  graph [rankdir=TB, fontsize=10];',
             '  node [fontname="Helvetica", fontsize=10, height=0.3];', '  edge [arrowsize=0.6];']
    for node, label in graph.labels.items():
        style = HOT_NODE_STYLE if node == hot else NODE_STYLES[graph.kinds[node]]
        lines.append(f'  {node} [label="{_dot_escape(label)}", {style}];')
    for source, target in graph.edges:
        lines.append(f"  {source} -> {target}{HOT_EDGE_STYLE if source == hot else ''};")
    lines.append("}")
    return "\n".join(lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
