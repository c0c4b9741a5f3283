"""A run's metrics.jsonl: the one writer, the one line parser, the whole-file reader and the follower.

The trainer appends one JSON event per line and flushes it (`MetricsWriter`); readers either
read the whole file (`read_metrics`: events in order) or follow it as it grows
(`MetricsFollower`: each update parses only the bytes added since, into a `RunMetrics` that
charts read directly). Both go through `parse_metrics_line`, so a damaged line is skipped and
named the same way everywhere. A line without its newline is still being written.
"""
from __future__ import annotations

import bisect
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from sentiment_core.fileio import loads_bounded
from sentiment_core.settings import MAX_RUN_JSON_DEPTH
from sentiment_core.runs.store import METRICS, gone, plain
from sentiment_core.training import SENTENCE_PROBES


class MetricsWriter:
    """Appends one JSON line per event and flushes it, so readers see events as they happen.

    A run directory deleted while its trainer runs stays deleted: writing then raises RunNotFound.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / METRICS
        if not self.run_dir.is_dir():
            raise gone(self.run_dir)
        needs_newline = self.path.is_file() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
        self.handle = open(self.path, "a", encoding="utf-8")
        if needs_newline:  # a process killed mid-line left half an event: end it, it stays skipped
            self.handle.write("\n")

    def write(self, event: dict) -> None:
        if not self.run_dir.is_dir():  # the open handle would write on into a deleted file
            raise gone(self.run_dir)
        self.handle.write(json.dumps(event, default=plain) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def parse_metrics_line(raw: bytes, number: int, complete: bool = True) -> tuple[dict | None, str | None]:
    """(event, None) for an event line, (None, problem) for a damaged one, (None, None) for a blank.

    `complete=False`: the file's last line, which has no newline yet.
    """
    if not raw.strip():
        return None, None
    try:  # nesting bounded (100,000 brackets would raise RecursionError); NaN read: a diverged loss is logged
        event = loads_bounded(raw, MAX_RUN_JSON_DEPTH, allow_nan=True)
    except ValueError:
        what = "damaged (not valid JSON)" if complete else "incomplete (still being written?)"
        return None, f"{METRICS} line {number} is {what} and was skipped."
    if not isinstance(event, dict) or "event" not in event:
        return None, f"{METRICS} line {number} is not an event and was skipped."
    return event, None


def read_metrics(run_dir: str | Path) -> tuple[list[dict], list[str]]:
    """(events, problems): every readable event in order; a damaged line is skipped and named.

    After a resume an epoch may appear twice: the later events win.
    """
    try:
        lines = (Path(run_dir) / METRICS).read_bytes().split(b"\n")
    except FileNotFoundError:
        return [], []
    events, problems = [], []
    for number, raw in enumerate(lines, 1):
        event, problem = parse_metrics_line(raw, number, complete=number < len(lines))
        if event is not None:
            events.append(event)
        elif problem:
            problems.append(problem)
    return events, problems


@dataclass
class RunMetrics:
    """What a run's metrics.jsonl says so far, in a shape charts read directly."""

    begin: dict | None = None                          # the latest train_begin event
    last_batch: dict | None = None                     # the latest batch_end event
    steps: list[int] = field(default_factory=list)     # optimizer step of each batch
    positions: list[float] = field(default_factory=list)  # epochs done at that batch (e.g. 1.5)
    losses: list[float] = field(default_factory=list)  # that batch's loss
    recent_speeds: list[float] = field(default_factory=list)  # sentences/s of the last batches
    epochs: dict[int, dict] = field(default_factory=dict)     # epoch_end by epoch (a resume's later one wins)
    probes: dict[int, dict] = field(default_factory=dict)     # probe by epoch (0 = before training)
    end: dict | None = None                            # the latest train_end event
    evaluations: dict[str, dict] = field(default_factory=dict)  # split -> evaluation event
    problems: list[str] = field(default_factory=list)  # damaged lines, each said as a sentence
    lines: int = 0                                     # complete lines read
    probes_before: list | None = None                  # sentence probes before training (epoch 0)

    SPEED_WINDOW = 20  # batches averaged for the speed shown

    def take(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "train_begin":
            self.begin, self.end = event, None
            if isinstance(event.get(SENTENCE_PROBES), list):  # a resume's begin has none: epoch 0 stays
                self.probes_before = event[SENTENCE_PROBES]
        elif kind == "batch_end":
            self._take_batch(event)
        elif kind == "epoch_end" and isinstance(event.get("epoch"), int):
            self.epochs[event["epoch"]] = event
        elif kind == "probe" and isinstance(event.get("epoch"), int):
            self.probes[event["epoch"]] = event
        elif kind == "train_end":
            self.end = event
        elif kind == "evaluation" and event.get("split"):
            self.evaluations[event["split"]] = event

    def take_lines(self, lines: Iterable[bytes]) -> None:
        """Feed complete lines (numbered on from those already read); damaged ones go to `problems`."""
        for raw in lines:
            self.lines += 1
            event, problem = parse_metrics_line(raw, self.lines)
            if event is not None:
                self.take(event)
            elif problem:
                self.problems.append(problem)

    def _take_batch(self, event: dict) -> None:
        step, loss = event.get("step"), event.get("loss")
        if not isinstance(step, int) or not isinstance(loss, (int, float)):
            return
        if self.steps and step <= self.steps[-1]:
            # A resumed run repeats the batches after its last save: the new ones replace them.
            cut = bisect.bisect_left(self.steps, step)
            del self.steps[cut:], self.positions[cut:], self.losses[cut:]
        batches = event.get("batches") or 1
        self.steps.append(step)
        self.positions.append(event.get("epoch", 1) - 1 + event.get("batch", 0) / batches)
        self.losses.append(float(loss))
        speed = event.get("sentences_per_second")
        if isinstance(speed, (int, float)) and speed > 0:
            self.recent_speeds = [*self.recent_speeds[-(self.SPEED_WINDOW - 1):], float(speed)]
        self.last_batch = event

    def copy(self) -> "RunMetrics":
        return RunMetrics(self.begin, self.last_batch, list(self.steps), list(self.positions), list(self.losses),
                          list(self.recent_speeds), dict(self.epochs), dict(self.probes), self.end,
                          dict(self.evaluations), list(self.problems), self.lines, self.probes_before)

    def epoch_rows(self) -> list[dict]:
        return [self.epochs[e] for e in sorted(self.epochs)]

    def sentence_probe_history(self) -> dict[int, list[dict]]:
        """{epoch: [{"text", "probabilities", "predicted"}, ...]} (0: before training), epochs with probes."""
        rows = [{"epoch": 0, SENTENCE_PROBES: self.probes_before}, *self.epoch_rows()]
        history = {}
        for row in rows:
            probes = row.get(SENTENCE_PROBES)
            if isinstance(probes, list):
                kept = [p for p in probes if isinstance(p, Mapping) and isinstance(p.get("probabilities"), list)]
                if kept:
                    history[row["epoch"]] = kept
        return history

    def best_dev_accuracy(self) -> float | None:
        values = [e.get("dev_accuracy") for e in self.epochs.values() if isinstance(e.get("dev_accuracy"), float)]
        return max(values) if values else None


class MetricsFollower:
    """Reads a run's metrics.jsonl incrementally: each update parses only the bytes added since.

    Safe to share between threads (one follower per run serves every session watching it).
    A file that shrank or was replaced is read again from the start.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / METRICS
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, identity) -> None:
        self.identity, self.offset, self.partial, self.metrics = identity, 0, b"", RunMetrics()

    def update(self) -> RunMetrics:
        """The metrics so far (a copy the caller may keep). Raises RunNotFound if the run was deleted."""
        with self._lock:
            try:
                stat = self.path.stat()
            except (FileNotFoundError, NotADirectoryError):
                if not self.run_dir.is_dir():
                    raise gone(self.run_dir) from None
                self._reset(None)
                return self.metrics.copy()
            identity = (stat.st_dev, stat.st_ino)
            if identity != self.identity or stat.st_size < self.offset:
                self._reset(identity)
            if stat.st_size > self.offset:
                with open(self.path, "rb") as handle:
                    handle.seek(self.offset)
                    data = handle.read(stat.st_size - self.offset)
                self.offset += len(data)
                lines = (self.partial + data).split(b"\n")
                self.partial = lines.pop()  # no newline yet: still being written
                self.metrics.take_lines(lines)
            return self.metrics.copy()
