"""How far apart two colours look: CIELAB (D65) and the CIEDE2000 colour difference, through coloraide.

theme.py picks the run palette by a rule on these distances (far from every colour that already
means something); the tests check the rule on the colours the charts really draw. The colour
maths is coloraide's (a well-kept, pure-Python colour library, tested against the published
CIEDE2000 pairs of Sharma, Wu and Dalal 2005); this module only fixes the space (Lab with a D65
white, as sRGB screens) and caches, since the palette rule compares a few hundred colours many times.
"""
from __future__ import annotations

import functools

from coloraide import Color

_LAB = "lab-d65"


@functools.lru_cache(maxsize=2048)
def to_lab(colour: str) -> tuple[float, float, float]:
    """CIELAB (L 0..100, a, b) of a CSS colour ('#rrggbb', '#rgb', 'rgb(r, g, b)')."""
    return tuple(float(u) for u in Color(colour.strip()).convert(_LAB).coords())


def lab_to_hex(lightness: float, a: float, b: float) -> str | None:
    """The sRGB '#rrggbb' of a Lab colour, or None when no screen can show it (out of the sRGB gamut)."""
    rgb = Color(_LAB, [lightness, a, b]).convert("srgb")
    if not rgb.in_gamut(tolerance=1e-4):
        return None
    return rgb.fit().to_string(hex=True)


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """The CIEDE2000 difference of two Lab colours: about 1 is just noticeable, 10+ clearly different."""
    return Color(_LAB, list(lab1)).delta_e(Color(_LAB, list(lab2)), method="2000", space=_LAB)


@functools.lru_cache(maxsize=16384)
def delta_e(colour1: str, colour2: str) -> float:
    """CIEDE2000 between two CSS colour strings."""
    return ciede2000(to_lab(colour1), to_lab(colour2))
