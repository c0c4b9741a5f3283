"""Where the dashboard's data lives, and every cached object the pages share.

The only module that uses st.cache_data / st.cache_resource. A cached function takes the
corpus itself: `hash_funcs` tells Streamlit to key it by the treebank's checksum, so a replaced
treebank never serves stale figures. A cached function of a run takes the run's folder (a
Path), keyed by the folder and the version (size, modification time) of the file it reads, so
a retrained model or a grown metrics file is read again. A page that needs a cached object of
its own adds it here, in a section of its own.

Paths come from sentiment_core.settings (read on every call, so tests can set them per app run);
the treebank is this session's folder, else $SST_DIR, else <data root>/sst.
"""
from __future__ import annotations

import os
from dataclasses import astuple, dataclass
from pathlib import Path

import streamlit as st

from dashboard.messages import shown_path, user_message
from sentiment_core import settings
from sentiment_core.analysis.exploration import explore, stats, vocab_stats
from sentiment_core.data.corpus import Corpus, load_corpus
from sentiment_core.data.text import Tokenizer, Vocab, label_scheme
from sentiment_core.data.treebank import SPLITS, SST_DIR_ENV, TreebankError, TreebankNotFound, locate_treebank, split_paths
from sentiment_core.config import RunConfig
from sentiment_core.runs.limits import data_shape as shape_of
from sentiment_core.runs.store import CHECKPOINT, METRICS, run_dirs
from sentiment_core.runs.metrics import MetricsFollower, read_metrics
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR, SHIPPED_NAMES, SHIPPED_PREFIX
from sentiment_core.runs.checkpoints import load_checkpoint

SESSION_TREEBANK = "treebank_folder"  # session_state key: a folder chosen on the home page
PATH_TYPE = type(Path())  # hash_funcs match the exact type: PosixPath or WindowsPath


# ---------------------------------------------------------------------------------------------
# Paths


def install_dir() -> Path:
    """Where a downloaded or uploaded treebank is installed (and looked for last)."""
    return settings.default_sst_dir()


def runs_root() -> Path:
    return settings.default_runs_root()


@dataclass(frozen=True)
class TreebankState:
    folder: Path | None   # the folder holding the split files; None when there is none
    origin: str           # what chose it: "this session's folder", "$SST_DIR" or "the data folder"
    problem: str | None   # why an explicitly chosen folder is not usable, as a sentence


def treebank_state() -> TreebankState:
    """Which treebank the app uses: this session's folder, then $SST_DIR, then <data root>/sst.

    Not cached: it is three file checks, and an install must show on the next rerun. A public
    demo has no session folder: the operator's treebank is the only one.
    """
    session_folder = None if settings.is_public() else st.session_state.get(SESSION_TREEBANK)
    origin = ("this session's folder" if session_folder
              else f"${SST_DIR_ENV}" if settings.read(SST_DIR_ENV) else "the data folder")
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
    return _load_corpus(str(state.folder), _fingerprint(state.folder), str(settings.default_cache_dir()))


def require_corpus() -> Corpus:
    """The corpus for a page; when there is none, say why and what to do, and stop the page."""
    state = treebank_state()
    if state.folder is None:
        if state.problem:
            st.error(user_message(state.problem))
        st.warning(needs_treebank_note("This page"))
        st.stop()
    try:
        return corpus_for(state)
    except (TreebankError, OSError) as err:
        st.error(f"The treebank in {shown_path(state.folder)} could not be read: {user_message(err)}")
        st.stop()


def needs_treebank_note(what: str) -> str:
    """What to do when `what` ("This page", "Training") needs the treebank and there is none."""
    if settings.is_public():
        return (f"{what} needs the Stanford Sentiment Treebank, which the operator of this demo has not set up "
                "yet.")
    return (f"{what} needs the Stanford Sentiment Treebank. Open **Home** (first in the menu) to download it, "
            "upload its zip or point the app at a folder that holds it.")



# ---------------------------------------------------------------------------------------------
# Figures about the data (the explorer, vocabulary, walkthrough and training pages)

