"""A run is a directory: the contract between a training process and whoever watches it.

    <root>/<name>/
      config.json     RunConfig.to_dict(), with vocab_size / num_classes filled in
      vocab.json      the vocabulary (text.Vocab.to_dict())
      metrics.jsonl   one JSON event per line, appended and flushed as it happens (training.py
                      lists the event kinds and fields; runs add "evaluation" events at the end)
      status.json     state, message, pid, timestamps, best dev accuracy, results (see write_status)
      checkpoint.pt   the best model so far: state_dict + ModelConfig dict + label scheme + epoch
      last.pt         where training stands, for resume: model + optimizer state, epoch / batch
      stop            present = please stop between batches (the dashboard's Stop button)

Every file is written atomically (temporary file + os.replace); checkpoints hold only tensors,
dicts, lists, strings and numbers, and are read with torch.load(weights_only=True).
The root is `data/runs` unless $SENTIMENT_RUNS_DIR or an argument says otherwise.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from sentiment_core import settings
from sentiment_core.training.config import ModelConfig, RunConfig, validate
from sentiment_core.data.text import LabelScheme, Vocab, atomic_write_text, label_scheme

CONFIG, VOCAB, METRICS, STATUS = "config.json", "vocab.json", "metrics.jsonl", "status.json"
CHECKPOINT, LAST, STOP_FILE = "checkpoint.pt", "last.pt", "stop"
CHECKPOINT_FORMAT = 1
STATES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
BROKEN = "broken"  # list_runs' state for a directory whose status cannot be read


class RunError(ValueError):
    """A run that cannot be created, read, resumed or deleted; the message says what to do."""


class RunNotFound(RunError, FileNotFoundError):
    pass


# ---------------------------------------------------------------------------------------------
# Where runs live, and their names


def default_runs_root() -> Path:
    return settings.default_runs_root()


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
    run); otherwise `<root>/<name>`, with a sanitised `name` or a unique default one.
    """
    validate(config)
    if path is not None:
        run_dir = Path(path)
        _claim_directory(run_dir)
    else:
        root = Path(root) if root is not None else default_runs_root()
        root.mkdir(parents=True, exist_ok=True)
        if name:
            run_dir = root / sanitize_run_name(name)
            try:
                run_dir.mkdir()
            except FileExistsError:
                raise RunError(f"a run named {run_dir.name!r} already exists in {root}; "
                               "choose another name or delete that run") from None
        else:
            base = default_run_name(config)
            for n in range(1, 1000):
                run_dir = root / (base if n == 1 else f"{base}-{n}")
                try:
                    run_dir.mkdir()
                    break
                except FileExistsError:
                    continue
            else:
                raise RunError(f"could not find a free run name in {root}")
    write_json(run_dir / CONFIG, config.to_dict())
    if vocab is not None:
        vocab.save(run_dir / VOCAB)
    write_status(run_dir, state="queued", message="waiting to start", created_at=time.time(),
                 name=run_dir.name, preset=config.preset)
    return run_dir


