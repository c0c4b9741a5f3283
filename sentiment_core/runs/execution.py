"""Training a run: the data a config asks for, the trainer, and the run directory it records into.

The run directory itself (its files, status, checkpoints, listing) is store.py's; metrics.jsonl
is metrics.py's. `train_run` is what `python -m sentiment_core train` does: create (or resume)
a run, train it with trainer.fit while a RunRecorder writes every event, then evaluate the
best checkpoint on dev and test.
"""
from __future__ import annotations

import os
import time
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from sentiment_core import settings
from sentiment_core.data.text import LabelScheme, Vocab, label_scheme
from sentiment_core.config import ModelConfig, RunConfig
from sentiment_core.runs.metrics import MetricsWriter
from sentiment_core.runs.processes import process_start_time, this_host
from sentiment_core.runs.checkpoints import load_checkpoint, load_torch, save_checkpoint, save_torch
from sentiment_core.runs.store import (CHECKPOINT, CONFIG, LAST, STOP_FILE, VOCAB, RunError, RunNotFound,
                                           check_run_target, claim_run, create_run, read_config, read_status,
                                           read_vocab, sanitize_run_name, stop_requested, write_json, write_status)
from sentiment_core.models import build_model
from sentiment_core.runs.limits import megaparameters
from sentiment_core.data.batching import EncodedDataset
from sentiment_core.training.losses import sentence_class_weights
from sentiment_core.data.corpus import load_corpus
from sentiment_core.runs.provenance import record_treebank
from sentiment_core.training.distributed import World, save_rank_weights
from sentiment_core.training.sentence_probes import ProbeScorer, read_probe_sentences
from sentiment_core.runs.calibration import calibrate_checkpoint
from sentiment_core.training.trainer import Callback, TrainControl, fit, stop_on_signals
from sentiment_core.training.evaluation import evaluate


def load_model(run_dir: str | Path) -> tuple[nn.Module, Vocab, RunConfig, LabelScheme]:
    """(model in eval mode, vocab, run config, label scheme) from a run's best checkpoint."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunNotFound(f"there is no run at {run_dir}")
    for needed, what in ((CONFIG, "settings"), (VOCAB, "vocabulary"), (CHECKPOINT, "saved model")):
        if not (run_dir / needed).is_file():
            raise RunNotFound(f"the run at {run_dir} has no {what} ({needed}); it has not saved a model yet "
                              "or is incomplete: train it (again) first")
    config = read_config(run_dir)
    vocab = read_vocab(run_dir)
    checkpoint = load_checkpoint(run_dir / CHECKPOINT)  # its parts checked: settings, labels, tensors
    try:
        model_config = ModelConfig(**checkpoint["model_config"])
        # Settings that claim an embedding of 200,000 would take gigabytes and seconds to build
        # before load_state_dict found the mismatch: the weights they imply are counted first.
        check_claimed_size(replace(config, model=model_config), checkpoint["model_state"])
        model = build_model(model_config, vocab, load_vectors=False)  # the state_dict holds the vectors
        model.load_state_dict(checkpoint["model_state"])
    except (TypeError, ValueError, RuntimeError, KeyError) as err:
        raise RunError(f"the checkpoint in {run_dir} does not fit its model settings ({first_line(err)})") from None
    return model.eval(), vocab, config, label_scheme(checkpoint["labels"])


def check_claimed_size(config: RunConfig, model_state: dict) -> None:
    """Refuse settings that imply far more weights than the checkpoint holds, before any model is built.

    limits.megaparameters counts the weights a model of these settings has (embedding, recurrent
    layers, output layer) from its sizes alone; a true checkpoint holds that many, give or take the
    small parts it leaves out, so twice as many plus a million is a claim, not a model.
    """
    held = sum(tensor.numel() for tensor in model_state.values())
    claimed = megaparameters(config, config.model.vocab_size) * 1e6
    if claimed > 2 * held + 1e6:
        raise ValueError(f"its settings imply {claimed / 1e6:,.1f}M weights but it holds {held / 1e6:,.1f}M")


def first_line(err: Exception) -> str:
    """The gist of an error: load_state_dict lists every mismatching tensor, one a line; the first says enough."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    gist = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else (lines or [""])[0]
    return gist if len(gist) <= 200 else gist[:200] + "..."