BY_CHECKSUM = {Corpus: lambda corpus: corpus.checksum}  # a corpus is its treebank's checksum


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=BY_CHECKSUM)
def data_summary(corpus: Corpus, labels: int = 3, phrases: bool = False, min_freq: int = 1) -> dict:
    return stats.data_summary(corpus, labels, phrases, min_freq)


@st.cache_resource(show_spinner=False, max_entries=6, hash_funcs=BY_CHECKSUM)
def examples(corpus: Corpus, labels: int, split: str, phrases: bool = False) -> list:
    """corpus.examples(labels, split, phrases), built once (shared, do not modify)."""
    return corpus.examples(labels, split, phrases)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=BY_CHECKSUM)
def split_label_counts(corpus: Corpus, labels: int, phrases: bool = False) -> dict[str, dict[str, int]]:
    """Label counts per split, as data_summary counts them (without its padding and OOV work)."""
    return explore.split_label_counts(corpus, labels, phrases)


@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs=BY_CHECKSUM)
def vocabulary(corpus: Corpus, min_freq: int = 1) -> Vocab:
    """The training vocabulary at `min_freq` (shared, do not modify)."""
    return corpus.build_vocab(min_freq)


@st.cache_resource(show_spinner="Listing the examples...", max_entries=12, hash_funcs=BY_CHECKSUM)
def example_rows(corpus: Corpus, labels: int, splits: tuple[str, ...] = SPLITS,
                 phrases: bool = False) -> list[explore.Row]:
    """The explorer's rows (shared, do not modify)."""
    return explore.example_rows(corpus, labels, tuple(splits), phrases)


@st.cache_data(show_spinner=False, max_entries=8, hash_funcs=BY_CHECKSUM)
def phrase_label_shares(corpus: Corpus, labels: int, cap: int = 30) -> dict:
    return explore.label_share_by_length(explore.phrase_lengths_and_labels(corpus, labels),
                                         label_scheme(labels).num_classes, cap)


@st.cache_data(show_spinner=False, max_entries=24, hash_funcs=BY_CHECKSUM)
def hard_cases(corpus: Corpus, labels: int, splits: tuple[str, ...]) -> dict:
    rows = example_rows(corpus, labels, tuple(splits), phrases=False)
    return explore.hard_case_summary(rows, label_scheme(labels).num_classes)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BY_CHECKSUM)
def tree_layout(corpus: Corpus, split: str, index: int) -> explore.TreeLayout:
    return explore.tree_layout(corpus.tree(split, index))


@st.cache_data(show_spinner=False, max_entries=2, hash_funcs=BY_CHECKSUM)
def ranked_counts(corpus: Corpus) -> list[tuple[str, int]]:
    """Training tokens by falling count (the vocabulary's order after the specials)."""
    return vocab_stats.ranked_counts(vocabulary(corpus, 1).freqs)


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs=BY_CHECKSUM)
def oov_rates(corpus: Corpus, min_freq: int) -> dict[str, float]:
    """Share of dev and test tokens outside the vocabulary at `min_freq`."""
    # all sentences (the 3-class scheme keeps every one), as `python -m sentiment_core data` counts
    vocab = vocabulary(corpus, min_freq)
    return {split: stats.oov_rate((e.tokens for e in examples(corpus, 3, split)), vocab) for split in ("dev", "test")}


POLARISED_WORDS_KEPT = 50  # per class; a page asks for up to this many


@st.cache_data(show_spinner="Scoring words...", max_entries=4, hash_funcs=BY_CHECKSUM)
def most_polarised_words(corpus: Corpus, labels: int) -> list[list[vocab_stats.PolarWord]]:
    """The POLARISED_WORDS_KEPT most polarised words of each class, scored once per label scheme."""
    prior = vocabulary(corpus, 1).freqs
    return vocab_stats.polarised_words(examples(corpus, labels, "train"), label_scheme(labels).num_classes, prior,
                                       POLARISED_WORDS_KEPT)


