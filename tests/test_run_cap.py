"""The cap on run folders (SENTIMENT_MAX_RUNS, 200 in public mode) and a listing that stays cheap
with many runs (finding M5: Start then Cancel, repeated, left a folder each time, and each page
render read every run's files several times over).

A start beyond the cap retires the visitor runs that ended longest ago and never a running, queued
or operator's run; when none can go it is refused in one sentence and creates nothing; a cancelled
run that never started leaves no folder in public mode; a list reads only status and job records,
each once, and an unchanged one not again. The page tests run on the synthetic treebank.
"""
from __future__ import annotations

import builtins
import io
import os
import shutil
from pathlib import Path

import pytest

from sentiment_core import fileio
from sentiment_core.runs import jobs
from sentiment_core.runs.limits import Limits, limits_from_env
from sentiment_core.runs.listing import list_runs
from sentiment_core.runs.store import STATUS, create_run, read_status, write_json, write_status
from streamlit.testing.v1 import AppTest

from tests.helpers import APP, open_page, run_picker, tiny_config
from tests.test_escape import unescape

PAGE = "views/training.py"


def terminal_run(root: Path, name: str, state: str = "running") -> Path:
    """A run started by `train` in a terminal (no job record): the operator's. Running: this test
    process stands in for its trainer, so it holds the training slot."""
    run_dir = create_run(tiny_config(), root=root, name=name)
    write_status(run_dir, state=state, pid=os.getpid())
    return run_dir


def ended_visitor_run(root: Path, name: str, ended_at: float, state: str = "finished") -> Path:
    """A run a page started (it has a job record) whose process ended at `ended_at`."""
    run_dir = create_run(tiny_config(), root=root, name=name)
    jobs.write_job(run_dir, kind="train", state=jobs.DONE, queued_at=ended_at - 60, pid=None, exit_code=0,
                   ended_at=ended_at)
    write_json(run_dir / STATUS, {**read_status(run_dir), "state": state, "updated_at": ended_at, "ended_at": ended_at})
    return run_dir


def names(root: Path) -> list[str]:
    return sorted(path.name for path in jobs.run_dirs(root))


def test_a_start_beyond_the_cap_retires_the_ended_visitor_run_that_ended_longest_ago(tmp_path):
    root = tmp_path / "runs"
    limits = Limits(max_concurrent_runs=1, max_queue=2, max_runs=6)
    terminal_run(root, "operator-training")                                       # running: holds the slot
    old = terminal_run(root, "operator-old", state="finished")                    # the operator's: kept
    write_json(old / STATUS, {**read_status(old), "updated_at": 1.0})
    ended_visitor_run(root, "visitor-oldest", ended_at=1_000.0, state="stopped")  # cancelled or stopped
    ended_visitor_run(root, "walkthrough-20240101-000000-rnn", ended_at=2_000.0)  # the walkthrough's: by age too
    waiting = jobs.start_run(tiny_config(), root=root, limits=limits, name="visitor-waiting", data_dir=tmp_path)
    assert jobs.job_view(waiting).state == "queued"
    ended_visitor_run(root, "visitor-newest", ended_at=3_000.0, state="failed")
    assert len(names(root)) == limits.max_runs

    jobs.start_run(tiny_config(), root=root, limits=limits, name="visitor-new", data_dir=tmp_path)
    assert names(root) == ["operator-old", "operator-training", "visitor-new", "visitor-newest", "visitor-waiting",
                           "walkthrough-20240101-000000-rnn"]
    jobs.stop_run(waiting, limits=limits)  # a slot in the queue again (locally a cancelled run stays, stopped)
    jobs.start_run(tiny_config(), root=root, limits=limits, name="visitor-next", data_dir=tmp_path)
    assert "walkthrough-20240101-000000-rnn" not in names(root) and len(names(root)) == limits.max_runs
    assert {"operator-old", "operator-training", "visitor-new", "visitor-next"} <= set(names(root))


def test_a_start_when_no_run_can_be_retired_is_refused_and_creates_nothing(tmp_path):
    root = tmp_path / "runs"
    limits = Limits(max_concurrent_runs=1, max_queue=2, max_runs=3)
    terminal_run(root, "operator-training")
    terminal_run(root, "operator-finished", state="finished")
    jobs.start_run(tiny_config(), root=root, limits=limits, name="visitor-waiting", data_dir=tmp_path)
    before = {path.name: sorted(p.name for p in path.iterdir()) for path in jobs.run_dirs(root)}
    with pytest.raises(jobs.RunsFull) as refused:
        jobs.start_run(tiny_config(), root=root, limits=limits, name="visitor-refused", data_dir=tmp_path)
    message = str(refused.value)
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert "at most 3 runs (SENTIMENT_MAX_RUNS)" in message and "nothing was started" in message
    assert {path.name: sorted(p.name for p in path.iterdir()) for path in jobs.run_dirs(root)} == before
    assert not [p for p in root.iterdir() if p.name.startswith(".deleting")]


def test_local_mode_has_no_cap_and_public_mode_keeps_200():
    assert limits_from_env({}).max_runs == 0
    assert limits_from_env({"SENTIMENT_PUBLIC": "1"}).max_runs == 200
    assert limits_from_env({"SENTIMENT_PUBLIC": "1", "SENTIMENT_MAX_RUNS": "50"}).max_runs == 50


