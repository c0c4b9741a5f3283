"""Charts of the dataset and the vocabulary: plain data in, a plotly Figure out.

No Streamlit here, so every builder is testable as a plain function. Each figure is built
in one `go.Figure(data=..., layout=...)` call from plain dicts: plotly validates once, which
is several times faster than adding traces and layout one by one (pages redraw on every click).
"""
from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.theme import (BASELINE_COLOUR, BATCH_MARKER_COLOUR, BATCH_PAD_COLOUR, BATCH_WORD_COLOUR,
                             CHOICE_COLOUR, SERIES_COLOUR, TREE_EDGE_COLOUR, chart_layout, class_colours,
                             fitted_range, wrap_title)

# charts/playground.py and the pages import class_colours from here too.


def _figure(traces: list[dict], title: str, **layout) -> go.Figure:
    return go.Figure(data=traces, layout=chart_layout(title, **layout))


def _axis(title: str, **extra) -> dict:
    return dict(title=dict(text=title), **extra)


def label_distribution_chart(split_labels: Mapping[str, Mapping[str, int]], class_names: Sequence[str]) -> go.Figure:
    """Share of each label per split (bars), the count on hover. `split_labels[split][class] = count`."""
    splits = list(split_labels)
    totals = [sum(split_labels[s].values()) for s in splits]
    traces = []
    for name, colour in zip(class_names, class_colours(class_names)):
        counts = [split_labels[s].get(name, 0) for s in splits]
        traces.append(dict(type="bar", name=name, x=splits, y=[c / t if t else 0.0 for c, t in zip(counts, totals)],
                           customdata=counts, marker=dict(color=colour),
                           hovertemplate="%{x}: %{customdata:,} " + name + " (%{y:.1%})<extra></extra>"))
    return _figure(traces, "Labels per split", barmode="group", xaxis=_axis("split"),
                   yaxis=_axis("share of the split", tickformat=".0%"))


def length_histogram_chart(lengths: Sequence[int], labels: Sequence[int], class_names: Sequence[str],
                           unit: str = "sentences") -> go.Figure:
    """Histogram of lengths in tokens, stacked by label.

    Counted here and drawn as bars: sending every length to the browser would cost more.
    """
    counts = Counter(zip(labels, lengths))
    xs = list(range(min(lengths, default=0), max(lengths, default=0) + 1))
    traces = [dict(type="bar", name=name, x=xs, y=[counts.get((cls, n), 0) for n in xs], marker=dict(color=colour),
                   hovertemplate="%{y:,} " + name + f" {unit} of length %{{x}}<extra></extra>")
              for cls, (name, colour) in enumerate(zip(class_names, class_colours(class_names)))]
    return _figure(traces, f"Length of {unit} by label", barmode="stack", bargap=0.05,
                   legend=dict(title=dict(text=""), traceorder="normal"),
                   xaxis=_axis("length (tokens)"), yaxis=_axis(unit))


def label_share_by_length_chart(share: Mapping, class_names: Sequence[str]) -> go.Figure:
    """Stacked shares of each label per phrase length (explore.label_share_by_length's output)."""
    cap = share["cap"]
    ticks = [f"{n}+" if n == cap else str(n) for n in share["lengths"]]
    traces = [dict(type="bar", name=name, x=ticks, y=share["shares"][cls], customdata=share["totals"],
                   marker=dict(color=colour),
                   hovertemplate="length %{x}: %{y:.1%} " + name + " of %{customdata:,} phrases<extra></extra>")
              for cls, (name, colour) in enumerate(zip(class_names, class_colours(class_names)))]
    return _figure(traces, "Training phrases: label share by length", barmode="stack",
                   legend=dict(title=dict(text=""), traceorder="normal"),
                   xaxis=_axis("phrase length (tokens)", type="category"),
                   yaxis=_axis("share of phrases", tickformat=".0%"))


