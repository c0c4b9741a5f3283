"""How long a run waiting in the queue waits, from how long runs of its kind took on this server.

The queue is first come, first served (launcher.advance_queue); a run's kind is its preset and cell.
"""
from __future__ import annotations

import heapq
import statistics
import time
from dataclasses import dataclass
from typing import Callable

from sentiment_core.runs.job_views import JobView
from sentiment_core.runs.limits import Limits
from sentiment_core.runs.store import CONFIG, RunError, read_config
from sentiment_core.fileio import cached_read


@dataclass(frozen=True)
class WaitEstimate:
    seconds: float                # until the run starts
    measured: bool                # every duration came from runs this server finished (else, in part,
                                  # from the settings' estimate: the caller's `fallback`)


def run_kind(view: JobView) -> tuple[str | None, str | None]:
    """(preset, cell): runs of one kind take about as long as each other on one server."""
    try:
        config = cached_read(read_config, view.path, CONFIG)
    except RunError:
        return view.status.get("preset"), None
    return view.status.get("preset"), config.model.cell


def measured_durations(views: list[JobView]) -> dict[tuple[str | None, str | None], float]:
    """Median wall seconds from launch to end of the runs this server trained to the end, per run_kind."""
    samples: dict[tuple[str | None, str | None], list[float]] = {}
    for view in views:
        if view.state != "finished" or not view.job or view.job.get("kind") != "train":
            continue
        launched, ended = view.job.get("launched_at"), view.status.get("ended_at")
        if isinstance(launched, (int, float)) and isinstance(ended, (int, float)) and ended > launched:
            samples.setdefault(run_kind(view), []).append(ended - launched)
    return {kind: statistics.median(seconds) for kind, seconds in samples.items()}


def wait_estimate(view: JobView, views: list[JobView], limits: Limits, fallback: Callable[[JobView], float | None],
                  now: float | None = None) -> WaitEstimate | None:
    """About how long `view`, waiting in the queue, waits before it starts; None when it is not waiting
    or a duration is unknown.

    The runs training now end when runs of their kind have taken here (measured_durations), or
    `fallback(view)` seconds (the settings' estimate) for a kind never finished; then each run ahead
    in the queue takes the earliest free slot, first come first served, as advance_queue does.
    """
    if view.queue_place is None:
        return None
    now = time.time() if now is None else now
    measured = measured_durations(views)
    all_measured = True

    def duration(run: JobView) -> float | None:
        nonlocal all_measured
        seconds = measured.get(run_kind(run))
        if seconds is None:
            all_measured = False
            seconds = fallback(run)
        return seconds

    remaining = []
    for run in views:
        if run.state in ("starting", "running"):
            seconds = duration(run)
            if seconds is None:
                return None
            started = (run.job or {}).get("launched_at") or run.status.get("started_at") or now
            remaining.append(max(0.0, started + seconds - now))
    # Runs beyond the limit (a terminal's) hold no slot of the queue's: a slot frees when the count
    # falls below the limit, so only the last `max_concurrent_runs` to end count; a slot unused is free now.
    slots = sorted(remaining)[-limits.max_concurrent_runs:] if remaining else []
    slots += [0.0] * (limits.max_concurrent_runs - len(slots))
    heapq.heapify(slots)
    ahead = sorted((run for run in views if run.queue_place is not None and run.queue_place < view.queue_place),
                   key=lambda run: run.queue_place)
    for run in ahead:
        seconds = duration(run)
        if seconds is None:
            return None
        heapq.heappush(slots, heapq.heappop(slots) + seconds)
    return WaitEstimate(slots[0], all_measured)
