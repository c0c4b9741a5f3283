"""The background-run watcher (dashboard/components/run_watcher.py) in a one-section page."""
from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from sentiment_core.runs import jobs
from sentiment_core.config import RunConfig
from sentiment_core.runs.store import create_run, write_status


def watcher_page():
    """Runs the watcher over $WATCH_ROOT; `follows` is true only on its first call when $WATCH_FLIP is set."""
    import os
    from pathlib import Path

    import streamlit as st

    from dashboard.components.run_watcher import any_active, watch_runs

    st.session_state.setdefault("page_runs", 0)
    st.session_state.setdefault("follows_calls", 0)
    st.session_state.page_runs += 1

    def follows(views):
        st.session_state.follows_calls += 1
        return st.session_state.follows_calls == 1 if os.environ.get("WATCH_FLIP") else any_active(views)

    def draw(views):
        st.markdown("runs: " + ", ".join(sorted(f"{v.name}={v.state}" for v in views)))

    watch_runs(Path(os.environ["WATCH_ROOT"]), None, draw, follows=follows, every=60)
    st.markdown(f"page runs: {st.session_state.page_runs}")


def open_watcher(monkeypatch, root, flip: bool = False) -> AppTest:
    monkeypatch.setenv("WATCH_ROOT", str(root))
    if flip:
        monkeypatch.setenv("WATCH_FLIP", "1")
    at = AppTest.from_function(watcher_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_the_watcher_draws_every_run_with_its_state(monkeypatch, tmp_path):
    running = create_run(RunConfig(), root=tmp_path, name="a-running")
    write_status(running, state="running", pid=os.getpid())  # this process: alive
    stopped = create_run(RunConfig(), root=tmp_path, name="b-stopped")
    write_status(stopped, state="stopped", message="Stopped on request.")
    at = open_watcher(monkeypatch, tmp_path)
    assert "runs: a-running=running, b-stopped=stopped" in markdown(at)
    assert "page runs: 1" in markdown(at)


def test_the_whole_page_reruns_once_when_the_followed_runs_change(monkeypatch, tmp_path):
    # follows: True when the page starts (the section polls), False inside the section: the runs ended
    at = open_watcher(monkeypatch, tmp_path, flip=True)
    assert "page runs: 2" in markdown(at) and "runs:" in markdown(at)


def test_an_unreadable_runs_folder_is_a_sentence(monkeypatch, tmp_path):
    def unreadable(root):
        raise PermissionError(13, "Permission denied", str(root))

    monkeypatch.setattr(jobs, "list_jobs", unreadable)
    at = open_watcher(monkeypatch, tmp_path)
    assert any("could not be read" in e.value for e in at.error)
    assert not any(m.startswith("runs:") for m in markdown(at))


def test_a_run_that_changes_state_redraws_the_whole_page(monkeypatch, tmp_path):
    """Labels outside the section (the training page's run picker) follow queued -> running -> finished."""
    run = create_run(RunConfig(), root=tmp_path, name="a-run")
    write_status(run, state="stopped", message="Stopped on request.")
    real_list_jobs, calls = jobs.list_jobs, []

    def list_jobs_then_finish(root):
        views = real_list_jobs(root)
        calls.append(len(calls))
        if len(calls) == 1:  # between the page's read and the section's, its state changes (never active)
            write_status(run, state="finished", message="Finished.")
        return views

    monkeypatch.setattr(jobs, "list_jobs", list_jobs_then_finish)
    at = open_watcher(monkeypatch, tmp_path)
    assert "page runs: 2" in markdown(at)
    assert "runs: a-run=finished" in markdown(at)