def polarised_words(corpus: Corpus, labels: int, top_n: int = 15) -> list[list[vocab_stats.PolarWord]]:
    """The top_n most polarised words of each class (top_n <= POLARISED_WORDS_KEPT)."""
    return [words[:top_n] for words in most_polarised_words(corpus, labels)]


@st.cache_data(show_spinner=False, max_entries=4, hash_funcs=BY_CHECKSUM)
def padding_by_batch_size(corpus: Corpus, batch_sizes: tuple[int, ...]) -> dict:
    # the training sentences of the default 3-class scheme, seed 0: the figures the data command prints
    lengths = vocab_stats.batch_lengths(examples(corpus, 3, "train"))
    return vocab_stats.padding_by_batch_size(lengths, tuple(batch_sizes), seed=0)


@st.cache_data(show_spinner=False, max_entries=4, hash_funcs=BY_CHECKSUM)
def vocab_size_curve(corpus: Corpus, min_freqs: tuple[int, ...]) -> list[int]:
    """Vocabulary size (specials included) at each min_freq."""
    return vocab_stats.vocab_size_by_min_freq(vocabulary(corpus, 1).freqs, tuple(min_freqs))


@st.cache_data(show_spinner=False, max_entries=4, hash_funcs=BY_CHECKSUM)
def top_k_coverage(corpus: Corpus, ks: tuple[int, ...]) -> list[float]:
    """Share of training tokens covered by the k most frequent words, for each k."""
    return vocab_stats.top_k_coverage(vocabulary(corpus, 1).freqs, tuple(ks))


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BY_CHECKSUM)
def example_batch(corpus: Corpus, min_freq: int, batch_size: int, bucketing: bool, seed: int):
    """One batch of the 3-class training sentences, encoded with the vocabulary at min_freq."""
    return vocab_stats.example_batch(examples(corpus, 3, "train"), vocabulary(corpus, min_freq), batch_size,
                                     bucketing, seed)


@st.cache_resource(show_spinner=False, max_entries=2, hash_funcs=BY_CHECKSUM)
def train_sentence_ids(corpus: Corpus) -> list[list[int]]:
    """Every training sentence as indices with <sos> / <eos> (vocabulary at min_freq 1; shared, do not modify)."""
    vocab = vocabulary(corpus, 1)
    return [vocab.encode(tokens, add_sos_eos=True) for tokens, _, _ in corpus.sentences["train"]]


# limits.data_shape reads only the config's data settings: the model and training settings must not
# make a new entry (the form changes them often).
@st.cache_data(show_spinner=False, max_entries=32,
               hash_funcs={**BY_CHECKSUM, RunConfig: lambda config: astuple(config.data)})
def data_shape(corpus: Corpus, config: RunConfig):
    """limits.DataShape of a run config's data (sizes, mean lengths, vocabulary), for the time estimate."""
    return shape_of(corpus, config)


# ---------------------------------------------------------------------------------------------
# What a run wrote (the walkthrough, training and playground pages)


def _file_stamp(path: Path) -> tuple | None:
    """Changes whenever the file is rewritten or appended to; None while it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _metrics_version(run_dir: Path) -> tuple:
    return str(run_dir), _file_stamp(run_dir / METRICS)


def _checkpoint_version(run_dir: Path) -> tuple:
    """(checkpoint path, (size, modification time)): a retrained or replaced model gets a new key."""
    checkpoint = (run_dir / CHECKPOINT).resolve()
    return str(checkpoint), _file_stamp(checkpoint)


BY_METRICS = {PATH_TYPE: _metrics_version}        # a run folder is the version of its metrics.jsonl
BY_CHECKPOINT = {PATH_TYPE: _checkpoint_version}  # a run folder is the version of its best checkpoint


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BY_METRICS)
def probe_events(run_dir: Path) -> list[dict]:
    """The gradient-through-time probe events of a run's metrics.jsonl (re-read when it grows)."""
    events, _ = read_metrics(run_dir)
    return [e for e in events if e.get("event") == "probe"]


