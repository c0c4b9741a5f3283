"""How the confusion grid looks (components/confusion_drill.py draws it as buttons): each cell shaded by
its share of the true class's row, every cell the same width.

The grid is made of buttons (a plotly heatmap returns no clicked cell in this Streamlit), and a
button takes no colour argument; so the shading is CSS addressed to each button's key class
(`st-key-<key>`), built here from the counts alone. A share of a row is one measured quantity:
white (0%) to the theme's slate (100%), never a class colour (a cell is not a class; its row and
column are). Issue 22: the grid had no shading, and each column was as wide as its label.
"""
from __future__ import annotations

from typing import Sequence

import plotly.colors

from dashboard.theme import CHOICE_COLOUR, SERIES_COLOUR

SHARE_SCALE = [[0.0, "#ffffff"], [1.0, SERIES_COLOUR]]
DARK_FROM = 0.75  # from this share on the text is white: where its contrast on the slate passes black's (4.6:1)


def row_shares(counts: Sequence[Sequence[int]]) -> list[list[float]]:
    """Each cell's count over its row's total (0 for an empty row)."""
    return [[count / sum(row) if sum(row) else 0.0 for count in row] for row in counts]


def share_colour(share: float) -> str:
    """The cell's background for `share` (0..1): 'rgb(r, g, b)' on SHARE_SCALE."""
    return plotly.colors.sample_colorscale(SHARE_SCALE, [min(max(share, 0.0), 1.0)])[0]


def grid_css(key: str, counts: Sequence[Sequence[int]], label_width: int) -> str:
    """A <style> for cell_grid(key=...): every cell button shaded by its row share, and every column the same
    width (the label column `label_width` px, the cells share the rest equally, whatever their text)."""
    rules = [
        # Equal cells: each element of a row or the header grows from a zero basis, so widths ignore content.
        f'[class*="st-key-{key}_grid_"] > div {{ flex: 1 1 0 !important; min-width: 0 !important; }}',
        f'[class*="st-key-{key}_grid_"] > div:first-child {{ flex: 0 0 {label_width}px !important; }}',
        # The chosen cell (a primary button) keeps its shade and is ringed in the theme's "chosen" black.
        f'[class*="st-key-{key}_cell_"] [data-testid="stBaseButton-primary"] '
        f'{{ outline: 3px solid {CHOICE_COLOUR}; outline-offset: 1px; }}',
    ]
    for i, shares in enumerate(row_shares(counts)):
        for j, share in enumerate(shares):
            text = "#ffffff" if share >= DARK_FROM else "#000000"
            rules.append(f".st-key-{key}_cell_{i}_{j} button {{ background-color: {share_colour(share)} !important; "
                         f"color: {text} !important; }}")
    return "<style>\n" + "\n".join(rules) + "\n</style>"
