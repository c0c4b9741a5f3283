"""Figures of the walkthrough page: plain data in, a plotly Figure or Graphviz DOT text out (testable
without Streamlit). Gradient-flow charts are in charts/gradient_flow.py, the unrolled chain in
charts/unrolled.py."""
from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.escape import escape_plotly
from dashboard.theme import GATE_SCALE, PUBLISHED_COLOUR, STATE_SCALE, chart_layout


def gate_figure(parts: Mapping[str, Sequence[float]], gates: set[str], title: str,
                units: Sequence[int] | None = None) -> go.Figure:
    """One row per gate or state of one step, one column per unit, each value written in its cell.

    Each row is its own single-row heatmap on its own y-axis: two heatmaps sharing one categorical
    axis place their `text` by row index, not by category (issue 21: row i showed the numbers of i
    and g over each other). Gates (sigmoids, 0..1) on theme.GATE_SCALE, candidates and states
    (-1..1) on theme.STATE_SCALE. `units` numbers the columns (default 1..H).
    """
    names = list(parts)
    count = max(len(v) for v in parts.values())
    columns = [f"unit {u}" for u in (units if units is not None else range(1, count + 1))]
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.02)
    for row, name in enumerate(names, start=1):
        values = [float(v) for v in parts[name]]
        scale, low = (GATE_SCALE, 0.0) if name in gates else (STATE_SCALE, -1.0)
        fig.add_trace(go.Heatmap(z=[values], x=columns[:len(values)], y=[name], zmin=low, zmax=1.0, name=name,
                                 colorscale=scale, showscale=False, text=[[f"{v:.2f}" for v in values]],
                                 texttemplate="%{text}", textfont=dict(size=15),
                                 hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"), row=row, col=1)
    fig.update_yaxes(tickfont=dict(size=15))
    fig.update_layout(**chart_layout(title, height=90 + 48 * len(names)))
    return fig


def gate_over_sentence_figure(values: Sequence[Sequence[float]], labels: Sequence[str], name: str, is_gate: bool,
                              units: Sequence[int], title: str) -> go.Figure:
    """One gate (or state) at every word: a column per word of the sentence, a row per unit, each
    value written in its cell. values is (T, len(units)), in the sentence's order."""
    rows = [[float(values[t][u]) for t in range(len(labels))] for u in range(len(units))]
    scale, low = (GATE_SCALE, 0.0) if is_gate else (STATE_SCALE, -1.0)
    fig = go.Figure(go.Heatmap(z=rows, x=[escape_plotly(label) for label in labels], y=[f"unit {u}" for u in units], zmin=low, zmax=1.0, name=name,
                               colorscale=scale, showscale=False, text=[[f"{v:.2f}" for v in row] for row in rows],
                               texttemplate="%{text}", textfont=dict(size=13),
                               hovertemplate=name + ", %{y}, “%{x}”: %{z:.3f}<extra></extra>"))
    fig.update_layout(**chart_layout(title, height=110 + 40 * len(units),
                                     xaxis=dict(type="category", tickangle=-45),
                                     yaxis=dict(type="category", autorange="reversed")))
    return fig


def additive_path_figure(labels: Sequence[str], keep: Sequence[Sequence[float]], gate: str,
                         measured: Sequence[float], path_only: Sequence[float], title: str) -> go.Figure:
    """The keep gate along the sentence (its mean over units, with the lowest and highest unit) above
    the gradient at each word on a log scale: measured by autograd, and carried by the additive path alone."""
    positions = list(range(1, len(labels) + 1))
    mean = [sum(row) / len(row) for row in keep]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.4, 0.6])
    fig.add_trace(go.Scatter(x=positions, y=[max(row) for row in keep], name=f"{gate}_t: highest unit",
                             mode="lines", line=dict(width=0), showlegend=False,
                             hovertemplate="t = %{x}: %{y:.3f}<extra>highest unit</extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=positions, y=[min(row) for row in keep], name=f"{gate}_t: lowest unit", mode="lines",
                             line=dict(width=0), fill="tonexty", fillcolor="rgba(1, 102, 94, 0.18)",
                             showlegend=False, hovertemplate="t = %{x}: %{y:.3f}<extra>lowest unit</extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=positions, y=mean, name=f"{gate}_t, mean over the units (band: lowest to highest)",
                             mode="lines+markers", line=dict(color=GATE_SCALE[-1][1], width=3),
                             hovertemplate="t = %{x}: %{y:.3f}<extra></extra>"), row=1, col=1)
    for norms, name, dash in ((measured, "||∂L/∂h_t|| measured by autograd", "solid"),
                              (path_only, f"through the additive path alone (product of {gate})", "dot")):
        fig.add_trace(go.Scatter(x=positions, y=[v if v > 0 else None for v in norms], name=name,
                                 mode="lines+markers", line=dict(color=PUBLISHED_COLOUR, dash=dash, width=2),
                                 hovertemplate="t = %{x}: %{y:.3g}<extra></extra>"), row=2, col=1)
    fig.update_yaxes(title_text=f"{gate}_t (0 closed, 1 open)", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="relative to the last word", type="log", exponentformat="power", row=2, col=1)
    fig.update_xaxes(tickmode="array", tickvals=positions, ticktext=[escape_plotly(label) for label in labels], tickangle=-45, row=2, col=1)
    fig.update_layout(**chart_layout(title, height=560))
    return fig


