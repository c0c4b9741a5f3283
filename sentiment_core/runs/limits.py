"""Operator limits for training on a shared server, and the check of a RunConfig against them.

The dashboard lets anyone start training runs on the machine that serves it. These limits,
read from environment variables when the app (or a job call) asks for them, keep one run
small enough for a 2-core machine (the defaults: about 10 minutes and well under 2 GB each)
and bound how many runs train or wait at once. The command line ignores them: whoever types
`python -m sentiment_core train` owns the machine.

The limits themselves (a Limits dataclass generated from the training-limits rows of the
settings table, sentiment_core/settings_table.py) are read by settings.limits_from_env; this
module checks a run against them.

Memory: with the default caps the largest model (3 bidirectional layers of 512, embeddings of
300, a batch of the 128 longest training sentences, the phrase list loaded) peaks at about
1.5 GB resident, measured with `python scripts/bench_page_vs_cli.py --peak-memory` (batches of
256 would need 2.3 GB); every other allowed setting needs less.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sentiment_core.settings import (ENV_VARS, Limits, LimitsError, describe_limits,  # noqa: F401 (one place)
                                     limits_from_env)
from sentiment_core.config import SETTINGS, RunConfig, get_setting


class LimitExceeded(ValueError):
    """A run's settings are outside the operator's limits; `problems` lists each one."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))


# ---------------------------------------------------------------------------------------------
# How long a run takes


@dataclass(frozen=True)
class DataShape:
    """What the cost of a run depends on in the data (from `data_shape`)."""

    train_size: int               # training examples (sentences or phrases, after train_limit)
    train_length: float           # their mean length in tokens, <sos> and <eos> included
    eval_size: int                # dev + test sentences (after eval_limit)
    dev_size: int                 # dev sentences (after eval_limit): evaluated every epoch
    eval_length: float            # mean dev / test length in tokens, <sos> and <eos> included
    vocab_size: int               # the vocabulary the run would build (specials included)


def data_shape(corpus, config: RunConfig) -> DataShape:
    """The DataShape of `config`'s data on a corpus (sentiment_core.data.corpus.Corpus)."""
    d = config.data
    train = [len(e.tokens) + 2 for e in corpus.examples(d.labels, "train", phrases=d.phrases)[:d.train_limit]]
    dev = [len(e.tokens) + 2 for e in corpus.examples(d.labels, "dev")[:d.eval_limit]]
    test = [len(e.tokens) + 2 for e in corpus.examples(d.labels, "test")[:d.eval_limit]]
    evaluated = dev + test
    return DataShape(train_size=len(train), train_length=sum(train) / max(len(train), 1),
                     eval_size=len(evaluated), dev_size=len(dev),
                     eval_length=sum(evaluated) / max(len(evaluated), 1),
                     vocab_size=len(corpus.build_vocab(d.min_freq, d.max_vocab)))


# The cost model, fitted to single-thread CPU time per training sentence (forward, backward and
# Adam step) measured on the development machine for LSTM / GRU / RNN / scratch cells with
# embeddings of 100-300, hidden sizes of 64-512, 1-3 layers, one or two directions, batches of
# 4-256, on sentences and on phrases (`python scripts/bench_page_vs_cli.py --estimate` prints
# the measurements beside the estimates). A sentence costs
#   (its length / 24 tokens) * (STEP_MS * layer-directions / batch size      (per-step overhead)
#                               + FLOP_MS * recurrent multiply-adds per token, in millions)
#   + PARAMETER_MS * parameters in millions / batch size                     (the optimizer step)
# The fit is within about -25 % / +35 % of the measurements; SAFETY leans it to the slow side.
STEP_MS, FLOP_MS, PARAMETER_MS, SAFETY, REFERENCE_LENGTH = 1.9, 2.26, 13.0, 1.1, 24.0
EVAL_SHARE = 1 / 3  # evaluation runs forward only, in batches of 256
GATES = {"lstm": 4, "gru": 3, "rnn": 1, "scratch": 1}


@dataclass(frozen=True)
class RunEstimate:
    examples_per_epoch: int
    batches_per_epoch: int
    seconds: float                # estimated training + evaluation time, single-core CPU seconds

    @property
    def minutes(self) -> float:
        return self.seconds / 60


