"""A model's answers on a parse tree: the treebank's label as each node's fill, the model's as its ring.

Plain data in (explore.TreeLayout, tree_view.ModelTree), a plotly Figure out; no Streamlit.
Node i of the layout is node i of the model tree (both in pre-order). Every text that reaches
the figure (words, phrases) is HTML-escaped: plotly renders a subset of HTML in hover labels
and annotations.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go

from dashboard.charts.data import _wrap as wrap_lines
from dashboard.theme import NOTE_COLOUR, class_colours

EDGE_COLOUR = "#c8c8c8"
NO_LABEL_FILL = "white"      # a node whose label the scheme drops (neutral with 2 classes)
RING_WIDTH = 4
SIZE, DISAGREE_SIZE = 15, 23  # a larger node: the model disagrees with the treebank
PIXELS_PER_LEAF, MIN_WIDTH = 38, 640


def node_hover(tree, index: int, flip_word: str | None) -> str:
    """The phrase, the treebank's and the model's class, and every class probability as 67.4%."""
    node, names = tree.nodes[index], tree.class_names
    gold = names[node.gold] if node.gold is not None else "no label in this scheme"
    lines = [f"<b>{wrap_lines(html.escape(' '.join(node.tokens) or '(no tokens)'))}</b>", f"treebank: {html.escape(gold)}"]
    if node.predicted is not None:
        verdict = "" if node.agrees is None else (" (agrees)" if node.agrees else " (disagrees)")
        lines.append(f"model: {html.escape(names[node.predicted])}{verdict}")
        lines.append(" · ".join(f"{html.escape(name)} {p:.1%}" for name, p in zip(names, node.probabilities)))
    if flip_word is not None:
        lines.append(f"flip at '{html.escape(flip_word)}'")
    return "<br>".join(lines)


def _node_traces(layout, tree, flips: dict[int, str]) -> list[dict]:
    """One trace per treebank class (its colour fills the node, the legend names it); rings per point."""
    names = tree.class_names
    colours = class_colours(names)
    groups = [(c, f"treebank: {name}", colours[c]) for c, name in enumerate(names)]
    if any(node.gold is None for node in tree.nodes):
        groups.append((None, "treebank: no label in this scheme", NO_LABEL_FILL))
    traces = []
    for gold, name, fill in groups:
        members = [i for i, node in enumerate(tree.nodes) if node.gold == gold]
        if not members:
            continue
        traces.append(dict(
            type="scatter", mode="markers", name=name, legendgroup="fill", x=[layout.x[i] for i in members],
            y=[layout.y[i] for i in members], customdata=[node_hover(tree, i, flips.get(i)) for i in members],
            hovertemplate="%{customdata}<extra></extra>",
            marker=dict(color=fill, size=[SIZE if tree.nodes[i].agrees is not False else DISAGREE_SIZE
                                          for i in members],
                        symbol=["diamond" if i in flips else "circle" for i in members],
                        line=dict(width=RING_WIDTH,
                                  color=[colours[tree.nodes[i].predicted] if tree.nodes[i].predicted is not None
                                         else EDGE_COLOUR for i in members]))))
    return traces


def _legend_traces(class_names) -> list[dict]:
    """Legend-only entries: the model's ring colours, a larger node, a diamond."""
    hidden = dict(type="scatter", mode="markers", x=[None], y=[None], hoverinfo="skip")
    rings = [dict(hidden, name=f"model: {name}", legendgroup="ring",
                  marker=dict(color=NO_LABEL_FILL, size=SIZE, line=dict(width=RING_WIDTH, color=colour)))
             for name, colour in zip(class_names, class_colours(class_names))]
    return rings + [
        dict(hidden, name="larger: model disagrees", legendgroup="marks",
             marker=dict(color=NO_LABEL_FILL, size=DISAGREE_SIZE, line=dict(width=2, color=NOTE_COLOUR))),
        dict(hidden, name="diamond: label flips at a negation / contrast", legendgroup="marks",
             marker=dict(color=NO_LABEL_FILL, size=SIZE, symbol="diamond", line=dict(width=2, color=NOTE_COLOUR))),
    ]


def model_tree_chart(layout, tree, title: str = "") -> go.Figure:
    """The parse tree (explore.TreeLayout) with the model's answer (tree_view.ModelTree) on every node.

    Fill: the treebank's class; ring: the model's class; larger: they disagree; diamond with a
    note: the label flips at a negation or contrast word. The figure is as wide as the sentence
    is long (38 px a word), so a page shows it in a frame that scrolls sideways.
    """
    flips = {flip.node: flip.word for flip in tree.flips}
    edge_x, edge_y = [], []
    for parent, child in layout.edges:
        edge_x += [layout.x[parent], layout.x[child], None]
        edge_y += [layout.y[parent], layout.y[child], None]
    traces = [dict(type="scatter", x=edge_x, y=edge_y, mode="lines", line=dict(color=EDGE_COLOUR, width=1),
                   hoverinfo="skip", showlegend=False),
              *_node_traces(layout, tree, flips), *_legend_traces(tree.class_names)]
    words = [dict(x=x, y=0, text=html.escape(word), showarrow=False, textangle=-60, yshift=-14, xanchor="right",
                  yanchor="top", font=dict(size=12)) for x, word in zip(layout.x, layout.words) if word is not None]
    notes = [dict(x=layout.x[i], y=layout.y[i], text=f"flip: {html.escape(word)}", showarrow=False, yshift=18,
                  font=dict(size=11, color=NOTE_COLOUR)) for i, word in flips.items()]
    leaves = sum(1 for word in layout.words if word is not None)
    height = max(layout.y, default=0)
    return go.Figure(data=traces, layout=dict(
        title=dict(text=html.escape(title)), annotations=words + notes, plot_bgcolor="white",
        width=max(MIN_WIDTH, PIXELS_PER_LEAF * leaves + 120), height=max(380, 44 * height + 300),
        margin=dict(l=10, r=10, t=130, b=10), xaxis=dict(visible=False, range=[-1, max(leaves, 1)]),
        yaxis=dict(visible=False, range=[-3.2, height + 0.8]),
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, xanchor="left")))
