"""A run's checkpoints: checkpoint.pt (the best model so far) and last.pt (where training stands).

Kept apart from store.py so that what reads a run's small files (the queue, the pages' run lists)
never loads torch: only a module that saves or loads a model imports this one. Checkpoints hold
only tensors, dicts, lists, strings and numbers, and are read with torch.load(weights_only=True).
"""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from sentiment_core import settings
from sentiment_core.config import ModelConfig
from sentiment_core.data.text import LabelScheme
from sentiment_core.fileio import atomic_write, size_text
from sentiment_core.runs.checks import checkpoint_problem
from sentiment_core.runs.store import RunError, RunNotFound, gone

CHECKPOINT_FORMAT = 1


def save_torch(path: Path, data: dict) -> None:
    """torch.save to a temporary file, then rename: a reader never sees half a checkpoint.

    Raises RunNotFound when the run directory is gone (it is never re-created).
    """
    path = Path(path)
    try:
        atomic_write(path, lambda tmp: torch.save(data, tmp), create_parents=False)
    except FileNotFoundError:
        if path.parent.is_dir():
            raise
        raise gone(path.parent) from None


def load_torch(path: Path) -> dict:
    """torch.load with weights_only=True: plain data only, never arbitrary objects.

    The file's size is checked first (settings.MAX_CHECKPOINT_BYTES): torch.load holds all of it.
    """
    path = Path(path)
    if not path.is_file():
        raise RunNotFound(f"{path} does not exist; the run has no saved model yet")
    size = path.stat().st_size
    if size > settings.MAX_CHECKPOINT_BYTES:
        raise RunError(f"{path} is {size_text(size)}, more than a checkpoint's limit of "
                       f"{size_text(settings.MAX_CHECKPOINT_BYTES)}; the run is damaged")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise RunError(f"{path} cannot be read as a checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} is not a checkpoint dictionary")
    return data


def save_checkpoint(path: Path, model: nn.Module, model_config: ModelConfig, scheme: LabelScheme,
                    info: dict) -> None:
    """The model's weights and everything needed to rebuild and label it.

    `info` is fit's save_best dict: epoch, dev_accuracy, dev_loss (and batch / provisional
    when saved before the first epoch ended).
    """
    save_torch(path, {"format": CHECKPOINT_FORMAT, "model_state": model.state_dict(),
                      "model_config": asdict(model_config), "labels": scheme.num_classes,
                      "class_names": list(scheme.class_names), "epoch": int(info.get("epoch", 0)),
                      "metrics": {k: v for k, v in info.items() if k != "epoch"}, "saved_at": time.time()})


def load_checkpoint(path: str | Path) -> dict:
    """A best-model checkpoint, its parts checked before anything is built from it (checkpoint_problem)."""
    data = load_torch(Path(path))
    missing = {"model_state", "model_config", "labels"} - set(data)
    if missing:
        raise RunError(f"{path} lacks {', '.join(sorted(missing))}; it is not a checkpoint of this program")
    problem = checkpoint_problem(data)
    if problem:
        raise RunError(f"{path} is damaged: {problem}")
    return data

