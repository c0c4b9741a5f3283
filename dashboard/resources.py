"""Where the dashboard's data lives, and every cached object the pages share.

The only module that uses st.cache_data / st.cache_resource. Cached functions that work on
the corpus take it as `_corpus` (Streamlit does not hash a leading-underscore argument) plus
`corpus_key`, the treebank's checksum, so a replaced treebank never serves stale figures.
Call them through the small wrappers below, which pass the key for you. A page that needs a
cached object of its own adds it here, in a section of its own at the end of this file.

Paths (environment variables are read on every call, so tests can set them per app run):
  $SENTIMENT_DATA_DIR   the project's data root (default <repo>/data)
  $SST_DIR              the treebank folder; else a folder chosen on the home page for this
                        session; else <data root>/sst, where downloads and uploads are installed
  $SENTIMENT_RUNS_DIR   training runs (default <data root>/runs)
  $SENTIMENT_CACHE_DIR  the tokenized-corpus cache (default <data root>/cache)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from sentiment_core.analysis import explore
from sentiment_core.analysis import stats
from sentiment_core.analysis import vocab_stats
from sentiment_core import settings
from sentiment_core.data.corpus import Corpus, load_corpus
from sentiment_core.data.treebank import SPLITS, SST_DIR_ENV, TreebankError, TreebankNotFound, locate_treebank, split_paths
from sentiment_core.data.text import Vocab, label_scheme

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "SENTIMENT_DATA_DIR"
RUNS_DIR_ENV = "SENTIMENT_RUNS_DIR"
CACHE_DIR_ENV = "SENTIMENT_CACHE_DIR"
SESSION_TREEBANK = "treebank_folder"  # session_state key: a folder chosen on the home page


# ---------------------------------------------------------------------------------------------
# Paths


def data_root() -> Path:
    return settings.data_root()


def install_dir() -> Path:
    """Where a downloaded or uploaded treebank is installed (and looked for last)."""
    return settings.default_sst_dir()


def runs_root() -> Path:
    return settings.default_runs_root()


def corpus_cache_dir() -> Path:
    return settings.default_cache_dir()


@dataclass(frozen=True)
class TreebankState:
    folder: Path | None   # the folder holding the split files; None when there is none
    origin: str           # what chose it: "this session's folder", "$SST_DIR" or "the data folder"
    problem: str | None   # why an explicitly chosen folder is not usable, as a sentence


def treebank_state() -> TreebankState:
    """Which treebank the app uses: this session's folder, then $SST_DIR, then <data root>/sst.

    Not cached: it is three file checks, and an install must show on the next rerun.
    """
    session_folder = st.session_state.get(SESSION_TREEBANK)
    origin = ("this session's folder" if session_folder
              else f"${SST_DIR_ENV}" if os.environ.get(SST_DIR_ENV) else "the data folder")
    try:
        folder = locate_treebank(session_folder, os.environ, install_dir())
    except TreebankNotFound as err:
        return TreebankState(None, origin, str(err))
    return TreebankState(folder, origin, None)


def use_folder_for_session(folder: Path | None) -> None:
    """Read the treebank from `folder` for the rest of this browser session (None: forget it)."""
    if folder is None:
        st.session_state.pop(SESSION_TREEBANK, None)
    else:
        st.session_state[SESSION_TREEBANK] = str(folder)


def _fingerprint(folder: Path) -> tuple:
    """Changes when a split file is replaced, so the cached corpus is reloaded."""
    return tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in split_paths(folder).values())


# ---------------------------------------------------------------------------------------------
# The corpus


@st.cache_resource(show_spinner="Reading the treebank...", max_entries=2)
def _load_corpus(folder: str, fingerprint: tuple, cache_dir: str) -> Corpus:
    return load_corpus(folder, cache_dir=cache_dir)


def corpus_for(state: TreebankState) -> Corpus:
    """The tokenized corpus of the treebank in use (raises TreebankError when it cannot be read)."""
    if state.folder is None:
        raise TreebankNotFound(state.problem or "No treebank is installed yet.")
    return _load_corpus(str(state.folder), _fingerprint(state.folder), str(corpus_cache_dir()))


def require_corpus() -> Corpus:
    """The corpus for a page; when there is none, say why and what to do, and stop the page."""
    state = treebank_state()
    if state.folder is None:
        if state.problem:
            st.error(state.problem)
        st.warning("This page needs the Stanford Sentiment Treebank. Open **Home** (first in the menu) "
                   "to download it, upload its zip or point the app at a folder that holds it.")
        st.stop()
    try:
        return corpus_for(state)
    except (TreebankError, OSError) as err:
        st.error(f"The treebank in {state.folder} could not be read: {err}")
        st.stop()


# ---------------------------------------------------------------------------------------------
# Figures about the data (the explorer and vocabulary pages)


@st.cache_data(show_spinner=False, max_entries=16)
def _data_summary(_corpus: Corpus, corpus_key: str, labels: int, phrases: bool, min_freq: int) -> dict:
    return stats.data_summary(_corpus, labels, phrases, min_freq)


def data_summary(corpus: Corpus, labels: int = 3, phrases: bool = False, min_freq: int = 1) -> dict:
    return _data_summary(corpus, corpus.checksum, labels, phrases, min_freq)


@st.cache_resource(show_spinner=False, max_entries=6)
def _examples(_corpus: Corpus, corpus_key: str, labels: int, split: str, phrases: bool) -> list:
    return _corpus.examples(labels, split, phrases)


def examples(corpus: Corpus, labels: int, split: str, phrases: bool = False) -> list:
    """corpus.examples(labels, split, phrases), built once (shared, do not modify)."""
    return _examples(corpus, corpus.checksum, labels, split, phrases)


@st.cache_data(show_spinner=False, max_entries=16)
def _split_label_counts(_corpus: Corpus, corpus_key: str, labels: int, phrases: bool) -> dict:
    return explore.split_label_counts(_corpus, labels, phrases)


def split_label_counts(corpus: Corpus, labels: int, phrases: bool = False) -> dict[str, dict[str, int]]:
    """Label counts per split, as data_summary counts them (without its padding and OOV work)."""
    return _split_label_counts(corpus, corpus.checksum, labels, phrases)


@st.cache_resource(show_spinner=False, max_entries=16)
def _vocabulary(_corpus: Corpus, corpus_key: str, min_freq: int) -> Vocab:
    return _corpus.build_vocab(min_freq)


def vocabulary(corpus: Corpus, min_freq: int = 1) -> Vocab:
    """The training vocabulary at `min_freq` (shared, do not modify)."""
    return _vocabulary(corpus, corpus.checksum, min_freq)


@st.cache_resource(show_spinner="Listing the examples...", max_entries=12)
def _example_rows(_corpus: Corpus, corpus_key: str, labels: int, splits: tuple[str, ...],
                  phrases: bool) -> list[explore.Row]:
    return explore.example_rows(_corpus, labels, splits, phrases)


def example_rows(corpus: Corpus, labels: int, splits: tuple[str, ...] = SPLITS,
                 phrases: bool = False) -> list[explore.Row]:
    """The explorer's rows (shared, do not modify)."""
    return _example_rows(corpus, corpus.checksum, labels, tuple(splits), phrases)


