"""Every knob of the product in one place: paths, caps on input, operator limits, public mode.

Paths, from environment variables an operator may set:

- SENTIMENT_DATA_DIR  the data root (default: the project's data/ folder)
- SST_DIR             a folder holding the treebank (searched before <data root>/sst)
- SENTIMENT_RUNS_DIR  training runs (default: <data root>/runs)
- SENTIMENT_CACHE_DIR the tokenized-corpus cache (default: <data root>/cache)
- SENTIMENT_PUBLIC    1 for a hosted demo open to strangers (see PUBLIC_DEFAULTS below)
- SENTIMENT_PROBE_SENTENCES  a file of sentences scored at every epoch end (default: the shipped one)
- SENTIMENT_QUEUE     redis://HOST:PORT/DB: runs go to workers through Redis (default: train here)

Caps on input (MAX_*, below) bound every file and text before any work is done on it; the
playground's can be set by SENTIMENT_MAX_INPUT_CHARS, _INPUT_TOKENS, _BATCH_ROWS, _CSV_BYTES.
Operator limits on training from the pages (Limits, SENTIMENT_MAX_EPOCHS ...) are at the end.

Read at call time, never at import, so a test or a page can change them.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "SENTIMENT_DATA_DIR"
RUNS_DIR_ENV = "SENTIMENT_RUNS_DIR"
CACHE_DIR_ENV = "SENTIMENT_CACHE_DIR"


def data_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(DATA_DIR_ENV) or PROJECT_ROOT / "data")


def default_sst_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where a downloaded or installed treebank goes (and is looked for after SST_DIR)."""
    return data_root(env) / "sst"


def default_runs_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(RUNS_DIR_ENV) or data_root(env) / "runs")


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(CACHE_DIR_ENV) or data_root(env) / "cache")


# The job queue: unset, runs train on this machine (runs/jobs.py's local queue); a Redis URL
# (redis://HOST:PORT/DB), the server only enqueues and workers train (runs/redis_queue.py).
QUEUE_ENV = "SENTIMENT_QUEUE"
QUEUE_SCHEMES = ("redis://", "rediss://", "unix://")


def queue_url(env: Mapping[str, str] | None = None) -> str | None:
    """SENTIMENT_QUEUE, stripped (None when unset or empty); ValueError, in one sentence, for a non-Redis URL."""
    env = os.environ if env is None else env
    url = (env.get(QUEUE_ENV) or "").strip()
    if not url:
        return None
    if not url.startswith(QUEUE_SCHEMES):
        raise ValueError(f"{QUEUE_ENV} is {url[:60]!r}, not a Redis URL; set it to redis://HOST:PORT/DB, "
                         "or unset it to train on this machine")
    return url


# Caps on what a visitor or a file may hand the product, checked before any work on it. Each sits
# far above the real input (the treebank zip is 0.8 MB, a split 2.2 MB, its longest tree line 687
# characters, its longest word 27) and far below what would tie up a server's memory or time.
MAX_ZIP_BYTES = 32 * 2**20          # the zip itself, as downloaded or uploaded
MAX_ZIP_MEMBERS = 64                # files listed in the zip
MAX_ZIP_MEMBER_BYTES = 16 * 2**20   # what one split file inflates to (counted while inflating)
MAX_ZIP_TOTAL_BYTES = 40 * 2**20    # what the three splits inflate to together
MAX_TREEBANK_FILE_BYTES = 16 * 2**20  # one split file in a folder, checked before it is read
MAX_TREE_LINE_CHARS = 10_000        # one tree line, checked before it is parsed
MAX_TREE_WORD_CHARS = 200           # one leaf (word) of a tree, checked as it is parsed (the real longest: 38)
MAX_TREE_DEPTH = 200                # nodes nested in one tree, root to leaf, checked as it is parsed (the real
                                    # deepest: 30); far below what recursive code over a tree can take
