"""Load test: simulated visitors use the explorer and the playground at once while a run trains.

    python scripts/load_test.py [--visitors 10] [--rounds 3] [--epochs 1] [--baseline]
    python scripts/load_test.py --train [--visitors 30] [--spread 5] [--poll 1] [--class-minutes 60]

Everything runs on this machine, in a temporary folder (runs, data); the treebank comes from
$SST_DIR or data/sst.
1. A small model is trained with the CLI for the playground (or --model RUN_DIR is copied in).
2. Optionally (--baseline) the background run's settings are trained alone, for comparison.
3. The app is started with `streamlit run` (a real server on a free port).
4. One training run starts in the background through sentiment_core.runs.jobs, as the training
   page starts one (a separate `python -m sentiment_core train` process).
5. One warm-up visitor fills the server's caches (as on a server that has had a visitor), then
   N visitors at once, each a thread with its own WebSocket session speaking Streamlit's own
   protocol (the messages a browser sends: "rerun the script with these widget values").
   Each round a visitor opens the explorer, searches a word, opens the playground and types a
   sentence of its own (dev sentences, so no two visitors share a cached answer).
6. It waits for the training run and prints per-page response times (median, p95, max),
   failures, and whether the run finished (with its training time).

A response time is from sending the request to the server's "script finished" message: the
server's work under contention plus the local network, without the browser's drawing.

With --train, a class instead: the app in public mode (SENTIMENT_PUBLIC=1) on an empty runs
folder, nothing trained beforehand. Each visitor is a thread with its own WebSocket session and
its own visitor cookie (sentiment_visitor, sent with the handshake, as a browser does), so the
server sees N different browsers. After one warm-up visitor, all open the training page (preset
`quick`) and press Start (a button click is a trigger value) within --spread seconds, naming
their run class-NN; each then follows the run as the browser's live view does (the page's live
section reruns on the timer the page sets) until it ends, opens the playground and types a
sentence. Checked on every page: no exception or error; the run heading shows their run and its
state, a waiting run its queue place; no other visitor's run name or Stop / Cancel / Resume /
Evaluate button appears. It prints the views per page, the page responses while the class
trains (first Start to last run's end), the time until the last run finished, and how far the
queue's start estimates were off. The server is stopped at the end, and every training
process it started, also on failure or SIGTERM.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SERVER_START_SECONDS = 120


# ---------------------------------------------------------------------------------------------
# Figures


@dataclass
class Timings:
    """Seconds per (page, action), and what went wrong; shared by the visitor threads."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stamped: list[tuple[float, float]] = field(default_factory=list)  # (wall clock at the request, seconds)

    def add(self, what: str, seconds: float) -> None:
        with self.lock:
            self.seconds.setdefault(what, []).append(seconds)
            self.stamped.append((time.time() - seconds, seconds))

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(share * len(ranked)) - 1)]


def report(timings: Timings, wall: float, visitors: int, rounds: int,
           pages: tuple[str, ...] = ("explorer", "playground")) -> list[str]:
    lines = [f"{visitors} visitors x {rounds} rounds in {wall:.1f} s of wall time",
             f"{'page: action':<22} {'views':>5} {'median s':>9} {'p95 s':>7} {'max s':>7}"]
    rows = sorted(timings.seconds.items())
    for page in pages:
        values = [v for what, vs in timings.seconds.items() if what.startswith(page) for v in vs]
        if values:
            rows.append((page + ": all", values))
    for what, values in rows:
        lines.append(f"{what:<22} {len(values):>5} {statistics.median(values):>9.2f} "
                     f"{percentile(values, 0.95):>7.2f} {max(values):>7.2f}")
    lines.append(f"failures: {len(timings.failures)}")
    lines += [f"  {failure}" for failure in timings.failures[:20]]
    return lines


# ---------------------------------------------------------------------------------------------
# A visitor: one WebSocket session, the messages a browser sends


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
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

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
        from streamlit.proto.Alert_pb2 import Alert
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

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


