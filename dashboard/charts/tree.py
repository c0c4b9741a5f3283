"""A model's answers on a parse tree: the treebank's label as each node's fill, the model's as its ring.

Plain data in (explore.TreeLayout, tree_view.ModelTree), a plotly Figure out; no Streamlit.
Node i of the layout is node i of the model tree (both in pre-order). Every text that reaches
the figure (words, phrases) is HTML-escaped: plotly renders a subset of HTML in hover labels
and annotations.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go

from dashboard.charts.data import _wrap as wrap_lines, tree_edges_trace
from dashboard.theme import NOTE_COLOUR, class_colours

NO_LABEL_FILL = "white"      # a node whose label the scheme drops (neutral with 2 classes)
FILL, RING, DISAGREE_RING = 12, 21, 29  # marker sizes: the treebank's disc, the model's ring (larger: disagrees)
PIXELS_PER_LEAF, MIN_WIDTH = 38, 640


def node_hover(tree, index: int, flip_word: str | None) -> str:
    """The phrase, the treebank's and the model's class, and every class probability as 67.4%."""
    node, names = tree.nodes[index], tree.class_names
    gold = names[node.gold] if node.gold is not None else "no label in this scheme"
    phrase = wrap_lines(html.escape(" ".join(node.tokens) or "(no tokens)"))
    lines = [f"<b>{phrase}</b>", f"treebank: {html.escape(gold)}"]
    if node.predicted is not None:
        verdict = "" if node.agrees is None else (" (agrees)" if node.agrees else " (disagrees)")
        lines.append(f"model: {html.escape(names[node.predicted])}{verdict}")
        lines.append(" · ".join(f"{html.escape(name)} {p:.1%}" for name, p in zip(names, node.probabilities)))
    if flip_word is not None:
        lines.append(f"flip at '{html.escape(flip_word)}'")
    return "<br>".join(lines)


def _layer(layout, tree, members: list[int], name: str, group: str, hovers: list[str], **marker) -> dict:
    return dict(type="scatter", mode="markers", name=name, legendgroup=group, x=[layout.x[i] for i in members],
                y=[layout.y[i] for i in members], customdata=[hovers[i] for i in members],
                hovertemplate="%{customdata}<extra></extra>", marker=marker)


def _node_traces(layout, tree, flips: dict[int, str]) -> list[dict]:
    """Two layers of markers: rings (a large disc in the model's class colour) under fills (a smaller
    disc in the treebank's class colour with a white edge, so the ring shows as a band around it).

    One trace per class in each layer, so the legend names every colour. A node whose answer
    disagrees gets a larger ring; a flip node is a diamond.
    """
    names, nodes = tree.class_names, tree.nodes
    colours = class_colours(names)
    hovers = [node_hover(tree, i, flips.get(i)) for i in range(len(nodes))]
    symbols = ["diamond" if i in flips else "circle" for i in range(len(nodes))]
    traces = []
    for c, name in enumerate(names):
        members = [i for i, node in enumerate(nodes) if node.predicted == c]
        if members:
            traces.append(_layer(layout, tree, members, f"model: {name}", "ring", hovers, color=colours[c],
                                 size=[RING if nodes[i].agrees is not False else DISAGREE_RING for i in members],
                                 symbol=[symbols[i] for i in members], opacity=1, line=dict(width=0)))
    fills = [(c, f"treebank: {name}", colours[c]) for c, name in enumerate(names)]
    fills.append((None, "treebank: no label in this scheme", NO_LABEL_FILL))
    for gold, name, colour in fills:
        members = [i for i, node in enumerate(nodes) if node.gold == gold]
        if members:
            traces.append(_layer(layout, tree, members, name, "fill", hovers, color=colour, size=FILL,
                                 symbol=[symbols[i] for i in members], line=dict(width=2, color="white")))
    return traces


def _legend_traces() -> list[dict]:
    """Legend-only entries for the marks: a larger ring, a diamond."""
    hidden = dict(type="scatter", mode="markers", x=[None], y=[None], hoverinfo="skip", legendgroup="marks")
    return [dict(hidden, name="larger ring: model disagrees",
                 marker=dict(color=NO_LABEL_FILL, size=DISAGREE_RING - 4, line=dict(width=2, color=NOTE_COLOUR))),
            dict(hidden, name="diamond: label turns at a negation / contrast",
                 marker=dict(color=NO_LABEL_FILL, size=FILL, symbol="diamond", line=dict(width=2, color=NOTE_COLOUR)))]


def model_tree_chart(layout, tree) -> go.Figure:
    """The parse tree (explore.TreeLayout) with the model's answer (tree_view.ModelTree) on every node.

    Fill: the treebank's class; ring: the model's class; a larger ring: they disagree; a diamond
    with a note: the label turns at a negation or contrast word. The figure is as wide as the sentence
    is long (38 px a word), so a page shows it in a frame that scrolls sideways.
    """
    flips = {flip.node: flip.word for flip in tree.flips}
    traces = [tree_edges_trace(layout), *_node_traces(layout, tree, flips), *_legend_traces()]
    words = [dict(x=x, y=0, text=html.escape(word), showarrow=False, textangle=-60, yshift=-14, xanchor="right",
                  yanchor="top", font=dict(size=12)) for x, word in zip(layout.x, layout.words) if word is not None]
    notes = [dict(x=layout.x[i], y=layout.y[i], text=f"flip: {html.escape(word)}", showarrow=False, yshift=20,
                  font=dict(size=11, color=NOTE_COLOUR)) for i, word in flips.items()]
    leaves = sum(1 for word in layout.words if word is not None)
    height = max(layout.y, default=0)
    return go.Figure(data=traces, layout=dict(
        annotations=words + notes, plot_bgcolor="white",
        width=max(MIN_WIDTH, PIXELS_PER_LEAF * leaves + 120), height=max(340, 44 * height + 230),
        margin=dict(l=10, r=10, t=90, b=10), xaxis=dict(visible=False, range=[-1, max(leaves, 1)]),
        yaxis=dict(visible=False, range=[-2.4, height + 0.7]),
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, xanchor="left")))
