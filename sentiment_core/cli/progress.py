"""Progress bars (tqdm) on stderr: a live bar on a terminal, plain log lines anywhere else.

A log file (the training page's train.log) or a pipe gets no carriage-return redraws: at most
one newline-terminated line every LOG_SECONDS, so the file stays short and its last line reads well.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

LOG_SECONDS = 5.0
LOG_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
LOG_FORMAT_OPEN = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"  # the total is not known yet


def is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class LogLines(tqdm):
    """tqdm writing one plain line per refresh, at most one per `mininterval` seconds, and never clearing."""

    def display(self, msg=None, pos=None):
        if msg == "":  # tqdm clearing its line: a log has nothing to clear
            return False
        now, last = time.monotonic(), getattr(self, "_line_at", None)
        if msg is None and last is not None and now - last < self.mininterval:
            return True  # tqdm's monitor thread may ask again soon after a refresh
        self._line_at = now
        self.bar_format = LOG_FORMAT if self.total else LOG_FORMAT_OPEN
        self.fp.write((msg if msg is not None else str(self)) + "\n")
        self.fp.flush()
        return True

    def clear(self, nolock=False):
        pass


def progress_bar(total: float | None, desc: str, *, unit: str = "it", stream=None,
                 interval: float = LOG_SECONDS, **options) -> tqdm:
    """A tqdm bar on `stream` (stderr); in a non-terminal, LogLines after `interval` seconds at most."""
    stream = stream or sys.stderr
    if is_terminal(stream):
        return tqdm(total=total, desc=desc, unit=unit, file=stream, leave=False, dynamic_ncols=True, **options)
    return LogLines(total=total, desc=desc, unit=unit, file=stream, leave=False, mininterval=interval,
                    delay=interval, **options)


class CallbackBar:
    """A bar for library callbacks `progress(done, total[, note])` (a download, the benchmark).

    The bar appears with the first call, so a step that has nothing to report draws nothing.
    """

    def __init__(self, desc: str, **options):
        self.desc, self.options, self.bar = desc, options, None

    def __call__(self, done: float, total: float | None = None, note: str = "") -> None:
        if self.bar is None:
            self.bar = progress_bar(total, self.desc, **self.options)
        if total is not None and total != self.bar.total:
            self.bar.total = total
        if note:
            self.bar.set_postfix_str(note, refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class ProgressBar:
    """The old hand-written bar, kept only for cli/bench.py until it moves to CallbackBar (then delete)."""

    def __init__(self, total: int | None, label: str = "", unit: str = "", stream=None, width: int = 30):
        self.callback = CallbackBar(label, unit=unit.strip() or "it", stream=stream)

    def update(self, done: float, total: int | None = None, suffix: str = "", force: bool = False) -> None:
        self.callback(done, total, suffix)

    def close(self, message: str = "") -> None:
        self.callback.close()
        if message:
            print(message, file=sys.stderr)
