"""The training page's time figures: a new run's estimate, a queued run's wait, a running run's time left.

The figures come from sentiment_core.runs.estimates (this server's finished runs and its load
now) and the run's own progress (sentiment_core.analysis.evaluation.run_progress); this module words them,
always with where they came from, and never promises a fixed time.
"""
from __future__ import annotations

from dashboard import resources
from dashboard.views.training_sections.queue import format_duration
from sentiment_core.runs import estimates, jobs
from sentiment_core.config import RunConfig
from sentiment_core.runs.limits import DataShape, estimate_run


def model_seconds_of(corpus):
    """config -> the cost model's seconds for it on this corpus (None without a corpus)."""
    def seconds(config: RunConfig) -> float | None:
        if corpus is None:
            return None
        return estimate_run(config, resources.data_shape(corpus, config)).seconds
    return seconds


def run_time_estimate(config: RunConfig, shape: DataShape, views: list[jobs.JobView], limits,
                      corpus) -> estimates.TimeEstimate:
    """`config`'s time here now, learned from the finished runs among `views` (every visitor's)."""
    finished = estimates.measured_runs(views, model_seconds_of(corpus))
    load, cores = estimates.load_now(), estimates.cores_here()
    return estimates.estimate_time(config, estimate_run(config, shape).seconds, finished, load=load, cores=cores,
                                   threads=estimates.new_run_threads(limits.max_concurrent_runs, cores, load))


def estimate_caption(config: RunConfig, shape: DataShape, views: list[jobs.JobView], limits, corpus) -> str:
    """'N training examples and B batches per epoch; about 2 min 10 s here now (measured on ...).'"""
    work = estimate_run(config, shape)
    estimate = run_time_estimate(config, shape, views, limits, corpus)
    cpu = f", {format_duration(estimate.cpu_seconds)} of CPU" if estimate.cpu_seconds is not None else ""
    return (f"{work.examples_per_epoch:,} training examples and {work.batches_per_epoch:,} batches per epoch. "
            f"Expected time on this server now: about {format_duration(estimate.wall_seconds)}{cpu} "
            f"({estimates.basis_text(estimate, config.model.cell)}). "
            f"The server's {limits.max_run_minutes:g} min limit on a run is checked against the settings' own "
            f"estimate of its work, {format_duration(work.seconds)} of one quiet core.")


def time_left_text(state: str, seconds_left: float | None, batch: int, batches: int, epoch: int, epochs: int,
                   elapsed: float | None) -> str | None:
    """'about 1 min 05 s left at its own pace (epoch 2 of 3, batch 40 of 200 in 1 min 30 s)', while it trains."""
    if state != "running" or seconds_left is None:
        return None
    so_far = f" in {format_duration(elapsed)}" if elapsed else ""
    done = (epoch - 1) * batches + batch
    return (f"about {format_duration(seconds_left)} of training left at its own pace so far ({done:,} of "
            f"{epochs * batches:,} batches done{so_far})")
