"""Browser end-to-end tests: the real app (`streamlit run`) driven by headless Chromium.

Fixtures
- `e2e_dirs` / `e2e_env`: a temporary data root and runs folder (the tests never touch the
  project's data/runs), the test treebank from tests/conftest.py, the shared corpus cache.
- `trained_run`: a small model trained by the CLI into the temporary runs folder while the
  server starts, so the home page lists it and the playground has a model to load.
- `app_url`: one Streamlit server for the whole session, started as a subprocess in its own
  process group; stopped (SIGTERM, then SIGKILL) in a finalizer, also when a test fails.
- `browser` / `page`: Debian's Chromium through Playwright (never a downloaded browser);
  a fresh 1280x800 page per test.
- `app`: an `AppPage` on that page: `open(path)`, `idle()` (wait for the rerun to finish and
  check no exception box shows), `widget(key)`, `screenshot(name)`.

Screenshots go to test-artifacts/screenshots/ and are listed at the end of the test output.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
SERVER_START_SECONDS = 120   # a cold start imports torch, spaCy and plotly on a busy 2-core machine
SCRIPT_SECONDS = 90          # the longest a page may take to finish running (first visits build caches)
EXCEPTION = '[data-testid="stException"]'
STATUS_WIDGET = '[data-testid="stStatusWidget"]'
APP = '[data-testid="stApp"]'
SKELETON = '[data-testid="stSkeleton"]'

_written_screenshots: list[Path] = []


def _patient_expectations() -> None:
    """expect(...) waits up to SCRIPT_SECONDS (default 5 s): a rerun on a busy 2-core machine is slow."""
    from playwright.sync_api import expect

    expect.set_options(timeout=SCRIPT_SECONDS * 1000)


_patient_expectations()


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


def pytest_terminal_summary(terminalreporter):
    if _written_screenshots:
        terminalreporter.section("e2e screenshots")
        for path in _written_screenshots:
            terminalreporter.write_line(str(path))


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
    from playwright.sync_api import sync_playwright

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
    from sentiment_core.data.corpus import default_cache_dir

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
            "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false"]


def wait_for_health(url: str, process: subprocess.Popen, log_path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Streamlit server exited with code {process.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Streamlit server did not answer {url} within {seconds:.0f} s:\n{tail(log_path)}")


def stop_process_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the server's whole process group, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=grace)


def stop_leftover_training(runs_dir: Path) -> None:
    """SIGTERM to training processes the pages started (their own sessions outlive the server),
    e.g. when a test failed before pressing Stop; SIGTERM stops training between batches."""
    from sentiment_core.runs.jobs import list_jobs
    from sentiment_core.runs.processes import is_process_alive

    for view in list_jobs(runs_dir):
        if not view.active:
            continue
        for pid in {view.status.get("pid"), (view.job or {}).get("pid")}:
            if is_process_alive(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="session")
def app_server(e2e_env, e2e_dirs, training_process, request):
    """(base URL, server log path) of a Streamlit server running the dashboard."""
    port = free_port()
    log_path = e2e_dirs["data"].parent / "streamlit.log"  # per session: several sessions may run at once
    log = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(server_command(port), cwd=ROOT, env=e2e_env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)  # its own process group: stopping it stops its children

    def stop():
        stop_process_group(process)
        log.close()
        stop_leftover_training(e2e_dirs["runs"])

    request.addfinalizer(stop)
    url = f"http://127.0.0.1:{port}"
    wait_for_health(f"{url}/_stcore/health", process, log_path, SERVER_START_SECONDS)
    request.getfixturevalue("trained_run")  # every test sees the same runs folder: the model is in it
    return url, log_path


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server[0]


# ---------------------------------------------------------------------------------------------
# Helpers for the tests


def busy(page) -> bool:
    """True while Streamlit runs the script or the browser still draws its output.

    Running: the app's script state (what Streamlit's own e2e tests wait on) or its status
    widget. Drawing: skeletons, which stand in for elements (plotly charts, dataframes) until
    their code has loaded and drawn them, seconds after the script ended on a slow machine.
    """
    state = page.locator(APP).get_attribute("data-test-script-state")
    return (state != "notRunning" or page.locator(STATUS_WIDGET).count() > 0
            or page.locator(SKELETON).count() > 0)


# After an action, how long to give a rerun it may have caused to be asked for before deciding it
# caused none: debounced widgets (sliders, text) send their value a moment later (Streamlit's own
# browser tests wait 210 ms for them). A run asked for is then followed to its end however long it takes.
RERUN_GRACE_SECONDS = 0.4
QUIET_SECONDS = 0.25   # idle this long in a row: a script that reruns itself has had time to start again


class ScriptRuns:
    """Which script runs a tab asked the server for and which the server finished, read from the
    websocket's frames (Streamlit's BackMsg / ForwardMsg protobufs): a run asked for is known at
    once, before the page's own "running" state shows it."""

    def __init__(self, page):
        self.seq = self.last_request = self.last_finish = self.mark = 0
        page.on("websocket", self._watch)

    def _watch(self, websocket) -> None:
        websocket.on("framesent", self._sent)
        websocket.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        if _message_type(payload, "BackMsg") == "rerun_script":
            self.seq += 1
            self.last_request = self.seq

    def _received(self, payload) -> None:
        if _message_type(payload, "ForwardMsg") == "script_finished":
            self.seq += 1
            self.last_finish = self.seq

    def pending(self) -> bool:
        """A run was asked for after the last one finished (requests asked during a run are merged)."""
        return self.last_request > self.last_finish

    def asked_since_mark(self) -> bool:
        return self.last_request > self.mark

    def set_mark(self) -> None:
        self.mark = self.seq


