"""Hooks that browser tests use to make training slow on purpose, off unless an environment variable asks.

SENTIMENT_TEST_BATCH_DELAY=SECONDS makes the trainer sleep that long after every batch, so a run's
states (starting, running, stopping, finished) each last long enough for a page to be seen in them:
on a fast machine a small run goes by before the page has looked. Unset (the normal case) it does
nothing; the value is read once per process.
"""
from __future__ import annotations

import functools
import time

# Its range (0 to 10 seconds: a typo must not freeze a run for hours) is its row of the settings table.
from sentiment_core.settings import BATCH_DELAY_ENV, read


@functools.lru_cache(maxsize=1)
def batch_delay_seconds() -> float:
    """SENTIMENT_TEST_BATCH_DELAY as seconds (0 when unset); ValueError, in one sentence, for a bad value."""
    return read(BATCH_DELAY_ENV)


def after_batch() -> None:
    """Called by the trainer after each batch: sleeps SENTIMENT_TEST_BATCH_DELAY seconds (a test hook)."""
    seconds = batch_delay_seconds()
    if seconds:
        time.sleep(seconds)
