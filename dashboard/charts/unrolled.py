"""The unrolled recurrent chain drawn by hand as SVG: h_0 -> h_1 -> ... -> h_T with x_t (a token)
under each state. Every step keeps its full size; a long sentence scrolls sideways inside its
frame instead of shrinking (the autograd graph after five steps was unreadable).
"""
from __future__ import annotations

import base64
from html import escape
from typing import Sequence

from dashboard.theme import NOTE_COLOUR, STATE_ZERO, TRAIN_COLOUR

STEP_WIDTH, BOX_W, BOX_H = 112, 76, 40
FED_FILL, PENDING_FILL, TEXT = "#dbe6f3", STATE_ZERO, "#222222"


def _box(x: float, y: float, label: str, fill: str, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{TRAIN_COLOUR}" stroke-width="1.5"{dash}/>'
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 5:.0f}" text-anchor="middle" font-size="15" '
            f'fill="{TEXT}">{escape(label)}</text>')


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return (f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="{NOTE_COLOUR}" '
            f'stroke-width="1.5" marker-end="url(#wt-arrow)"/>')


def unrolled_svg(tokens: Sequence[str], fed: int | None = None, caption: str = "") -> str:
    """HTML: a sideways-scrolling frame holding the chain for `tokens`; the first `fed` steps drawn
    as computed, the rest dashed (None: all). Tokens are escaped: they may be a visitor's text."""
    fed = len(tokens) if fed is None else fed
    width = 40 + (len(tokens) + 1) * STEP_WIDTH
    state_y, word_y, height = 20, 120, 200
    parts = ['<defs><marker id="wt-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{NOTE_COLOUR}"/></marker></defs>',
             _box(20, state_y, "h_0 = 0", FED_FILL)]
    for t, token in enumerate(tokens, start=1):
        x = 20 + t * STEP_WIDTH
        done = t <= fed
        parts.append(_arrow(x - STEP_WIDTH + BOX_W, state_y + BOX_H / 2, x - 2, state_y + BOX_H / 2))
        parts.append(_box(x, state_y, f"h_{t}", FED_FILL if done else PENDING_FILL, dashed=not done))
        parts.append(_arrow(x + BOX_W / 2, word_y - 2, x + BOX_W / 2, state_y + BOX_H + 3))
        parts.append(f'<text x="{x + BOX_W / 2:.0f}" y="{word_y + 18}" text-anchor="middle" font-size="13" '
                     f'fill="{NOTE_COLOUR}">x_{t}</text>')
        shown = token if len(token) <= 12 else token[:11] + "…"
        parts.append(f'<text x="{x + BOX_W / 2:.0f}" y="{word_y + 40}" text-anchor="middle" font-size="16" '
                     f'font-weight="600" fill="{TEXT}">{escape(shown)}</text>')
    parts.append(f'<text x="{20 + len(tokens) * STEP_WIDTH + BOX_W / 2:.0f}" y="{height - 8}" text-anchor="middle" '
                 f'font-size="13" fill="{NOTE_COLOUR}">then the classifier reads h_{len(tokens)}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="the network unrolled over {len(tokens)} steps">'
           + "".join(parts) + "</svg>")
    note = f'<div style="font-size:0.85rem;color:{NOTE_COLOUR}">{escape(caption)}</div>' if caption else ""
    # As an <img> of the SVG: the page's HTML sanitiser keeps images, and the image keeps its full width.
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return (f'<div class="wt-unrolled" style="overflow-x:auto;border:1px solid #e6e6e6;border-radius:8px;padding:6px">'
            f'<img src="{source}" width="{width}" height="{height}" style="max-width:none" '
            f'alt="the network unrolled over {len(tokens)} steps"/></div>{note}')


SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
LAYER_HEIGHT = 80


def stacked_label(layer: int, t: int) -> str:
    """'h²_3': the state of layer 2 after word 3."""
    return f"h{str(layer).translate(SUPERSCRIPTS)}_{t}"


def stacked_svg(tokens: Sequence[str], layers: int, caption: str = "") -> str:
    """HTML: the stacked network unrolled over `tokens`: one row of states per layer (layer 1 at the
    bottom reads the words, each higher layer reads the states below), arrows along time and up the
    stack; sideways-scrolling like `unrolled_svg`. Tokens are escaped."""
    width = 40 + (len(tokens) + 1) * STEP_WIDTH
    word_y = 40 + layers * LAYER_HEIGHT
    height = word_y + 70
    parts = ['<defs><marker id="wt-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{NOTE_COLOUR}"/></marker></defs>']
    for layer in range(1, layers + 1):
        y = word_y - layer * LAYER_HEIGHT
        parts.append(_box(20, y, stacked_label(layer, 0), FED_FILL))
        for t in range(1, len(tokens) + 1):
            x = 20 + t * STEP_WIDTH
            parts.append(_arrow(x - STEP_WIDTH + BOX_W, y + BOX_H / 2, x - 2, y + BOX_H / 2))
            parts.append(_box(x, y, stacked_label(layer, t), FED_FILL))
            below = word_y - 2 if layer == 1 else y + LAYER_HEIGHT
            parts.append(_arrow(x + BOX_W / 2, below, x + BOX_W / 2, y + BOX_H + 3))
    for t, token in enumerate(tokens, start=1):
        x = 20 + t * STEP_WIDTH
        shown = token if len(token) <= 12 else token[:11] + "…"
        parts.append(f'<text x="{x + BOX_W / 2:.0f}" y="{word_y + 18}" text-anchor="middle" font-size="16" '
                     f'font-weight="600" fill="{TEXT}">{escape(shown)}</text>')
    parts.append(f'<text x="{20 + len(tokens) * STEP_WIDTH + BOX_W / 2:.0f}" y="{height - 12}" text-anchor="middle" '
                 f'font-size="13" fill="{NOTE_COLOUR}">the classifier reads {stacked_label(layers, len(tokens))}</text>')
    label = f"a {layers}-layer network unrolled over {len(tokens)} steps"
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{label}">' + "".join(parts) + "</svg>")
    note = f'<div style="font-size:0.85rem;color:{NOTE_COLOUR}">{escape(caption)}</div>' if caption else ""
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return (f'<div class="wt-stacked" style="overflow-x:auto;border:1px solid #e6e6e6;border-radius:8px;padding:6px">'
            f'<img src="{source}" width="{width}" height="{height}" style="max-width:none" alt="{label}"/></div>{note}')