def tree_edges_trace(layout) -> dict:
    """A parse tree's edges (explore.TreeLayout) as one line trace, each edge a segment, to draw under the nodes.

    The treebank's tree (parse_tree_chart) and the model's tree (charts/tree.py) both draw their edges with it.
    """
    edge_x, edge_y = [], []
    for parent, child in layout.edges:
        edge_x += [layout.x[parent], layout.x[child], None]  # None: lift the pen between edges
        edge_y += [layout.y[parent], layout.y[child], None]
    return dict(type="scatter", x=edge_x, y=edge_y, mode="lines", line=dict(color=TREE_EDGE_COLOUR, width=1),
                hoverinfo="skip", showlegend=False)


def parse_tree_chart(layout, label_names: Sequence[str]) -> go.Figure:
    """A parse tree (explore.TreeLayout): every node coloured by its sentiment, its phrase on hover.

    Leaves sit on the bottom row with their words below; each phrase sits above its parts.
    """
    colours = class_colours(label_names)
    traces = [tree_edges_trace(layout)]
    for label, name in enumerate(label_names):  # one trace per label: the legend explains the colours
        nodes = [i for i, node_label in enumerate(layout.labels) if node_label == label]
        traces.append(dict(
            type="scatter", x=[layout.x[i] for i in nodes], y=[layout.y[i] for i in nodes], mode="markers",
            name=f"{label}: {name}", marker=dict(size=13, color=colours[label], line=dict(color="white", width=1)),
            customdata=[_wrap(layout.texts[i]) for i in nodes],
            hovertemplate=f"<b>{label}: {name}</b><br>%{{customdata}}<extra></extra>"))
    words = [dict(x=x, y=0, text=word, showarrow=False, textangle=-60, yshift=-12, xanchor="right",
                  yanchor="top", font=dict(size=12)) for x, word in zip(layout.x, layout.words) if word is not None]
    height = max(layout.y, default=0)
    return _figure(traces, "Parse tree: every phrase with its sentiment (hover a node)", annotations=words,
                   height=max(320, 40 * height + 220), plot_bgcolor="white",
                   xaxis=dict(visible=False), yaxis=dict(visible=False, range=[-3, height + 0.6]),
                   legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"))


def _wrap(text: str, width: int = 60) -> str:
    """A phrase broken into hover lines: the theme's title wrapping, at a hover box's width."""
    return wrap_title(text, width)


def hard_cases_chart(summary: Mapping[str, Mapping], class_names: Sequence[str]) -> go.Figure:
    """Label shares of sentences with negation, with contrast, and of the others (explore.hard_case_summary)."""
    groups = list(summary)
    ticks = [f"{g} ({summary[g]['rows']:,})" for g in groups]
    traces = [dict(type="bar", name=name, x=ticks, y=[summary[g]["shares"][cls] for g in groups],
                   customdata=[summary[g]["counts"][cls] for g in groups], marker=dict(color=colour),
                   hovertemplate="%{x}: %{customdata:,} " + name + " (%{y:.1%})<extra></extra>")
              for cls, (name, colour) in enumerate(zip(class_names, class_colours(class_names)))]
    return _figure(traces, "Labels with negation or contrast words, against the rest",
                   barmode="group", yaxis=_axis("share of the group", tickformat=".0%"))


def _curve_with_choice(x: list, y: list, chosen, name: str, hover: str, chosen_name: str,
                       chosen_hover: str) -> list[dict]:
    """A line of points and, when `chosen` is one of its x values, that point marked (chosen_name: a format)."""
    traces = [dict(type="scatter", x=x, y=y, mode="lines+markers", name=name, hovertemplate=hover,
                   line=dict(color=SERIES_COLOUR), marker=dict(color=SERIES_COLOUR))]
    if chosen in x:
        traces.append(dict(type="scatter", x=[chosen], y=[y[x.index(chosen)]], mode="markers",
                           name=chosen_name.format(chosen),
                           marker=dict(size=16, color=CHOICE_COLOUR, symbol="circle-open", line=dict(width=3)),
                           hovertemplate=chosen_hover))
    return traces


def vocab_size_chart(min_freqs: Sequence[int], sizes: Sequence[int], chosen: int | None = None) -> go.Figure:
    """Vocabulary size (specials included) as min_freq grows, the chosen min_freq marked."""
    traces = _curve_with_choice(list(min_freqs), list(sizes), chosen, "vocabulary size",
                                "min_freq %{x}: %{y:,} tokens<extra></extra>", "min_freq {}",
                                "%{y:,} tokens<extra></extra>")
    return _figure(traces, "Vocabulary size against min_freq", xaxis=_axis("min_freq (log)", type="log"),
                   yaxis=_axis("tokens in the vocabulary (log)", type="log"))


def zipf_chart(ranked: Sequence[tuple[str, int]], points: int = 600) -> go.Figure:
    """Rank-frequency on log axes, with the line count = top count / rank for comparison.

    Ranks are sampled evenly on the log axis (every rank of the first hundred, fewer after):
    the curve looks the same and the page stays light.
    """
    ranks = log_spaced_ranks(len(ranked), points)
    counts = np.array([ranked[r - 1][1] for r in ranks], dtype=float)
    traces = [dict(type="scatter", x=ranks, y=counts, mode="lines", name="training tokens",
                   line=dict(color=SERIES_COLOUR),
                   customdata=[ranked[r - 1][0] for r in ranks],
                   hovertemplate="rank %{x:,}: %{customdata} (%{y:,})<extra></extra>")]
    if len(counts):
        traces.append(dict(type="scatter", x=ranks, y=counts[0] / ranks, mode="lines", name="Zipf: top count / rank",
                           line=dict(dash="dash", color=BASELINE_COLOUR), hoverinfo="skip"))
    return _figure(traces, "Rank against frequency (Zipf's law)", xaxis=_axis("rank (log)", type="log"),
                   yaxis=_axis("count in training sentences (log)", type="log"))


def log_spaced_ranks(n: int, points: int) -> np.ndarray:
    """Distinct ranks 1..n spread evenly on a log scale, always including 1 and n."""
    if n < 1:
        return np.array([], dtype=int)
    return np.unique(np.round(np.logspace(0, np.log10(n), points)).astype(int).clip(1, n))


def coverage_chart(ks: Sequence[int], shares: Sequence[float], chosen: int | None = None) -> go.Figure:
    """Share of all training tokens covered by the k most frequent words."""
    traces = _curve_with_choice(list(ks), list(shares), chosen, "coverage",
                                "top %{x:,} words: %{y:.1%} of tokens<extra></extra>", "top {:,}",
                                "%{y:.1%}<extra></extra>")
    return _figure(traces, "Training tokens covered by the top k words", xaxis=_axis("k (log)", type="log"),
                   yaxis=_axis("share of training tokens", tickformat=".0%",
                               range=fitted_range(shares, floor=0.0, ceiling=1.02)))  # 1.02: room for a marker at 100%


def polarised_words_chart(per_class: Sequence[Sequence], class_names: Sequence[str]) -> go.Figure:
    """One panel per class: its most typical words by z-score (vocab_stats.polarised_words' output).

    The panels are stacked top to bottom, not side by side: on a 390 px phone, side-by-side panels
    leave no room for a panel's words, which then run over the bars of the panel to their left.
    """
    word_px, title_px, axis_px = 20, 28, 30  # per word; a panel's title above it and its z-score ticks below
    heights = [word_px * max(len(words), 1) + title_px + axis_px for words in per_class]
    total = max(sum(heights), 1)
    traces, layout, titles, top = [], {}, [], 1.0
    for col, (words, name, colour) in enumerate(zip(per_class, class_names, class_colours(class_names))):
        words = list(reversed(words))  # the highest at the top
        axis = "" if col == 0 else str(col + 1)
        traces.append(dict(
            type="bar", orientation="h", x=[w.z for w in words], y=[w.word for w in words], xaxis=f"x{axis}",
            yaxis=f"y{axis}", marker=dict(color=colour), showlegend=False, name=name,
            customdata=[[w.count_in_class, w.count_in_rest] for w in words],
            hovertemplate="%{y}: z = %{x:.2f}<br>%{customdata[0]:,} times in " + name
                          + ", %{customdata[1]:,} in the rest<extra></extra>"))
        bottom = top - heights[col] / total
        domain = [bottom + axis_px / total, top - title_px / total]
        last = col == len(class_names) - 1
        layout[f"xaxis{axis}"] = dict(anchor=f"y{axis}", title=dict(text="z-score" if last else ""))
        layout[f"yaxis{axis}"] = dict(domain=domain, anchor=f"x{axis}", automargin=True)
        titles.append(dict(text=f"<b>{name}</b>", x=0, y=domain[1], xref="paper", yref="paper",
                           xanchor="left", yanchor="bottom", showarrow=False))
        top = bottom
    return _figure(traces, "Most polarised words per class", annotations=titles, height=total + 80,
                   **layout)


def padding_chart(padding: Mapping, chosen: int | None = None) -> go.Figure:
    """Padding share of one epoch against batch size, with and without bucketing."""
    sizes = list(padding["batch_sizes"])
    # The tutorial's random batches are the reference (grey, dashed); bucketing is the measured change.
    styles = (("unbucketed", "random batches", dict(color=BASELINE_COLOUR, dash="dash")),
              ("bucketed", "bucketed batches", dict(color=SERIES_COLOUR)))
    traces = [dict(type="scatter", x=sizes, y=list(padding[key]), mode="lines+markers", name=name, line=line,
                   marker=dict(color=line["color"]), hovertemplate="batch size %{x}: %{y:.1%} padding<extra></extra>")
              for key, name, line in styles]
    shapes = [] if chosen is None else [dict(type="line", x0=chosen, x1=chosen, y0=0, y1=1, yref="paper",
                                             line=dict(dash="dot", color=CHOICE_COLOUR))]
    shares = [share for key, _, _ in styles for share in padding[key]]
    return _figure(traces, "Padding in one epoch of training batches", shapes=shapes,
                   xaxis=_axis("batch size (log)", type="log", tickvals=sizes, ticktext=[str(s) for s in sizes]),
                   yaxis=_axis("share of positions that are padding", tickformat=".0%",
                               range=fitted_range(shares, floor=0.0, ceiling=1.02)))  # 1.02: room for a marker at 100%


def batch_chart(tokens_time_first: Sequence[Sequence[int]], words_time_first: Sequence[Sequence[str]],
                pad_index: int = 1, marker_indices: Sequence[int] = (2, 3)) -> go.Figure:
    """A batch as the tutorial prints it, sequence first: one column per sentence, one row per step.

    Cells show the index; padding (1) is grey, <sos>/<eos> pale gold, words pale slate; hover shows the word.
    """
    kinds = [[0 if i == pad_index else 1 if i in marker_indices else 2 for i in row] for row in tokens_time_first]
    steps = len(tokens_time_first)
    columns = len(tokens_time_first[0]) if steps else 0
    heatmap = dict(
        type="heatmap", z=kinds, text=[[str(i) for i in row] for row in tokens_time_first], texttemplate="%{text}",
        customdata=[list(row) for row in words_time_first], zmin=0, zmax=2, showscale=False, xgap=2, ygap=2,
        colorscale=[[0, BATCH_PAD_COLOUR], [0.33, BATCH_PAD_COLOUR], [0.34, BATCH_MARKER_COLOUR],
                    [0.66, BATCH_MARKER_COLOUR], [0.67, BATCH_WORD_COLOUR], [1, BATCH_WORD_COLOUR]],
        x=[f"sentence {j}" for j in range(columns)], y=list(range(steps)),
        hovertemplate="step %{y}, %{x}: %{text} = %{customdata}<extra></extra>")
    return _figure([heatmap], "One batch, sequence first (grey: padding, index 1)",
                   height=max(300, 22 * steps + 90), yaxis=_axis("time step", autorange="reversed"))