def _message_type(payload, kind: str) -> str | None:
    """The oneof `type` of a binary Streamlit frame, or None (text frames, unparsable bytes)."""
    if not isinstance(payload, bytes):
        return None
    from google.protobuf.message import DecodeError
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    try:
        return (BackMsg if kind == "BackMsg" else ForwardMsg).FromString(payload).WhichOneof("type")
    except DecodeError:
        return None


def wait_until_idle(page, runs: ScriptRuns, timeout: float = SCRIPT_SECONDS) -> None:
    """Wait until the script has run and its output is drawn (no fixed sleeps).

    A run the last action asked for is seen in the websocket's frames (`runs`); when none has
    been asked for yet, give one RERUN_GRACE_SECONDS to be asked for. Then wait until no run is
    pending and the page has been quiet for QUIET_SECONDS in a row.
    """
    page.locator(f'{APP}[data-test-connection-state="CONNECTED"]').wait_for(state="attached",
                                                                            timeout=timeout * 1000)
    started = time.monotonic()
    while (time.monotonic() - started < RERUN_GRACE_SECONDS and not runs.asked_since_mark()
           and not busy(page)):
        page.wait_for_timeout(50)
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        if runs.pending() or busy(page):
            quiet_since = None
        else:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= QUIET_SECONDS:
                runs.set_mark()
                return
        page.wait_for_timeout(50)
    raise AssertionError(f"the app was still running after {timeout:.0f} s")


def assert_no_exception(page) -> None:
    boxes = page.locator(EXCEPTION)
    if boxes.count():
        raise AssertionError("the page shows a Streamlit exception:\n" + boxes.first.inner_text()[:3000])


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    _written_screenshots.append(path)
    print(f"screenshot: {path}")
    return path


class AppPage:
    """A browser tab on the app, with the waits and checks every test needs."""

    def __init__(self, page, log_path: Path):
        self.page = page
        self.log_path = log_path
        self.runs = ScriptRuns(page)  # before the first goto: it listens for the page's websocket

    def open(self, path: str = "/") -> None:
        """Load a page of the app, wait until its script has run, check it shows no exception."""
        self.page.goto(path)
        self.page.locator(APP).wait_for(state="attached")
        self.idle()

    def idle(self, timeout: float = SCRIPT_SECONDS) -> None:
        """Wait for the rerun an action caused to finish; then no exception box may show."""
        wait_until_idle(self.page, self.runs, timeout)
        self.no_exception()

    def no_exception(self) -> None:
        assert_no_exception(self.page)

    def main(self):
        """The main area (not the sidebar)."""
        return self.page.locator('[data-testid="stMain"]')

    def text(self) -> str:
        return self.main().inner_text()

    def widget(self, key: str):
        """The element of a widget created with `key=...` (Streamlit adds the class st-key-<key>)."""
        return self.page.locator(f".st-key-{key}")

    def errors(self) -> list[str]:
        return self.page.locator('[data-testid="stAlertContentError"]').all_inner_texts()

    def screenshot(self, name: str) -> Path:
        # No hover or focus tooltip of whatever was used last: blur it, park the mouse on the header.
        self.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        self.page.mouse.move(VIEWPORT["width"] // 2, 5)
        tooltips = self.page.locator('[data-testid="stTooltipContent"], [role="tooltip"]')
        for tooltip in tooltips.all():
            try:
                tooltip.wait_for(state="hidden", timeout=3000)
            except Exception:  # a tooltip that stays only spoils the picture, not the test
                pass
        return screenshot(self.page, name)

    def scroll_to(self, element) -> None:
        """Scroll so that `element` is at the top of the window (for screenshots)."""
        element.first.evaluate("node => node.scrollIntoView({block: 'start'})")

    def server_log(self) -> str:
        return tail(self.log_path)


@pytest.fixture
def app(page, app_server, request):
    """The test's browser tab on the app; a failed test also prints the end of the server's log."""
    yield AppPage(page, app_server[1])
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"--- end of the Streamlit server log ({app_server[1]}) ---\n{tail(app_server[1])}")
