"""Small helpers shared by several test modules (fixtures live in conftest.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamlit.testing.v1 import AppTest

from sentiment_core.runs.store import request_stop
from sentiment_core.config import RunConfig, with_changes
from sentiment_core.runs.execution import train_run
from sentiment_core.training.trainer import Callback


def chart_spec(at, key: str) -> dict:
    """The plotly figure of the one chart keyed `key` on an AppTest page, as the browser gets it."""
    charts = [c for c in at.get("plotly_chart") if key in c.proto.id]
    assert len(charts) == 1, f"expected one chart keyed {key}"
    return json.loads(charts[0].proto.spec)


def metric(at, label: str) -> str | None:
    """The value of the st.metric with this label, or None."""
    return next((m.value for m in at.metric if m.label == label), None)


def dead_pid() -> int:
    """The id of a process that has ended (and been waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class StopAt(Callback):
    """Asks for a stop the way the dashboard does: a `stop` file in the run directory."""

    def __init__(self, run_dir_of, epoch, batch):
        self.run_dir_of, self.epoch, self.batch = run_dir_of, epoch, batch

    def on_batch_end(self, event, control):
        if (event["epoch"], event["batch"]) == (self.epoch, self.batch):
            request_stop(self.run_dir_of())


APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def open_page(page: str, query: dict | None = None, at: AppTest | None = None) -> AppTest:
    """The app switched to `page` ("views/x.py"), a new session unless `at` is given; fails on an exception."""
    at = at or AppTest.from_file(APP, default_timeout=120)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tiny_config(**settings) -> RunConfig:
    """A run that trains in seconds (a GRU of 16 on 200 sentences), with any setting changed by key."""
    small = {"train_limit": 200, "eval_limit": 60, "cell": "gru", "embedding_dim": 16, "hidden_dim": 16,
             "epochs": 2, "batch_size": 25, "patience": None}
    return with_changes(RunConfig(), {**small, **settings})


def small_playground_run(root: Path, name: str, corpus, **settings) -> Path:
    """One epoch of a tiny run scored on 50 dev sentences, for the playground's page tests: a subset score
    never competes with the shipped model for the default (analysis/inference/model_choice.py)."""
    config = tiny_config(eval_limit=50, epochs=1, batch_size=32, probe_every=0, **settings)
    return train_run(config, root=root, name=name, corpus=corpus, catch_signals=False)


def playground_env(monkeypatch, sst_dir: Path, runs_dir: Path) -> Path:
    """The playground's page tests: the treebank and runs folder given, the input caps at their defaults."""
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(runs_dir))
    monkeypatch.delenv("SENTIMENT_MAX_INPUT_TOKENS", raising=False)
    monkeypatch.delenv("SENTIMENT_MAX_BATCH_ROWS", raising=False)
    return runs_dir


def synthetic_treebank_fixtures():
    """`corpus` and `vocab` fixtures on the synthetic treebank, for a module's unit tests to take over.

    In the module: `corpus, vocab = synthetic_treebank_fixtures()`; tests that need a fact of the
    real treebank ask for `real_corpus` (tests/conftest.py) instead.
    """
    @pytest.fixture(scope="module")
    def corpus(tiny_corpus):
        return tiny_corpus

    @pytest.fixture(scope="module")
    def vocab(tiny_corpus):
        return tiny_corpus.build_vocab()

    return corpus, vocab


def run_picker(at: AppTest):
    """The training page's run selector: keyed train_watch plus a digest of its labels (components/live_select.py)."""
    return next(w for w in at.selectbox if str(w.key).startswith("train_watch__"))


PLAYGROUND = "views/playground.py"


def open_playground_on(name: str) -> AppTest:
    """The playground opened from a link about run `name` (?run=NAME), as the analysis page links to it."""
    return open_page(PLAYGROUND, {"run": name})


def all_text(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def type_text(at: AppTest, text: str) -> AppTest:
    at.text_area(key="pg_text").input(text).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_section(at: AppTest, title: str) -> AppTest:
    """Open one of the playground sentence's tabs: only the open one is computed (issue 19, M3)."""
    at.session_state["pg_section"] = title
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
