"""The run store: a run is a directory, and this module (with metrics.py for metrics.jsonl)
alone reads and writes it. It is the contract between a training process and whoever watches it.

    <root>/<name>/
      config.json     RunConfig.to_dict(), with vocab_size / num_classes filled in
      vocab.json      the vocabulary (text.Vocab.to_dict())
      metrics.jsonl   one JSON event per line, appended and flushed as it happens (metrics.py;
                      trainer.py lists the event kinds; runs add "evaluation" events at the end)
      status.json     state, message, pid, timestamps, best dev accuracy, results (see write_status)
      checkpoint.pt   the best model so far: state_dict + ModelConfig dict + label scheme + epoch
      last.pt         where training stands, for resume: model + optimizer state, epoch / batch
      stop            present = please stop between batches (the dashboard's Stop button)

Every file is written atomically (fileio.atomic_write), never into a run directory that is
gone (a run deleted under its trainer stays deleted: the write raises RunNotFound). The
checkpoints are checkpoints.py's, and lists of runs listing.py's: both build on this module.
The root is `data/runs` unless $SENTIMENT_RUNS_DIR or an argument says otherwise.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sentiment_core import settings
from sentiment_core.data.text import Vocab
from sentiment_core.fileio import FileRefused, atomic_write_text, read_json_bounded
from sentiment_core.config import RunConfig, validate
from sentiment_core.runs.processes import is_process_alive
from sentiment_core.runs.checks import described_value, status_problem

CONFIG, VOCAB, METRICS, STATUS = "config.json", "vocab.json", "metrics.jsonl", "status.json"
CHECKPOINT, LAST, STOP_FILE = "checkpoint.pt", "last.pt", "stop"
STATES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
BROKEN = "broken"  # list_runs' state for a directory whose status cannot be read
# Runs the walkthrough page starts are tagged by this name prefix; run lists leave them out unless asked.
WALKTHROUGH_PREFIX = "walkthrough-"


def is_walkthrough_run(name: str) -> bool:
    return name.startswith(WALKTHROUGH_PREFIX)


class RunError(ValueError):
    """A run that cannot be created, read, resumed or deleted; the message says what to do."""


class RunNotFound(RunError, FileNotFoundError):
    pass


def gone(run_dir: Path) -> RunNotFound:
    return RunNotFound(f"The run {Path(run_dir).name} no longer exists (its folder was deleted); pick another run.")


# ---------------------------------------------------------------------------------------------
# Where runs live, their names, and claiming one


def default_runs_root() -> Path:
    return settings.default_runs_root()


def is_run_dir(path: Path) -> bool:
    """A visible folder holding a config or a status (a hidden one is being deleted)."""
    return (path.is_dir() and not path.name.startswith(".")
            and any((path / name).exists() for name in (CONFIG, STATUS)))


def run_dirs(root: str | Path) -> list[Path]:
    """The run folders in `root`, in no order: is_run_dir's test on one directory scan's entries
    (the scan knows which entries are folders, so only their run files are looked for)."""
    try:
        with os.scandir(root) as entries:
            return [Path(entry.path) for entry in entries
                    if not entry.name.startswith(".") and entry.is_dir()
                    and any(os.path.exists(os.path.join(entry.path, name)) for name in (CONFIG, STATUS))]
    except (FileNotFoundError, NotADirectoryError):
        return []


def sanitize_run_name(name: str) -> str:
    """A safe directory name: letters, digits, '-', '_' and '.', no separators, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name).strip())
    cleaned = re.sub(r"\.{2,}", ".", cleaned)          # no '..'
    cleaned = re.sub(r"-{2,}", "-", cleaned).lstrip(".-_").rstrip(".-")[:80]
    if not cleaned:
        raise RunError(f"the run name {name!r} has no usable characters; use letters, digits, '-', '_' or '.'")
    return cleaned


