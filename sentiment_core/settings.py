"""Every knob of the product in one place: environment variables, paths, caps on input, operator limits.

The environment variables are the rows of settings_table.VARIABLES (name, type, default,
public-mode default, range, meaning); every module reads one through `read` here, which parses
it with the one boolean parser (`parse_bool`) or the one number parser (`parse_number`) and, in
public mode (SENTIMENT_PUBLIC=1), fills an unset one from PUBLIC_DEFAULTS. The operator limits
(Limits), PUBLIC_DEFAULTS, `health`'s checks (`check_group`), the training page's server-limits
panel (`describe_limits`) and the README's table (settings_table.markdown_table) come from it.

Caps on input (MAX_*, below) bound every file and text before any work is done on it.
Read at call time, never at import, so a test or a page can change them.
"""
from __future__ import annotations

import math
import os
from dataclasses import field as dataclass_field
from dataclasses import make_dataclass
from pathlib import Path
from typing import Mapping

from sentiment_core.settings_table import (BOOL, BY_NAME, FLOAT, INT, PATH, PER_MACHINE, SECRET, TEXT,  # noqa: F401
                                           VARIABLES, Variable, allowed_range, markdown_table, shown)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The variables' names, for the modules that mention one (each is a row of settings_table.VARIABLES).
DATA_DIR_ENV, SST_DIR_ENV, RUNS_DIR_ENV = "SENTIMENT_DATA_DIR", "SST_DIR", "SENTIMENT_RUNS_DIR"
CACHE_DIR_ENV, PROBE_SENTENCES_ENV = "SENTIMENT_CACHE_DIR", "SENTIMENT_PROBE_SENTENCES"
PUBLIC_ENV, OPERATOR_KEY_ENV, NATIVE_ENV = "SENTIMENT_PUBLIC", "SENTIMENT_OPERATOR_KEY", "SENTIMENT_NATIVE"
QUEUE_ENV, HEARTBEAT_ENV, WORKER_THREADS_ENV = "SENTIMENT_QUEUE", "SENTIMENT_WORKER_HEARTBEAT", "SENTIMENT_WORKER_THREADS"
MAX_INPUT_CHARS_ENV, MAX_INPUT_TOKENS_ENV = "SENTIMENT_MAX_INPUT_CHARS", "SENTIMENT_MAX_INPUT_TOKENS"
MAX_BATCH_ROWS_ENV, MAX_CSV_BYTES_ENV = "SENTIMENT_MAX_BATCH_ROWS", "SENTIMENT_MAX_CSV_BYTES"
MAX_IG_STEPS_ENV = "SENTIMENT_MAX_IG_STEPS"
BATCH_DELAY_ENV, RANK_WEIGHTS_ENV, MARKS_ENV = ("SENTIMENT_TEST_BATCH_DELAY", "SENTIMENT_RANK_WEIGHTS_DIR",
                                                "SENTIMENT_STARTUP_MARKS")


# ---------------------------------------------------------------------------------------------
# The one reader, and its two parsers


class SettingError(ValueError):
    """An environment variable holds a value its row of the table does not accept."""


LimitsError = SettingError  # the name the limit checks have always caught

ON_WORDS, OFF_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _unset_hint(v: Variable) -> str:
    return "(or unset it)" if v.default is None else f"(or unset it for the default, {env_text(v.default)})"


def parse_bool(v: Variable, text: str) -> bool:
    """An on / off value (any case); SettingError, in one sentence, for anything else."""
    word = text.strip().lower()
    if word in ON_WORDS or word in OFF_WORDS:
        return word in ON_WORDS
    raise SettingError(f"{v.name} is {text[:40]!r}, which is neither on nor off; set it to 1 or 0 {_unset_hint(v)}")


def parse_number(v: Variable, text: str) -> int | float:
    """A whole number or a number within the row's range; SettingError naming the variable, value and range."""
    whole = v.kind == INT
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise SettingError(f"{v.name} is {text[:40]!r}, which is not {kind}; set it to {kind} "
                           f"{allowed_range(v)} {_unset_hint(v)}") from None
    if not (math.isfinite(value) and v.minimum <= value <= (math.inf if v.maximum is None else v.maximum)):
        raise SettingError(f"{v.name} is {text[:40]!r}; it must be {allowed_range(v)} {_unset_hint(v)}")
    return value


def parse(v: Variable, text: str):
    """`text` (not blank) as the row's type: bool, int, float, Path or str."""
    if v.kind == BOOL:
        return parse_bool(v, text)
    if v.kind in (INT, FLOAT):
        return parse_number(v, text)
    return Path(text) if v.kind == PATH else text


def read(name: str, env: Mapping[str, str] | None = None):
    """The variable `name` (a row of the table) from `env` (default: os.environ), parsed.

    Unset or blank: its public-mode default in public mode, else its default (None: not set).
    Read at call time. Raises SettingError, in one sentence, for a value the row does not accept.
    """
    v = BY_NAME[name]
    env = os.environ if env is None else env
    raw = env.get(name) or ""
    text = raw if v.kind == PATH and raw.strip() else raw.strip()  # a path is taken as written
    if not text and v.public is not None and is_public(env):
        text = PUBLIC_DEFAULTS[name]
    return parse(v, text) if text else v.default


def env_text(value: object) -> str:
    """A default as an environment variable would hold it ("1" for on, "3" for 3.0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------------------------
# Paths


def data_root(env: Mapping[str, str] | None = None) -> Path:
    return read(DATA_DIR_ENV, env) or PROJECT_ROOT / "data"


def default_sst_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where a downloaded or installed treebank goes (and is looked for after SST_DIR)."""
    return data_root(env) / "sst"


