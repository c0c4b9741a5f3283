"""Charts of the playground: what a model says about one sentence, and why.

Plain data in, a plotly Figure (or an HTML snippet for coloured text) out; no Streamlit.
Tokens may repeat in a sentence, so token axes are positions labelled "position: token".
"""
from __future__ import annotations

import html
from typing import Sequence

import plotly.graph_objects as go

from dashboard.charts.data import class_colours
from sentiment_core.data.text import SPECIALS

UNKNOWN_BACKGROUND = "#fdd0a2"   # tokens the vocabulary does not know (read as <unk>)
SPECIAL_COLOUR = "#888888"       # <sos> / <eos>
POSITIVE_RGB, NEGATIVE_RGB = (27, 120, 55), (178, 24, 43)  # attributions: for / against the class


def token_labels(tokens: Sequence[str]) -> list[str]:
    """Axis labels "position: token". Plotly reads tags it knows (<a href>, <b>, <br>...) and entities in
    every label, so a typed token is HTML-escaped; the specials (<sos>, <eos>...), tags plotly does not
    know and shows as written, stay as they are."""
    return [f"{i}: {t if t in SPECIALS else html.escape(t, quote=False)}" for i, t in enumerate(tokens)]


def _figure(traces: list[dict], title: str, **layout) -> go.Figure:
    base = dict(title=dict(text=title), margin=dict(l=10, r=10, t=50, b=10))
    return go.Figure(data=traces, layout={**base, **layout})


def probability_bars(class_names: Sequence[str], probabilities: Sequence[float], title: str = "Class probabilities"
                     ) -> go.Figure:
    """One horizontal bar per class, the predicted one outlined."""
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    trace = dict(type="bar", orientation="h", x=list(probabilities), y=list(class_names),
                 marker=dict(color=class_colours(class_names),
                             line=dict(color=["#222" if i == best else "rgba(0,0,0,0)" for i in range(len(class_names))],
                                       width=2)),
                 text=[f"{p:.1%}" for p in probabilities], textposition="auto",
                 hovertemplate="%{y}: %{x:.1%}<extra></extra>")
    return _figure([trace], title, height=80 + 40 * len(class_names),
                   xaxis=dict(range=[0, 1], tickformat=".0%", title=dict(text="probability")),
                   yaxis=dict(autorange="reversed"), showlegend=False)


def trajectory_chart(tokens: Sequence[str], trajectory: Sequence[Sequence[float]], class_names: Sequence[str],
                     title: str = "The prediction, token by token") -> go.Figure:
    """Class probabilities after each prefix (rows of `trajectory`) as lines over the tokens."""
    labels = token_labels(tokens)
    traces = [dict(type="scatter", mode="lines+markers", name=name, x=labels, y=[row[c] for row in trajectory],
                   line=dict(color=colour, width=3), marker=dict(size=7),
                   hovertemplate=f"after %{{x}}<br>{name}: %{{y:.1%}}<extra></extra>")
              for c, (name, colour) in enumerate(zip(class_names, class_colours(class_names)))]
    return _figure(traces, title, height=380, yaxis=dict(range=[0, 1], tickformat=".0%", title=dict(text="probability")),
                   xaxis=dict(title=dict(text="after reading the token"), tickangle=-45, type="category"),
                   legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"), hovermode="x unified")


def order_by_last_value(grid: Sequence[Sequence[float]]) -> list[int]:
    """Unit indices sorted by their value at the last token, highest first: units that end alike
    sit together, which shows the state's structure better than the arbitrary unit numbering."""
    return sorted(range(len(grid)), key=lambda unit: -grid[unit][-1])


def units_by_tokens_heatmap(tokens: Sequence[str], grid: Sequence[Sequence[float]], title: str,
                            zmin: float | None = None, zmax: float | None = None,
                            colorscale: str = "RdBu", reverse: bool = True,
                            order: Sequence[int] | None = None) -> go.Figure:
    """A (units, tokens) grid, e.g. the hidden state h_t (-1..1) or a gate's activation (0..1).

    `order` lists the units top to bottom (default: by number); the axis names each unit.
    """
    order = list(range(len(grid))) if order is None else list(order)
    trace = dict(type="heatmap", z=[list(grid[unit]) for unit in order], x=token_labels(tokens),
                 y=[f"unit {unit}" for unit in order], colorscale=colorscale, reversescale=reverse, zmin=zmin,
                 zmax=zmax, hovertemplate="%{y}, after %{x}: %{z:.3f}<extra></extra>")
    return _figure([trace], title, height=min(900, max(260, 4 * len(order) + 140)),
                   xaxis=dict(tickangle=-45, type="category"),
                   yaxis=dict(type="category", autorange="reversed", showticklabels=len(order) <= 40))


def _score_colour(score: float, scale: float) -> str:
    strength = 0.0 if scale <= 0 else min(1.0, abs(score) / scale)
    r, g, b = POSITIVE_RGB if score >= 0 else NEGATIVE_RGB
    return f"rgba({r},{g},{b},{0.08 + 0.72 * strength:.2f})"


def attribution_html(tokens: Sequence[str], scores: Sequence[float], class_name: str) -> str:
    """Each token on a background whose colour says how much it pushed `class_name` up (green)
    or down (red), relative to the largest score in the sentence; the value shows on hover."""
    scale = max((abs(s) for s in scores), default=0.0)
    spans = []
    for token, score in zip(tokens, scores):
        title = html.escape(f"{token}: {score:+.4f} toward {class_name}", quote=True)
        spans.append(f'<span title="{title}" style="background:{_score_colour(score, scale)};padding:2px 4px;'
                     f'margin:2px;border-radius:4px;display:inline-block">{html.escape(token)}</span>')
    legend = (f'<div style="font-size:0.8em;color:#555;margin-top:4px">green: pushes toward '
              f'<b>{html.escape(class_name)}</b>, red: pushes away; the strongest token is fully coloured</div>')
    return f'<div style="line-height:2.2">{"".join(spans)}</div>{legend}'


def tokens_html(tokens: Sequence[str], unknown: Sequence[bool]) -> str:
    """The tokens as chips; those read as <unk> highlighted, the frame tokens greyed."""
    spans = []
    for token, is_unknown in zip(tokens, unknown):
        if is_unknown:
            style = f"background:{UNKNOWN_BACKGROUND};border:1px solid #e6550d"
            title = f"{token}: not in the vocabulary, read as <unk>"
        elif token in ("<sos>", "<eos>"):
            style, title = f"color:{SPECIAL_COLOUR};border:1px dashed #bbb", f"{token}: marks the sentence's start / end"
        else:
            style, title = "background:#eef3f8;border:1px solid #c6d5e6", token
        spans.append(f'<span class="{"unk" if is_unknown else "tok"}" title="{html.escape(title, quote=True)}" '
                     f'style="{style};padding:2px 6px;margin:2px;border-radius:4px;display:inline-block">'
                     f'{html.escape(token)}</span>')
    return f'<div style="line-height:2.2">{"".join(spans)}</div>'