def visit(visitor: int, url: str, rounds: int, sentences: list[str], timings: Timings, timeout: float) -> None:
    """One visitor: explorer (open, search), playground (open, type a sentence), `rounds` times."""
    from websockets.sync.client import connect

    try:
        socket = connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                         max_size=None, open_timeout=timeout)
    except Exception as err:
        timings.fail(f"visitor {visitor}: could not connect ({type(err).__name__}: {err})")
        return
    with socket:
        try:
            play(Session(socket, timeout), visitor, rounds, sentences, timings)
        except Exception as err:
            timings.fail(f"visitor {visitor}: {type(err).__name__}: {err}")


def play(session: Session, visitor: int, rounds: int, sentences: list[str], timings: Timings) -> None:
    """The rounds of one visitor; raises at the first page that fails."""
    for round_number in range(rounds):
        sentence = sentences[(visitor * rounds + round_number) % len(sentences)]
        word = max(sentence.split(), key=len).lower()  # a word of the visitor's own sentence
        explorer = step(session, timings, "explorer: open", "explorer")
        search = explorer.widgets.get("explorer_search")
        if search is None:
            raise PageError("the explorer shows no search box")
        step(session, timings, "explorer: search", "explorer", {search: word})
        playground = step(session, timings, "playground: open", "playground")
        text = playground.widgets.get("pg_text")
        if text is None:
            raise PageError(f"the playground shows no sentence box (problems: {playground.problems})")
        answer = step(session, timings, "playground: predict", "playground", {text: sentence})
        if "Predicted label" not in answer.metrics:
            raise PageError(f"no prediction shown for {sentence!r}")


def step(session: Session, timings: Timings, what: str, page: str, widgets: dict | None = None) -> Page:
    result, seconds = session.run(page, widgets)
    timings.add(what, seconds)
    if result.problems:
        raise PageError(f"{what}: {'; '.join(result.problems)[:300]}")
    return result


# ---------------------------------------------------------------------------------------------
# A class trains (--train): each visitor starts the `quick` preset and follows their own run


COOKIE = "sentiment_visitor"                 # dashboard/visitor.py: the key that makes a browser a visitor
START, RUN_NAME = "train_start", "train_name"  # the training page's Start button and run name box
CONTROLS = ("train_stop", "train_resume", "train_evaluate", "train_delete")  # a run's buttons
MODEL_PICKER, SENTENCE = "pg_run", "pg_text"   # the playground's model picker and sentence box
# The run panel's heading, "### :material/schedule: class-07: queued" (views/training.py show_run).
RUN_HEADING = re.compile(r"^###\s+(?::[\w/]+:\s+)?(?P<name>.+):\s+(?P<state>[a-z]+)$")
QUEUE_PLACE = re.compile(r"(\d+)(?:st|nd|rd|th) in the queue|in the queue at place (\d+)")
WAIT_ESTIMATE = re.compile(r"should start (?:any moment now|in about (?P<when>[^(]+?)) \(")
MEASURED = "took on this server"  # an estimate from runs finished here, not from the settings alone
ENDED = ("finished", "stopped", "failed", "interrupted", "broken")


@dataclass
class Student:
    """One visitor of the class: what they did and what their pages showed them."""

    number: int
    run_name: str
    key: str                                    # their browser's visitor cookie
    arrived: bool = False                       # the training page opened, Start at hand
    clicked_at: float | None = None             # wall clock of the Start click
    states: list[tuple[float, str]] = field(default_factory=list)  # (wall clock, their run's state as shown)
    queue_places: list[int] = field(default_factory=list)          # every queue place they were shown
    estimate: tuple[float, float] | None = None  # (wall clock, seconds): the first start estimate shown
    measured: tuple[float, float] | None = None  # the same, for the first one from runs measured here
    controls: set[str] = field(default_factory=set)  # the labels of their own run's buttons
    foreign: list[str] = field(default_factory=list)  # what they saw of other visitors' runs
    predicted: str | None = None                # the playground's answer with their model
    problem: str | None = None                  # the first thing that went wrong

    @property
    def state(self) -> str | None:
        return self.states[-1][1] if self.states else None


@dataclass
class ClassPlan:
    """What the visitor threads share: the moment to press Start, the deadline, the other runs' names."""

    names: set[str]                             # every visitor's run name
    spread: float                               # seconds over which the class presses Start
    poll: float                                 # shortest pause between two live updates
    deadline: float                             # time.monotonic() by which everything has ended
    ready: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    go: threading.Event = field(default_factory=threading.Event)


