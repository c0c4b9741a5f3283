"""Settings as dataclasses, one commented line per field, and the named presets.

A run's `config.json` is `RunConfig.to_dict()`; a checkpoint stores `ModelConfig` so the
model can be rebuilt without the code that trained it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

CELLS = ("scratch", "rnn", "lstm", "gru")
POOLINGS = ("last", "max", "mean")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class DataConfig:
    labels: int = 3                 # label scheme: 2 (binary, neutral dropped), 3 or 5 classes
    phrases: bool = False           # train on every distinct labelled phrase of train (dev/test stay sentences)
    min_freq: int = 1               # vocabulary: minimum count in the training sentences
    max_vocab: int | None = None    # vocabulary: keep at most this many words (specials not counted)
    train_limit: int | None = None  # use only the first N training examples (tests, quick demos)
    eval_limit: int | None = None   # use only the first N dev / test examples


@dataclass
class ModelConfig:
    vocab_size: int = 0             # filled from the vocabulary when the run starts
    num_classes: int = 3            # filled from the label scheme
    cell: str = "scratch"           # scratch (our RNNLayer), rnn, lstm, gru (torch's fused cells)
    embedding_dim: int = 100        # size of a word vector
    hidden_dim: int = 128           # size of the hidden state (per direction)
    layers: int = 1                 # stacked recurrent layers
    bidirectional: bool = False     # also read the sentence right to left
    dropout: float = 0.0            # on embeddings, between layers and before the output layer
    pooling: str = "last"           # sentence summary: last state, or max / mean over time
    vectors: str | None = None      # path of a GloVe-format text file of pretrained word vectors
    freeze_vectors: bool = False    # keep pretrained vectors fixed during training
    tutorial: bool = False          # the tutorial's SentimentRNN exactly (padding processed as tokens)


@dataclass
class TrainConfig:
    optimizer: str = "adam"         # adam or sgd
    lr: float = 1e-3                # learning rate
    weight_decay: float = 0.0       # L2 penalty
    momentum: float = 0.9           # for sgd only
    clip: float | None = 5.0        # clip the gradient's global norm to this (None: no clipping)
    epochs: int = 5                 # passes over the training data
    batch_size: int = 64            # sentences per batch
    max_batches: int | None = None  # stop each epoch after this many batches (the tutorial's demo: 200)
    bptt: int | None = None         # truncated backpropagation through time: k steps (None: full)
    patience: int | None = 3        # early stopping: epochs without a better dev accuracy (None: never)
    seed: int = 0                   # same seed, same curve
    bucketing: bool = True          # batch sentences of similar length together
    probe_every: int = 1            # gradient-through-time probe every N epochs (0: never)
    reweight: bool = False          # weight the loss so classes count as among train sentences (phrases: half neutral)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str | None = None       # the preset it started from, for display

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        return cls(data=_from_dict(DataConfig, data.get("data", {})),
                   model=_from_dict(ModelConfig, data.get("model", {})),
                   train=_from_dict(TrainConfig, data.get("train", {})),
                   preset=data.get("preset"))


def _from_dict(kind, values: dict[str, Any]):
    known = {f.name for f in fields(kind)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {kind.__name__} settings: {', '.join(sorted(unknown))}")
    return kind(**values)


def validate_model(m: ModelConfig) -> None:
    """Raise ValueError with a sentence naming the bad model setting (build_model and the encoder use this)."""
    if m.cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {m.cell!r}")
    if m.pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {m.pooling!r}")
    for name, value in (("embedding_dim", m.embedding_dim), ("hidden_dim", m.hidden_dim), ("layers", m.layers)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    if not 0.0 <= m.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {m.dropout!r}")
    if m.tutorial and (m.cell != "scratch" or m.layers != 1 or m.bidirectional or m.pooling != "last" or m.dropout):
        raise ValueError("the tutorial's model is one left-to-right scratch RNN layer read at its last step, without "
                         "dropout; switch tutorial off to use other cells, layers, directions, pooling or dropout")


def validate(config: RunConfig) -> None:
    """Raise ValueError with a sentence naming the bad setting."""
    m, t, d = config.model, config.train, config.data
    validate_model(m)
    if t.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {t.optimizer!r}")
    if d.labels not in (2, 3, 5):
        raise ValueError(f"labels must be 2, 3 or 5, not {d.labels!r}")
    for name, value, low in (("epochs", t.epochs, 1), ("batch_size", t.batch_size, 1), ("min_freq", d.min_freq, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number of at least {low}, not {value!r}")
    if not t.lr > 0:
        raise ValueError(f"learning rate must be positive, not {t.lr!r}")
    if t.bptt is not None and t.bptt < 1:
        raise ValueError(f"bptt must be at least 1 step, not {t.bptt!r}")
    if t.clip is not None and not t.clip > 0:
        raise ValueError(f"clip must be positive, not {t.clip!r}")


def _best_preset(labels: int) -> RunConfig:
    """The tuned recipe shared by best-2, best-3 and best-5: a bidirectional LSTM trained on phrases.

    For 3 and 5 classes the loss is reweighted to the sentences' class shares, because half the
    training phrases are neutral but only a fifth of the sentences are (README, Results).
    """
    return RunConfig(
        data=DataConfig(labels=labels, phrases=True),
        model=ModelConfig(cell="lstm", embedding_dim=100, hidden_dim=150, bidirectional=True, dropout=0.5,
                          pooling="max"),
        train=TrainConfig(optimizer="adam", lr=2e-3, batch_size=64, epochs=3, clip=5.0, patience=2,
                          reweight=labels != 2),
        preset=f"best-{labels}")


# The presets. `seed` is the tutorial's model and settings; the best-* presets are tuned per label
# scheme (figures in the README's results table, from `python -m sentiment_core evaluate`).
PRESETS: dict[str, RunConfig] = {
    "seed": RunConfig(
        data=DataConfig(labels=3),
        model=ModelConfig(cell="scratch", embedding_dim=100, hidden_dim=128, tutorial=True),
        train=TrainConfig(optimizer="adam", lr=1e-3, batch_size=4, epochs=4, max_batches=200,
                          clip=None, patience=None, bucketing=True),
        preset="seed"),
    # Trained on every labelled phrase of train (the lever that matters most on SST), evaluated
    # on sentences: a bidirectional LSTM read with max pooling over time. Phrases are half
    # neutral, sentences a fifth: for 3 and 5 classes the loss is reweighted to the sentences'
    # class shares. Figures and timings: the README's Results table.
    **{f"best-{labels}": _best_preset(labels) for labels in (2, 3, 5)},
}


def preset(name: str) -> RunConfig:
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
    return RunConfig.from_dict(base.to_dict())  # a copy the caller may change
