"""Charts of the playground: what a model says about one sentence, and why.

Plain data in, a plotly Figure (or an HTML snippet for coloured text) out; no Streamlit.
Tokens may repeat in a sentence, so token axes are positions labelled "position: token".
"""
from __future__ import annotations

import html
from typing import Sequence

import plotly.graph_objects as go

from dashboard.escape import escape_plotly
from dashboard.theme import (ATTRIBUTION_AWAY, chart_layout, ATTRIBUTION_TOWARD, GATE_COLORBAR, GATE_SCALE, NOTE_COLOUR,
                           STATE_COLORBAR, STATE_SCALE, attribution_labels, class_colours)
from sentiment_core.data.text import SPECIALS

UNKNOWN_BACKGROUND = "#fdd0a2"   # tokens the vocabulary does not know (read as <unk>)
SPECIAL_COLOUR = "#888888"       # <sos> / <eos>


def token_labels(tokens: Sequence[str]) -> list[str]:
    """Axis labels "position: token". Plotly reads tags it knows (<a href>, <b>, <br>...) and entities in
    every label, so a typed token is escaped (escape_plotly); the specials (<sos>, <eos>...), tags plotly
    does not know and shows as written, stay as they are."""
    return [f"{i}: {t if t in SPECIALS else escape_plotly(t)}" for i, t in enumerate(tokens)]


def _figure(traces: list[dict], title: str, **layout) -> go.Figure:
    return go.Figure(data=traces, layout=chart_layout(title, **layout))


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


def units_by_tokens_heatmap(tokens: Sequence[str], grid: Sequence[Sequence[float]], title: str,
                            units: Sequence[int] | None = None, gate: bool = False, height: int | None = None
                            ) -> go.Figure:
    """Rows of a (units, tokens) grid: the hidden state h_t (-1..1, theme STATE_SCALE) or, with `gate`,
    a sigmoid gate's activation (0..1, theme GATE_SCALE), each with its labelled colour bar.

    `grid` holds the rows to draw; `units` names them (default 0, 1, ...), top to bottom.
    """
    units = list(range(len(grid))) if units is None else list(units)
    scale, colorbar, low = (GATE_SCALE, GATE_COLORBAR, 0.0) if gate else (STATE_SCALE, STATE_COLORBAR, -1.0)
    trace = dict(type="heatmap", z=[list(row) for row in grid], x=token_labels(tokens),
                 y=[f"unit {unit}" for unit in units], colorscale=scale, zmin=low, zmax=1.0,
                 colorbar={**colorbar, "thickness": 12, "len": 1.0},
                 hovertemplate="%{y}, after %{x}: %{z:.3f}<extra></extra>")
    row = 26 if len(units) <= 40 else 4  # a few labelled rows are tall enough to read; the whole state is a texture
    return _figure([trace], title, height=height or min(900, max(240, row * len(units) + 150)),
                   xaxis=dict(tickangle=-45, type="category"),
                   yaxis=dict(type="category", autorange="reversed", showticklabels=len(units) <= 40))


def _rgba(hex_colour: str, alpha: float) -> str:
    red, green, blue = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha:.2f})"


def _score_colour(score: float, scale: float) -> str:
    strength = 0.0 if scale <= 0 else min(1.0, abs(score) / scale)
    return _rgba(ATTRIBUTION_TOWARD if score >= 0 else ATTRIBUTION_AWAY, 0.08 + 0.72 * strength)


def attribution_legend(class_name: str) -> str:
    """"purple: toward negative / orange: away from negative": the legend names the class explained."""
    toward, away = attribution_labels(class_name)
    return f"purple: {toward} / orange: {away}"


def attribution_html(tokens: Sequence[str], scores: Sequence[float], class_name: str, hover: str = "{score:+.4f}"
                     ) -> str:
    """Each token on a background whose colour says how much it pushed `class_name` up (purple)
    or down (orange), relative to the largest score in the sentence; the value shows on hover
    (`hover` formats it: e.g. "{score:+.1f} pts")."""
    scale = max((abs(s) for s in scores), default=0.0)
    spans = []
    for token, score in zip(tokens, scores):
        title = html.escape(f"{token}: {hover.format(score=score)} toward {class_name}", quote=True)
        spans.append(f'<span class="attr" title="{title}" style="background:{_score_colour(score, scale)};'
                     f'padding:2px 4px;margin:2px;border-radius:4px;display:inline-block">{html.escape(token)}</span>')
    legend = (f'<div class="attr-legend" style="font-size:0.8em;color:{NOTE_COLOUR};margin-top:4px">'
              f'{html.escape(attribution_legend(class_name))}; the strongest token is fully coloured</div>')
    return f'<div style="line-height:2.2">{"".join(spans)}</div>{legend}'


def change_bars(class_names: Sequence[str], changes: Sequence[float], title: str = "Second minus first"
                ) -> go.Figure:
    """The per-class change of probability between two versions, in points (class colours: one bar a class)."""
    points = [100 * c for c in changes]
    reach = max([5.0, *(abs(p) for p in points)]) * 1.15
    trace = dict(type="bar", orientation="h", x=points, y=list(class_names), marker=dict(color=class_colours(class_names)),
                 text=[f"{p:+.1f} pts" for p in points], textposition="auto",
                 hovertemplate="%{y}: %{x:+.1f} points<extra></extra>")
    return _figure([trace], title, height=80 + 40 * len(class_names), showlegend=False,
                   xaxis=dict(range=[-reach, reach], title=dict(text="change (percentage points)"), zeroline=True),
                   yaxis=dict(autorange="reversed"))


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
