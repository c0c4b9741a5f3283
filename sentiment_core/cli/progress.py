"""A small text progress bar for the terminal (stderr), no dependency."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, total: int | None, label: str = "", unit: str = "", stream=None, width: int = 30):
        self.total, self.label, self.unit, self.width = total, label, unit, width
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self._last_draw = 0.0

    def update(self, done: float, total: int | None = None, suffix: str = "", force: bool = False) -> None:
        if total is not None:
            self.total = total
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return  # redraw at most 10 times a second
        self._last_draw = now
        elapsed = now - self.start
        if self.total:
            frac = min(1.0, done / self.total)
            filled = int(frac * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            left = elapsed / frac - elapsed if frac > 0 else 0.0
            text = f"\r{self.label} [{bar}] {frac:6.1%} {_fmt(done)}/{_fmt(self.total)}{self.unit} " \
                   f"{elapsed:5.1f}s, {left:5.1f}s left {suffix}"
        else:
            text = f"\r{self.label} {_fmt(done)}{self.unit} {elapsed:5.1f}s {suffix}"
        self.stream.write(text)
        self.stream.flush()

    def close(self, message: str = "") -> None:
        self.stream.write(("\r" + message if message else "") + "\n")
        self.stream.flush()


def _fmt(value: float) -> str:
    if value >= 1 << 20:
        return f"{value / (1 << 20):.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:g}"
