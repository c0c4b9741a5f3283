"""Load test: simulated visitors use the explorer and the playground at once while a run trains.

    python scripts/load_test.py [--visitors 10] [--rounds 3] [--epochs 1] [--baseline]

Everything runs on this machine, in a temporary folder (runs, data); the treebank comes from
$SST_DIR or data/sst.
1. A small model is trained with the CLI for the playground (or --model RUN_DIR is copied in).
2. Optionally (--baseline) the background run's settings are trained alone, for comparison.
3. The app is started with `streamlit run` (a real server on a free port).
4. One training run starts in the background through sentiment_core.training.jobs, as the training
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
"""
from __future__ import annotations

import argparse
import json
import math
import os
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

    def add(self, what: str, seconds: float) -> None:
        with self.lock:
            self.seconds.setdefault(what, []).append(seconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(share * len(ranked)) - 1)]


def report(timings: Timings, wall: float, visitors: int, rounds: int) -> list[str]:
    lines = [f"{visitors} visitors x {rounds} rounds in {wall:.1f} s of wall time",
             f"{'page: action':<22} {'views':>5} {'median s':>9} {'p95 s':>7} {'max s':>7}"]
    rows = sorted(timings.seconds.items())
    for page in ("explorer", "playground"):
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


class Session:
    """A browser's conversation with the server, without the browser."""

    def __init__(self, socket, timeout: float):
        self.socket = socket  # a connected websockets.sync client
        self.timeout = timeout
        self.pages: dict[str, str] = {}

    def run(self, page: str, widgets: dict[str, str] | None = None) -> tuple[Page, float]:
        """Rerun the script on `page` (url path) with these text widget values; (what it sent, seconds)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

        states = WidgetStates(widgets=[WidgetState(id=widget, string_value=value)
                                       for widget, value in (widgets or {}).items()])
        state = ClientState(query_string="", widget_states=states, page_name=page,
                            page_script_hash=self.pages.get(page, ""))
        started = time.perf_counter()
        self.socket.send(BackMsg(rerun_script=state).SerializeToString())
        result = self._collect()
        seconds = time.perf_counter() - started
        self.pages.update(result.pages)
        return result, seconds

    def _collect(self) -> Page:
        from streamlit.proto.Alert_pb2 import Alert
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        page = Page()
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
            elif kind == "script_finished":
                status = message.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # the script asked for a rerun: wait for that one
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    page.problems.append("the page did not compile")
                return page

    @staticmethod
    def _read_element(element, page: Page, error_format: int) -> None:
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        widget = getattr(body, "id", "")
        if isinstance(widget, str) and widget.startswith("$$ID-"):
            page.widgets[widget.split("-", 2)[2]] = widget  # $$ID-<hash>-<key>
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
    from sentiment_core.training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(data=DataConfig(labels=3), model=ModelConfig(cell="gru", embedding_dim=64, hidden_dim=64),
                     train=TrainConfig(epochs=epochs, batch_size=32, patience=None), preset="load-test")


def config_args(config) -> list[str]:
    """The CLI options for the same run as `background_config` (for the --baseline run)."""
    m, t = config.model, config.train
    return ["--cell", m.cell, "--embedding-dim", str(m.embedding_dim), "--hidden-dim", str(m.hidden_dim),
            "--epochs", str(t.epochs), "--batch-size", str(t.batch_size), "--patience", "none"]


def wait_for_run(run_dir: Path, limits, root: Path, timeout: float) -> dict:
    from sentiment_core.training import jobs

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
    args = parser.parse_args(argv)

    from sentiment_core.training import jobs
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.training.limits import limits_from_env
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
