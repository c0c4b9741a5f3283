"""Reading many runs at once, for the pages' and the CLI's run lists: what each run's folder says,
its damage said in words, each file parsed again only when it changed (fileio.cached_read).

store.py reads and writes one run's files; this module only reads, and never loads torch.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path

from sentiment_core.config import RunConfig
from sentiment_core.fileio import cached_read
from sentiment_core.runs.store import (BROKEN, CHECKPOINT, CONFIG, STATES, STATUS, RunError, RunNotFound,
                                       default_runs_root, is_walkthrough_run, read_config, read_status, run_dirs)



@dataclass
class RunInfo:
    path: Path
    name: str
    state: str                         # a STATES value, or "broken"
    status: dict                       # status.json (state corrected for a dead process)
    config: RunConfig | None           # None when config.json cannot be read
    has_checkpoint: bool
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """One flat row for a table of runs."""
        s, c = self.status, self.config
        results = s.get("results") or {}
        return {"name": self.name, "path": str(self.path), "state": self.state, "message": s.get("message", ""),
                "preset": s.get("preset") or (c.preset if c else None),
                "cell": c.model.cell if c else None, "labels": c.data.labels if c else None,
                "phrases": c.data.phrases if c else None,
                "epoch": s.get("epoch"), "epochs": s.get("epochs"),
                "best_dev_accuracy": s.get("best_dev_accuracy"),
                "test_accuracy": (results.get("test") or {}).get("accuracy"),
                "created_at": s.get("created_at"), "updated_at": s.get("updated_at"),
                "has_checkpoint": self.has_checkpoint, "problems": list(self.problems)}


def listed_status(run_dir: Path) -> dict:
    """read_status, parsed again only when status.json changed. A `running` status is checked
    again every time (its process may have ended since); the copy returned is the caller's."""
    status = cached_read(read_status, run_dir, STATUS)
    if status.get("state") == "running":
        status = read_status(run_dir)
    return dict(status)


def listed_config(run_dir: Path) -> RunConfig:
    """read_config, config.json parsed and validated again only when it changed; the copy is the caller's."""
    return _own_copy(cached_read(read_config, run_dir, CONFIG))


def _own_copy(config: RunConfig) -> RunConfig:
    """A copy its caller may change: the config and each section copied (a section holds plain values;
    copy.deepcopy took four times as long)."""
    fresh = copy.copy(config)
    for name, value in list(vars(fresh).items()):
        if is_dataclass(value):
            setattr(fresh, name, copy.copy(value))
    return fresh


def load_run(path: str | Path) -> RunInfo:
    """Everything about one run that can be read; what cannot goes into `problems`."""
    path = Path(path)
    if not path.is_dir():
        raise RunNotFound(f"there is no run at {path}")
    problems, status, config = [], {}, None
    try:
        status = listed_status(path)
    except RunError as err:
        problems.append(str(err))
    try:
        config = listed_config(path)
    except RunError as err:
        problems.append(str(err))
    state = status.get("state") if status.get("state") in STATES else BROKEN
    return RunInfo(path, path.name, state, status, config, (path / CHECKPOINT).is_file(), problems)


def list_runs(root: str | Path | None = None, include_walkthrough: bool = False) -> list[RunInfo]:
    """Runs under `root`, newest first; damaged ones are listed with their problems.

    The walkthrough's own runs (is_walkthrough_run) are left out unless `include_walkthrough`.
    """
    runs = []
    for entry in run_dirs(root if root is not None else default_runs_root()):
        if not include_walkthrough and is_walkthrough_run(entry.name):
            continue
        try:
            runs.append(load_run(entry))
        except RunNotFound:
            continue  # deleted while we listed
    runs.sort(key=lambda r: (r.status.get("created_at") or _mtime(r.path), r.name), reverse=True)
    return runs


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0