def duration_seconds(text: str) -> float | None:
    """'1 min 10 s', '45 s', '1 h 02 min' (views/training.py format_duration) in seconds."""
    units = {"h": 3600, "min": 60, "s": 1}
    parts = re.findall(r"(\d+)\s*(h|min|s)\b", text)
    return float(sum(int(number) * units[unit] for number, unit in parts)) if parts else None


def observe(student: Student, page: Page, plan: ClassPlan) -> None:
    """Note the run state, queue place and estimate the page showed, and anything of another visitor's."""
    now = time.time()
    texts = [text.replace("\\", "") for text in page.texts]  # markdown escapes: class\-07
    others = plan.names - {student.run_name}
    heading = None
    for text in texts:
        seen = [name for name in others if name in text]
        if seen:
            student.foreign.append(f"{', '.join(sorted(seen))} in {text[:100]!r}")
        match = RUN_HEADING.match(text.strip())
        if match:
            heading = match["name"].strip()
            if heading == student.run_name and student.state != match["state"]:
                student.states.append((now, match["state"]))
        match = QUEUE_PLACE.search(text)
        if match:
            student.queue_places.append(int(match[1] or match[2]))
        match = WAIT_ESTIMATE.search(text)
        if match:
            said = (now, duration_seconds(match["when"] or "") or 0.0)  # "any moment now": 0
            student.estimate = student.estimate or said
            if MEASURED in text:
                student.measured = student.measured or said
    controls = {page.labels.get(key, key) for key in CONTROLS if key in page.widgets}
    if controls and heading == student.run_name:
        student.controls |= controls
    elif controls:
        student.foreign.append(f"the buttons {sorted(controls)} beside the run {heading!r}")


def class_step(session: Session, timings: Timings, student: Student, plan: ClassPlan, what: str, page: str,
               widgets: dict | None = None, **how) -> Page:
    result, seconds = session.run(page, widgets, **how)
    timings.add(what, seconds)
    observe(student, result, plan)
    if result.problems:
        raise PageError(f"{what}: {'; '.join(result.problems)[:300]}")
    return result


def class_visit(student: Student, url: str, plan: ClassPlan, sentence: str, timings: Timings,
                timeout: float) -> None:
    """One student: their own WebSocket session, their own visitor cookie sent with the handshake."""
    from websockets.sync.client import connect

    try:
        with connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"], max_size=None,
                     open_timeout=timeout, additional_headers={"Cookie": f"{COOKIE}={student.key}"}) as socket:
            train_and_play(Session(socket, timeout), student, plan, sentence, timings)
    except Exception as err:
        student.problem = f"{type(err).__name__}: {err}"[:400]
    finally:
        if not student.arrived:
            plan.ready.release()  # never keep the class waiting for a visitor who failed


def train_and_play(session: Session, student: Student, plan: ClassPlan, sentence: str, timings: Timings) -> None:
    """Open the training page, press Start on `quick` with the class, follow the run as the live view
    does (its section reruns on the timer the page sets), then ask the playground with the model."""
    page = class_step(session, timings, student, plan, "training: open", "training", query="preset=quick")
    start, name = page.widgets.get(START), page.widgets.get(RUN_NAME)
    if start is None or name is None:
        raise PageError("the training page shows no Start button or run name box")
    student.arrived = True
    plan.ready.release()
    if not plan.go.wait(timeout=max(0.0, plan.deadline - time.monotonic())):
        raise PageError("the class never pressed Start")
    time.sleep(plan.spread * random.Random(student.number).random())
    student.clicked_at = time.time()
    class_step(session, timings, student, plan, "training: Start", "training", {name: student.run_name, start: True})
    if student.state is None:
        raise PageError("after Start the page shows no run of theirs")
    while student.state not in ENDED:
        if time.monotonic() > plan.deadline:
            raise PageError(f"their run was still {student.state} at the deadline")
        interval, fragment = session.live or (plan.poll, "")  # no live section: rerun the page
        time.sleep(max(interval, plan.poll))
        class_step(session, timings, student, plan, "training: live update" if fragment else "training: rerun",
                   "training", fragment=fragment)
    if student.state != "finished":
        raise PageError(f"their run ended {student.state}")
    page = class_step(session, timings, student, plan, "playground: open", "playground", query="")
    models = page.options.get(MODEL_PICKER) or []
    if not models or not models[0].replace("\\", "").startswith(student.run_name):
        raise PageError(f"the playground's first model is not their run: {models[:2]}")
    answer = class_step(session, timings, student, plan, "playground: predict", "playground",
                        {page.widgets[SENTENCE]: sentence})
    student.predicted = answer.metrics.get("Predicted label")
    if student.predicted is None:
        raise PageError(f"no prediction shown for {sentence!r}")