class RunRecorder(Callback):
    """Writes every event to metrics.jsonl, keeps status.json current, watches the stop file."""

    def __init__(self, run_dir: Path, writer: MetricsWriter):
        self.run_dir, self.writer = run_dir, writer

    def on_train_begin(self, event, control):
        self.writer.write(event)
        write_status(self.run_dir, epochs=event["epochs"], parameters=event["parameters"],
                     train_size=event["train_size"])

    def on_batch_end(self, event, control):
        self.writer.write(event)
        control.should_stop = control.should_stop or stop_requested(self.run_dir)

    def on_epoch_end(self, event, control):
        self.writer.write(event)
        write_status(self.run_dir, epoch=event["epoch"], best_dev_accuracy=event["best_dev_accuracy"],
                     best_epoch=event["best_epoch"], message=f"epoch {event['epoch']} of {event['epochs']} done")
        control.should_stop = control.should_stop or stop_requested(self.run_dir)

    def on_probe(self, event, control):
        self.writer.write(event)

    def on_train_end(self, event, control):
        self.writer.write(event)
        write_status(self.run_dir, elapsed=event["elapsed"], cpu_seconds=event.get("cpu_seconds"))


def prepare_data(config: RunConfig, corpus, vocab: Vocab):
    """(train, dev, test) EncodedDatasets and the label scheme, as the config asks."""
    scheme = label_scheme(config.data.labels)
    train = corpus.examples(scheme, "train", phrases=config.data.phrases)[:config.data.train_limit]
    dev, test = evaluation_data(config, corpus, vocab, scheme)
    return EncodedDataset(train, vocab), dev, test, scheme


def evaluation_data(config: RunConfig, corpus, vocab: Vocab, scheme) -> tuple:
    """(dev, test) EncodedDatasets: the sentences a run of this config is scored on."""
    return tuple(EncodedDataset(corpus.examples(scheme, split)[:config.data.eval_limit], vocab)
                 for split in ("dev", "test"))


def class_weights(config: RunConfig, corpus, scheme, train_data) -> list[float] | None:
    """The loss weights `config.train.reweight` asks for: training examples counted like sentences."""
    if not config.train.reweight:
        return None
    sentences = [e.label for e in corpus.examples(scheme, "train")]
    return sentence_class_weights(train_data.labels, sentences, scheme.num_classes)


def train_run(config: RunConfig | None, run_dir: str | Path | None = None, *, root: str | Path | None = None,
              name: str | None = None, data_dir: str | Path | None = None, corpus=None,
              callbacks: Sequence = (), control=None, catch_signals: bool = True,
              resume: bool = False, device: str = "cpu", world=None) -> tuple[Path, dict]:
    """Train a run to its end and return (run directory, final status).

    A new run goes to `run_dir` (new, empty or queued), else `<root>/<name>`. With
    `resume=True`, `run_dir` is an existing run that continues from last.pt with the settings
    in its config.json (only `config.train.epochs` is taken from `config`, to extend a run).
    The final status holds dev and test results of the best checkpoint when the run finished.
    SIGTERM / Ctrl-C stop it between batches (in the main thread). The directory is claimed
    (store.claim_run) while it trains: a second trainer on the same run fails at once.
    Under torchrun (`world`, distributed.py) every rank trains, only rank 0 writes the run
    directory; the other ranks return (run_dir or None, their final figures without results).
    """
    control, world = control or TrainControl(), world or World()
    if not resume:  # a bad destination fails before the data is loaded
        _check_destination(config, run_dir, name)
    probes = read_probe_sentences(settings.probe_sentences_path()) if world.is_main else None  # a bad file: now
    corpus = corpus or load_corpus(data_dir)
    with ExitStack() as claims:
        resume_state = None
        if resume:
            if world.is_main:
                claims.enter_context(claim_run(run_dir))  # before reading: of two resumes one goes on
            run_dir, config, vocab, resume_state = _prepare_resume(Path(run_dir), config)
        else:
            vocab = corpus.build_vocab(config.data.min_freq, config.data.max_vocab)
        train_data, dev_data, test_data, scheme = prepare_data(config, corpus, vocab)
        config.model.vocab_size, config.model.num_classes = len(vocab), scheme.num_classes
        torch.manual_seed(config.train.seed)  # the same seed builds the same initial weights
        model = build_model(config.model, vocab)
        world.barrier()  # every rank has read a resumed run before rank 0 marks it running
        if world.is_main:
            if not resume:
                run_dir = _create_claimed(config, vocab, run_dir, root, name, claims)
                # The new run's directory exists from here on.
                record_treebank(run_dir, corpus)  # so `evaluate RUN` finds the same data (provenance.py)
            _mark_running(run_dir, config, resume)
        weights = class_weights(config, corpus, scheme, train_data)
        scorer = ProbeScorer(probes, vocab) if probes else None  # scored at every epoch end (rank 0)
        return _train(model, config, scheme, (train_data, dev_data, test_data), weights, run_dir, world,
                      callbacks, control, catch_signals, resume_state, device, scorer)


def _check_destination(config: RunConfig, run_dir, name: str | None) -> None:
    """The settings are trusted: validated where they came in (command line, page, config.json)."""
    if run_dir is not None:
        check_run_target(Path(run_dir))
    elif name:
        sanitize_run_name(name)


