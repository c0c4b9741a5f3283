"""One visual language for every page, defined once: which colour means what.

Rules (issue 14): a class colour only ever means a class; attributions, hidden states and runs
each have their own palette, so no colour means two things on two pages.

- Classes: red negative, grey neutral, green positive; with five classes an ordinal ramp
  (dark red, light red, grey, light green, dark green), so "very" reads as "more of".
- Attributions: purple pushes TOWARD the explained class, orange pushes AWAY from it. Legends
  name the class (`attribution_labels`), since the class explained can be negative.
- Hidden states and gates: blue below zero, white at zero, brown above; gates (0..1) a
  sequential scale from white (closed) to dark teal (open).
- Runs: a categorical palette drawn BY RULE far (CIEDE2000) from every colour above, the train / dev
  pair and the reference greys (see RUN_PALETTE); a run keeps its colour on every page (`run_colours`
  orders runs by name, not by selection).
- Train / dev: blue / orange, used only for the split of a single run's curves.
- One measured quantity with none of these meanings (vocabulary size, coverage, padding): slate
  (SERIES_COLOUR; also the widgets' accent in .streamlit/config.toml); a reference line grey and
  dashed (BASELINE_COLOUR); the value a widget chose black (CHOICE_COLOUR).

Layout: `chart_layout(title, **overrides)` is every figure's layout under the phone rules (a title
that wraps at a phone's width, the legend horizontal below the plot); see its docstring.
"""
from __future__ import annotations

import contextvars
import math
import re
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence

from dashboard import colour_science

# -- classes ----------------------------------------------------------------------------------
CLASS_COLOURS = {
    "very negative": "#b2182b",
    "negative": "#e0705f",
    "neutral": "#a3a3a3",
    "positive": "#5fae6e",
    "very positive": "#1b7837",
}
# Classes with other names (a custom scheme): neutral greys, never a sentiment colour.
UNNAMED_CLASS_COLOURS = ("#525252", "#969696", "#737373", "#bdbdbd", "#252525")


def class_colours(class_names: Sequence[str]) -> list[str]:
    """The colour of each class, in order (the same class has the same colour on every page)."""
    return [CLASS_COLOURS.get(name, UNNAMED_CLASS_COLOURS[i % len(UNNAMED_CLASS_COLOURS)])
            for i, name in enumerate(class_names)]


# -- attributions (toward / away from the explained class) -----------------------------------
ATTRIBUTION_TOWARD, ATTRIBUTION_AWAY, ATTRIBUTION_ZERO = "#7b3294", "#e08214", "#f7f7f7"
ATTRIBUTION_SCALE = [[0.0, ATTRIBUTION_AWAY], [0.5, ATTRIBUTION_ZERO], [1.0, ATTRIBUTION_TOWARD]]


def attribution_labels(explained_class: str) -> tuple[str, str]:
    """Legend words for the two ends: ("toward negative", "away from negative")."""
    return f"toward {explained_class}", f"away from {explained_class}"


# -- hidden states (tanh, -1..1) and gates (sigmoid, 0..1) -----------------------------------
STATE_NEGATIVE, STATE_ZERO, STATE_POSITIVE = "#2166ac", "#f7f7f7", "#8c510a"
STATE_SCALE = [[0.0, STATE_NEGATIVE], [0.5, STATE_ZERO], [1.0, STATE_POSITIVE]]
STATE_COLORBAR = dict(title=dict(text="value"), tickvals=[-1, -0.5, 0, 0.5, 1],
                      ticktext=["-1 (blue)", "-0.5", "0", "0.5", "+1 (brown)"])
GATE_SCALE = [[0.0, "#ffffff"], [1.0, "#01665e"]]
GATE_COLORBAR = dict(title=dict(text="gate"), tickvals=[0, 0.5, 1], ticktext=["0 closed", "0.5", "1 open"])

# -- one run's curves: which split ------------------------------------------------------------
TRAIN_COLOUR, DEV_COLOUR = "#4c78a8", "#f58518"
BASELINE_COLOUR = "#7f7f7f"   # reference lines (majority class, always positive)
PUBLISHED_COLOUR = "#3d3d3d"  # a published figure (dashed), not a class colour
NOTE_COLOUR = "#555555"
TREE_EDGE_COLOUR = "#c8c8c8"  # a parse tree's edges: pale, under the class-coloured nodes

