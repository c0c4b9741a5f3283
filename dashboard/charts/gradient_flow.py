"""Gradient flow through time, drawn one way on every page (issue 14): x is the position t in the
sentence, left to right, the loss at the right end; y is the gradient norm on a log scale.

Used by the walkthrough (a sentence read by a random recurrence, the runs' measured probes) and
by the training page (one run's probes, epoch by epoch). Plain data in, a plotly Figure out.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import plotly.graph_objects as go

from dashboard.escape import escape_plotly
from dashboard.theme import BASELINE_COLOUR, NOTE_COLOUR, PUBLISHED_COLOUR, chart_layout

BAND_FILL = "rgba(127, 127, 127, 0.12)"   # theme.BASELINE_COLOUR, faint: the vanishing / exploding bands
CUT_FILL = "rgba(127, 127, 127, 0.22)"    # the positions truncation cuts off


def log_range(values: Sequence[float], vanish_below: float | None = None,
              explode_above: float | None = None) -> list[float]:
    """A log10 y-range that shows every positive value (and a decade of each band when given)."""
    positive = [v for v in values if v and v > 0 and math.isfinite(v)] or [1.0]
    low = min(positive + ([vanish_below / 10] if vanish_below else []))
    high = max(positive + ([explode_above * 10] if explode_above else []))
    bottom, top = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return [bottom, max(top, bottom + 1)]


def _positive(values: Sequence[float]) -> list[float | None]:
    return [v if v and v > 0 else None for v in values]  # a log axis cannot draw 0


def _bands(fig: go.Figure, y_range: list[float], vanish_below: float, explode_above: float) -> None:
    fig.add_hrect(y0=10 ** y_range[0], y1=vanish_below, fillcolor=BAND_FILL, line_width=0, layer="below")
    fig.add_hrect(y0=explode_above, y1=10 ** y_range[1], fillcolor=BAND_FILL, line_width=0, layer="below")
    # Annotations on a log axis take log10 positions (shapes take data values).
    fig.add_annotation(xref="paper", x=0.01, y=math.log10(vanish_below), yanchor="top", xanchor="left",
                       text=f"vanishing (below {vanish_below:g})", showarrow=False, font=dict(color=NOTE_COLOUR))
    fig.add_annotation(xref="paper", x=0.01, y=math.log10(explode_above), yanchor="bottom", xanchor="left",
                       text=f"exploding (above {explode_above:g})", showarrow=False, font=dict(color=NOTE_COLOUR))


def flow_chart(lines: Sequence[Mapping], title: str, labels: Sequence[str] | None = None,
               vanish_below: float | None = None, explode_above: float | None = None,
               cut_before: int | None = None, y_title: str = "gradient norm ||dL/dh_t||", height: int = 400,
               detached_after: Sequence[int] = ()) -> go.Figure:
    """One line per entry of `lines`: {"name", "norms" (by position t = 1..T), optional "colour", "dash",
    "opacity", "width"}. `labels` name the positions (a sentence's tokens); `cut_before` shades the
    positions 1 .. cut_before - 1, where truncation leaves no gradient; `detached_after` draws a dashed
    line after each of those positions, where truncated BPTT detaches the state."""
    length = max((len(line["norms"]) for line in lines), default=1)
    positions = list(range(1, length + 1))
    values = [v for line in lines for v in line["norms"]]
    y_range = log_range(values, vanish_below, explode_above)
    fig = go.Figure()
    if vanish_below and explode_above:
        _bands(fig, y_range, vanish_below, explode_above)
    if cut_before and cut_before > 1:
        fig.add_vrect(x0=0.5, x1=cut_before - 0.5, fillcolor=CUT_FILL, line_width=0, layer="below")
        fig.add_annotation(x=cut_before / 2, yref="paper", y=0.5, showarrow=False, font=dict(color=NOTE_COLOUR),
                           text="cut by truncation:<br>no gradient here")
    for position in detached_after:
        fig.add_vline(x=position + 0.5, line=dict(color=NOTE_COLOUR, dash="dash", width=1))
    if detached_after:
        fig.add_annotation(x=detached_after[-1] + 0.5, yref="paper", y=0.02, showarrow=False, xanchor="left",
                           text=" state detached", font=dict(color=NOTE_COLOUR))
    for line in lines:
        norms = list(line["norms"])
        xs = positions[length - len(norms):]  # shorter lines end at the loss too
        fig.add_trace(go.Scatter(x=xs, y=_positive(norms), name=line["name"], mode="lines+markers",
                                 line=dict(color=line.get("colour", PUBLISHED_COLOUR), dash=line.get("dash", "solid"),
                                           width=line.get("width", 2)), opacity=line.get("opacity", 1.0),
                                 hovertemplate="t = %{x}: %{y:.3g}<extra></extra>"))
    fig.add_annotation(x=length, y=1, yref="paper", yanchor="bottom", showarrow=False, text="loss here →",
                       xanchor="right", font=dict(color=NOTE_COLOUR))
    tick = dict(tickmode="array", tickvals=positions, ticktext=[escape_plotly(t) for t in labels]) if labels else dict(dtick=max(1, length // 10))
    # chart_layout: the legend below the x-axis title, in a margin that fits it (a 40-word sentence's
    # upright tick labels pushed the title into a legend placed at a fixed height)
    fig.update_layout(**chart_layout(title, height=height,
                                     xaxis=dict(title=dict(text="word t (the loss is read after the last)"),
                                                range=[0.5, length + 0.5], **tick),
                                     yaxis=dict(title=dict(text=y_title), type="log", range=y_range,
                                                exponentformat="power")))
    return fig


def spread_pick(values: Sequence[int], most: int) -> list[int]:
    """At most `most` values, evenly spread, the first and the last always kept."""
    if len(values) <= most:
        return list(values)
    picks = {values[round(i * (len(values) - 1) / (most - 1))] for i in range(most)}
    return sorted(picks)


def probe_epochs_chart(probes: Mapping[int, Mapping], most_lines: int = 6) -> go.Figure:
    """One run's probes (training page): |dLoss/dh_t| by position t, one line per probed epoch
    (0: before training, dotted; later epochs darker). With many epochs, `most_lines` are drawn."""
    epochs = spread_pick(sorted(e for e, probe in probes.items() if probe.get("norms")), most_lines)
    lines = [{"name": "before training" if epoch == 0 else f"after epoch {epoch}", "norms": probes[epoch]["norms"],
              "dash": "dot" if epoch == 0 else "solid", "opacity": 0.35 + 0.65 * (rank + 1) / len(epochs)}
             for rank, epoch in enumerate(epochs)]
    last = probes[epochs[-1]] if epochs else {}
    batch = f" ({last.get('size', '?')} dev sentences of {last.get('length')} tokens)" if last.get("length") else ""
    return flow_chart(lines, f"Gradient flow through time{batch}", y_title="||dLoss/dh_t||", height=360)


def probe_runs_chart(curves: Sequence, vanish_below: float, explode_above: float, colours: Mapping[str, str],
                     before: Sequence = ()) -> go.Figure:
    """Several runs' probes (gradient_flow.ProbeCurve, relative to the last position), one colour per run
    (`colours`: resources.run_colour_map); `before` the same runs before training, dotted."""
    lines = [{"name": f"{c.cell} · {escape_plotly(c.run)} ({suffix})", "norms": c.norms, "dash": dash,
              "colour": colours.get(c.run, BASELINE_COLOUR)}
             for group, dash, suffix in ((before, "dot", "before training"), (curves, "solid", None))
             for c in group for suffix in [suffix or f"after epoch {c.epoch}"]]
    return flow_chart(lines, "Measured on trained models: dLoss/dh_t, relative to the last position",
                      vanish_below=vanish_below, explode_above=explode_above, y_title="relative gradient norm")
