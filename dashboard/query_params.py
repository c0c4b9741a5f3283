"""Reading a link's query parameters (?section=3, ?split=test&index=893, ?run=NAME, ?text=...).

A link is typed by anyone, so every value is untrusted. Python's own conversions are too lenient
for it: `str.isdigit()` is true for "²" which `int()` refuses, `int()` accepts "٣" (an Arabic-Indic
three), " 3", "+3" and "3_0", and a number of 4,301 digits raises ValueError (the integer-string
limit). Every page reads a number through `whole_number` and a text through `bounded_text`, so a
link can only ever give a value within its range or nothing (the page then says what it expected).
"""
from __future__ import annotations

from sentiment_core.settings import MAX_QUERY_DIGITS

ASCII_DIGITS = frozenset("0123456789")


def whole_number(raw: str | None, low: int, high: int) -> int | None:
    """`raw` as an int in [low, high] when it is 1 to MAX_QUERY_DIGITS ASCII digits; else None."""
    if raw is None or not 0 < len(raw) <= MAX_QUERY_DIGITS or not set(raw) <= ASCII_DIGITS:
        return None
    value = int(raw)
    return value if low <= value <= high else None


def bounded_text(raw: str | None, max_chars: int) -> str | None:
    """`raw` when it is at most `max_chars` characters; else None (too long to be a link's value)."""
    if raw is None or len(raw) > max_chars:
        return None
    return raw


def one_of(raw: str | None, choices, max_chars: int = 80) -> str | None:
    """`raw` when it is one of `choices` (compared only when short enough to be one); else None."""
    if raw is None or len(raw) > max_chars:
        return None
    return raw if raw in choices else None


def shown_value(raw: str | None, max_chars: int = 40) -> str:
    """A query value as a message may quote it: cut to `max_chars` (a link may carry megabytes)."""
    if raw is None:
        return "?"
    return raw if len(raw) <= max_chars else raw[:max_chars] + "…"