def layer_states_figure(states: Sequence[Sequence[Sequence[float]]], labels: Sequence[str], units: int,
                        title: str) -> go.Figure:
    """Every layer's hidden state at every word, the top layer drawn on top as in a stacked diagram:
    one heatmap per layer, a column per word, a row per unit (the first `units`), values written in.
    states[l] is layer l + 1's (T, H) states, bottom layer first."""
    layers = len(states)
    fig = make_subplots(rows=layers, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[f"layer {layer}" + (" (reads the words)" if layer == 1 else "")
                                        for layer in range(layers, 0, -1)])
    for row, layer in enumerate(range(layers, 0, -1), start=1):
        rows = [[float(states[layer - 1][t][u]) for t in range(len(labels))] for u in range(units)]
        fig.add_trace(go.Heatmap(z=rows, x=[escape_plotly(label) for label in labels], y=[f"h{layer}[{u + 1}]" for u in range(units)],
                                 name=f"layer {layer}", zmin=-1.0, zmax=1.0, colorscale=STATE_SCALE, showscale=False,
                                 text=[[f"{v:.2f}" for v in r] for r in rows], texttemplate="%{text}",
                                 textfont=dict(size=12), hovertemplate="%{y}, “%{x}”: %{z:.3f}<extra></extra>"),
                      row=row, col=1)
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(**chart_layout(title, height=120 + layers * (34 * units + 40)))
    return fig


def depth_gradients_figure(results: Sequence, title: str) -> go.Figure:
    """Bars of ||dL/d(layer l's weights)|| for networks of each depth (stacked.DepthGradients), one colour
    per layer from the bottom (reads the words) up, on a log axis, each bar labelled with its value."""
    depth_names = [f"{r.layers} layer{'s' if r.layers > 1 else ''}" for r in results]
    deepest = max(r.layers for r in results)
    shades = ["#01665e", "#5ab4ac", "#c7eae5", "#e0f3f8"]
    fig = go.Figure()
    for layer in range(1, deepest + 1):
        values = [r.per_layer[layer - 1] if layer <= r.layers else None for r in results]
        name = "layer 1 (reads the words)" if layer == 1 else f"layer {layer}"
        fig.add_trace(go.Bar(x=depth_names, y=values, name=name, marker=dict(color=shades[(layer - 1) % len(shades)],
                                                                               line=dict(color="#555555", width=1)),
                             text=[f"{v:.3g}" if v is not None else "" for v in values], textposition="outside",
                             hovertemplate=name + ", %{x}: %{y:.3g}<extra></extra>"))
    fig.update_layout(**chart_layout(title, height=420, barmode="group",
                                     yaxis=dict(type="log", title=dict(text="gradient norm of the layer's weights"),
                                                exponentformat="power"),
                                     xaxis=dict(title=dict(text="the network"))))
    return fig


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