MAX_TREE_SYMBOL_CHARS = 50_000      # non-alphanumeric characters in a split's distinct words (the real
                                    # most: 2,198): spaCy's rules take ~5 s per million of them
MAX_INPUT_CHARS = 20_000            # one typed or uploaded text, checked before it is tokenized
MAX_INPUT_TOKENS = 1_000            # one text after tokenizing
MAX_BATCH_ROWS = 5_000              # texts in one pasted list or CSV file
# (each playground cap can be set by an environment variable: data/caps.py reads them)
MAX_CSV_BYTES = 2 * 2**20           # one uploaded CSV file (or `predict --file`), checked before it is parsed
MAX_PATTERN_CHARS = 200             # one regular expression typed in the explorer (matched by RE2, linear time)
MAX_PATTERN_MEMORY = 1 * 2**20      # RE2's budget for one compiled pattern (bytes); larger ones are refused
MAX_QUERY_DIGITS = 9                # a number in a link (?section=, ?index=): ASCII digits, at most this many
# A run's own files (runs/store.py, metrics.py), read by every page that lists runs, checked before parsing:
MAX_RUN_JSON_BYTES = 4 * 2**20      # config.json, status.json, vocab.json (real: 1 KB, 3 KB, under 0.5 MB)
MAX_RUN_JSON_DEPTH = 32             # arrays and objects nested in one of them or a metrics.jsonl line (real: 5)
MAX_CHECKPOINT_BYTES = 2**30        # checkpoint.pt or last.pt, before torch.load (at the page's default limits the
                                    # largest, last.pt with Adam's moments, is about 0.3 GB)

# The sentence probes scored at every epoch end (training/sentence_probes.py): a shipped file of
# negations and contrasts, or the operator's own file named by SENTIMENT_PROBE_SENTENCES.
PROBE_SENTENCES_ENV = "SENTIMENT_PROBE_SENTENCES"
DEFAULT_PROBE_SENTENCES = PROJECT_ROOT / "sentiment_core" / "training" / "probe_sentences.txt"
MAX_PROBE_SENTENCES = 50            # sentences in a probe file (one batch per epoch end)
MAX_PROBE_CHARS = 300               # characters of one probe sentence
MAX_PROBE_FILE_BYTES = 64 * 2**10   # the probe file, checked before it is read


def probe_sentences_path(env: Mapping[str, str] | None = None) -> Path:
    """The probe sentence file: SENTIMENT_PROBE_SENTENCES if set, else the shipped one."""
    env = os.environ if env is None else env
    return Path(env.get(PROBE_SENTENCES_ENV) or DEFAULT_PROBE_SENTENCES)


# ---------------------------------------------------------------------------------------------
# Public mode: one switch for a hosted demo

PUBLIC_ENV = "SENTIMENT_PUBLIC"
OPERATOR_KEY_ENV = "SENTIMENT_OPERATOR_KEY"  # a secret the operator types on the page to manage every run


