"""Hooks that browser tests use to make training slow on purpose, off unless an environment variable asks.

SENTIMENT_TEST_BATCH_DELAY=SECONDS makes the trainer sleep that long after every batch, so a run's
states (starting, running, stopping, finished) each last long enough for a page to be seen in them:
on a fast machine a small run goes by before the page has looked. Unset (the normal case) it does
nothing; the value is read once per process.
"""
from __future__ import annotations

import functools
import math
import os
import time

BATCH_DELAY_ENV = "SENTIMENT_TEST_BATCH_DELAY"
MAX_DELAY = 10.0  # seconds: a typo must not freeze a run for hours


@functools.lru_cache(maxsize=1)
def batch_delay_seconds() -> float:
    """SENTIMENT_TEST_BATCH_DELAY as seconds (0 when unset); ValueError, in one sentence, for a bad value."""
    raw = os.environ.get(BATCH_DELAY_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{BATCH_DELAY_ENV} is {raw[:30]!r}, not a number of seconds; unset it or give e.g. 0.2")
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_DELAY:
        raise ValueError(f"{BATCH_DELAY_ENV} is {raw[:30]!r}; give seconds from 0 to {MAX_DELAY:g}")
    return seconds


def after_batch() -> None:
    """Called by the trainer after each batch: sleeps SENTIMENT_TEST_BATCH_DELAY seconds (a test hook)."""
    seconds = batch_delay_seconds()
    if seconds:
        time.sleep(seconds)