@st.cache_data(show_spinner=False, max_entries=8)
def _phrase_label_shares(_corpus: Corpus, corpus_key: str, labels: int, cap: int) -> dict:
    return explore.label_share_by_length(explore.phrase_lengths_and_labels(_corpus, labels),
                                         label_scheme(labels).num_classes, cap)


def phrase_label_shares(corpus: Corpus, labels: int, cap: int = 30) -> dict:
    return _phrase_label_shares(corpus, corpus.checksum, labels, cap)


@st.cache_data(show_spinner=False, max_entries=24)
def _hard_cases(_corpus: Corpus, corpus_key: str, labels: int, splits: tuple[str, ...]) -> dict:
    rows = example_rows(_corpus, labels, splits, phrases=False)
    return explore.hard_case_summary(rows, label_scheme(labels).num_classes)


def hard_cases(corpus: Corpus, labels: int, splits: tuple[str, ...]) -> dict:
    return _hard_cases(corpus, corpus.checksum, labels, tuple(splits))


@st.cache_data(show_spinner=False, max_entries=64)
def _tree_layout(_corpus: Corpus, corpus_key: str, split: str, index: int) -> explore.TreeLayout:
    return explore.tree_layout(_corpus.tree(split, index))


def tree_layout(corpus: Corpus, split: str, index: int) -> explore.TreeLayout:
    return _tree_layout(corpus, corpus.checksum, split, index)


@st.cache_data(show_spinner=False, max_entries=2)
def _ranked_counts(_corpus: Corpus, corpus_key: str) -> list[tuple[str, int]]:
    return vocab_stats.ranked_counts(vocabulary(_corpus, 1).freqs)


def ranked_counts(corpus: Corpus) -> list[tuple[str, int]]:
    """Training tokens by falling count (the vocabulary's order after the specials)."""
    return _ranked_counts(corpus, corpus.checksum)


@st.cache_data(show_spinner=False, max_entries=32)
def _oov_rates(_corpus: Corpus, corpus_key: str, min_freq: int) -> dict[str, float]:
    # all sentences (the 3-class scheme keeps every one), as `python -m sentiment_core data` counts
    vocab = vocabulary(_corpus, min_freq)
    return {split: stats.oov_rate((e.tokens for e in examples(_corpus, 3, split)), vocab) for split in ("dev", "test")}