# -- one measured quantity (no class, split or run): vocabulary size, Zipf, coverage, padding ------
SERIES_COLOUR = "#34495e"   # slate: the curve itself
CHOICE_COLOUR = "#000000"   # the value a widget chose, as an open ring on the curve or a dotted line
# A batch of token indices: padding, the <sos>/<eos> markers, words (pale, so the index reads on top).
BATCH_PAD_COLOUR, BATCH_MARKER_COLOUR, BATCH_WORD_COLOUR = "#ececec", "#f6e3a1", "#d3dae6"

# -- runs: a palette by rule ---------------------------------------------------------------------
# A run's colour must never read as any meaning above (issue 22: an LSTM drawn red and an RNN green read as
# "negative" and "positive"; a brown run sat next to the hidden state's +1 brown). So the palette is not
# picked by hand: it is drawn from a grid of screen colours, each next one the farthest (CIEDE2000) from
# every reserved colour and every run colour picked before it. tests/test_run_colours.py checks the result
# and reads the run traces of the real figures.
RESERVED_COLOURS = {
    "class": tuple(CLASS_COLOURS.values()),
    "unnamed class": UNNAMED_CLASS_COLOURS,
    "attribution": (ATTRIBUTION_TOWARD, ATTRIBUTION_AWAY),
    "hidden state": (STATE_NEGATIVE, STATE_POSITIVE),
    "gate": (GATE_SCALE[-1][1],),
    "split": (TRAIN_COLOUR, DEV_COLOUR),
    "reference": (BASELINE_COLOUR, PUBLISHED_COLOUR, NOTE_COLOUR, SERIES_COLOUR, CHOICE_COLOUR),
}
# Seven: an eighth pick would lie under 16 from a colour already taken. Past seven runs colours repeat.
RUN_PALETTE_SIZE = 7
MIN_DISTANCE = 18.0   # CIEDE2000 the palette keeps from every reserved colour and between runs (10+: clearly apart)
# The screen colours the palette is drawn from: lines readable on white (L 40..70), clearly coloured (C 40..70).
_GRID_LIGHTNESS, _GRID_CHROMA, _GRID_HUE_STEP = (40, 50, 60, 70), (40, 55, 70), 10


def _candidate_colours() -> list[str]:
    colours = (colour_science.lab_to_hex(lightness, chroma * math.cos(math.radians(hue)),
                                         chroma * math.sin(math.radians(hue)))
               for lightness in _GRID_LIGHTNESS for chroma in _GRID_CHROMA for hue in range(0, 360, _GRID_HUE_STEP))
    return list(dict.fromkeys(c for c in colours if c is not None))


def reserved_distance(colour: str) -> float:
    """CIEDE2000 from `colour` to the nearest reserved colour."""
    return min(colour_science.delta_e(colour, reserved) for colours in RESERVED_COLOURS.values()
               for reserved in colours)


def _run_palette(size: int = RUN_PALETTE_SIZE) -> tuple[str, ...]:
    """Farthest-point sampling: each pick is the candidate farthest from everything reserved or picked."""
    distance = {colour: reserved_distance(colour) for colour in _candidate_colours()}
    picked: list[str] = []
    for _ in range(size):
        best = max(distance, key=distance.get)
        picked.append(best)
        del distance[best]
        for colour in distance:
            distance[colour] = min(distance[colour], colour_science.delta_e(colour, best))
    return tuple(picked)


# What _run_palette() picks, written out so no page pays for the search at import;
# tests/test_run_colours.py recomputes it and fails if the rule and this list ever part.
RUN_PALETTE = ('#f77eec', '#b7af16', '#28b8e9', '#d6328e', '#9da6ef', '#807931', '#22beb6')


def run_colours(run_names: Iterable[str]) -> dict[str, str]:
    """A colour per run, the same on every page: runs sorted by name take the palette in turn.

    Pass every run the store holds (not only the ones selected), so picking a subset never
    recolours a run. Past the palette's length colours repeat.
    """
    ordered = sorted(set(run_names))
    return {name: RUN_PALETTE[index % len(RUN_PALETTE)] for index, name in enumerate(ordered)}


