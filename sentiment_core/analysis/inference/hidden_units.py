"""Which hidden units to show a learner: the few that move most while the model reads this sentence.

A heatmap of 128 unlabelled units by tokens gives nothing to read; most units barely change
within one sentence. The units whose value swings most over the tokens (largest range, or
variance) are the ones that react to its words, so those few are shown, labelled by number.
`states` is (H, T): units by tokens, as inference.Inside holds them.
"""
from __future__ import annotations

from typing import Sequence

MEASURES = ("range", "variance")
DEFAULT_UNITS = 8


def unit_movement(values: Sequence[float], measure: str = "range") -> float:
    """How much one unit moves over the tokens: max - min ("range") or the population variance."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
    if not values:
        return 0.0
    if measure == "range":
        return max(values) - min(values)
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def most_moving_units(states: Sequence[Sequence[float]], count: int = DEFAULT_UNITS,
                      measure: str = "range") -> list[int]:
    """The `count` units (row indices of `states`) that move most over the sentence, most first;
    ties go to the lower unit number, so the choice is stable from one rerun to the next."""
    if count < 1:
        return []
    movement = [unit_movement(row, measure) for row in states]
    return sorted(range(len(states)), key=lambda unit: (-movement[unit], unit))[:count]


def order_by_last_value(states: Sequence[Sequence[float]]) -> list[int]:
    """Every unit, by its value at the last token, highest first: units that end alike sit together,
    which shows the state's structure better than the arbitrary unit numbering (the whole matrix)."""
    return sorted(range(len(states)), key=lambda unit: -states[unit][-1])


def unit_rows(grid: Sequence[Sequence[float]], units: Sequence[int]) -> list[list[float]]:
    """The rows of `grid` (a state or gate matrix, (H, T)) for `units`, in that order."""
    return [list(grid[unit]) for unit in units]