def _create_claimed(config: RunConfig, vocab: Vocab, run_dir, root, name, claims: ExitStack) -> Path:
    """A new run directory, claimed before its files are written (a given path) or right after (a new name)."""
    if run_dir is not None:
        claims.enter_context(claim_run(run_dir, create=True))
        return create_run(config, vocab, path=run_dir)
    run_dir = create_run(config, vocab, root=root, name=name)  # os.mkdir of a new name: nobody else has it
    claims.enter_context(claim_run(run_dir))
    return run_dir


def _mark_running(run_dir: Path, config: RunConfig, resumed: bool) -> None:
    write_json(Path(run_dir) / CONFIG, config.to_dict())
    write_status(run_dir, state="running", pid=os.getpid(), pid_started=process_start_time(os.getpid()),
                 host=this_host(), started_at=time.time(), ended_at=None,
                 message="resuming" if resumed else "starting", epochs=config.train.epochs)


def _train(model: nn.Module, config: RunConfig, scheme, data: tuple, weights, run_dir, world, callbacks, control,
           catch_signals: bool, resume_state: dict | None, device, scorer=None) -> tuple[Path | None, dict]:
    """fit, recorded into the run directory by rank 0; then the best checkpoint's figures when finished."""
    train_data, dev_data, test_data = data
    main = world.is_main
    run_dir = Path(run_dir) if run_dir is not None else None
    writer = MetricsWriter(run_dir) if main else None
    save_best = (lambda now, info: save_checkpoint(run_dir / CHECKPOINT, now, config.model, scheme, info)) \
        if main else None
    if main and resume_state is None:  # a loadable checkpoint from the start, even if the first batch diverges
        save_best(model, {"epoch": 0, "provisional": True})
    try:
        with stop_on_signals(control) if catch_signals else nullcontext():
            result = fit(model, train_data, dev_data, config.train, num_classes=scheme.num_classes,
                         class_names=scheme.class_names, class_weights=weights,
                         callbacks=[*callbacks, RunRecorder(run_dir, writer)] if main else [],  # recorder last:
                         control=control, save_best=save_best,  # it sees a stop file another callback wrote
                         save_state=(lambda state: save_torch(run_dir / LAST, state)) if main else None,
                         resume=resume_state, device=device, world=world, epoch_fields=scorer)
        final = {"state": result.state, "message": result.message, "epoch": result.epochs_done,
                 "best_dev_accuracy": result.best_dev_accuracy, "best_epoch": result.best_epoch}
        save_rank_weights(world, model)  # test hook; does nothing unless its variable is set
        if not main:
            return run_dir, final
        if result.state == "finished":  # a stop should be quick: evaluate_best gives figures later
            best, _, _, _ = load_model(run_dir)
            if config.train.calibrate != "off":  # class offsets chosen on dev, written into the checkpoint
                final["calibration"] = calibrate_checkpoint(best, run_dir / CHECKPOINT, dev_data,
                                                            config.train.calibrate, device)
            final["results"] = _evaluate_checkpoint(best, {"dev": dev_data, "test": test_data}, writer, scheme,
                                                    device)
        return run_dir, write_status(run_dir, ended_at=time.time(), **final)
    except KeyboardInterrupt:
        if main:
            _record_end(run_dir, state="interrupted",
                        message=f"interrupted at once (second Ctrl-C); continue it with --resume {run_dir}")
        raise
    except OSError as err:
        if main:  # a full disk, a folder made read-only: the run is sound, and resumable once that is fixed
            _record_end(run_dir, state="interrupted",
                        message=f"Training stopped: it could not write its files ({err.strerror or err}). What it "
                                "saved so far is kept; free some disk space before going on.")
        raise
    except BaseException as err:
        if main:
            _record_end(run_dir, state="failed", message=f"training crashed: {type(err).__name__}: {err}")
        raise
    finally:
        if writer is not None:
            _close_quietly(writer)


def _record_end(run_dir: Path, **fields) -> None:
    """The status of a run that ended by an exception, when it can be written.

    A deleted run stays deleted; on a full disk the status keeps saying `running`, which read_status
    reports as `interrupted` once this process has ended. Either way the exception that ended the run
    is the one raised, not this write's.
    """
    try:
        write_status(run_dir, ended_at=time.time(), **fields)
    except OSError:  # RunNotFound included
        pass


def _close_quietly(writer: MetricsWriter) -> None:
    """Close metrics.jsonl; a flush that fails (a full disk) must not hide why the run ended."""
    try:
        writer.close()
    except OSError:
        pass


def _evaluate_checkpoint(best: nn.Module, splits: dict, writer: MetricsWriter, scheme, device=None) -> dict:
    """Figures of the best checkpoint's model on each split, each also appended to metrics.jsonl."""
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