def oov_rates(corpus: Corpus, min_freq: int) -> dict[str, float]:
    """Share of dev and test tokens outside the vocabulary at `min_freq`."""
    return _oov_rates(corpus, corpus.checksum, min_freq)


POLARISED_WORDS_KEPT = 50  # per class; a page asks for up to this many


@st.cache_data(show_spinner="Scoring words...", max_entries=4)
def _polarised_words(_corpus: Corpus, corpus_key: str, labels: int) -> list:
    prior = vocabulary(_corpus, 1).freqs
    return vocab_stats.polarised_words(examples(_corpus, labels, "train"), label_scheme(labels).num_classes, prior,
                                       POLARISED_WORDS_KEPT)


def polarised_words(corpus: Corpus, labels: int, top_n: int = 15) -> list[list[vocab_stats.PolarWord]]:
    """The top_n most polarised words of each class (top_n <= POLARISED_WORDS_KEPT)."""
    return [words[:top_n] for words in _polarised_words(corpus, corpus.checksum, labels)]


@st.cache_data(show_spinner=False, max_entries=4)
def _padding_by_batch_size(_corpus: Corpus, corpus_key: str, batch_sizes: tuple[int, ...]) -> dict:
    # the training sentences of the default 3-class scheme, seed 0: the figures the data command prints
    lengths = vocab_stats.batch_lengths(examples(_corpus, 3, "train"))
    return vocab_stats.padding_by_batch_size(lengths, batch_sizes, seed=0)


def padding_by_batch_size(corpus: Corpus, batch_sizes: tuple[int, ...]) -> dict:
    return _padding_by_batch_size(corpus, corpus.checksum, tuple(batch_sizes))


@st.cache_data(show_spinner=False, max_entries=4)
def _vocab_size_curve(_corpus: Corpus, corpus_key: str, min_freqs: tuple[int, ...]) -> list[int]:
    return vocab_stats.vocab_size_by_min_freq(vocabulary(_corpus, 1).freqs, min_freqs)


def vocab_size_curve(corpus: Corpus, min_freqs: tuple[int, ...]) -> list[int]:
    """Vocabulary size (specials included) at each min_freq."""
    return _vocab_size_curve(corpus, corpus.checksum, tuple(min_freqs))


@st.cache_data(show_spinner=False, max_entries=4)
def _top_k_coverage(_corpus: Corpus, corpus_key: str, ks: tuple[int, ...]) -> list[float]:
    return vocab_stats.top_k_coverage(vocabulary(_corpus, 1).freqs, ks)


def top_k_coverage(corpus: Corpus, ks: tuple[int, ...]) -> list[float]:
    """Share of training tokens covered by the k most frequent words, for each k."""
    return _top_k_coverage(corpus, corpus.checksum, tuple(ks))


@st.cache_data(show_spinner=False, max_entries=64)
def _example_batch(_corpus: Corpus, corpus_key: str, min_freq: int, batch_size: int, bucketing: bool, seed: int):
    return vocab_stats.example_batch(examples(_corpus, 3, "train"), vocabulary(_corpus, min_freq), batch_size,
                                     bucketing, seed)


def example_batch(corpus: Corpus, min_freq: int, batch_size: int, bucketing: bool, seed: int):
    """One batch of the 3-class training sentences, encoded with the vocabulary at min_freq."""
    return _example_batch(corpus, corpus.checksum, min_freq, batch_size, bucketing, seed)


# ---------------------------------------------------------------------------------------------
# The walkthrough page


@st.cache_resource(show_spinner=False, max_entries=2)
def _train_sentence_ids(_corpus: Corpus, corpus_key: str) -> list[list[int]]:
    vocab = vocabulary(_corpus, 1)
    return [vocab.encode(tokens, add_sos_eos=True) for tokens, _, _ in _corpus.sentences["train"]]


def train_sentence_ids(corpus: Corpus) -> list[list[int]]:
    """Every training sentence as indices with <sos> / <eos> (vocabulary at min_freq 1; shared, do not modify)."""
    return _train_sentence_ids(corpus, corpus.checksum)


def _file_stamp(path: Path) -> tuple | None:
    """Changes whenever the file is rewritten or appended to; None while it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


@st.cache_data(show_spinner=False, max_entries=64)
def _probe_events(run_dir: str, stamp: tuple | None) -> list[dict]:
    from sentiment_core.training.metrics import read_metrics

    events, _ = read_metrics(run_dir)
    return [e for e in events if e.get("event") == "probe"]


def probe_events(run_dir: Path) -> list[dict]:
    """The gradient-through-time probe events of a run's metrics.jsonl (re-read when it grows)."""
    from sentiment_core.training.store import METRICS

    return _probe_events(str(run_dir), _file_stamp(Path(run_dir) / METRICS))


