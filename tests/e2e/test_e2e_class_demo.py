"""Issue 20, a hosted demo for a class: two visitors, each in their own browser (a Chromium context
of its own: its own cookies), on public servers.

Visitor A starts a run; visitor B sees no control of it (not even the run); A reloads and keeps
control (the visitor key lives in A's cookie, never in the URL); in class mode
(SENTIMENT_SHARED_RUNS=1) B sees A's results read-only. Nothing trains: a run started from a
terminal (this test process stands in for its trainer) holds the one training slot, so A's run
waits in the queue; A's finished run in class mode is the shipped model copied as A's.

The servers are this module's own (their own empty runs folders), started side by side.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.visitor import COOKIE
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR
from sentiment_core.runs import jobs
from sentiment_core.runs.store import STATUS, create_run, write_status
from tests.e2e.conftest import (ROOT, SERVER_START_SECONDS, SCRIPT_SECONDS, VIEWPORT, AppPage, free_port,
                                server_command, stop_process_group, wait_for_health)
from tests.helpers import tiny_config

RUN_NAME = "visitor-a-run"
FINISHED_NAME = "visitor-a-gru"
CONTROLS = ("Cancel", "Stop", "Resume", "Evaluate the best checkpoint", "Delete run")


def start_server(env: dict, root: Path, request) -> tuple[str, Path, subprocess.Popen]:
    port = free_port()
    log_path = root / "streamlit.log"
    log = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(server_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)

    def stop():
        stop_process_group(process)
        log.close()

    request.addfinalizer(stop)
    return f"http://127.0.0.1:{port}", log_path, process


@pytest.fixture(scope="module")
def servers(e2e_env, tmp_path_factory, request) -> dict[str, tuple[str, Path, Path]]:
    """{"private": ..., "class": ...}: (base URL, log path, runs folder) of two public servers with
    one training slot each; the second in class mode."""
    started = {}
    for mode, shared in (("private", "0"), ("class", "1")):
        root = tmp_path_factory.mktemp(f"class-demo-{mode}")
        runs = root / "data" / "runs"
        runs.mkdir(parents=True)
        env = {**e2e_env, "SENTIMENT_PUBLIC": "1", "SENTIMENT_DATA_DIR": str(root / "data"),
               "SENTIMENT_RUNS_DIR": str(runs), "SENTIMENT_SHARED_RUNS": shared,
               "SENTIMENT_MAX_CONCURRENT_RUNS": "1"}
        url, log_path, process = start_server(env, root, request)
        started[mode] = (url, log_path, runs, process)
    for url, log_path, _, process in started.values():
        wait_for_health(f"{url}/_stcore/health", process, log_path, SERVER_START_SECONDS)
    return {mode: (url, log_path, runs) for mode, (url, log_path, runs, _) in started.items()}


@pytest.fixture
def visitors(browser):
    """visit(server) -> AppPage in a new browser context: a visitor with cookies of their own."""
    contexts = []

    def visit(server) -> AppPage:
        url, log_path, _ = server
        context = browser.new_context(viewport=VIEWPORT, base_url=url)
        context.set_default_timeout(SCRIPT_SECONDS * 1000)
        contexts.append(context)
        return AppPage(context.new_page(), log_path)

    yield visit
    for context in contexts:
        context.close()


def operator_training(runs: Path) -> Path:
    """A run from a terminal that holds the slot (this test process stands in for its trainer)."""
    run_dir = create_run(tiny_config(), root=runs, name="operator-training")
    write_status(run_dir, state="running", pid=os.getpid())
    return run_dir


def visitor_key(app: AppPage) -> str:
    cookie = next(c for c in app.page.context.cookies() if c["name"] == COOKIE)
    assert (cookie["sameSite"], cookie["path"]) == ("Strict", "/") and cookie["expires"] > 0
    return cookie["value"]


def run_buttons(app: AppPage):
    return app.main().get_by_role("button", name=re.compile("^(" + "|".join(CONTROLS) + ")$"))


def test_a_visitor_alone_controls_their_run_also_after_a_reload(servers, visitors):
    server = servers["private"]
    runs = server[2]
    operator_training(runs)
    a = visitors(server)
    a.open("/training")
    name = a.widget("train_name").locator("input")
    name.fill(RUN_NAME)
    name.press("Enter")
    a.idle()
    a.widget("train_start").get_by_role("button").click()
    expect(a.main().get_by_role("heading", name=re.compile(rf"{RUN_NAME}: queued"))).to_be_visible()
    expect(a.main().get_by_text(re.compile(r"1st in the queue; it should start"))).to_be_visible()
    expect(a.main().get_by_role("button", name="Cancel")).to_be_visible()
    key = visitor_key(a)
    assert key not in a.page.url
    job = jobs.read_job(runs / RUN_NAME)
    assert job["owner"] == jobs.owner_digest(key) and key not in json.dumps(job)  # only a hash on disk

    b = visitors(server)
    b.open(f"/training?run={RUN_NAME}")  # even a link naming A's run shows B nothing of it
    assert visitor_key(b) != key
    expect(b.main().get_by_text("No runs yet")).to_be_visible()
    assert RUN_NAME not in b.text() and run_buttons(b).count() == 0
    b.screenshot("class-demo-other-visitor")

    a.page.reload()  # the same browser: the cookie brings the same key back
    expect(a.main().get_by_role("heading", name=re.compile(rf"{RUN_NAME}: queued"))).to_be_visible()
    assert visitor_key(a) == key
    a.main().get_by_role("button", name="Cancel").click()
    expect(a.main().get_by_text(re.compile(rf"{RUN_NAME} was taken out of the queue"))).to_be_visible()
    assert not (runs / RUN_NAME).exists()


def finished_run_of(runs: Path, key: str) -> Path:
    """The shipped model copied into the runs folder as a run visitor `key` finished."""
    run_dir = Path(shutil.copytree(PRETRAINED_DIR / PLAYGROUND_MODEL, runs / FINISHED_NAME))
    status = json.loads((run_dir / STATUS).read_text(encoding="utf-8"))
    status.pop("shipped", None)
    (run_dir / STATUS).write_text(json.dumps(status), encoding="utf-8")
    jobs.write_job(run_dir, kind="train", state=jobs.DONE, owner=jobs.owner_digest(key), launched_at=1.0,
                   ended_at=2.0)
    return run_dir


@pytest.mark.slow
def test_in_class_mode_another_visitor_sees_the_results_read_only(servers, visitors):
    server = servers["class"]
    a = visitors(server)
    a.open("/training")
    finished_run_of(server[2], visitor_key(a))

    b = visitors(server)
    b.open(f"/training?run={FINISHED_NAME}")
    expect(b.main().get_by_role("heading", name=re.compile(rf"{FINISHED_NAME}: finished"))).to_be_visible()
    expect(b.main().get_by_text("Another visitor's run: shown read-only.")).to_be_visible()
    expect(b.main().get_by_text("test accuracy").first).to_be_visible()
    expect(b.main().get_by_role("heading", name="Class leaderboard")).to_be_visible()
    assert run_buttons(b).count() == 0
    b.scroll_to(b.main().get_by_role("heading", name="Class leaderboard"))
    b.screenshot("class-demo-leaderboard")

    a.page.reload()
    expect(a.main().get_by_role("heading", name=re.compile(rf"{FINISHED_NAME}: finished"))).to_be_visible()
    expect(a.main().get_by_text("Another visitor's run: shown read-only.")).to_have_count(0)