def _layer_sizes(config: RunConfig):
    """(gates, input width, hidden size) of every layer and direction."""
    m = config.model
    directions = 2 if m.bidirectional else 1
    width = m.embedding_dim
    for _ in range(m.layers):
        for _ in range(directions):
            yield GATES.get(m.cell, 4), width, m.hidden_dim
        width = directions * m.hidden_dim


def recurrent_megaflops(config: RunConfig) -> float:
    """Multiply-adds per token of the recurrent layers, in millions (forward only)."""
    return sum(gates * hidden * (width + hidden) for gates, width, hidden in _layer_sizes(config)) / 1e6


def megaparameters(config: RunConfig, vocab_size: int) -> float:
    """Weights in millions: embedding table, recurrent layers and the output layer."""
    m = config.model
    recurrent = sum(gates * hidden * (width + hidden + 2) for gates, width, hidden in _layer_sizes(config))
    head = (m.hidden_dim * (2 if m.bidirectional else 1) + 1) * max(config.data.labels, m.num_classes)
    return (vocab_size * m.embedding_dim + recurrent + head) / 1e6


def milliseconds_per_sentence(config: RunConfig, length: float, batch_size: int, vocab_size: int) -> float:
    """Estimated single-thread CPU milliseconds to train on one example of `length` tokens."""
    layer_directions = config.model.layers * (2 if config.model.bidirectional else 1)
    batch_size = max(batch_size, 1)
    per_token = STEP_MS * layer_directions / batch_size + FLOP_MS * recurrent_megaflops(config)
    optimizer = PARAMETER_MS * megaparameters(config, vocab_size) / batch_size
    return SAFETY * (per_token * length / REFERENCE_LENGTH + optimizer)


def estimate_run(config: RunConfig, shape: DataShape) -> RunEstimate:
    """How much work a run is: examples and batches per epoch, and estimated seconds."""
    t = config.train
    per_epoch = shape.train_size if t.max_batches is None else min(shape.train_size, t.max_batches * t.batch_size)
    batches = math.ceil(per_epoch / t.batch_size) if per_epoch else 0
    train_ms = t.epochs * per_epoch * milliseconds_per_sentence(config, shape.train_length, t.batch_size,
                                                                 shape.vocab_size)
    evaluated = t.epochs * shape.dev_size + shape.eval_size  # dev each epoch, dev + test at the end
    eval_ms = evaluated * milliseconds_per_sentence(config, shape.eval_length, 256, shape.vocab_size) * EVAL_SHARE
    return RunEstimate(per_epoch, batches, (train_ms + eval_ms) / 1000)


# ---------------------------------------------------------------------------------------------
# The check


def limit_problems(config: RunConfig, limits: Limits, shape: DataShape | None = None) -> list[str]:
    """One sentence per setting outside the limits (empty: the run may start).

    Without `shape` the time estimate is not checked.
    """
    problems = []
    for s in SETTINGS.values():  # the settings the schema caps with a limit, named as on the page
        value, limit = get_setting(config, s.key), getattr(limits, s.limit) if s.limit else None
        if limit is not None and isinstance(value, (int, float)) and value > limit:
            name = s.widget.label if s.widget else s.label
            problems.append(f"{name} is {value}, above this server's limit of {limit:g} "
                            f"({ENV_VARS[s.limit][0]}); choose {limit:g} or less.")
    if shape is not None and not problems:
        estimate = estimate_run(config, shape)
        if estimate.minutes > limits.max_run_minutes:
            epochs = config.train.epochs
            problems.append(f"This run would take about {estimate.minutes:.0f} minutes "
                            f"({estimate.examples_per_epoch:,} examples x {epochs} epochs), above this server's "
                            f"limit of {limits.max_run_minutes:g} minutes ({ENV_VARS['max_run_minutes'][0]}); use fewer "
                            "epochs, a smaller model, sentences instead of phrases, or a batch limit per epoch.")
    return problems


def check_limits(config: RunConfig, limits: Limits, shape: DataShape | None = None) -> None:
    """Raise LimitExceeded listing every setting outside the limits."""
    problems = limit_problems(config, limits, shape)
    if problems:
        raise LimitExceeded(problems)
