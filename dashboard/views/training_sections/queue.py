"""The training page's queue and class views: a waiting run's place and expected start, the class leaderboard.

The wait comes from sentiment_core.runs.waits (measured on this server's finished runs); this
module only words it, and draws the leaderboard of class mode (SENTIMENT_SHARED_RUNS=1).
"""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.views.training_form import K
from sentiment_core.fileio import cached_read
from sentiment_core.runs import jobs
from sentiment_core.runs import estimates
from sentiment_core.runs.comparison import comparison_row
from sentiment_core.runs.limits import estimate_run
from sentiment_core.runs.store import CONFIG, RunError, read_config


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def queue_wait_text(view: jobs.JobView, views: list[jobs.JobView], limits, corpus) -> str | None:
    """'3rd in the queue; it should start in about 1 min 10 s (from how long ...)', for a waiting run."""
    if view.queue_place is None:
        return None
    text = f"{ordinal(view.queue_place)} in the queue"

    def model_seconds(config) -> float | None:
        return None if corpus is None else estimate_run(config, resources.data_shape(corpus, config)).seconds

    finished, load, cores = estimates.measured_runs(views, model_seconds), estimates.load_now(), estimates.cores_here()
    threads = estimates.new_run_threads(limits.max_concurrent_runs, cores, load)

    def settings_seconds(run: jobs.JobView) -> float | None:  # for a kind never finished: estimates.estimate_time
        try:
            config = cached_read(read_config, run.path, CONFIG)  # every second, for up to a class of runs
        except RunError:
            return None
        seconds = model_seconds(config)
        if seconds is None:
            return None
        return estimates.estimate_time(config, seconds, finished, threads=threads, load=load, cores=cores).wall_seconds

    estimate = jobs.wait_estimate(view, views, limits, settings_seconds)
    if estimate is None:
        return text + "."
    basis = ("from how long runs like these took on this server" if estimate.measured
             else "from this server's measured speed and load: no run like these has finished here yet")
    when = "any moment now" if estimate.seconds < 5 else f"in about {format_duration(estimate.seconds)}"
    return f"{text}; it should start {when} ({basis})."


def class_leaderboard(views: list[jobs.JobView]) -> None:
    """Class mode (SENTIMENT_SHARED_RUNS=1): every evaluated run's results, best test accuracy first; no controls."""
    rows = [comparison_row(v) for v in views if v.status.get("results")]
    st.subheader("Class leaderboard")
    if not rows:
        st.caption("No run has results yet; they appear here as runs finish.")
        return
    columns = ["run", "preset", "cell", "test accuracy", "test macro F1", "dev accuracy", "best epoch"]
    frame = pd.DataFrame(rows)
    frame = frame[[c for c in columns if c in frame.columns]]
    frame = frame.sort_values("test accuracy", ascending=False, na_position="last")
    st.dataframe(frame, hide_index=True, width="stretch", key=K + "leaderboard",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("test accuracy", "test macro F1", "dev accuracy")})