@st.cache_resource(show_spinner="Loading the run's word vectors...", max_entries=4, hash_funcs=BY_CHECKPOINT)
def run_embedding(run_dir: Path):
    """(vocab, embedding table) of a run's best checkpoint (shared, do not modify)."""
    from sentiment_core.analysis.lessons.basics import run_embedding as read_embedding  # start-up: models, ~0.2 s

    return read_embedding(run_dir)


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs={PATH_TYPE: lambda path: str(path.resolve())})
def _metrics_follower(run_dir: Path):
    return MetricsFollower(str(run_dir.resolve()))


def run_metrics(run_dir: Path):
    """A run's metrics so far (training.metrics.RunMetrics); each call reads only what was appended since the last.

    One follower per run directory serves every session (it locks itself); a replaced or
    truncated metrics file is read again from the start. Raises RunNotFound for a deleted run.
    """
    return _metrics_follower(Path(run_dir)).update()


@st.cache_resource(show_spinner="Loading the model...", max_entries=8, hash_funcs=BY_CHECKPOINT)
def predictor(run_dir: Path, max_tokens: int):
    """inference.Predictor of a run's best checkpoint, loaded once per checkpoint version (shared, read-only).

    Raises runs.RunError when the run's model cannot be loaded.
    """
    from sentiment_core.analysis.inference.predictor import Predictor  # start-up: models, ~0.2 s

    return Predictor.from_run(run_dir, max_tokens)


@st.cache_data(show_spinner=False, max_entries=256, hash_funcs=BY_CHECKPOINT)
def sentence_answer(run_dir: Path, max_tokens: int, text: str) -> dict:
    """{"prediction", "trajectory", "gradient_x_input"} for one sentence (inference.InferenceError if unusable)."""
    model = predictor(run_dir, max_tokens)
    prediction = model.predict(text)
    return {"prediction": prediction, "trajectory": model.prefix_probabilities(prediction.encoded),
            "gradient_x_input": model.gradient_times_input(prediction.encoded)}


@st.cache_data(show_spinner="Integrating gradients...", max_entries=256, hash_funcs=BY_CHECKPOINT)
def integrated_gradients(run_dir: Path, max_tokens: int, text: str, steps: int, target: int | None = None):
    """attributions.Attribution by integrated gradients (baseline: every word <pad>)."""
    model = predictor(run_dir, max_tokens)
    return model.integrated_gradients(model.encode(text), steps=steps, target=target)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BY_CHECKPOINT)
def inside(run_dir: Path, max_tokens: int, text: str):
    """inference.Inside: hidden states and gates over the sentence's tokens."""
    model = predictor(run_dir, max_tokens)
    return model.inside(model.encode(text))


# ---------------------------------------------------------------------------------------------
# A model on a treebank sentence's parse tree (the explorer's sentence tree, the playground)


@st.cache_data(show_spinner="Running the model on every phrase of the tree...", max_entries=256,
               hash_funcs={**BY_CHECKSUM, **BY_CHECKPOINT})
def model_tree(run_dir: Path, max_tokens: int, corpus: Corpus, split: str, index: int):
    """tree_view.ModelTree of one sentence (split, index) under a run's model (runs.RunError if unusable).

    The work is bounded by the treebank (at most ~110 phrases a sentence, one batch); a cached
    entry per run version and sentence.
    """
    from sentiment_core.analysis.exploration.tree_view import model_tree as run_on_tree  # start-up: models, ~0.2 s

    model = predictor(run_dir, max_tokens)
    return run_on_tree(corpus.tree(split, index), model.model, model.vocab, model.scheme, Tokenizer().split_word,
                       model.add_sos_eos)


@st.cache_resource(show_spinner=False, max_entries=2, hash_funcs=BY_CHECKSUM)
def sentence_index(corpus: Corpus) -> dict[str, tuple[str, int]]:
    """{tree_view.sentence_key(text): (split, index)} of every treebank sentence (shared, do not modify)."""
    from sentiment_core.analysis.exploration.tree_view import sentence_index as index_of  # start-up: models, ~0.2 s

    return index_of(corpus)