def stop_training(runs: Path) -> int:
    """Stop every training process still running for a run in `runs` (they outlive the server); how many."""
    from sentiment_core.runs import jobs
    from sentiment_core.runs.processes import is_process_alive

    alive = []
    for run_dir in sorted(p for p in runs.iterdir() if p.is_dir()):
        job = jobs.read_job(run_dir) or {}
        if is_process_alive(job.get("pid"), job.get("pid_started")):
            alive.append((job["pid"], job.get("pid_started")))
    for pid, _ in alive:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGTERM)  # each trainer leads its own session (processes.launch_detached)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(is_process_alive(pid, started) for pid, started in alive):
        time.sleep(0.5)
    for pid, started in alive:
        if is_process_alive(pid, started):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
    return len(alive)


def class_report(students: list[Student], views: list, timings: Timings, first_click: float,
                 limits, warm_up: float, loads: tuple[float, float, float]) -> tuple[list[str], dict]:
    """The figures of a class run, as lines to print and as a dict for --json."""
    by_name = {view.name: view for view in views}
    clicks = [s.clicked_at for s in students if s.clicked_at]
    finished = [s for s in students if s.state == "finished"]
    told = [s for s in students if s.queue_places]
    at_once = [s for s in students if not s.queue_places and s.states and s.states[0][1] in ("starting", "running")]
    neither = [s for s in students if s.state != "finished" and not s.queue_places]
    ends = [v.status.get("ended_at") for v in views if isinstance(v.status.get("ended_at"), (int, float))]
    last_end = max(ends) if len(ends) == len(students) and ends else None
    window_end = last_end or time.time()
    during = [seconds for at, seconds in timings.stamped if first_click <= at <= window_end]
    trained, waited, errors, measured_errors = [], [], [], []
    for student in students:
        view = by_name.get(student.run_name)
        job = (view.job if view else None) or {}
        launched, ended, queued = job.get("launched_at"), (view.status.get("ended_at") if view else None), \
            job.get("queued_at")
        if isinstance(launched, (int, float)) and isinstance(ended, (int, float)):
            trained.append(ended - launched)
        if isinstance(launched, (int, float)) and isinstance(queued, (int, float)):
            waited.append(launched - queued)
        for estimate, off in ((student.estimate, errors), (student.measured, measured_errors)):
            if estimate and isinstance(launched, (int, float)):
                shown_at, said = estimate
                off.append(launched - (shown_at + said))
    foreign = [f"visitor {s.number}: {seen}" for s in students for seen in s.foreign]
    problems = [f"visitor {s.number}: {s.problem}" for s in students if s.problem] + timings.failures
    predicted = [s for s in students if s.predicted]
    places = sorted(p for s in told for p in s.queue_places[:1])
    lines = [
        f"machine: {os.cpu_count()} CPUs; load average {loads[0]:.1f} before the server started, "
        f"{loads[1]:.1f} before the class, {loads[2]:.1f} at the end",
        f"limits (public mode): {limits.max_concurrent_runs} run(s) at once, a queue of {limits.max_queue}, "
        f"{limits.max_runs_per_visitor} live or queued run(s) per visitor",
        f"warm-up visit (cold caches): {warm_up:.1f} s",
        f"{len(clicks)} visitors pressed Start within {max(clicks) - min(clicks):.1f} s" if clicks
        else "no visitor pressed Start",
        *report(timings, window_end - first_click, len(students), 1, pages=("training", "playground"))[1:],
        f"runs finished: {len(finished)} of {len(students)}; told their queue place: {len(told)}"
        + (f" (first places shown {places[0]} to {places[-1]})" if places else "")
        + f"; started at once: {len(at_once)}; neither finished nor told a place: {len(neither)}",
        f"playground with their own model: {len(predicted)} of {len(students)} answered",
        f"another visitor's run or controls seen: {len(foreign)} times"
        f" (own run's controls seen: {', '.join(sorted(set().union(*(s.controls for s in students)))) or 'none'})",
        f"page responses while the class trained: {len(during)} views, p50 {statistics.median(during):.2f} s, "
        f"p95 {percentile(during, 0.95):.2f} s, max {max(during):.2f} s" if during else "no page responses timed",
        (f"the last run finished {last_end - first_click:.0f} s after the first Start" if last_end
         else "not every run finished")
        + (f"; training per run: median {statistics.median(trained):.1f} s (launch to end)" if trained else "")
        + (f"; waiting in the queue: median {statistics.median(waited):.0f} s, max {max(waited):.0f} s"
           if waited else ""),
        estimate_line("first start estimate shown", errors),
        estimate_line("first estimate from runs measured here", measured_errors),
        f"failures: {len(problems) + len(foreign)}",
        *[f"  {line}" for line in (problems + foreign)[:20]],
    ]
    figures = {
        "visitors": len(students), "click_spread_seconds": max(clicks) - min(clicks) if clicks else None,
        "limits": {"concurrent": limits.max_concurrent_runs, "queue": limits.max_queue,
                   "per_visitor": limits.max_runs_per_visitor},
        "views": {what: {"count": len(v), "median": statistics.median(v), "p95": percentile(v, 0.95),
                         "max": max(v)} for what, v in timings.seconds.items()},
        "during_training": {"count": len(during), "p50": statistics.median(during) if during else None,
                            "p95": percentile(during, 0.95) if during else None},
        "finished": len(finished), "told_queue_place": len(told), "started_at_once": len(at_once),
        "predicted": len(predicted), "foreign": foreign, "failures": problems,
        "last_run_seconds_after_first_start": last_end - first_click if last_end else None,
        "training_seconds_median": statistics.median(trained) if trained else None,
        "estimate_errors": errors, "measured_estimate_errors": measured_errors, "load_average": loads,
        "visitor_states": {s.run_name: [state for _, state in s.states] for s in students},
    }
    return lines, figures


