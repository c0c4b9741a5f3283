"""Browser end-to-end tests: the real app (`streamlit run`) driven by headless Chromium.

Fixtures
- `e2e_dirs` / `e2e_env`: a temporary data root and runs folder (the tests never touch the
  project's data/runs), the test treebank from tests/conftest.py, the shared corpus cache.
- `trained_run`: a small model trained by the CLI into the temporary runs folder while the
  server starts, so the home page lists it and the playground has a model to load.
- `app_url`: one Streamlit server for the whole session (for each pytest-xdist worker: its own,
  on its own free port and folders), started as a subprocess in its own process group; stopped
  (SIGTERM, then SIGKILL) in a finalizer, also when a test fails (servers.py).
- `browser` / `page`: Debian's Chromium through Playwright (never a downloaded browser);
  a fresh 1280x800 page per test.
- `app`: an `AppPage` on that page (app_page.py): `open(path)`, `idle()` (wait for the rerun to
  finish and check no exception box shows), `widget(key)`, `screenshot(name)`.

Screenshots go to test-artifacts/screenshots/ and are listed at the end of the test output.
The names test modules import from here are defined in servers.py and app_page.py.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from sentiment_core.data.corpus import default_cache_dir
from tests.e2e import app_page
from tests.e2e.app_page import SCREENSHOTS, SCRIPT_SECONDS, VIEWPORT, AppPage, screenshot
from tests.e2e.servers import (ROOT, SERVER_START_SECONDS, free_port, server_command, start_server,
                               stop_leftover_training, stop_process_group, tail, wait_for_health)

__all__ = ["ROOT", "SCRIPT_SECONDS", "SERVER_START_SECONDS", "VIEWPORT", "AppPage", "free_port", "server_command",
           "stop_leftover_training", "stop_process_group", "wait_for_health"]  # what test modules import from here

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]

# expect(...) waits up to SCRIPT_SECONDS (default 5 s): a rerun on a busy 2-core machine is slow.
expect.set_options(timeout=SCRIPT_SECONDS * 1000)


# ---------------------------------------------------------------------------------------------
# Marking, reporting


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)  # the page fixture screenshots failures
    # The screenshots this phase wrote travel on its report: with pytest-xdist the worker that wrote
    # them is not the process that prints the summary (tests/conftest.py lists them).
    report.user_properties.extend(("screenshot", str(path)) for path in app_page.written_screenshots)
    app_page.written_screenshots.clear()


# ---------------------------------------------------------------------------------------------
# Chromium


def chromium_path() -> str:
    """Debian's Chromium (CI installs it in .ci/run); $CHROMIUM_PATH overrides."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("The browser tests need Chromium: install it (`sudo apt-get install --no-install-recommends "
                "chromium`) or set CHROMIUM_PATH; or leave these tests out with `-m 'not e2e'`.",
                pytrace=False)


@pytest.fixture(scope="session")
def browser():
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    except BaseException:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser, app_url, request):
    (SCREENSHOTS / f"FAILED-{request.node.name}.png").unlink(missing_ok=True)  # from an earlier session
    context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
    context.set_default_timeout(SCRIPT_SECONDS * 1000)
    tab = context.new_page()
    yield tab
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        try:
            screenshot(tab, f"FAILED-{request.node.name}")
        except Exception:  # the page may be gone; the failure itself is what matters
            pass
    context.close()


# ---------------------------------------------------------------------------------------------
# Data, a trained run, the server


@pytest.fixture(scope="session")
def e2e_dirs(tmp_path_factory, corpus) -> dict[str, Path]:
    """A temporary data root and runs folder; the tokenized-corpus cache is the shared one
    (`corpus` has just built or read it), so no process tokenizes the treebank again."""
    root = tmp_path_factory.mktemp("e2e")
    dirs = {"data": root / "data", "runs": root / "data" / "runs", "cache": default_cache_dir()}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return dirs


@pytest.fixture(scope="session")
def e2e_env(e2e_dirs, sst_dir) -> dict[str, str]:
    """The environment of the server and of the CLI runs the tests start (treebank: tests/conftest.py)."""
    env = dict(os.environ)
    env.update(SST_DIR=str(sst_dir), SENTIMENT_DATA_DIR=str(e2e_dirs["data"]),
               SENTIMENT_RUNS_DIR=str(e2e_dirs["runs"]), SENTIMENT_CACHE_DIR=str(e2e_dirs["cache"]),
               PYTHONUNBUFFERED="1")
    return env


PLAYGROUND_RUN = "e2e-playground"


@pytest.fixture(scope="session")
def training_process(e2e_dirs, e2e_env, request):
    """The CLI training the playground's model, started early so it overlaps the server's start."""
    run_dir = e2e_dirs["runs"] / PLAYGROUND_RUN
    command = [sys.executable, "-m", "sentiment_core", "train", "--cell", "gru", "--embedding-dim", "32",
               "--hidden-dim", "32", "--epochs", "1", "--train-limit", "2000", "--eval-limit", "200",
               "--batch-size", "32", "--patience", "none", "--probe-every", "0", "--out", str(run_dir), "--quiet"]
    log_path = e2e_dirs["data"].parent / "train-playground-model.log"
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=e2e_env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    request.addfinalizer(lambda: stop_process_group(process))
    return process, run_dir, log_path


@pytest.fixture(scope="session")
def trained_run(training_process) -> Path:
    """A small GRU trained for one epoch by the CLI (about 15 s), for the playground."""
    process, run_dir, log_path = training_process
    code = process.wait(timeout=300)
    assert code == 0, f"training the playground's model failed:\n{tail(log_path)}"
    assert (run_dir / "checkpoint.pt").is_file()
    return run_dir


@pytest.fixture(scope="session")
def app_server(e2e_env, e2e_dirs, training_process, request):
    """(base URL, server log path) of a Streamlit server running the dashboard."""
    log_path = e2e_dirs["data"].parent / "streamlit.log"  # per session: several sessions may run at once
    url, process = start_server(e2e_env, log_path)

    def stop():
        stop_process_group(process)
        stop_leftover_training(e2e_dirs["runs"])

    request.addfinalizer(stop)
    request.getfixturevalue("trained_run")  # every test sees the same runs folder: the model is in it
    return url, log_path


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server[0]


@pytest.fixture
def app(page, app_server, request):
    """The test's browser tab on the app; a failed test also prints the end of the server's log."""
    yield AppPage(page, app_server[1])
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"--- end of the Streamlit server log ({app_server[1]}) ---\n{tail(app_server[1])}")