def _claim_directory(run_dir: Path) -> None:
    check_run_target(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


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


# ---------------------------------------------------------------------------------------------
# JSON files and status


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(Path(path), json.dumps(data, indent=1, allow_nan=False, default=_plain))


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunNotFound(f"{path} does not exist") from None
    except (OSError, ValueError) as err:
        raise RunError(f"{path} cannot be read ({err}); the run is damaged") from None


def write_status(run_dir: Path, **fields: Any) -> dict:
    """Merge `fields` into status.json and rewrite it atomically; returns the new status.

    Fields: state (queued | running | finished | stopped | failed), message, pid, pid_started
    (process_start_time: tells the trainer from a later process with its id), name, preset,
    created_at / started_at / updated_at / ended_at (Unix seconds), elapsed / cpu_seconds (of the
    last training session, wall clock / CPU time), epoch (completed),
    epochs (planned), step, best_dev_accuracy, best_epoch, parameters, train_size,
    results ({"dev": evaluation, "test": evaluation} of the best checkpoint, when finished).
    "interrupted" is written after a forced Ctrl-C; read_status also reports it for a
    `running` run whose process has died.
    """
    path = Path(run_dir) / STATUS
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
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
    if status.get("state") == "running" and not is_process_alive(status.get("pid"), status.get("pid_started")):
        status = {**status, "state": "interrupted",
                  "message": f"the training process (pid {status.get('pid')}) ended without finishing; "
                             f"continue it with: python -m sentiment_core train --resume {run_dir}"}
    return status


def process_start_time(pid: int) -> int | None:
    """When a process started (clock ticks after boot, from /proc), or None where that is unknown.

    Kept beside a pid so that a later process given the same id (after a crash and many new
    processes, or a reboot) is not taken for the one that was recorded.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])  # field 22 of the whole line
    except (OSError, IndexError, ValueError):
        return None


def is_process_alive(pid: int | None, started: int | None = None) -> bool:
    """True while a process with this id exists and is not a zombie (and, given `started`, is
    the process that started then, not a later one that reuses the id)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if started is not None:
        now = process_start_time(pid)
        if now is not None and now != started:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    try:  # a finished child nobody has waited for is a zombie: dead for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# ---------------------------------------------------------------------------------------------
# Metrics


class MetricsWriter:
    """Appends one JSON line per event and flushes it, so readers see events as they happen."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS
        needs_newline = self.path.is_file() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
        self.handle = open(self.path, "a", encoding="utf-8")
        if needs_newline:  # a process killed mid-line left half an event: end it, it stays skipped
            self.handle.write("\n")

    def write(self, event: dict) -> None:
        self.handle.write(json.dumps(event, default=_plain) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def read_metrics(run_dir: str | Path) -> tuple[list[dict], list[str]]:
    """(events, problems): every readable event in order; a damaged line is skipped and named.

    After a resume an epoch may appear twice: the later events win.
    """
    path = Path(run_dir) / METRICS
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    events, problems = [], []
    lines = data.split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            last = number == len(lines)  # no newline yet: still being written
            problems.append(f"{METRICS} line {number}: " +
                            ("incomplete (still being written?), skipped" if last else "not valid JSON, skipped"))
            continue
        if not isinstance(event, dict) or "event" not in event:
            problems.append(f"{METRICS} line {number}: not an event object, skipped")
            continue
        events.append(event)
    return events, problems


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_torch(path: Path, data: dict) -> None:
    """torch.save to a temporary file, then rename: a reader never sees half a checkpoint."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(data, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_torch(path: Path) -> dict:
    """torch.load with weights_only=True: plain data only, never arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise RunNotFound(f"{path} does not exist; the run has no saved model yet")
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
    data = load_torch(Path(path))
    missing = {"model_state", "model_config", "labels"} - set(data)
    if missing:
        raise RunError(f"{path} lacks {', '.join(sorted(missing))}; it is not a checkpoint of this program")
    return data


def load_model(run_dir: str | Path) -> tuple[nn.Module, Vocab, RunConfig, LabelScheme]:
    """(model in eval mode, vocab, run config, label scheme) from a run's best checkpoint."""
    from sentiment_core.models import build_model

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunNotFound(f"there is no run at {run_dir}")
    for needed, what in ((CONFIG, "settings"), (VOCAB, "vocabulary"), (CHECKPOINT, "saved model")):
        if not (run_dir / needed).is_file():
            raise RunNotFound(f"the run at {run_dir} has no {what} ({needed}); it has not saved a model yet "
                              "or is incomplete: train it (again) first")
    config = read_config(run_dir)
    vocab = read_vocab(run_dir)
    checkpoint = load_checkpoint(run_dir / CHECKPOINT)
    try:
        model_config = ModelConfig(**checkpoint["model_config"])
        model = build_model(model_config, vocab, load_vectors=False)  # the state_dict holds the vectors
        model.load_state_dict(checkpoint["model_state"])
    except (TypeError, ValueError, RuntimeError, KeyError) as err:
        raise RunError(f"the checkpoint in {run_dir} does not fit its model settings ({err})") from None
    return model.eval(), vocab, config, label_scheme(checkpoint["labels"])


def read_config(run_dir: Path) -> RunConfig:
    try:
        return RunConfig.from_dict(read_json(Path(run_dir) / CONFIG))
    except (TypeError, ValueError, AttributeError) as err:
        if isinstance(err, RunError):
            raise
        raise RunError(f"{Path(run_dir) / CONFIG} holds settings this program does not know ({err})") from None


def read_vocab(run_dir: Path) -> Vocab:
    try:
        return Vocab.from_dict(read_json(Path(run_dir) / VOCAB))
    except (TypeError, KeyError, ValueError) as err:
        if isinstance(err, RunError):
            raise
        raise RunError(f"{Path(run_dir) / VOCAB} is not a vocabulary ({err})") from None


# ---------------------------------------------------------------------------------------------
# Listing and deleting


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


def load_run(path: str | Path) -> RunInfo:
    """Everything about one run that can be read; what cannot goes into `problems`."""
    path = Path(path)
    if not path.is_dir():
        raise RunNotFound(f"there is no run at {path}")
    problems, status, config = [], {}, None
    try:
        status = read_status(path)
    except RunError as err:
        problems.append(str(err))
    try:
        config = read_config(path)
    except RunError as err:
        problems.append(str(err))
    state = status.get("state") if status.get("state") in STATES else BROKEN
    return RunInfo(path, path.name, state, status, config, (path / CHECKPOINT).is_file(), problems)


def list_runs(root: str | Path | None = None) -> list[RunInfo]:
    """Runs under `root`, newest first; damaged ones are listed with their problems."""
    root = Path(root) if root is not None else default_runs_root()
    if not root.is_dir():
        return []
    runs = []
    for entry in root.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if not any((entry / f).exists() for f in (CONFIG, STATUS)):
            continue  # not a run
        runs.append(load_run(entry))
    runs.sort(key=lambda r: (r.status.get("created_at") or _mtime(r.path), r.name), reverse=True)
    return runs


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def request_stop(run_dir: str | Path) -> None:
    """Ask a running training to stop between batches (it notices the `stop` file)."""
    atomic_write_text(Path(run_dir) / STOP_FILE, f"{time.time()}\n")


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


# ---------------------------------------------------------------------------------------------
# Training a run


def _training_callbacks(run_dir: Path, extra: Sequence, writer: MetricsWriter):
    from sentiment_core.training.trainer import Callback

    class RunRecorder(Callback):
        """Writes every event to metrics.jsonl, keeps status.json current, watches the stop file."""

        def on_train_begin(self, event, control):
            writer.write(event)
            write_status(run_dir, epochs=event["epochs"], parameters=event["parameters"],
                         train_size=event["train_size"])

        def on_batch_end(self, event, control):
            writer.write(event)
            if (run_dir / STOP_FILE).exists():
                control.should_stop = True

        def on_epoch_end(self, event, control):
            writer.write(event)
            write_status(run_dir, epoch=event["epoch"], best_dev_accuracy=event["best_dev_accuracy"],
                         best_epoch=event["best_epoch"], message=f"epoch {event['epoch']} of {event['epochs']} done")
            if (run_dir / STOP_FILE).exists():
                control.should_stop = True

        def on_probe(self, event, control):
            writer.write(event)

        def on_train_end(self, event, control):
            writer.write(event)
            write_status(run_dir, elapsed=event["elapsed"], cpu_seconds=event.get("cpu_seconds"))

    return [*extra, RunRecorder()]  # the recorder last: it sees a stop file written by another callback


def sentence_class_weights(train_labels: Sequence[int], sentence_labels: Sequence[int], num_classes: int) -> list[float]:
    """Per-class loss weights that make the training examples count like the training sentences.

    Weight = (share among sentences) / (share among training examples): on phrases, where half
    the examples are neutral but a fifth of the sentences are, neutral is weighed down.
    """
    def shares(labels):
        counts = [0] * num_classes
        for label in labels:
            counts[label] += 1
        total = sum(counts)
        return [count / total if total else 0.0 for count in counts]

    train_share, sentence_share = shares(train_labels), shares(sentence_labels)
    return [s / t if t > 0 and s > 0 else 1.0 for s, t in zip(sentence_share, train_share)]


def prepare_data(config: RunConfig, corpus, vocab: Vocab):
    """(train, dev, test) EncodedDatasets and the label scheme, as the config asks."""
    from sentiment_core.data.batching import EncodedDataset

    scheme = label_scheme(config.data.labels)
    train = corpus.examples(scheme, "train", phrases=config.data.phrases)[:config.data.train_limit]
    dev, test = evaluation_data(config, corpus, vocab, scheme)
    return EncodedDataset(train, vocab), dev, test, scheme


def evaluation_data(config: RunConfig, corpus, vocab: Vocab, scheme) -> tuple:
    """(dev, test) EncodedDatasets: the sentences a run of this config is scored on."""
    from sentiment_core.data.batching import EncodedDataset

    return tuple(EncodedDataset(corpus.examples(scheme, split)[:config.data.eval_limit], vocab)
                 for split in ("dev", "test"))


def train_run(config: RunConfig | None, run_dir: str | Path | None = None, *, root: str | Path | None = None,
              name: str | None = None, data_dir: str | Path | None = None, corpus=None,
              callbacks: Sequence = (), control=None, catch_signals: bool = True,
              resume: bool = False, device: str = "cpu", world=None) -> tuple[Path, dict]:
    """Train a run to its end and return (run directory, final status).

    A new run goes to `run_dir` (new, empty or queued), else `<root>/<name>`. With
    `resume=True`, `run_dir` is an existing run that continues from last.pt with the settings
    in its config.json (only `config.train.epochs` is taken from `config`, to extend a run).
    The final status holds dev and test results of the best checkpoint when the run finished.
    SIGTERM / Ctrl-C stop it between batches (in the main thread).
    Under torchrun (`world`, distributed.py) every rank trains, only rank 0 writes the run
    directory; the other ranks return (run_dir or None, their final figures without results).
    """
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.training.distributed import World, save_rank_weights
    from sentiment_core.training.provenance import record_treebank
    from sentiment_core.models import build_model
    from sentiment_core.training.trainer import TrainControl, fit, stop_on_signals

    control = control or TrainControl()
    world = world or World()
    main = world.is_main  # only rank 0 writes files
    if not resume:  # bad settings or a bad destination fail before the data is loaded
        validate(config)
        if run_dir is not None:
            check_run_target(Path(run_dir))
        elif name:
            sanitize_run_name(name)
    corpus = corpus or load_corpus(data_dir)
    resume_state = None
    if resume:
        run_dir, config, vocab, resume_state = _prepare_resume(Path(run_dir), config)
    else:
        vocab = corpus.build_vocab(config.data.min_freq, config.data.max_vocab)
    train_data, dev_data, test_data, scheme = prepare_data(config, corpus, vocab)
    config.model.vocab_size, config.model.num_classes = len(vocab), scheme.num_classes
    torch.manual_seed(config.train.seed)  # the same seed builds the same initial weights
    model = build_model(config.model, vocab)
    world.barrier()  # every rank has read a resumed run before rank 0 marks it running
    if main:
        if not resume:
            run_dir = create_run(config, vocab, root=root, name=name, path=run_dir)
            record_treebank(run_dir, corpus)  # so `evaluate RUN` finds the same data (provenance.py)
        run_dir = Path(run_dir)
        write_json(run_dir / CONFIG, config.to_dict())
        write_status(run_dir, state="running", pid=os.getpid(), pid_started=process_start_time(os.getpid()),
                     started_at=time.time(), ended_at=None,
                     message="resuming" if resume else "starting", epochs=config.train.epochs)

    def save_best(model_now, info):
        save_checkpoint(run_dir / CHECKPOINT, model_now, config.model, scheme, info)

    def save_state(state):
        save_torch(run_dir / LAST, state)

    if main and not resume:  # a loadable checkpoint from the start, even if the first batch diverges
        save_best(model, {"epoch": 0, "provisional": True})
    writer = MetricsWriter(run_dir) if main else None
    t = config.train
    class_weights = None
    if t.reweight:
        sentences = [e.label for e in corpus.examples(scheme, "train")]
        class_weights = sentence_class_weights(train_data.labels, sentences, scheme.num_classes)
    try:
        with stop_on_signals(control) if catch_signals else nullcontext():
            result = fit(model, train_data, dev_data, num_classes=scheme.num_classes, epochs=t.epochs,
                         batch_size=t.batch_size, optimizer=t.optimizer, lr=t.lr, weight_decay=t.weight_decay,
                         momentum=t.momentum, clip=t.clip, max_batches=t.max_batches, bptt=t.bptt,
                         patience=t.patience, seed=t.seed, bucketing=t.bucketing, probe_every=t.probe_every,
                         callbacks=_training_callbacks(run_dir, callbacks, writer) if main else [],
                         control=control, save_best=save_best if main else None,
                         save_state=save_state if main else None, resume=resume_state,
                         class_names=scheme.class_names, class_weights=class_weights, device=device, world=world)
        final = {"state": result.state, "message": result.message, "epoch": result.epochs_done,
                 "best_dev_accuracy": result.best_dev_accuracy, "best_epoch": result.best_epoch}
        save_rank_weights(world, model)  # test hook; does nothing unless its variable is set
        if not main:
            return (Path(run_dir) if run_dir else None), final
        if result.state == "finished":  # a stop should be quick: evaluate_best gives figures later
            best, _, _, _ = load_model(run_dir)
            final["results"] = _evaluate_checkpoint(best, {"dev": dev_data, "test": test_data}, writer, scheme,
                                                    device)
        status = write_status(run_dir, ended_at=time.time(), **final)
    except KeyboardInterrupt:
        if not main:
            raise
        write_status(run_dir, state="interrupted", ended_at=time.time(),
                     message=f"interrupted at once (second Ctrl-C); continue it with --resume {run_dir}")
        raise
    except BaseException as err:
        if main:
            write_status(run_dir, state="failed", ended_at=time.time(),
                         message=f"training crashed: {type(err).__name__}: {err}")
        raise
    finally:
        if writer is not None:
            writer.close()
    return run_dir, status


def _evaluate_checkpoint(best: nn.Module, splits: dict, writer: MetricsWriter, scheme, device=None) -> dict:
    """Figures of the best checkpoint's model on each split, each also appended to metrics.jsonl."""
    from sentiment_core.training.trainer import evaluate

    results = {}
    for split, data in splits.items():
        if len(data):
            results[split] = evaluate(best, data, scheme.num_classes, scheme.class_names, device=device)
            writer.write({"event": "evaluation", "time": time.time(), "split": split, **results[split]})
    return results


def evaluate_best(run_dir: str | Path, corpus) -> dict:
    """Evaluate a stopped run's best checkpoint on dev and test and keep the figures in its status.

    A finished run is evaluated when it ends; a stop skips that to stay quick, and this fills it in
    (the training page's "Evaluate" button). Returns the new status.
    """
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    if status.get("state") != "stopped":
        raise RunError(f"only a stopped run is evaluated this way; {run_dir.name} is {status.get('state')}")
    if not (run_dir / CHECKPOINT).is_file():
        raise RunError(f"{run_dir.name} stopped before its first checkpoint: there is nothing to evaluate")
    best, vocab, config, scheme = load_model(run_dir)
    dev, test = evaluation_data(config, corpus, vocab, scheme)
    writer = MetricsWriter(run_dir)
    try:
        results = _evaluate_checkpoint(best, {"dev": dev, "test": test}, writer, scheme)
    finally:
        writer.close()
    return write_status(run_dir, results=results)


def _prepare_resume(run_dir: Path, requested: RunConfig | None):
    status = read_status(run_dir)
    if status.get("state") == "running":
        raise RunError(f"the run {run_dir.name} is still training (pid {status.get('pid')}); it cannot be resumed twice")
    config = read_config(run_dir)
    vocab = read_vocab(run_dir)
    last_path = run_dir / LAST
    if not last_path.is_file():
        raise RunError(f"{run_dir.name} has no saved training state ({LAST}) to continue from; "
                       "it stopped before its first save; start a new run instead")
    state = load_torch(last_path)
    if requested is not None and requested.train.epochs != config.train.epochs:
        config = replace(config, train=replace(config.train, epochs=requested.train.epochs))
    completed = state.get("epoch", 1) - 1  # last.pt holds the epoch in progress and batches done in it
    if completed >= config.train.epochs:
        raise RunError(f"{run_dir.name} already completed {config.train.epochs} epochs; "
                       "pass a larger number of epochs to continue it")
    checkpoint_path = run_dir / CHECKPOINT
    if checkpoint_path.is_file() and state.get("best_epoch"):
        state["best_model"] = load_checkpoint(checkpoint_path)["model_state"]
    (run_dir / STOP_FILE).unlink(missing_ok=True)  # the request that stopped it has been served
    return run_dir, config, vocab, state
