"""Figures: page response times per (page, action), failures, and their table."""
from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Timings:
    """Seconds per (page, action), and what went wrong; shared by the visitor threads."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stamped: list[tuple[float, float]] = field(default_factory=list)  # (wall clock at the request, seconds)

    def add(self, what: str, seconds: float) -> None:
        with self.lock:
            self.seconds.setdefault(what, []).append(seconds)
            self.stamped.append((time.time() - seconds, seconds))

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(share * len(ranked)) - 1)]


def report(timings: Timings, wall: float, visitors: int, rounds: int,
           pages: tuple[str, ...] = ("explorer", "playground")) -> list[str]:
    lines = [f"{visitors} visitors x {rounds} rounds in {wall:.1f} s of wall time",
             f"{'page: action':<22} {'views':>5} {'median s':>9} {'p95 s':>7} {'max s':>7}"]
    rows = sorted(timings.seconds.items())
    for page in pages:
        values = [v for what, vs in timings.seconds.items() if what.startswith(page) for v in vs]
        if values:
            rows.append((page + ": all", values))
    for what, values in rows:
        lines.append(f"{what:<22} {len(values):>5} {statistics.median(values):>9.2f} "
                     f"{percentile(values, 0.95):>7.2f} {max(values):>7.2f}")
    lines.append(f"failures: {len(timings.failures)}")
    lines += [f"  {failure}" for failure in timings.failures[:20]]
    return lines