def default_run_name(config: RunConfig, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    return f"{stamp}-{config.model.cell}-{config.data.labels}cls"


def create_run(config: RunConfig, vocab: Vocab | None = None, root: str | Path | None = None,
               name: str | None = None, path: str | Path | None = None) -> Path:
    """Make a new run directory (state `queued`) and return its path.

    `path` names the directory directly (it may exist if empty or holding only a queued
    run); otherwise `<root>/<name>`, with a sanitised `name` or a unique default one. A new
    directory is claimed with one os.mkdir, so of two concurrent creations exactly one wins.
    `config` was validated where it entered (the page, the CLI, a config file) and is trusted here.
    """
    if path is not None:
        run_dir = Path(path)
        check_run_target(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = _new_directory(Path(root) if root is not None else default_runs_root(), config, name)
    write_json(run_dir / CONFIG, config.to_dict())
    if vocab is not None:
        vocab.save(run_dir / VOCAB)
    write_status(run_dir, state="queued", message="waiting to start", created_at=time.time(),
                 name=run_dir.name, preset=config.preset)
    return run_dir


def _new_directory(root: Path, config: RunConfig, name: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if name:
        run_dir = root / sanitize_run_name(name)
        try:
            run_dir.mkdir()
        except FileExistsError:
            raise RunError(f"a run named {run_dir.name!r} already exists in {root}; "
                           "choose another name or delete that run") from None
        return run_dir
    base = default_run_name(config)
    for n in range(1, 1000):
        run_dir = root / (base if n == 1 else f"{base}-{n}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
    raise RunError(f"could not find a free run name in {root}")


def check_run_target(run_dir: Path) -> None:
    """A directory given by path may be new, empty, or a queued run a launcher prepared."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} exists and is not a directory; choose another --out")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        try:
            state = read_status(run_dir).get("state")
        except RunError:
            state = None
        if state != "queued":
            raise RunError(f"{run_dir} already holds files{f' (a {state} run)' if state else ''}; "
                           "choose a new directory, or continue a run with --resume")


@contextmanager
def claim_run(run_dir: str | Path, create: bool = False) -> Iterator[Path]:
    """Hold a run directory for one trainer: of two processes claiming it, exactly one wins.

    An exclusive flock on the directory itself, held while inside: the kernel drops it when
    the process ends however it ends, so a crashed trainer never leaves a stale claim.
    `create`: make the directory first (a new run given by path); else it must exist.
    """
    run_dir = Path(run_dir)
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)
    elif not run_dir.is_dir():
        raise RunNotFound(f"there is no run at {run_dir}")
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"another process is already training {run_dir.name}; "
                           "wait for it to end or stop it first") from None
        yield run_dir
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# ---------------------------------------------------------------------------------------------
# JSON files and status


def write_json(path: Path, data: Any) -> None:
    """Atomically; raises RunNotFound when the run directory is gone (it is never re-created)."""
    path = Path(path)
    try:
        atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False, default=plain),
                          create_parents=False)
    except FileNotFoundError:
        raise gone(path.parent) from None


def plain(value):
    """json.dumps' fallback: paths as strings, anything else refused."""
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def read_json(path: Path) -> Any:
    """A run's JSON file, its size and nesting checked before it is parsed (settings.MAX_RUN_JSON_*).

    Every page that lists runs reads these, so a damaged one must cost nothing and say what is
    wrong: RunError (RunNotFound when it is missing), never a RecursionError or a MemoryError.
    NaN and Infinity are refused: write_json never writes them.
    """
    try:
        return read_json_bounded(Path(path), settings.MAX_RUN_JSON_BYTES, settings.MAX_RUN_JSON_DEPTH)
    except FileNotFoundError:
        raise RunNotFound(f"{path} does not exist") from None
    except FileRefused as err:
        raise RunError(f"{path} cannot be read: it {err}; the run is damaged") from None
    except OSError as err:
        raise RunError(f"{path} cannot be read ({err.strerror or err}); the run is damaged") from None


def write_status(run_dir: Path, **fields: Any) -> dict:
    """Merge `fields` into status.json and rewrite it atomically; returns the new status.

    Fields: state (queued | running | finished | stopped | failed), message, pid, pid_started
    (processes.process_start_time: tells the trainer from a later process with its id), name,
    preset, created_at / started_at / updated_at / ended_at (Unix seconds), elapsed / cpu_seconds
    (of the last training session, wall clock / CPU time), epoch (completed), epochs (planned),
    step, best_dev_accuracy, best_epoch, parameters, train_size, results ({"dev": evaluation,
    "test": evaluation} of the best checkpoint, when finished). "interrupted" is written after a
    forced Ctrl-C or a write that failed (a full disk: runs._train); read_status also reports it
    for a `running` run whose process has died (a kill, or a full disk that kept this status).
    Raises RunNotFound when the run directory is gone.
    """
    path = Path(run_dir) / STATUS
    try:
        status = read_json(path)  # bounded: a damaged status is replaced, never parsed without limits
    except RunError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    status.update(fields)
    status["updated_at"] = time.time()
    write_json(path, status)
    return status


def read_status(run_dir: str | Path) -> dict:
    """status.json; a `running` run whose process is gone is reported as `interrupted`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunNotFound(f"there is no run at {run_dir}")
    status = read_json(run_dir / STATUS)
    if not isinstance(status, dict):
        raise RunError(f"{run_dir / STATUS} does not hold a status object; the run is damaged")
    problem = status_problem(status)
    if problem:
        raise RunError(f"{run_dir / STATUS} is damaged: {problem}")
    if status.get("state") == "running" and not is_process_alive(status.get("pid"), status.get("pid_started"),
                                                                 status.get("host")):
        # What happened, not what to type: a page offers Resume when there is a saved state (last.pt).
        status = {**status, "state": "interrupted",
                  "message": f"The training process (pid {status.get('pid')}) ended without finishing (it was "
                             "killed, or could not record why)."}
    return status


def read_config(run_dir: Path) -> RunConfig:
    """config.json as a RunConfig whose settings validate, with the model's vocab_size / num_classes whole numbers."""
    path = Path(run_dir) / CONFIG
    return _read_as(path, config_from_json, "holds settings this program cannot use")


def config_from_json(data: dict) -> RunConfig:
    """The RunConfig of a config.json's value; ValueError / TypeError saying what is wrong with a damaged one."""
    if not isinstance(data, dict):
        raise ValueError("it is not an object of settings")
    config = RunConfig.from_dict(data)
    validate(config)  # `labels: 7` or `hidden_dim: -3` would break whoever reads the config next
    for name in ("vocab_size", "num_classes"):
        value = getattr(config.model, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"model.{name} is {described_value(value)}, not a whole number")
    return config


def read_vocab(run_dir: Path) -> Vocab:
    return _read_as(Path(run_dir) / VOCAB, Vocab.from_dict, "is not a vocabulary")


def _read_as(path: Path, build, what_is_wrong: str):
    """`build(json of path)`, with any refusal of its content said as a RunError."""
    data = read_json(path)
    try:
        return build(data)
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise RunError(f"{path} {what_is_wrong} ({err})") from None


# ---------------------------------------------------------------------------------------------
# Stopping and deleting


def request_stop(run_dir: str | Path) -> None:
    """Ask a running training to stop between batches (it notices the `stop` file)."""
    try:
        atomic_write_text(Path(run_dir) / STOP_FILE, f"{time.time()}\n", create_parents=False)
    except FileNotFoundError:
        raise gone(Path(run_dir)) from None


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP_FILE).exists()


def delete_run(run_dir: str | Path) -> None:
    """Remove a run directory; refuses a run that is still training and a non-run folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunNotFound(f"there is no run at {run_dir}")
    if not any((run_dir / f).exists() for f in (CONFIG, STATUS)):
        raise RunError(f"{run_dir} does not look like a run (no {CONFIG} or {STATUS}); nothing was deleted")
    try:
        status = read_status(run_dir)
    except RunError:
        status = {}
    if status.get("state") == "running":
        raise RunError(f"the run {run_dir.name} is still training (pid {status.get('pid')}); stop it first")
    # Rename first (a hidden name list_runs skips), so a half-deleted run never shows up.
    doomed = run_dir.with_name(f".deleting-{run_dir.name}-{os.getpid()}-{time.time_ns()}")
    os.replace(run_dir, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
