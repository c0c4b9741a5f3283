"""A class trains (--train): each visitor starts the `quick` preset and follows their own run."""
from __future__ import annotations

import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from websockets.sync.client import connect

from .figures import Timings
from .session import Page, PageError, Session

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


def class_visit_warm_up(url: str, plan: ClassPlan, timings: Timings, timeout: float) -> None:
    """A visitor outside the class opens the training page and the playground, and starts nothing."""
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