def usable_cores() -> int:
    """The cores this process may run on (os.sched_getaffinity, which a container's CPU set narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# `train --threads auto` (what the pages and workers start): torch's thread count chosen as the run
# starts, from the cores nobody else is using. A thread more than the free cores does not add speed:
# it waits for a core at every step's hand-off and, on a loaded machine, burnt ten times the CPU of
# one thread (issue 23). The training processes also get OMP_WAIT_POLICY=PASSIVE (processes.py).
THREADS_AUTO = "auto"


def free_cores(cores: int | None = None, load: float | None = None) -> int:
    """Cores free for a new run: the usable cores less the 1-minute load average, rounded, at least 1.

    The load average counts every runnable process (all of the host's, in a container), so on a
    shared host this leans towards fewer threads; it lags by a minute, which the passive wait
    policy covers (a thread that waits for a core sleeps instead of spinning).
    """
    cores = usable_cores() if cores is None else int(cores)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # no load average on this system: trust the cores
            load = 0.0
    return max(1, min(cores, math.floor(cores - load + 0.5)))


def concurrent_runs_for_machine(cores: int | None = None) -> int:
    """Runs that may train at once on this machine: its cores less one for the web server, at least 1.

    Each run trains on one core (the page starts it with one thread), so this keeps every core busy
    while the pages stay responsive. `cores`: the cores this process may use (os.sched_getaffinity,
    which a container's CPU set narrows; os.cpu_count where there is no such call).
    """
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
    return max(1, int(cores) - 1)


def operator_key(env: Mapping[str, str] | None = None) -> str:
    """SENTIMENT_OPERATOR_KEY, stripped ('' when unset: nobody can manage every run from a page)."""
    env = os.environ if env is None else env
    return (env.get(OPERATOR_KEY_ENV) or "").strip()

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "", "no", "off")

# What SENTIMENT_PUBLIC=1 implies, as the limits it sets when the operator has not set them
# (an operator's own value always wins). Besides these, public mode takes away the treebank
# upload and folder choice (the operator sets SST_DIR or installs it with
# `python -m sentiment_core data --install ZIP`), and errors are shown as one short sentence
# without server paths.
PUBLIC_DEFAULTS: dict[str, str] = {
    "SENTIMENT_ALLOW_DELETE": "0",            # visitors cannot delete runs
    "SENTIMENT_MAX_EPOCHS": "5",
    "SENTIMENT_MAX_HIDDEN": "256",
    "SENTIMENT_MAX_EMBEDDING": "128",
    "SENTIMENT_MAX_LAYERS": "2",
    "SENTIMENT_MAX_BATCH": "128",
    "SENTIMENT_MAX_RUN_MINUTES": "3",         # estimated single-core minutes per run
    "SENTIMENT_MAX_CONCURRENT_RUNS": str(concurrent_runs_for_machine()),  # cores - 1 (the web server's)
    "SENTIMENT_MAX_QUEUE": "60",              # a class of thirty twice over
    "SENTIMENT_MAX_RUNS_PER_VISITOR": "1",    # live or queued runs per browser; first come, first served
    "SENTIMENT_MAX_RUNS": "200",              # run folders kept; the oldest ended visitor runs are retired first
    "SENTIMENT_MAX_INPUT_TOKENS": "300",      # tokens per typed text or CSV row
    "SENTIMENT_MAX_BATCH_ROWS": "500",        # rows per pasted list or CSV
    "SENTIMENT_MAX_INPUT_CHARS": "5000",      # characters per typed text or CSV row, before tokenizing
    "SENTIMENT_MAX_CSV_BYTES": "524288",      # bytes per uploaded CSV file (512 KB), before parsing
    "SENTIMENT_MAX_IG_STEPS": "100",          # integrated-gradient steps (time grows with them)
}


def is_public(env: Mapping[str, str] | None = None) -> bool:
    """True when SENTIMENT_PUBLIC is on; an unreadable value counts as on (the safe side)."""
    env = os.environ if env is None else env
    return (env.get(PUBLIC_ENV) or "").strip().lower() not in FALSE_WORDS


def effective_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the limits are read from: in public mode, PUBLIC_DEFAULTS under the operator's values."""
    env = dict(os.environ if env is None else env)
    if not is_public(env):
        return env
    return {**PUBLIC_DEFAULTS, **{k: v for k, v in env.items() if v.strip()}}


# ---------------------------------------------------------------------------------------------
# Operator limits on training from the dashboard (runs/limits.py checks a run against them)
#
# The dashboard lets anyone start training runs on the machine that serves it. These keep one run
# small enough for a 2-core machine (the defaults: about 10 minutes and well under 2 GB each) and
# bound how many runs train or wait at once. The command line ignores them: whoever types
# `python -m sentiment_core train` owns the machine.
#
# Environment variables (unset or empty: the default):
#
#   SENTIMENT_MAX_EPOCHS            most epochs per run (default 20)
#   SENTIMENT_MAX_HIDDEN            largest hidden state size per direction (default 512)
#   SENTIMENT_MAX_EMBEDDING         largest word vector size (default 300)
#   SENTIMENT_MAX_LAYERS            most stacked recurrent layers (default 3)
#   SENTIMENT_MAX_BATCH             largest batch size (default 128)
#   SENTIMENT_MAX_RUN_MINUTES       largest estimated training time in minutes (default 10; see
#                                   `estimate_run`: single-core CPU minutes, so a 2-core machine
#                                   usually trains faster; the best-* presets need about 7)
#   SENTIMENT_MAX_CONCURRENT_RUNS   runs training at the same time (default 1); more starts wait
#                                   in the queue
#   SENTIMENT_MAX_QUEUE             runs waiting in the queue (default 3); a start beyond it is
#                                   refused. 0: no queue, a start needs a free slot
#   SENTIMENT_MAX_RUNS_PER_VISITOR  live or queued runs one visitor (one browser) may have (default
#                                   0: no cap; public 1), so a class shares the queue first come,
#                                   first served and nobody fills it alone
#   SENTIMENT_SHARED_RUNS           1 / 0: class mode (default 0). In public mode a visitor sees and
#                                   manages only the runs started from their browser; with this on
#                                   every visitor also sees everyone's runs and results, read-only
#                                   (a class leaderboard). SENTIMENT_OPERATOR_KEY, typed on the
#                                   page, manages every run either way
#   SENTIMENT_ALLOW_DELETE          1 / 0 (also true/false, yes/no, on/off): may the page delete
#                                   runs (default 1)
#   SENTIMENT_MAX_RUNS              run folders kept in the runs folder (default 0: no cap; public
#                                   200). A start that would pass it first retires the visitor runs
#                                   (started from a page) that ended longest ago; running and queued
#                                   runs and the operator's own (from a terminal) are never retired,
#                                   and when none can be the start is refused. Locally there is no
#                                   cap: the runs are the owner's work, and listing stays fast at
#                                   2,000 (scripts/bench_run_listing.py). In public mode 200 keeps
#                                   about ten hours of back-to-back visitor runs (3 minutes each);
#                                   at the public model caps a run folder is at most about 70 MB
#                                   (a 4.3M-weight LSTM: the best checkpoint, 17 MB, and last.pt
#                                   with Adam's moments, 50 MB), so the runs folder stays under
#                                   about 14 GB.
#
# With SENTIMENT_PUBLIC=1 (a hosted demo, see sentiment_core.settings) the unset ones take the
# tighter values of settings.PUBLIC_DEFAULTS instead (deleting off, 5 epochs, 3 minutes...); a
# value the operator sets still wins.


class LimitsError(ValueError):
    """An environment variable holds a value that is not a valid limit."""


@dataclass(frozen=True)
class Limits:
    max_epochs: int = 20              # SENTIMENT_MAX_EPOCHS
    max_hidden: int = 512             # SENTIMENT_MAX_HIDDEN
    max_embedding: int = 300          # SENTIMENT_MAX_EMBEDDING
    max_layers: int = 3               # SENTIMENT_MAX_LAYERS
    max_batch: int = 128              # SENTIMENT_MAX_BATCH
    max_run_minutes: float = 10.0     # SENTIMENT_MAX_RUN_MINUTES (estimated, see estimate_run)
    max_concurrent_runs: int = 1      # SENTIMENT_MAX_CONCURRENT_RUNS
    max_queue: int = 3                # SENTIMENT_MAX_QUEUE
    allow_delete: bool = True         # SENTIMENT_ALLOW_DELETE
    max_runs: int = 0                 # SENTIMENT_MAX_RUNS (0: no cap)
    max_runs_per_visitor: int = 0     # SENTIMENT_MAX_RUNS_PER_VISITOR (0: no cap)
    shared_runs: bool = False         # SENTIMENT_SHARED_RUNS (class mode)


# Each field's environment variable and the smallest value it accepts.
ENV_VARS: dict[str, tuple[str, float]] = {
    "max_epochs": ("SENTIMENT_MAX_EPOCHS", 1),
    "max_hidden": ("SENTIMENT_MAX_HIDDEN", 1),
    "max_embedding": ("SENTIMENT_MAX_EMBEDDING", 1),
    "max_layers": ("SENTIMENT_MAX_LAYERS", 1),
    "max_batch": ("SENTIMENT_MAX_BATCH", 1),
    "max_run_minutes": ("SENTIMENT_MAX_RUN_MINUTES", 0.1),
    "max_concurrent_runs": ("SENTIMENT_MAX_CONCURRENT_RUNS", 1),
    "max_queue": ("SENTIMENT_MAX_QUEUE", 0),
    "allow_delete": ("SENTIMENT_ALLOW_DELETE", 0),
    "max_runs": ("SENTIMENT_MAX_RUNS", 0),
    "max_runs_per_visitor": ("SENTIMENT_MAX_RUNS_PER_VISITOR", 0),
    "shared_runs": ("SENTIMENT_SHARED_RUNS", 0),
}
ON_WORDS, OFF_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def limits_from_env(environ: Mapping[str, str] | None = None) -> Limits:
    """The limits set by environment variables (default: os.environ), defaults for the unset ones.

    In public mode (SENTIMENT_PUBLIC on in `environ`) the unset ones come from PUBLIC_DEFAULTS.
    Raises LimitsError naming the variable when a value cannot be read.
    """
    environ = effective_env(environ)
    defaults = Limits()
    values = {}
    for f in fields(Limits):
        name, minimum = ENV_VARS[f.name]
        text = (environ.get(name) or "").strip()
        if not text:
            continue
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            values[f.name] = _read_bool(name, text, default)
        else:
            values[f.name] = _read_number(name, text, default, minimum)
    return Limits(**values)


def _read_bool(name: str, text: str, default: bool) -> bool:
    if text.lower() in ON_WORDS:
        return True
    if text.lower() in OFF_WORDS:
        return False
    raise LimitsError(f"{name} is {text!r}, which is neither on nor off; set it to 1 or 0 "
                      f"(or unset it for the default, {int(default)})")


def _read_number(name: str, text: str, default: float, minimum: float) -> float:
    whole = isinstance(default, int)
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise LimitsError(f"{name} is {text!r}, which is not {kind}; set it to {kind} of at least "
                          f"{minimum:g} (or unset it for the default, {default:g})") from None
    if not value >= minimum or (not whole and not math.isfinite(value)):
        raise LimitsError(f"{name} is {text!r}; it must be at least {minimum:g} "
                          f"(or unset it for the default, {default:g})")
    return value


def describe_limits(limits: Limits) -> list[tuple[str, str, str]]:
    """(environment variable, value, meaning) for each limit, for a page to list."""
    meanings = {
        "max_epochs": "most epochs per run", "max_hidden": "largest hidden size",
        "max_embedding": "largest embedding size", "max_layers": "most layers",
        "max_batch": "largest batch size", "max_run_minutes": "longest estimated training time (minutes)",
        "max_concurrent_runs": "runs training at once", "max_queue": "runs waiting in the queue",
        "allow_delete": "runs may be deleted",
        "max_runs": "run folders kept, the oldest ended ones retired first (0: no cap)",
        "max_runs_per_visitor": "live or queued runs per visitor (0: no cap)",
        "shared_runs": "every visitor sees everyone's runs and results, read-only (class mode)",
    }
    rows = []
    for f in fields(Limits):
        value = getattr(limits, f.name)
        shown = ("yes" if value else "no") if isinstance(value, bool) else f"{value:g}"
        rows.append((ENV_VARS[f.name][0], shown, meanings[f.name]))
    return rows