def estimate_line(what: str, errors: list[float]) -> str:
    """How far the queue's start estimates were off: the actual start less the time they named."""
    if not errors:
        return f"{what}: none"
    return (f"{what} vs the actual start: median error {statistics.median(errors):+.0f} s, largest "
            f"{max(errors, key=abs):+.0f} s (positive: later than said; {len(errors)} visitors)")


def main_class(args) -> int:
    """--train: the class in public mode; returns the exit status (0: every run finished, nothing wrong)."""
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.data.treebank import locate_treebank
    from sentiment_core.runs import jobs
    from sentiment_core.runs.limits import limits_from_env

    if not 1 <= args.visitors <= 200:
        raise SystemExit("--visitors: between 1 and 200 for a class")
    treebank = locate_treebank()
    if treebank is None:
        raise SystemExit("no treebank: set SST_DIR to the folder holding train.txt, dev.txt and test.txt")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed test still stops its server and runs
    work = Path(tempfile.mkdtemp(prefix="sentiment-class-"))
    runs = work / "runs"
    runs.mkdir()
    env = dict(os.environ, SST_DIR=str(treebank), SENTIMENT_DATA_DIR=str(work / "data"),
               SENTIMENT_RUNS_DIR=str(runs), SENTIMENT_CACHE_DIR=str(load_corpus_cache_dir()), SENTIMENT_PUBLIC="1")
    os.environ.update(env)
    limits = limits_from_env()  # what the server reads: public mode's defaults, sized from this machine
    corpus = load_corpus(treebank)
    sentences = [text for _, _, text in corpus.sentences["dev"]]
    print(f"work folder: {work}", flush=True)
    width = max(2, len(str(args.visitors - 1)))
    students = [Student(n, f"class-{n:0{width}d}", secrets.token_urlsafe(32)) for n in range(args.visitors)]
    plan = ClassPlan(names={s.run_name for s in students}, spread=args.spread, poll=args.poll,
                     deadline=time.monotonic() + args.class_minutes * 60)
    timings, warm = Timings(), Timings()
    load_start = os.getloadavg()[0]
    server, stopped = None, 0
    try:
        server, url = start_server(env, work / "streamlit.log")
        started = time.perf_counter()  # one visitor, who starts nothing, fills the server's caches
        class_visit_warm_up(url, plan, warm, args.timeout)
        warm_up = time.perf_counter() - started
        print(f"server {url}; warm-up visit {warm_up:.1f} s; {args.visitors} visitors open the training page",
              flush=True)
        load_class = os.getloadavg()[0]
        threads = [threading.Thread(target=class_visit, daemon=True,
                                    args=(s, url, plan, sentences[s.number % len(sentences)], timings, args.timeout))
                   for s in students]
        for thread in threads:
            thread.start()
        for _ in students:  # everyone has the page open (or failed to), then the class presses Start
            plan.ready.acquire(timeout=max(0.0, plan.deadline - time.monotonic()))
        first_click = time.time()
        plan.go.set()
        print(f"the class presses Start (within {args.spread:g} s)", flush=True)
        for thread in threads:
            thread.join(timeout=max(0.0, plan.deadline - time.monotonic()) + args.timeout)
        views = jobs.list_jobs(runs)
    finally:
        if server is not None:
            stop_server(server)
        stopped = stop_training(runs)
    lines, figures = class_report(students, views, timings, first_click, limits, warm_up,
                                  (load_start, load_class, os.getloadavg()[0]))
    lines.append(f"training processes still running at the end, stopped: {stopped}")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    clean = (figures["finished"] == figures["predicted"] == len(students) and not figures["foreign"]
             and not figures["failures"] and not warm.failures)
    return 0 if clean else 1


