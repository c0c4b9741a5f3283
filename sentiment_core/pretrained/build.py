"""Rebuilding the shipped default models from the treebank: `python -m sentiment_core pretrained --build`.

Every model trains with a fixed seed into a temporary folder beside its destination; only when
all have finished are they slimmed (no last.pt; no weights or vocabulary where the pages need none; one
batch_end event in BATCH_EVERY kept, every other event kept; no process ids or server paths in
status.json) and swapped in, one folder at a time. Training uses as many threads as torch is
given (the CLI's --threads); results vary slightly with the thread count and the torch build.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sentiment_core.pretrained import COMPARISON_MODELS, PLAYGROUND_MODEL, PRETRAINED_DIR
from sentiment_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig, comparison_config
from sentiment_core.runs.store import CHECKPOINT, LAST, METRICS, STATUS, STOP_FILE, VOCAB, RunError, write_json
from sentiment_core.data.corpus import load_corpus
from sentiment_core.runs.execution import train_run

BATCH_EVERY = 10  # keep one batch_end event in ten: the loss curve still draws, the file stays small
SHIPPED_PRESET = "shipped-default"
# status.json fields that describe the building machine, not the model
MACHINE_FIELDS = ("pid", "pid_started")


@dataclass(frozen=True)
class Recipe:
    name: str
    config: Callable[[], RunConfig]
    keep_weights: bool  # the playground needs checkpoint and vocabulary; the walkthrough reads only the probes


def playground_config() -> RunConfig:
    """A small GRU over every labelled phrase, read with max pooling: 67 % dev accuracy after three
    epochs (under a minute of one CPU thread). No class reweighting: it keeps some neutral recall (21 %), which
    reweighting to the sentences' shares nearly silences (5 %) for the same accuracy. Words seen at least
    three times (about 6,000): the checkpoint stays near 1.5 MB for the git repository."""
    return RunConfig(data=DataConfig(labels=3, phrases=True, min_freq=3),
                     model=ModelConfig(cell="gru", embedding_dim=64, hidden_dim=64, pooling="max"),
                     train=TrainConfig(epochs=3, batch_size=64, lr=3e-3, clip=5.0, patience=None, probe_every=0,
                                       seed=0, reweight=False),
                     preset=SHIPPED_PRESET)


def comparison_recipe(cell: str) -> Callable[[], RunConfig]:
    return lambda: comparison_config(cell)  # exactly what the walkthrough's button trains


RECIPES: tuple[Recipe, ...] = (
    Recipe(PLAYGROUND_MODEL, playground_config, keep_weights=True),
    *(Recipe(name, comparison_recipe(name.rsplit("-", 1)[1]), keep_weights=False) for name in COMPARISON_MODELS),
)


def build_defaults(data_dir: str | Path | None = None, target: str | Path | None = None,
                   report: Callable[[str], None] = print, corpus=None) -> dict[str, dict]:
    """Train every recipe, then swap the new folders into `target` (default: the package's own).

    Returns {name: final status}; raises RunError when a model does not finish (nothing is swapped).
    """
    target = Path(target) if target is not None else PRETRAINED_DIR
    corpus = corpus or load_corpus(data_dir, download=data_dir is None)
    statuses = {}
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target) as tmp:
        for recipe in RECIPES:
            report(f"training {recipe.name} ...")
            run_dir, status = train_run(recipe.config(), Path(tmp) / recipe.name, corpus=corpus,
                                        catch_signals=False)
            if status.get("state") != "finished":
                raise RunError(f"{recipe.name} did not finish ({status.get('message')}); nothing was replaced")
            statuses[recipe.name] = slim_run(run_dir, recipe.keep_weights)
            report(result_line(recipe.name, statuses[recipe.name]))
        for recipe in RECIPES:
            swap_in(Path(tmp) / recipe.name, target / recipe.name)
    return statuses


def result_line(name: str, status: dict) -> str:
    results = status.get("results") or {}
    shown = ", ".join(f"{split} accuracy {results[split]['accuracy']:.1%}" for split in ("dev", "test")
                      if split in results)
    return f"{name}: {shown or 'no results'}"


def slim_run(run_dir: Path, keep_weights: bool) -> dict:
    """Drop what the pages do not read; returns the cleaned status."""
    for name in (LAST, STOP_FILE) if keep_weights else (LAST, STOP_FILE, CHECKPOINT, VOCAB):
        (run_dir / name).unlink(missing_ok=True)
    thin_metrics(run_dir / METRICS, BATCH_EVERY)
    status = json.loads((run_dir / STATUS).read_text(encoding="utf-8"))
    for key in MACHINE_FIELDS:
        status.pop(key, None)
    if isinstance(status.get("treebank"), dict):  # the checksum says which treebank; the folder was this machine's
        status["treebank"] = {"checksum": status["treebank"].get("checksum")}
    status["shipped"] = True
    write_json(run_dir / STATUS, status)
    return status


def thin_metrics(path: Path, every: int) -> None:
    """Keep every event but batch_end; of those, the first, one step in `every` and each epoch's last."""
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [event for i, event in enumerate(events)
            if event.get("event") != "batch_end" or i == 0 or events[i - 1].get("event") != "batch_end"
            or int(event.get("step", 0)) % every == 0
            or i + 1 == len(events) or events[i + 1].get("event") != "batch_end"]
    path.write_text("".join(json.dumps(e) + "\n" for e in kept), encoding="utf-8")


def swap_in(new: Path, destination: Path) -> None:
    """Replace `destination` by `new`: the old folder is renamed aside first, then removed."""
    old = destination.with_name(f".old-{destination.name}-{os.getpid()}")
    if destination.exists():
        os.replace(destination, old)
    os.replace(new, destination)
    shutil.rmtree(old, ignore_errors=True)
