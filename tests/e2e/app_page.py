"""A browser tab on the app and the waits and checks every browser test needs: `AppPage` with
`open(path)`, `idle()` (wait for the rerun to finish and check no exception box shows),
`widget(key)`, `screenshot(name)`.

Screenshots go to test-artifacts/screenshots/; conftest.py lists those a session wrote at its end
(with pytest-xdist, those every worker wrote).
"""
from __future__ import annotations

import time
from pathlib import Path

from google.protobuf.message import DecodeError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.e2e.servers import ROOT, tail

ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
SCRIPT_SECONDS = 90          # the longest a page may take to finish running (first visits build caches)
EXCEPTION = '[data-testid="stException"]'
STATUS_WIDGET = '[data-testid="stStatusWidget"]'
APP = '[data-testid="stApp"]'
SKELETON = '[data-testid="stSkeleton"]'

# Screenshots written by this process and not yet reported: conftest.py moves them onto the test's
# report, which pytest-xdist carries from its worker to the session that prints the list.
written_screenshots: list[Path] = []


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
    written_screenshots.append(path)
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