@st.cache_resource(show_spinner="Loading the run's word vectors...", max_entries=4)
def _run_embedding(run_dir: str, stamp: tuple | None):
    from sentiment_core.analysis.lessons import run_embedding

    return run_embedding(run_dir)


def run_embedding(run_dir: Path):
    """(vocab, embedding table) of a run's best checkpoint (shared, do not modify)."""
    from sentiment_core.training.store import CHECKPOINT

    return _run_embedding(str(run_dir), _file_stamp(Path(run_dir) / CHECKPOINT))


# ---------------------------------------------------------------------------------------------
# The training page


@st.cache_resource(show_spinner=False, max_entries=64)
def _metrics_follower(run_dir: str):
    from sentiment_core.training.metrics import MetricsFollower

    return MetricsFollower(run_dir)


def run_metrics(run_dir: Path):
    """A run's metrics so far (training.metrics.RunMetrics); each call reads only what was appended since the last.

    One follower per run directory serves every session (it locks itself); a replaced or
    truncated metrics file is read again from the start. Raises RunNotFound for a deleted run.
    """
    return _metrics_follower(str(Path(run_dir).resolve())).update()


@st.cache_data(show_spinner=False, max_entries=32)
def _data_shape(_corpus: Corpus, corpus_key: str, data_settings: tuple):
    from sentiment_core.training.config import DataConfig, RunConfig
    from sentiment_core.training.limits import data_shape

    return data_shape(_corpus, RunConfig(data=DataConfig(*data_settings)))


def data_shape(corpus: Corpus, config):
    """limits.DataShape of a run config's data (sizes, mean lengths, vocabulary), for the time estimate."""
    from dataclasses import astuple

    return _data_shape(corpus, corpus.checksum, astuple(config.data))


# ---------------------------------------------------------------------------------------------
# The playground page


def _checkpoint_key(run_dir: Path) -> tuple[str, tuple | None]:
    """(checkpoint path, (size, modification time)): a retrained or replaced model gets a new key."""
    from sentiment_core.training.store import CHECKPOINT

    checkpoint = (Path(run_dir) / CHECKPOINT).resolve()
    return str(checkpoint), _file_stamp(checkpoint)


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def _predictor(checkpoint: str, stamp: tuple | None, max_tokens: int):
    from sentiment_core.analysis.inference import Predictor

    return Predictor.from_run(Path(checkpoint).parent, max_tokens)


def predictor(run_dir: Path, max_tokens: int):
    """inference.Predictor of a run's best checkpoint, loaded once per checkpoint version (shared, read-only).

    Raises runs.RunError when the run's model cannot be loaded.
    """
    return _predictor(*_checkpoint_key(run_dir), max_tokens)


@st.cache_data(show_spinner=False, max_entries=256)
def _sentence_answer(checkpoint: str, stamp: tuple | None, max_tokens: int, text: str) -> dict:
    model = _predictor(checkpoint, stamp, max_tokens)
    prediction = model.predict(text)
    return {"prediction": prediction, "trajectory": model.prefix_probabilities(prediction.encoded),
            "gradient_x_input": model.gradient_times_input(prediction.encoded)}


def sentence_answer(run_dir: Path, max_tokens: int, text: str) -> dict:
    """{"prediction", "trajectory", "gradient_x_input"} for one sentence (inference.InferenceError if unusable)."""
    return _sentence_answer(*_checkpoint_key(run_dir), max_tokens, text)


@st.cache_data(show_spinner="Integrating gradients...", max_entries=256)
def _integrated_gradients(checkpoint: str, stamp: tuple | None, max_tokens: int, text: str, steps: int,
                          target: int | None):
    model = _predictor(checkpoint, stamp, max_tokens)
    return model.integrated_gradients(model.encode(text), steps=steps, target=target)


def integrated_gradients(run_dir: Path, max_tokens: int, text: str, steps: int, target: int | None = None):
    """inference.Attribution by integrated gradients (baseline: every word <pad>)."""
    return _integrated_gradients(*_checkpoint_key(run_dir), max_tokens, text, steps, target)


@st.cache_data(show_spinner=False, max_entries=64)
def _inside(checkpoint: str, stamp: tuple | None, max_tokens: int, text: str):
    model = _predictor(checkpoint, stamp, max_tokens)
    return model.inside(model.encode(text))


def inside(run_dir: Path, max_tokens: int, text: str):
    """inference.Inside: hidden states and gates over the sentence's tokens."""
    return _inside(*_checkpoint_key(run_dir), max_tokens, text)
