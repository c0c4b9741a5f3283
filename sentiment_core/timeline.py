"""Moments of a `train` process, for `bench --startup`: where the seconds before the first batch go.

Off unless $SENTIMENT_STARTUP_MARKS names a file: then the train command notes the wall clock
and the process's CPU time at each moment (`mark`) and writes them there as it ends (`write`),
one JSON object {"marks": [[name, unix seconds, cpu seconds], ...]}. Switched off, `mark` only
reads one environment variable, so a server that loads the corpus all day keeps nothing.
"""
from __future__ import annotations

import json
import time

from sentiment_core.settings import MARKS_ENV, read
_marks: list[tuple[str, float, float]] = []


def mark(name: str) -> None:
    """Note this moment as `name` (only while $SENTIMENT_STARTUP_MARKS is set)."""
    if read(MARKS_ENV):
        _marks.append((name, time.time(), time.process_time()))


def write() -> None:
    """Write the moments noted so far to $SENTIMENT_STARTUP_MARKS (nothing when it is unset)."""
    path = read(MARKS_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"marks": _marks}, out)
