"""Argument types shared by the commands (train, evaluate, analyze): one place, so no command imports another."""
from __future__ import annotations

import argparse

from sentiment_core.settings import THREADS_AUTO

OFF_WORDS = ("none", "off", "0")  # what switches an optional setting off on the command line


def int_or_none(text: str):
    """A whole number, or 'none' / '0' for "off" (bptt, patience, max batches, limits)."""
    if text.strip().lower() in OFF_WORDS:
        return None
    try:
        return int(text)  # a negative one is refused by validate (or the command), in one line
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'none', not {text!r}") from None


def float_or_none(text: str):
    """A number, or 'none' / '0' for "off" (clip)."""
    if text.strip().lower() in OFF_WORDS:
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', not {text!r}") from None


def threads_option(text: str):
    """--threads: a whole number (checked later, in one line, as every setting is) or 'auto'."""
    if text.strip().lower() == THREADS_AUTO:
        return THREADS_AUTO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or '{THREADS_AUTO}', not {text!r}") from None
