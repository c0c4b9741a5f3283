"""Argument types shared by the commands (train, evaluate, analyze): one place, so no command imports another."""
from __future__ import annotations

import argparse

from sentiment_core.settings import THREADS_AUTO

OFF_WORDS = ("none", "off", "0")  # what switches an optional setting off on the command line
# A number longer than this is refused before it is parsed (int() of 100,000 digits is slow, and argparse
# would print all of it back); an error quotes at most SHOWN_CHARS of what was typed.
MAX_NUMBER_CHARS, SHOWN_CHARS = 32, 40


def shown(text: str) -> str:
    """`text` quoted for an error message, cut to SHOWN_CHARS characters."""
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")


def parsed_number(text: str, kind: type, expected: str):
    """`kind(text)` for text of at most MAX_NUMBER_CHARS characters; ArgumentTypeError saying `expected` otherwise."""
    if len(text) > MAX_NUMBER_CHARS:
        raise argparse.ArgumentTypeError(f"expected {expected}, not {len(text):,} characters ({shown(text)})")
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, not {shown(text)}") from None


def whole_number(text: str) -> int:
    """A whole number (its range is checked where the setting is validated, in one line)."""
    return parsed_number(text, int, "a whole number")


def number(text: str) -> float:
    """A number (its range is checked where the setting is validated, in one line)."""
    return parsed_number(text, float, "a number")


def int_or_none(text: str):
    """A whole number, or 'none' / '0' for "off" (bptt, patience, max batches, limits)."""
    if text.strip().lower() in OFF_WORDS:
        return None
    return parsed_number(text, int, "a whole number or 'none'")  # a negative one is refused by validate


def float_or_none(text: str):
    """A number, or 'none' / '0' for "off" (clip)."""
    if text.strip().lower() in OFF_WORDS:
        return None
    return parsed_number(text, float, "a number or 'none'")


def threads_option(text: str):
    """--threads: a whole number (checked later, in one line, as every setting is) or 'auto'."""
    if text.strip().lower() == THREADS_AUTO:
        return THREADS_AUTO
    return parsed_number(text, int, f"a whole number or '{THREADS_AUTO}'")