def default_runs_root(env: Mapping[str, str] | None = None) -> Path:
    return read(RUNS_DIR_ENV, env) or data_root(env) / "runs"


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return read(CACHE_DIR_ENV, env) or data_root(env) / "cache"


# The job queue: unset, runs train on this machine (runs/jobs.py's local queue); a Redis URL
# (redis://HOST:PORT/DB), the server only enqueues and workers train (runs/redis_queue.py).
QUEUE_SCHEMES = ("redis://", "rediss://", "unix://")


def queue_url(env: Mapping[str, str] | None = None) -> str | None:
    """SENTIMENT_QUEUE, stripped (None when unset or empty); SettingError, in one sentence, for a non-Redis URL."""
    url = read(QUEUE_ENV, env)
    if url and not url.startswith(QUEUE_SCHEMES):
        raise SettingError(f"{QUEUE_ENV} is {url[:60]!r}, not a Redis URL; set it to redis://HOST:PORT/DB, "
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
# The playground's caps (one text, one list, one CSV file): their defaults are the table's.
MAX_INPUT_CHARS = BY_NAME[MAX_INPUT_CHARS_ENV].default
MAX_INPUT_TOKENS = BY_NAME[MAX_INPUT_TOKENS_ENV].default
MAX_BATCH_ROWS = BY_NAME[MAX_BATCH_ROWS_ENV].default
MAX_CSV_BYTES = BY_NAME[MAX_CSV_BYTES_ENV].default
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
DEFAULT_PROBE_SENTENCES = PROJECT_ROOT / "sentiment_core" / "training" / "probe_sentences.txt"
MAX_PROBE_SENTENCES = 50            # sentences in a probe file (one batch per epoch end)
MAX_PROBE_CHARS = 300               # characters of one probe sentence
MAX_PROBE_FILE_BYTES = 64 * 2**10   # the probe file, checked before it is read


def probe_sentences_path(env: Mapping[str, str] | None = None) -> Path:
    """The probe sentence file: SENTIMENT_PROBE_SENTENCES if set, else the shipped one."""
    return read(PROBE_SENTENCES_ENV, env) or DEFAULT_PROBE_SENTENCES


# ---------------------------------------------------------------------------------------------
# Public mode: one switch for a hosted demo


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
    return max(1, int(usable_cores() if cores is None else cores) - 1)


def operator_key(env: Mapping[str, str] | None = None) -> str:
    """SENTIMENT_OPERATOR_KEY, stripped ('' when unset: nobody can manage every run from a page)."""
    return read(OPERATOR_KEY_ENV, env) or ""


# What SENTIMENT_PUBLIC=1 implies, as the values it gives the variables the operator has not set
# (the table's public-mode column; an operator's own value always wins). Besides these, public mode
# takes away the treebank upload and folder choice (the operator sets SST_DIR or installs it with
# `python -m sentiment_core data --install ZIP`), and errors are shown as one short sentence
# without server paths.
PUBLIC_DEFAULTS: dict[str, str] = {
    v.name: str(concurrent_runs_for_machine()) if v.public == PER_MACHINE else env_text(v.public)
    for v in VARIABLES if v.public is not None}


def is_public(env: Mapping[str, str] | None = None) -> bool:
    """True when SENTIMENT_PUBLIC is on; an unreadable value counts as on (the safe side)."""
    try:
        return bool(read(PUBLIC_ENV, env))
    except SettingError:
        return True


def effective_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment as `read` sees it: in public mode, PUBLIC_DEFAULTS under the operator's values."""
    env = dict(os.environ if env is None else env)
    if not is_public(env):
        return env
    return {**PUBLIC_DEFAULTS, **{k: v for k, v in env.items() if v.strip()}}


# ---------------------------------------------------------------------------------------------
# Operator limits on training from the dashboard (runs/limits.py checks a run against them):
# the table's training-limits rows, one field each (see settings_table.py for why they exist).

LIMIT_VARIABLES = tuple(v for v in VARIABLES if v.field)
_TYPES = {INT: int, FLOAT: float, BOOL: bool}
Limits = make_dataclass("Limits", [(v.field, _TYPES[v.kind], dataclass_field(default=v.default))
                                   for v in LIMIT_VARIABLES], frozen=True)
Limits.__module__ = __name__  # (make_dataclass's module= needs Python 3.12)
Limits.__doc__ = "The operator's limits on runs started from a page, one field per training-limits variable."
# Each field's environment variable and the smallest value it accepts.
ENV_VARS: dict[str, tuple[str, float]] = {v.field: (v.name, v.minimum or 0) for v in LIMIT_VARIABLES}


def limits_from_env(environ: Mapping[str, str] | None = None) -> Limits:
    """The limits set by environment variables (default: os.environ), defaults for the unset ones.

    In public mode (SENTIMENT_PUBLIC on in `environ`) the unset ones come from PUBLIC_DEFAULTS.
    Raises LimitsError naming the variable when a value cannot be read.
    """
    return Limits(**{v.field: read(v.name, environ) for v in LIMIT_VARIABLES})


def describe_limits(limits: Limits) -> list[tuple[str, str, str]]:
    """(environment variable, value, meaning) for each limit, for the training page's panel."""
    return [(v.name, shown(getattr(limits, v.field), v.kind), v.meaning) for v in LIMIT_VARIABLES]


def check_group(group: str, env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """For `health`: (False, the first error) or (True, "NAME=value, ...") for the numbers and switches
    of one group of the table, read as the product reads them (a secret is only said to be set)."""
    values = []
    for v in VARIABLES:
        if v.group != group or v.kind in (PATH, TEXT):
            continue
        try:
            value = read(v.name, env)
        except SettingError as err:
            return False, str(err)
        values.append(f"{v.name}={('set' if value else 'unset') if v.kind == SECRET else shown(value, v.kind)}")
    return True, ", ".join(values)