# -- axes -----------------------------------------------------------------------------------------
def fitted_range(values: Iterable[float | None], keep_in_view: Iterable[float] = (), pad: float = 0.08,
                 floor: float | None = None, ceiling: float | None = None) -> list[float] | None:
    """An axis range that fits the data (and any baseline to keep in view), with a margin.

    Accuracy on a 0-100% axis flattens the change a learner should see; this zooms to the
    data instead. `floor` / `ceiling` clip the range (0 and 1 for a share). None if no data.
    """
    points = [float(v) for v in values if v is not None] + [float(v) for v in keep_in_view]
    if not points:
        return None
    low, high = min(points), max(points)
    margin = max((high - low) * pad, 0.01 if high == low else 0.0)
    low, high = low - margin, high + margin
    if floor is not None:
        low = max(low, floor)
    if ceiling is not None:
        high = min(high, ceiling)
    return [low, high]


def zero_based_range(shares: Iterable[float | None], headroom: float = 0.08) -> list[float]:
    """A share axis for BARS: from 0 (a bar's length is its value), up to the highest bar and a little
    room for its label, never past 100%. Lines may zoom (fitted_range); bars may not."""
    high = max((float(v) for v in shares if v is not None), default=1.0)
    return [0.0, min(1.0, high + headroom) if high > 0 else 1.0]


# -- layout: the phone rules (390 px) --------------------------------------------------------------
TITLE_CHARACTERS = 42  # what fits one title line on a 390 px phone at TITLE_SIZE (bold, ~8 px a character)
TITLE_SIZE, TITLE_LINE_PX = 16, 21
_MERGED = ("margin", "legend", "title")  # overrides of these keys update the defaults instead of replacing them
# Axis titles (14 px, ~7 px a character): an x title wraps at what a 390 px phone's plot holds; a y title, which
# runs up the plot's height, at what a short chart (340 px, its plot ~230 px) holds. Issue 22: on a phone
# "word t (the loss is read after the la" was cut at the plot's edge.
X_TITLE_CHARACTERS, Y_TITLE_CHARACTERS = 44, 32
_AXIS_KEY = re.compile(r"^[xy]axis\d*$")


def wrap_title(text: str, width: int | None = None) -> str:
    """Break a title into lines of at most `width` characters (plotly never wraps a title itself);
    by default a phone's line, or a projector's when presenting (see presenter_fonts)."""
    if width is None:
        width = TITLE_CHARACTERS if font_scale() == 1 else PRESENTER_TITLE_CHARACTERS
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "<br>".join(lines)


# -- presenter mode: larger chart type for a projector --------------------------------------------
PLOTLY_FONT_SIZE = 12   # plotly's default for ticks, legends, hover labels
PRESENTER_SCALE = 1.5   # 12 px ticks become 18 px: readable from the back of a room at 1280x720
PRESENTER_TITLE_CHARACTERS = 52   # a projector is no phone: a title line as wide as a chart beside its controls
_font_scale: contextvars.ContextVar[float] = contextvars.ContextVar("chart_font_scale", default=1.0)


@contextmanager
def presenter_fonts(presenting: bool) -> Iterator[None]:
    """Within the block, chart_layout and `scaled` enlarge chart fonts by PRESENTER_SCALE (when
    `presenting`). A context variable, not a module setting: the server runs several visitors'
    pages at once, and one presenting must not enlarge another's charts."""
    token = _font_scale.set(PRESENTER_SCALE if presenting else 1.0)
    try:
        yield
    finally:
        _font_scale.reset(token)


def font_scale() -> float:
    return _font_scale.get()


def scaled(size: float) -> int:
    """A font size in px as the current page shows it: for a chart that sets its own size (tickfont=15)."""
    return round(size * _font_scale.get())


def presenter_layout() -> dict:
    """Presenting: the layout keys that grow the texts at plotly's default size (the fallback for
    ticks, legend and hover labels); {} otherwise. chart_layout includes it. Streamlit's chart theme
    sets its own sizes per axis and legend, so a figure on a walkthrough page also goes through
    `presented`, which reaches every axis, legend, annotation and colour bar."""
    if font_scale() == 1:
        return {}
    return dict(font=dict(size=scaled(PLOTLY_FONT_SIZE)), hoverlabel=dict(font=dict(size=scaled(PLOTLY_FONT_SIZE))))