# ---------------------------------------------------------------------------------------------
# A run taken apart on a split (the analysis page and the confusion drill-down)
# Keyed by the treebank's checksum and the run's checkpoint version: a retrained run is analysed again.

BY_RUN_AND_TREEBANK = {**BY_CHECKSUM, **BY_CHECKPOINT}


@st.cache_data(show_spinner="Scoring every sentence and every phrase of the split's parse trees (a few seconds, "
                            "once per run and split)...", max_entries=16, hash_funcs=BY_RUN_AND_TREEBANK)
def run_analysis(run_dir: Path, corpus: Corpus, split: str) -> dict:
    """analysis.analyze.analyze_split of a run's best checkpoint, plus its "labels" and "class_names".

    Raises runs.RunError when the run's model cannot be loaded.
    """
    from sentiment_core.analysis.evaluation.report import analyze_split  # start-up: models, ~0.2 s
    from sentiment_core.analysis.inference.predictor import max_input_tokens  # start-up: models, ~0.2 s

    model = predictor(run_dir, max_input_tokens())
    result = analyze_split(model.model, model.vocab, model.scheme, corpus, split)
    return {"labels": model.scheme.num_classes, "class_names": list(model.scheme.class_names), **result}


@st.cache_data(show_spinner="Scoring the sentences...", max_entries=16, hash_funcs=BY_RUN_AND_TREEBANK)
def scored_sentences(run_dir: Path, corpus: Corpus, split: str, limit: int | None = None):
    """analysis.confusion.ScoredSplit: every kept sentence of the split with the run's probabilities."""
    from sentiment_core.analysis.evaluation.confusion import score_sentences  # start-up: models, ~0.2 s
    from sentiment_core.analysis.inference.predictor import max_input_tokens  # start-up: models, ~0.2 s

    model = predictor(run_dir, max_input_tokens())
    return score_sentences(model.model, model.vocab, model.scheme, corpus, split, limit)


# ---------------------------------------------------------------------------------------------
# Run colours


def run_colour_map(root: Path) -> dict[str, str]:
    """theme.run_colours over EVERY run this server knows: the runs folder (walkthrough runs too)
    and the shipped models. Every page colours runs from this one map, so a run has the same
    colour on the training page, the analysis page and the walkthrough whatever each page lists.
    Only folder names are read (no status or config files)."""
    from dashboard.theme import run_colours  # start-up: coloraide, ~0.5 s

    return run_colours([path.name for path in run_dirs(root)] + [SHIPPED_PREFIX + name for name in SHIPPED_NAMES])


# ---------------------------------------------------------------------------------------------
# The walkthrough's gates and deep sections


@st.cache_resource(show_spinner="Loading the trained cell...", max_entries=8, hash_funcs=BY_CHECKPOINT)
def trained_gate_cell(run_dir: Path, cell: str):
    """The first layer of a run's best checkpoint as an nn.LSTMCell / nn.GRUCell (shared, do not modify).

    Raises RunError (unreadable checkpoint) or ValueError (no such layer in it)."""
    from sentiment_core.analysis.lessons.gates_by_hand import cell_from_state  # start-up: models, ~0.2 s

    return cell_from_state(cell, load_checkpoint(run_dir / CHECKPOINT)["model_state"])


@st.cache_data(show_spinner="Measuring the gradients of 1, 2 and 3 layers...", max_entries=8)
def depth_gradients(cell: str, hidden: int, texts: tuple[str, ...]):
    """stacked.depth_comparison on `texts` read through the shipped model's word vectors (a second or two,
    once per cell and size)."""
    from sentiment_core.analysis.lessons.stacked import depth_comparison  # start-up: models, ~0.2 s
    from sentiment_core.analysis.lessons.walk_sentence import sentence_inputs  # start-up: models, ~0.2 s

    vocab, weight = run_embedding(PRETRAINED_DIR / PLAYGROUND_MODEL)
    tokenizer = Tokenizer()
    return depth_comparison(cell, [sentence_inputs(text, tokenizer, vocab, weight).x for text in texts], hidden)
