"""Every environment variable the product reads, in one table (settings.py reads them through it).

One row per variable: its name, type, default, public-mode default, range and meaning. From these
rows settings.py builds the operator limits (Limits), the public-mode defaults (PUBLIC_DEFAULTS)
and every reader; `health`, the training page's server-limits panel and the README's table of
environment variables are rendered from them (`markdown_table`; tests/test_settings_table.py
checks that the README holds exactly that rendering). A default is written here and nowhere else.

Not in the table: the variables other programs set for ours (torchrun's RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT, read by training/distributed.py; RQ_WORKER_ID), which
an operator never sets by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

PATH, BOOL, INT, FLOAT, TEXT, SECRET = "path", "on / off", "whole number", "number", "text", "secret"
PER_MACHINE = "the machine's cores less one"  # a public default computed as the server starts (settings.py)

# Groups, in the order the README lists them; `health` checks each group of limits on its own line.
PATHS, SERVER, TRAINING, PLAYGROUND, HOOKS = ("paths", "server", "training limits", "playground limits",
                                             "test and diagnostic hooks")


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str                     # PATH, BOOL, INT, FLOAT, TEXT or SECRET (never shown, only "set")
    group: str
    meaning: str                  # one line, markdown
    default: object = None        # when unset (None: unset means "not used", or see `shown_default`)
    public: object = None         # public mode's default when unset (None: the same as `default`)
    minimum: float | None = None  # numbers only
    maximum: float | None = None
    field: str = ""               # the Limits field it sets (training limits only)
    shown_default: str = ""       # for a default computed from others (paths)


V = Variable
VARIABLES: tuple[Variable, ...] = (
    V("SENTIMENT_DATA_DIR", PATH, PATHS, "the data root: the treebank, runs and cache live under it unless set below",
      shown_default="the project's `data/`"),
    V("SST_DIR", PATH, PATHS, "the treebank folder, searched before `<data root>/sst` (where the home page "
      "downloads it); set it for an offline server", shown_default="unset"),
    V("SENTIMENT_RUNS_DIR", PATH, PATHS, "training runs; put it on a persistent volume, and set it so terminal "
      "`train` commands use the same folder", shown_default="`<data root>/runs`"),
    V("SENTIMENT_CACHE_DIR", PATH, PATHS, "the tokenized-corpus cache and the compiled recurrences",
      shown_default="`<data root>/cache`"),
    V("SENTIMENT_PROBE_SENTENCES", PATH, PATHS, "a file of sentences scored at every epoch end (one a line, "
      "`#` for notes, at most 50)", shown_default="the shipped `training/probe_sentences.txt`"),

    V("SENTIMENT_PUBLIC", BOOL, SERVER, "public mode, for a hosted demo open to strangers: the public-mode "
      "defaults apply, no treebank upload, short errors without server paths; an unreadable value counts as on",
      default=False),
    V("SENTIMENT_OPERATOR_KEY", SECRET, SERVER, "a secret the operator types on the training page to manage "
      "every run in public mode (unset: nobody can)"),
    V("SENTIMENT_NATIVE", BOOL, SERVER, "the compiled recurrences (off: the torch path, which computes the "
      "same, slower)", default=True),
    V("SENTIMENT_QUEUE", TEXT, SERVER, "a Redis URL (`redis://HOST:PORT/DB`): the server only enqueues runs "
      "and `worker` processes train them (unset: runs train on this machine)"),
    V("SENTIMENT_WORKER_HEARTBEAT", INT, SERVER, "seconds between a worker's heartbeats; after three missed "
      "ones its run counts as gone", default=10, minimum=1),
    V("SENTIMENT_WORKER_THREADS", INT, SERVER, "threads of each run a worker trains (set by `worker --threads`)",
      minimum=1, shown_default="`auto`"),

    # The training limits keep one run from the page small enough for a 2-core machine (the
    # defaults: about 10 minutes and well under 2 GB each) and bound how many train or wait. The
    # command line ignores them: whoever types `train` owns the machine. SENTIMENT_MAX_RUNS: locally
    # no cap (the runs are the owner's work; listing stays fast at 2,000, scripts/bench_run_listing.py);
    # in public mode 200 keeps about ten hours of back-to-back 3-minute visitor runs, and at the public
    # model caps a run folder is at most about 70 MB, so the runs folder stays under about 14 GB.
    V("SENTIMENT_MAX_EPOCHS", INT, TRAINING, "most epochs per run", 20, 5, 1, field="max_epochs"),
    V("SENTIMENT_MAX_HIDDEN", INT, TRAINING, "largest hidden size per direction", 512, 256, 1, field="max_hidden"),
    V("SENTIMENT_MAX_EMBEDDING", INT, TRAINING, "largest word vector size", 300, 128, 1, field="max_embedding"),
    V("SENTIMENT_MAX_LAYERS", INT, TRAINING, "most stacked recurrent layers", 3, 2, 1, field="max_layers"),
    V("SENTIMENT_MAX_BATCH", INT, TRAINING, "largest batch size", 128, 128, 1, field="max_batch"),
    V("SENTIMENT_MAX_RUN_MINUTES", FLOAT, TRAINING, "longest estimated training time of one run, in single-core "
      "CPU minutes (the best-* presets need about 7)", 10.0, 3.0, 0.1, field="max_run_minutes"),
    V("SENTIMENT_MAX_CONCURRENT_RUNS", INT, TRAINING, "runs training at once; later starts wait in the queue",
      1, PER_MACHINE, 1, field="max_concurrent_runs"),
    V("SENTIMENT_MAX_QUEUE", INT, TRAINING, "runs waiting in the queue; a start beyond it is refused (0: no queue)",
      3, 60, 0, field="max_queue"),
    V("SENTIMENT_MAX_RUNS_PER_VISITOR", INT, TRAINING, "live or queued runs one visitor (one browser) may have "
      "(0: no cap)", 0, 1, 0, field="max_runs_per_visitor"),
    V("SENTIMENT_MAX_RUNS", INT, TRAINING, "run folders kept; a start past it first retires the visitor runs "
      "that ended longest ago (0: no cap)", 0, 200, 0, field="max_runs"),
    V("SENTIMENT_ALLOW_DELETE", BOOL, TRAINING, "the page may delete runs", True, False, field="allow_delete"),
    V("SENTIMENT_SHARED_RUNS", BOOL, TRAINING, "class mode: every visitor sees everyone's runs and results, "
      "read-only, with a class leaderboard", False, field="shared_runs"),

    # The playground's caps bound one visitor's text before any work on it (data/caps.py).
    V("SENTIMENT_MAX_INPUT_CHARS", INT, PLAYGROUND, "longest text in characters, checked before tokenizing",
      20_000, 5_000, 1),
    V("SENTIMENT_MAX_INPUT_TOKENS", INT, PLAYGROUND, "longest text in tokens", 1_000, 300, 1),
    V("SENTIMENT_MAX_BATCH_ROWS", INT, PLAYGROUND, "most rows in one pasted list or CSV file", 5_000, 500, 1),
    V("SENTIMENT_MAX_CSV_BYTES", INT, PLAYGROUND, "largest uploaded CSV file (or `predict --file`) in bytes, "
      "checked before parsing", 2 * 2**20, 512 * 2**10, 1),
    V("SENTIMENT_MAX_IG_STEPS", INT, PLAYGROUND, "most integrated-gradient steps (time grows with them)",
      300, 100, 1),

    V("SENTIMENT_TEST_BATCH_DELAY", FLOAT, HOOKS, "seconds the trainer sleeps after every batch, so browser "
      "tests see each state of a run", 0.0, minimum=0, maximum=10),
    V("SENTIMENT_RANK_WEIGHTS_DIR", PATH, HOOKS, "a folder where each distributed rank saves its final "
      "weights (`rank<R>.pt`), for a test to compare", shown_default="unset"),
    V("SENTIMENT_STARTUP_MARKS", PATH, HOOKS, "a file where `train` writes the moments of its start-up "
      "(`bench --startup`)", shown_default="unset"),
)
BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
GROUPS = (PATHS, SERVER, TRAINING, PLAYGROUND, HOOKS)


def shown(value: object, kind: str, grouped: bool = False) -> str:
    """A value as the pages and `health` write it ("on", "10", "unset"); `grouped`: 20,000 (the README)."""
    if value is None:
        return "unset"
    if kind == BOOL:
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return f"{value:,}" if grouped and isinstance(value, int) else str(value)


def allowed_range(v: Variable) -> str:
    """A number's range in words ("at least 1", "from 0 to 10"); every number's row has a minimum."""
    return f"from {v.minimum:g} to {v.maximum:g}" if v.maximum is not None else f"at least {v.minimum:g}"


def shown_range(v: Variable) -> str:
    """The values a variable accepts, in words."""
    if v.kind in (INT, FLOAT):
        return f"{v.kind}, {allowed_range(v)}"
    if v.kind == BOOL:
        return "1 / 0 (also true / false, yes / no, on / off)"
    if v.name == "SENTIMENT_QUEUE":
        return "`redis://`, `rediss://` or `unix://` URL"
    return {PATH: "a path", SECRET: "any text"}.get(v.kind, "text")


def markdown_table() -> str:
    """The README's table of environment variables, one row per variable, grouped."""
    lines = ["| variable | default | public mode (where it differs) | accepts | what it controls |",
             "|---|---|---|---|---|"]
    for group in GROUPS:
        lines.append(f"| **{group}** | | | | |")
        for v in (v for v in VARIABLES if v.group == group):
            default = v.shown_default or shown(v.default, v.kind, grouped=True)
            public = "" if v.public is None else shown(v.public, v.kind, grouped=True)
            lines.append(f"| `{v.name}` | {default} | {public} | {shown_range(v)} | {v.meaning.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m sentiment_core.settings_table > the README's table
    print(markdown_table(), end="")
