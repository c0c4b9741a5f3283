"""How long a run will take here: from the runs this server finished, and how busy it is now.

The settings' cost model (limits.estimate_run) says how much work a run is, relative to another:
examples, epochs, cell and sizes. It cannot know this server's speed, so alone it promised "about
25 s" for a run that took 4 min 45 s on a loaded machine (issue 22). This module learns the speed:

- each finished run gives its training wall seconds and CPU seconds per second of the cost model,
  and its fixed cost (start-up and the final evaluation: launch to end, less training), per cell;
  the median over runs of the same cell is used (of every cell when none of this one has finished);
- the load now (os.getloadavg) stretches that: T threads among `load` runnable processes on `cores`
  cores each get about cores / (load + T) of a core. The runs measured had their own contention,
  read from their figures (T threads that used less than T cores were sharing them); the estimate
  is stretched only by how much busier the machine is now than then, and never shrunk below what
  was measured (under-utilised threads look like contention, and a promise kept beats a short one).
"""
from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

from sentiment_core import glossary
from sentiment_core.fileio import cached_read
from sentiment_core.config import RunConfig
from sentiment_core.runs.job_views import JobView
from sentiment_core.runs.store import CONFIG, RunError, read_config

MEASURED, OTHER_CELLS, MODEL_ONLY = "measured", "other cells", "model only"


@dataclass(frozen=True)
class Finished:
    """What one finished run tells about this server's speed."""

    cell: str
    cpu_ratio: float              # its training CPU seconds per second of the cost model
    train_ratio: float            # its training wall seconds per second of the cost model
    overhead: float               # its wall seconds outside training: start-up, final evaluation
    contention: float             # >= 1: how much it had to share its cores (threads over cores used)


@dataclass(frozen=True)
class TimeEstimate:
    wall_seconds: float           # from launch to results, at the load now
    cpu_seconds: float | None     # training CPU time (None: from the cost model alone)
    basis: str                    # MEASURED (runs of this cell) | OTHER_CELLS | MODEL_ONLY
    runs: int                     # finished runs it learned from
    load: float | None            # the 1-minute load average now (None where the system has none)
    cores: int
    slowdown: float               # how much the load now stretches the wall time (1: a core free per thread)


def cores_here() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def load_now() -> float | None:
    """The 1-minute load average (runnable processes), or None where os.getloadavg is missing."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def slowdown(load: float | None, threads: int, cores: int) -> float:
    """How much longer a run's T threads take than with a core each, among `load` other runnable processes."""
    if load is None:
        return 1.0
    return max(1.0, (max(0.0, load) + threads) / cores)


def run_threads(job: dict | None, cores: int) -> int:
    """The torch threads a run had: its command's --threads N, else (none, or "auto": the cores free
    when it started, not recorded) every core, the most it could have had."""
    command = list((job or {}).get("command") or [])
    if "--threads" in command[:-1]:
        try:
            return max(1, min(cores, int(command[command.index("--threads") + 1])))
        except (TypeError, ValueError):
            pass
    return cores


def new_run_threads(max_concurrent_runs: int, cores: int, load: float | None) -> int:
    """The threads a run started now gets (as jobs starts it): one when several train at once,
    else the cores free now (the train command's --threads auto)."""
    if max_concurrent_runs > 1:
        return 1
    return max(1, min(cores, math.floor(cores - (load or 0.0) + 0.5)))


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def finished_run(view: JobView, model_seconds: Callable[[RunConfig], float | None], cores: int) -> Finished | None:
    """The speed a finished run measured, or None when it lacks a figure (an old run, a resumed one)."""
    if view.state != "finished" or (view.job or {}).get("kind", "train") != "train":
        return None  # a resumed run's CPU time covers only its last part
    status = view.status
    cpu, trained = _number(status.get("cpu_seconds")), _number(status.get("elapsed"))
    began = _number((view.job or {}).get("launched_at")) or _number(status.get("started_at"))
    ended = _number(status.get("ended_at"))
    try:
        config = cached_read(read_config, view.path, CONFIG)
    except RunError:
        return None
    model = model_seconds(config)
    if not (cpu and trained and model):
        return None
    wall = ended - began if began and ended and ended - began >= trained else trained
    contention = max(1.0, run_threads(view.job, cores) * trained / cpu)
    return Finished(config.model.cell, cpu / model, trained / model, wall - trained, contention)


def measured_runs(views: Sequence[JobView], model_seconds: Callable[[RunConfig], float | None],
                  cores: int | None = None) -> list[Finished]:
    cores = cores or cores_here()
    return [f for f in (finished_run(v, model_seconds, cores) for v in views) if f is not None]


def estimate_time(config: RunConfig, model_seconds: float, finished: Sequence[Finished], *,
                  threads: int | None = None, load: float | None = None, cores: int | None = None) -> TimeEstimate:
    """The wall time of a run of `config` (the cost model says `model_seconds`) on this server now.

    `finished`: measured_runs of this server; those of the same cell count alone when there are
    any. `threads`: the run's torch threads (new_run_threads; None: every core). `load`, `cores`:
    the machine now.
    """
    cores = cores or cores_here()
    threads = max(1, min(cores, threads or cores))
    now = slowdown(load, threads, cores)
    same = [f for f in finished if f.cell == config.model.cell]
    used = same or list(finished)
    if not used:  # the cost model is single-core seconds with no start-up: the best there is
        return TimeEstimate(model_seconds * now, None, MODEL_ONLY, 0, load, cores, now)
    stretch = max(1.0, now / statistics.median(f.contention for f in used))
    cpu = statistics.median(f.cpu_ratio for f in used) * model_seconds
    wall = (statistics.median(f.train_ratio for f in used) * model_seconds
            + statistics.median(f.overhead for f in used)) * stretch
    return TimeEstimate(wall, cpu, MEASURED if same else OTHER_CELLS, len(used), load, cores, stretch)


def basis_text(estimate: TimeEstimate, cell: str) -> str:
    """Where an estimate came from, in words a page shows beside it."""
    if estimate.basis == MEASURED:
        runs = "the one" if estimate.runs == 1 else f"the {estimate.runs}"
        source = f"measured on {runs} {glossary.cell_name(cell)} run{'s' if estimate.runs != 1 else ''} this server finished"
    elif estimate.basis == OTHER_CELLS:
        runs = "the one run" if estimate.runs == 1 else f"the {estimate.runs} runs"
        source = (f"measured on {runs} this server finished "
                  f"(none with a {glossary.cell_name(cell)} yet)")
    else:
        source = "from the settings alone: no run has finished on this server yet to measure its speed"
    if estimate.load is None:
        return source
    cores = f"{estimate.cores} core{'s' if estimate.cores != 1 else ''}"
    than = "" if estimate.basis == MODEL_ONLY else " than when they ran"
    busy = (f"; the machine is busier now{than} (load {estimate.load:.1f} on {cores}), which stretches it "
            f"{estimate.slowdown:.1f}x" if estimate.slowdown > 1.05 else f"; load now {estimate.load:.1f} on {cores}")
    return source + busy
