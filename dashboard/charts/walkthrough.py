"""Figures of the walkthrough page: plain data in, a plotly Figure or Graphviz DOT text out (testable
without Streamlit). Gradient-flow charts are in charts/gradient_flow.py, the unrolled chain in
charts/unrolled.py."""
from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go

from dashboard.theme import GATE_SCALE, STATE_SCALE, wrap_title


def gate_figure(parts: Mapping[str, Sequence[float]], gates: set[str], title: str) -> go.Figure:
    """One row per gate or state of one step, one column per unit, each value written in its cell.

    Gates (sigmoids, 0..1) on theme.GATE_SCALE, candidates and states (-1..1) on theme.STATE_SCALE.
    """
    names = list(parts)
    units = max(len(v) for v in parts.values())
    fig = go.Figure()
    for group, scale, low in ((gates, GATE_SCALE, 0.0), (set(names) - gates, STATE_SCALE, -1.0)):
        rows = [n for n in names if n in group]
        if not rows:
            continue
        z = [list(parts[n]) for n in rows]
        fig.add_trace(go.Heatmap(z=z, x=[f"unit {u + 1}" for u in range(units)], y=rows, zmin=low, zmax=1.0,
                                 colorscale=scale, showscale=False, text=[[f"{v:.2f}" for v in row] for row in z],
                                 texttemplate="%{text}", textfont=dict(size=15),
                                 hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text=wrap_title(title)), height=90 + 48 * len(names), margin=dict(l=10, r=10, t=70, b=10),
                      yaxis=dict(autorange="reversed", categoryorder="array", categoryarray=names))
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
