"""The figures of a class run (--train), as lines to print and as a dict for --json."""
from __future__ import annotations

import os
import statistics
import time

from .classroom import Student
from .figures import Timings, percentile, report


def class_report(students: list[Student], views: list, timings: Timings, first_click: float,
                 limits, warm_up: float, loads: tuple[float, float, float]) -> tuple[list[str], dict]:
    """The figures of a class run, as lines to print and as a dict for --json."""
    clicks = [s.clicked_at for s in students if s.clicked_at]
    finished = [s for s in students if s.state == "finished"]
    told = [s for s in students if s.queue_places]
    at_once = [s for s in students if not s.queue_places and s.states and s.states[0][1] in ("starting", "running")]
    neither = [s for s in students if s.state != "finished" and not s.queue_places]
    ends = [v.status.get("ended_at") for v in views if isinstance(v.status.get("ended_at"), (int, float))]
    last_end = max(ends) if len(ends) == len(students) and ends else None
    window_end = last_end or time.time()
    during = [seconds for at, seconds in timings.stamped if first_click <= at <= window_end]
    trained, waited, errors, measured_errors = run_times(students, views)
    foreign = [f"visitor {s.number}: {seen}" for s in students for seen in s.foreign]
    problems = [f"visitor {s.number}: {s.problem}" for s in students if s.problem] + timings.failures
    predicted = [s for s in students if s.predicted]
    places = sorted(p for s in told for p in s.queue_places[:1])
    lines = [
        *header_lines(clicks, limits, warm_up, loads),
        *report(timings, window_end - first_click, len(students), 1, pages=("training", "playground"))[1:],
        f"runs finished: {len(finished)} of {len(students)}; told their queue place: {len(told)}"
        + (f" (first places shown {places[0]} to {places[-1]})" if places else "")
        + f"; started at once: {len(at_once)}; neither finished nor told a place: {len(neither)}",
        f"playground with their own model: {len(predicted)} of {len(students)} answered",
        f"another visitor's run or controls seen: {len(foreign)} times"
        f" (own run's controls seen: {', '.join(sorted(set().union(*(s.controls for s in students)))) or 'none'})",
        f"page responses while the class trained: {len(during)} views, p50 {statistics.median(during):.2f} s, "
        f"p95 {percentile(during, 0.95):.2f} s, max {max(during):.2f} s" if during else "no page responses timed",
        (f"the last run finished {last_end - first_click:.0f} s after the first Start" if last_end
         else "not every run finished")
        + (f"; training per run: median {statistics.median(trained):.1f} s (launch to end)" if trained else "")
        + (f"; waiting in the queue: median {statistics.median(waited):.0f} s, max {max(waited):.0f} s"
           if waited else ""),
        estimate_line("first start estimate shown", errors),
        estimate_line("first estimate from runs measured here", measured_errors),
        f"failures: {len(problems) + len(foreign)}",
        *[f"  {line}" for line in (problems + foreign)[:20]],
    ]
    figures = {
        "visitors": len(students), "click_spread_seconds": max(clicks) - min(clicks) if clicks else None,
        "limits": {"concurrent": limits.max_concurrent_runs, "queue": limits.max_queue,
                   "per_visitor": limits.max_runs_per_visitor},
        "views": {what: {"count": len(v), "median": statistics.median(v), "p95": percentile(v, 0.95),
                         "max": max(v)} for what, v in timings.seconds.items()},
        "during_training": {"count": len(during), "p50": statistics.median(during) if during else None,
                            "p95": percentile(during, 0.95) if during else None},
        "finished": len(finished), "told_queue_place": len(told), "started_at_once": len(at_once),
        "predicted": len(predicted), "foreign": foreign, "failures": problems,
        "last_run_seconds_after_first_start": last_end - first_click if last_end else None,
        "training_seconds_median": statistics.median(trained) if trained else None,
        "estimate_errors": errors, "measured_estimate_errors": measured_errors, "load_average": loads,
        "visitor_states": {s.run_name: [state for _, state in s.states] for s in students},
    }
    return lines, figures


def estimate_line(what: str, errors: list[float]) -> str:
    """How far the queue's start estimates were off: the actual start less the time they named."""
    if not errors:
        return f"{what}: none"
    return (f"{what} vs the actual start: median error {statistics.median(errors):+.0f} s, largest "
            f"{max(errors, key=abs):+.0f} s (positive: later than said; {len(errors)} visitors)")


def run_times(students: list[Student], views: list) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per run: seconds trained (launch to end), seconds queued, and how far the first start estimate
    and the first one measured here were off (the actual start less the time they named)."""
    by_name = {view.name: view for view in views}
    trained, waited, errors, measured_errors = [], [], [], []
    for student in students:
        view = by_name.get(student.run_name)
        job = (view.job if view else None) or {}
        launched, ended, queued = job.get("launched_at"), (view.status.get("ended_at") if view else None), \
            job.get("queued_at")
        if isinstance(launched, (int, float)) and isinstance(ended, (int, float)):
            trained.append(ended - launched)
        if isinstance(launched, (int, float)) and isinstance(queued, (int, float)):
            waited.append(launched - queued)
        for estimate, off in ((student.estimate, errors), (student.measured, measured_errors)):
            if estimate and isinstance(launched, (int, float)):
                shown_at, said = estimate
                off.append(launched - (shown_at + said))
    return trained, waited, errors, measured_errors


def header_lines(clicks: list[float], limits, warm_up: float, loads: tuple[float, float, float]) -> list[str]:
    """The report's first lines: the machine's load, public mode's limits, the warm-up, the Start clicks."""
    return [
        f"machine: {os.cpu_count()} CPUs; load average {loads[0]:.1f} before the server started, "
        f"{loads[1]:.1f} before the class, {loads[2]:.1f} at the end",
        f"limits (public mode): {limits.max_concurrent_runs} run(s) at once, a queue of {limits.max_queue}, "
        f"{limits.max_runs_per_visitor} live or queued run(s) per visitor",
        f"warm-up visit (cold caches): {warm_up:.1f} s",
        f"{len(clicks)} visitors pressed Start within {max(clicks) - min(clicks):.1f} s" if clicks
        else "no visitor pressed Start",
    ]
