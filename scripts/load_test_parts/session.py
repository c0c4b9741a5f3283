"""A visitor: one WebSocket session, the messages a browser sends."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates


class PageError(RuntimeError):
    """The page showed an exception or an error, or a run did not finish."""


@dataclass
class Page:
    """What one script run sent: widget ids by key, metrics, errors."""

    widgets: dict[str, str] = field(default_factory=dict)   # key -> widget id
    metrics: dict[str, str] = field(default_factory=dict)   # label -> shown value
    problems: list[str] = field(default_factory=list)       # exceptions and st.error texts
    pages: dict[str, str] = field(default_factory=dict)     # url path -> page script hash
    texts: list[str] = field(default_factory=list)          # markdown, alerts, captions, labels, options
    labels: dict[str, str] = field(default_factory=dict)    # key -> a widget's label (its buttons' words)
    options: dict[str, list[str]] = field(default_factory=dict)  # key -> a select box's choices, as shown
    auto_rerun: list[tuple[float, str]] = field(default_factory=list)  # (seconds, fragment id): live sections
    full_run: bool = True                                   # False: only a fragment (a live section) ran


class Session:
    """A browser's conversation with the server, without the browser."""

    def __init__(self, socket, timeout: float):
        self.socket = socket  # a connected websockets.sync client
        self.timeout = timeout
        self.pages: dict[str, str] = {}
        self.query = ""                                   # the page's query string, as the browser's URL has it
        self.live: tuple[float, str] | None = None        # the live section the page asked to rerun on a timer

    def run(self, page: str, widgets: dict[str, str | bool] | None = None, *, query: str | None = None,
            fragment: str = "") -> tuple[Page, float]:
        """Rerun the script on `page` (url path) with these widget values (text, or True: a button
        click); (what it sent, seconds). `query`: a new query string (default: the page's own, as
        the server last set it). `fragment`: rerun only that live section, as the browser's timer does."""

        def state_of(widget: str, value) -> WidgetState:
            if value is True:  # a button: one click is a trigger value, true for one script run
                return WidgetState(id=widget, trigger_value=True)
            return WidgetState(id=widget, string_value=value)

        if query is not None:
            self.query = query
        states = WidgetStates(widgets=[state_of(widget, value) for widget, value in (widgets or {}).items()])
        state = ClientState(query_string=self.query, widget_states=states, page_name=page,
                            page_script_hash=self.pages.get(page, ""), fragment_id=fragment,
                            is_auto_rerun=bool(fragment))
        started = time.perf_counter()
        self.socket.send(BackMsg(rerun_script=state).SerializeToString())
        result = self._collect(full=not fragment)
        seconds = time.perf_counter() - started
        self.pages.update(result.pages)
        if result.full_run:  # a full run declares its live sections anew; a fragment's run keeps them
            self.live = result.auto_rerun[-1] if result.auto_rerun else None
        return result, seconds

    def _collect(self, full: bool = True) -> Page:
        page = Page(full_run=full)
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PageError(f"no answer within {self.timeout:.0f} s")
            message = ForwardMsg()
            message.ParseFromString(self.socket.recv(timeout=left))
            kind = message.WhichOneof("type")
            if kind == "navigation":
                page.pages = {p.url_pathname: p.page_script_hash for p in message.navigation.app_pages}
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                self._read_element(message.delta.new_element, page, Alert.ERROR)
            elif kind == "page_info_changed":
                self.query = message.page_info_changed.query_string
            elif kind == "auto_rerun":
                page.auto_rerun.append((message.auto_rerun.interval, message.auto_rerun.fragment_id))
            elif kind == "script_finished":
                status = message.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    # the script asked for a rerun (a live section's st.rerun(scope="app") reruns
                    # the whole page): wait for that one
                    page.full_run, page.auto_rerun = True, []
                    continue
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    page.problems.append("the page did not compile")
                return page

    @staticmethod
    def _read_element(element, page: Page, error_format: int) -> None:
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        widget = getattr(body, "id", "")
        key = widget.split("-", 2)[2] if isinstance(widget, str) and widget.startswith("$$ID-") else None
        if key is not None:  # $$ID-<hash>-<key>
            page.widgets[key] = widget
            page.labels[key] = getattr(body, "label", "")
        for text_field in ("body", "label", "text"):  # markdown and alerts, widgets' labels, progress bars
            text = getattr(body, text_field, None)
            if isinstance(text, str) and text:
                page.texts.append(text)
        if kind == "selectbox":
            page.options[key or widget] = list(body.options)
            page.texts.extend(body.options)
        if kind == "metric":
            page.metrics[body.label] = body.body
        elif kind == "exception":
            page.problems.append(f"exception {body.type}: {body.message}")
        elif kind == "alert" and body.format == error_format:
            page.problems.append(f"error: {body.body}")