# ---------------------------------------------------------------------------------------------
# Through the page, in public mode


def texts(elements) -> str:
    return " | ".join(unescape(str(e.value)) for e in elements)


def test_a_cancelled_run_that_never_started_leaves_no_folder_in_public_mode(public_root):
    terminal_run(public_root, "operator-training")
    key = "v" * 43  # the visitor's browser key (dashboard/visitor.py): in public mode a visitor cancels only their own
    waiting = jobs.start_run(tiny_config(), root=public_root, limits=limits_from_env(), name="visitor-waiting",
                             owner=key)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["visitor_key"] = key
    at.query_params["run"] = "visitor-waiting"
    at.switch_page(PAGE).run()
    assert run_picker(at).value == "visitor-waiting"
    at.button(key="train_stop").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "visitor-waiting was taken out of the queue and removed" in texts(at.info)
    assert not waiting.exists() and names(public_root) == ["operator-training"]
    assert not [p for p in public_root.iterdir() if p.name.startswith(".") and p.name != jobs.LOCK_FILE]
    assert "There is no run called" not in texts(at.warning)  # the page moved on quietly
    assert "No runs yet" in texts(at.info)  # the operator's run is not the visitor's to see


def test_a_public_start_with_no_room_is_one_sentence_on_the_page(public_root, monkeypatch):
    monkeypatch.setenv("SENTIMENT_MAX_RUNS", "2")
    terminal_run(public_root, "operator-training")
    terminal_run(public_root, "operator-finished", state="finished")
    at = open_page(PAGE)
    assert not at.button(key="train_start").disabled, texts(at.error)
    at.text_input(key="train_name").set_value("visitor-refused")
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    error = texts(at.error)
    assert "This server keeps at most 2 runs (SENTIMENT_MAX_RUNS)" in error and "nothing was started" in error
    assert str(public_root) not in error
    assert names(public_root) == ["operator-finished", "operator-training"]


# ---------------------------------------------------------------------------------------------
# Listing many runs reads only what it needs


def many_runs(root: Path, count: int) -> None:
    """`count` ended visitor runs, copies of one, whose files were last written an hour ago."""
    template = ended_visitor_run(root.parent / "template", "template", ended_at=1_000.0)
    (template / "vocab.json").write_text('{"itos": ["<pad>", "<unk>"]}', encoding="utf-8")
    (template / "metrics.jsonl").write_text("", encoding="utf-8")
    an_hour_ago = os.stat(template / STATUS).st_mtime - 3600
    for i in range(count):
        run_dir = shutil.copytree(template, root / f"run-{i:04d}")
        for path in run_dir.iterdir():
            os.utime(path, (an_hour_ago, an_hour_ago))


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The names of the files opened from now on (by open(), pathlib or os.open)."""
    names = []
    real_open, real_os_open = builtins.open, os.open

    def counting_open(file, *args, **kwargs):
        if not isinstance(file, int):  # a descriptor (os.fdopen) was counted by os.open
            names.append(Path(os.fsdecode(file)).name)
        return real_open(file, *args, **kwargs)

    def counting_os_open(path, *args, **kwargs):
        names.append(Path(os.fsdecode(path)).name)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(os, "open", counting_os_open)
    return names


def test_listing_300_runs_reads_only_status_and_job_records_each_once_and_unchanged_ones_not_again(
        tmp_path, opened, monkeypatch):
    root = tmp_path / "runs"
    many_runs(root, 300)
    opened.clear()
    views = jobs.list_jobs(root)
    assert len(views) == 300 and {v.state for v in views} == {"finished"}
    assert sorted(set(opened)) == [jobs.JOB_FILE, STATUS]  # never the config, vocabulary or metrics
    assert opened.count(STATUS) <= 300 and opened.count(jobs.JOB_FILE) <= 300

    opened.clear()
    jobs.list_jobs(root)
    jobs.advance_queue(root, Limits())
    assert opened == [jobs.LOCK_FILE]  # nothing changed, so nothing was read again

    changed = root / "run-0007"
    write_status(changed, message="evaluated again")  # replaced: read again, the others not
    an_hour_ago = os.stat(changed / STATUS).st_mtime - 3600
    os.utime(changed / STATUS, (an_hour_ago, an_hour_ago))
    opened.clear()
    assert next(v for v in jobs.list_jobs(root) if v.path == changed).message == "evaluated again"
    assert opened == [STATUS]

    opened.clear()
    runs = list_runs(root)
    assert len(runs) == 300 and all(r.config is not None for r in runs)
    assert sorted(set(opened)) == ["config.json"] and len(opened) <= 300  # the statuses were read already
    runs[0].config.model.hidden_dim, runs[0].status["state"] = 7, "changed by a caller"
    opened.clear()
    again = {r.name: r for r in list_runs(root)}[runs[0].name]
    assert opened == []
    assert (again.config.model.hidden_dim, again.state, again.status["state"]) == (16, "finished", "finished")

    # A file changed within FRESH_SECONDS may change again unseen (the clock is coarse): read each time.
    monkeypatch.setattr(fileio, "FRESH_SECONDS", 2 * 3600.0)
    opened.clear()
    jobs.list_jobs(root)
    assert opened.count(STATUS) == 300