def class_visit_warm_up(url: str, plan: ClassPlan, timings: Timings, timeout: float) -> None:
    """A visitor outside the class opens the training page and the playground, and starts nothing."""
    from websockets.sync.client import connect

    student = Student(-1, "warm-up", secrets.token_urlsafe(32))
    try:
        with connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"], max_size=None,
                     open_timeout=timeout, additional_headers={"Cookie": f"{COOKIE}={student.key}"}) as socket:
            session = Session(socket, timeout)
            class_step(session, timings, student, plan, "training: open", "training", query="preset=quick")
            class_step(session, timings, student, plan, "playground: open", "playground", query="")
    except Exception as err:
        timings.fail(f"warm-up visitor: {type(err).__name__}: {err}"[:400])
    if student.foreign:
        timings.fail(f"warm-up visitor saw: {student.foreign[:3]}")


# ---------------------------------------------------------------------------------------------
# The server, the training runs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=5) as answer:
                if answer.read().strip() == b"ok":
                    return process, url
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(process)
    raise SystemExit(f"the server did not start within {SERVER_START_SECONDS} s; see {log_path}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def train_cli(args: list[str], env: dict) -> float:
    """Run `python -m sentiment_core train ...` to the end; returns its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sentiment_core", "train", *args, "--quiet"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def background_config(epochs: int):
    from sentiment_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(data=DataConfig(labels=3), model=ModelConfig(cell="gru", embedding_dim=64, hidden_dim=64),
                     train=TrainConfig(epochs=epochs, batch_size=32, patience=None), preset="load-test")


def config_args(config) -> list[str]:
    """The CLI options for the same run as `background_config` (for the --baseline run)."""
    m, t = config.model, config.train
    return ["--cell", m.cell, "--embedding-dim", str(m.embedding_dim), "--hidden-dim", str(m.hidden_dim),
            "--epochs", str(t.epochs), "--batch-size", str(t.batch_size), "--patience", "none"]


def wait_for_run(run_dir: Path, limits, root: Path, timeout: float) -> dict:
    from sentiment_core.runs import jobs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs.advance_queue(root, limits)
        view = jobs.job_view(run_dir)
        if view.terminal:
            return view.status
        time.sleep(1.0)
    return jobs.job_view(run_dir).status


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=10, help="simultaneous visitors (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="explorer + playground rounds per visitor (default 3)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the background run (default 1)")
    parser.add_argument("--model", help="a trained run to copy in for the playground (default: train a small one)")
    parser.add_argument("--baseline", action="store_true", help="first train the background run's settings alone")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one page view may take (default 300)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--train", action="store_true",
                        help="a class instead: in public mode each visitor starts the quick preset, follows their "
                             "run and then asks the playground with it (see the module's help)")
    parser.add_argument("--spread", type=float, default=5.0,
                        help="--train: seconds over which the class presses Start (default 5)")
    parser.add_argument("--poll", type=float, default=1.0,
                        help="--train: shortest pause between a visitor's live updates, in seconds (default 1: "
                             "the page's own timer decides)")
    parser.add_argument("--class-minutes", type=float, default=60,
                        help="--train: minutes until every run must have ended (default 60)")
    args = parser.parse_args(argv)
    if args.train:
        return main_class(args)

    from sentiment_core.runs import jobs
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.runs.limits import limits_from_env
    from sentiment_core.data.treebank import locate_treebank

    treebank = locate_treebank()
    if treebank is None:
        raise SystemExit("no treebank: set SST_DIR to the folder holding train.txt, dev.txt and test.txt")
    work = Path(tempfile.mkdtemp(prefix="sentiment-load-"))
    runs = work / "runs"
    runs.mkdir()
    env = dict(os.environ, SST_DIR=str(treebank), SENTIMENT_DATA_DIR=str(work / "data"),
               SENTIMENT_RUNS_DIR=str(runs), SENTIMENT_CACHE_DIR=str(load_corpus_cache_dir()))
    os.environ.update(env)
    corpus = load_corpus(treebank)  # builds the tokenized cache once, before any process needs it
    sentences = [text for _, _, text in corpus.sentences["dev"]]
    print(f"work folder: {work}", flush=True)

    if args.model:
        shutil.copytree(args.model, runs / Path(args.model).name)
    else:
        seconds = train_cli(["--cell", "gru", "--embedding-dim", "32", "--hidden-dim", "32", "--epochs", "1",
                             "--train-limit", "2000", "--eval-limit", "200", "--out", str(runs / "playground-model")],
                            env)
        print(f"playground model trained in {seconds:.1f} s", flush=True)
    config = background_config(args.epochs)
    baseline = None
    if args.baseline:
        baseline = train_cli([*config_args(config), "--out", str(work / "baseline-run")], env)
        print(f"baseline: the background run's settings alone train in {baseline:.1f} s", flush=True)

    server, url = start_server(env, work / "streamlit.log")
    try:
        limits = limits_from_env()
        run_dir = jobs.start_run(config, root=runs, limits=limits, name="load-test-run", data_dir=treebank)
        print(f"server {url}; background run started: {run_dir.name}", flush=True)
        warm = Timings()
        started = time.perf_counter()
        visit(-1, url, 1, sentences, warm, args.timeout)  # fills the server's caches
        warm_up = time.perf_counter() - started
        load_before = os.getloadavg()[0]
        timings = Timings()
        threads = [threading.Thread(target=visit, args=(v, url, args.rounds, sentences, timings, args.timeout))
                   for v in range(args.visitors)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        state_after_visits = jobs.job_view(run_dir).state
        status = wait_for_run(run_dir, limits, runs, timeout=3600)
    finally:
        stop_server(server)

    trained = (status.get("ended_at") or time.time()) - (status.get("started_at") or time.time())
    lines = [f"machine: {os.cpu_count()} CPUs; load average {load_before:.1f} before the visitors, "
             f"{os.getloadavg()[0]:.1f} at the end",
             f"warm-up visit (cold caches): {warm_up:.1f} s"
             + (f"; failures: {warm.failures}" if warm.failures else ""),
             *report(timings, wall, args.visitors, args.rounds),
             f"background run: {status.get('state')} ({status.get('message', '')}); it was {state_after_visits} "
             f"when the visitors left; training took {trained:.1f} s"
             + (f" (the same settings alone: {baseline:.1f} s)" if baseline else "")]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "visitors": args.visitors, "rounds": args.rounds, "wall_seconds": wall, "warm_up_seconds": warm_up,
            "views": {what: {"count": len(v), "median": statistics.median(v), "p95": percentile(v, 0.95),
                             "max": max(v)} for what, v in timings.seconds.items()},
            "failures": timings.failures, "run_state": status.get("state"), "run_seconds": trained,
            "baseline_run_seconds": baseline}, indent=1))
    return 0 if not timings.failures and status.get("state") == "finished" else 1


def load_corpus_cache_dir() -> Path:
    from sentiment_core.data.corpus import default_cache_dir

    return default_cache_dir()  # the project's cache: the treebank is tokenized once, for everyone


if __name__ == "__main__":
    sys.exit(main())