def presented(fig):
    """`fig` with every text at least as large as presenter mode needs (a no-op when not presenting).

    "At least", not "times": a size chart_layout already scaled (the title) is not scaled twice,
    and a chart's own larger size (a heatmap's 15 px numbers) becomes the floor's size or stays.
    """
    if font_scale() == 1:
        return fig
    small, label, text = scaled(PLOTLY_FONT_SIZE), scaled(14), scaled(11)   # 18, 21, 16 px at 1.5

    def at_least(size, floor):
        return max(size or 0, floor)

    def grow_axis(axis):
        # a log axis writes its in-between digits (2, 3, ... 9) at 3/4 of the tick size: 16 px at 22
        floor = math.ceil(scaled(11) / 0.75) if axis.type == "log" else small
        axis.update(tickfont=dict(size=at_least(axis.tickfont.size, floor)),
                    title=dict(font=dict(size=at_least(axis.title.font.size, label))))

    fig.for_each_xaxis(grow_axis)
    fig.for_each_yaxis(grow_axis)
    layout = fig.layout
    fig.update_layout(font=dict(size=at_least(layout.font.size, small)),
                      hoverlabel=dict(font=dict(size=at_least(layout.hoverlabel.font.size, small))),
                      legend=dict(font=dict(size=at_least(layout.legend.font.size, small))),
                      title=dict(font=dict(size=at_least(layout.title.font.size, scaled(TITLE_SIZE)))))
    for annotation in layout.annotations:   # subplot titles and notes on the plot
        annotation.font.size = at_least(annotation.font.size, text)

    def grow_trace(trace):
        if "textfont" in trace and trace.textfont.size is not None:   # numbers written in cells stay cell-sized
            trace.textfont.size = at_least(trace.textfont.size, text)
        # A colour bar the chart draws: a heatmap's (unless hidden) or one a trace configures; touching
        # any other would make plotly draw one.
        own_bar = trace.type in ("heatmap", "contour") and trace.showscale is not False
        for holder in (trace, getattr(trace, "marker", None)):
            if holder is None or "colorbar" not in holder:
                continue
            if (holder is trace and own_bar) or holder.colorbar.to_plotly_json():
                holder.colorbar.tickfont.size = at_least(holder.colorbar.tickfont.size, small)
                holder.colorbar.title.font.size = at_least(holder.colorbar.title.font.size, small)

    fig.for_each_trace(grow_trace)
    return fig


def phone_axis(axis: dict, width: int) -> dict:
    """An axis whose title wraps at `width` characters and whose margin grows to fit its title and ticks
    (automargin, unless the axis sets it): never cut at the figure's edge on a phone."""
    title = axis.get("title")
    if isinstance(title, dict) and isinstance(title.get("text"), str) and "<br>" not in title["text"]:
        axis = {**axis, "title": {**title, "text": wrap_title(title["text"], width)}}
    return {"automargin": True, **axis}


def chart_layout(title: str, **overrides) -> dict:
    """A figure's layout under the phone rules: every chart's layout passes through here.

    The title wraps to a phone's width and sits at the top left (the top margin grows with its
    lines, so it is never cut); the legend is horizontal BELOW the plot, anchored to the
    figure's bottom edge (`yref="container"`, its margin made to fit), so it covers neither the
    title nor the x-axis title however many lines it wraps to. Overrides of margin, legend and
    title update these defaults (`legend=dict(traceorder="normal")` keeps the placement); a
    legend override that sets `y` without `yref` is placed in plot coordinates, as plotly's default.
    Axis overrides (`xaxis`, `yaxis2`, ...) go through `phone_axis`; plotly's toolbar stands vertical at
    the right edge (style.py hides it on a phone).
    """
    text = wrap_title(title)
    lines = text.count("<br>") + 1
    layout = dict(
        title=dict(text=text, x=0, xref="container", xanchor="left", y=1, yref="container", yanchor="top",
                   pad=dict(t=10, l=4), font=dict(size=scaled(TITLE_SIZE))),
        margin=dict(l=10, r=10, t=10 + scaled(TITLE_LINE_PX) * lines + 18, b=10),
        legend=dict(title=dict(text=""), orientation="h", x=0, xanchor="left", yref="container", y=0,
                    yanchor="bottom"),
        # The toolbar stands at the right edge, one button wide, not across the top where the title is.
        modebar=dict(orientation="v"),
    )
    layout.update(presenter_layout())
    for key, value in overrides.items():
        if key == "legend" and isinstance(value, dict) and "y" in value and "yref" not in value:
            value = {"yref": "paper", **value}
        if _AXIS_KEY.match(key) and isinstance(value, dict):
            value = phone_axis(value, X_TITLE_CHARACTERS if key.startswith("x") else Y_TITLE_CHARACTERS)
        layout[key] = {**layout[key], **value} if key in _MERGED and isinstance(value, dict) else value
    return layout
