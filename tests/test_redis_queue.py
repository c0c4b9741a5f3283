"""The Redis job queue (SENTIMENT_QUEUE, runs/redis_queue.py) with a real redis-server and two real workers.

Runs queued from the terminal and from the training page's code path (jobs.start_run) train on the
workers and end with the figures of the same runs trained here; a worker killed with SIGKILL mid-run
has its run resumed by the other from last.pt, with identical final figures; Redis stopped while a
page polls gives one clear sentence, runs keep training, and waiting runs start once it is back.
Skipped when Debian's redis-server is not installed (.ci/run installs it).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("rq", reason="rq is not installed (pip install -r requirements.txt)")
NO_REDIS = "redis-server is not installed (Debian's redis-server package; .ci/run installs it)"

from sentiment_core.runs import jobs, redis_queue  # noqa: E402
from sentiment_core.runs.limits import Limits  # noqa: E402
from sentiment_core.runs.execution import train_run  # noqa: E402
from sentiment_core.runs.store import create_run, read_config, read_status  # noqa: E402
from tests.helpers import tiny_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--cell", "gru", "--embedding-dim", "16", "--hidden-dim", "16", "--batch-size", "25", "--train-limit", "200",
        "--eval-limit", "60", "--epochs", "2", "--threads", "1"]
LIMITS = Limits(max_queue=20, max_concurrent_runs=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, port: int, log: Path):
        self.port, self.log, self.process = port, log, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--daemonize", "no"],
                                        stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: self.answers(), 10, "redis-server to answer")

    def answers(self) -> bool:
        try:
            return bool(redis_queue.connect(self.url).ping())
        except Exception:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def queue(tiny_sst_dir, tmp_path_factory):
    """A redis-server on a free port, two workers (heartbeat 1 s), the runs folder; everything stopped after."""
    if shutil.which("redis-server") is None:
        pytest.skip(NO_REDIS)
    base = tmp_path_factory.mktemp("redis-queue")
    server = RedisServer(free_port(), base / "redis.log")
    server.start()
    env = {**os.environ, "SENTIMENT_RUNS_DIR": str(base / "runs"), "SST_DIR": str(tiny_sst_dir),
           "SENTIMENT_CACHE_DIR": str(base / "cache"), "SENTIMENT_WORKER_HEARTBEAT": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("SENTIMENT_PUBLIC", "SENTIMENT_QUEUE", "SENTIMENT_MAX_RUNS"):
        env.pop(name, None)
    state = {"server": server, "env": env, "root": base / "runs", "base": base, "workers": []}
    state["start_worker"] = lambda: state["workers"].append(start_worker(server.url, env, base))
    state["start_worker"]()
    state["start_worker"]()
    yield state
    for worker in state["workers"]:
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)  # its horse and trainer die with it (redis_queue.die_with_parent)
            worker.wait(10)
    server.stop()


def start_worker(url: str, env: dict, base: Path) -> subprocess.Popen:
    log = open(base / f"worker-{time.monotonic_ns()}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "sentiment_core", "worker", "--queue", url, "--heartbeat", "1",
                             "--threads", "1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def page_env(queue, monkeypatch):
    """This process as the web server: SENTIMENT_QUEUE set, the workers' runs folder and treebank."""
    for name in ("SENTIMENT_RUNS_DIR", "SST_DIR", "SENTIMENT_CACHE_DIR", "SENTIMENT_WORKER_HEARTBEAT"):
        monkeypatch.setenv(name, queue["env"][name])
    monkeypatch.setenv("SENTIMENT_QUEUE", queue["server"].url)
    monkeypatch.delenv("SENTIMENT_PUBLIC", raising=False)
    return queue


def wait_ended(run_dir: Path, seconds: float = 150) -> dict:
    return wait_for(lambda: _ended(run_dir), seconds, f"{run_dir.name} to end")


def _ended(run_dir: Path):
    """The run's final status once its worker has also recorded the trainer's exit (job.json done)."""
    status = read_status(run_dir)
    recorded = (jobs.read_job(run_dir) or {}).get("state") == "done"
    ended = status["state"] in ("finished", "failed", "stopped") and recorded
    return status if ended else None


def figures(run_dir: Path) -> dict:
    """What a run ends with: best dev accuracy and epoch, dev and test results, every epoch's losses."""
    status = read_status(run_dir)
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    epochs = {e["epoch"]: (e["train_loss"], e["dev_loss"], e["dev_accuracy"]) for e in events
              if e["event"] == "epoch_end"}
    return {"state": status["state"], "best_dev_accuracy": status["best_dev_accuracy"],
            "best_epoch": status["best_epoch"], "results": status["results"], "epochs": epochs}


def local_figures(run_dir: Path, tiny_sst_dir: Path, out: Path) -> dict:
    """The same run (its own config.json) trained here in one go, on one thread as the workers train."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_run(read_config(run_dir), out, data_dir=tiny_sst_dir, catch_signals=False)
    finally:
        torch.set_num_threads(threads)
    return figures(out)


def test_four_queued_runs_train_on_two_workers_with_the_figures_of_local_runs(page_env, tiny_sst_dir, tmp_path):
    root, url = page_env["root"], page_env["server"].url
    cli_runs = []
    for seed in (1, 2):  # from a terminal: printed at once, trained elsewhere
        done = subprocess.run([sys.executable, "-m", "sentiment_core", "train", *TINY, "--seed", str(seed),
                               "--data-dir", str(tiny_sst_dir), "--out", str(root / f"cli-{seed}"), "--queue", url],
                              cwd=ROOT, env={**page_env["env"]}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(root / f"cli-{seed}")
        cli_runs.append(Path(done.stdout.strip()))
    page_runs = [jobs.start_run(tiny_config(seed=seed), root=root, limits=LIMITS, data_dir=tiny_sst_dir,
                                name=f"page-{seed}", owner="visitor")
                 for seed in (3, 4)]
    views = {v.name: v for v in jobs.list_jobs(root)}
    assert all(views[p.name].job["queue"] == "redis" for p in cli_runs + page_runs)
    note = wait_for(lambda: (n := jobs.queue_note(root)) and "2 workers" in n.text and n, 20, "two live workers")
    assert not note.problem
    for run_dir in cli_runs + page_runs:
        assert wait_ended(run_dir)["state"] == "finished", (run_dir / "train.log").read_text()
    assert len({jobs.read_job(p)["worker"] for p in cli_runs + page_runs}) == 2  # both workers trained
    for run_dir in cli_runs + page_runs:
        assert figures(run_dir) == local_figures(run_dir, tiny_sst_dir, tmp_path / run_dir.name), run_dir.name
        job = jobs.read_job(run_dir)
        assert job["state"] == "done" and job["exit_code"] == 0 and job["attempts"] == 1


def test_a_worker_killed_mid_run_has_its_run_resumed_by_the_other(page_env, tiny_sst_dir, tmp_path):
    root = page_env["root"]
    # Slow enough to be killed mid-run: every phrase, small batches, a save every 3 batches.
    config = tiny_config(seed=7, phrases=True, batch_size=8, train_limit=240, hidden_dim=32, epochs=2, save_every=3)
    run_dir = jobs.start_run(config, root=root, limits=LIMITS, data_dir=tiny_sst_dir, name="killed")
    wait_for(lambda: (run_dir / "last.pt").is_file(), 120, "the first save")
    job = jobs.read_job(run_dir)
    victim = next(w for w in page_env["workers"] if w.pid == job["worker_pid"])
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    killed_at = time.monotonic()
    assert read_status(run_dir)["state"] != "finished", "the run ended before the worker could be killed"
    # Detected within a bounded time: 3 missed heartbeats of 1 s, then the other worker's next check.
    wait_for(lambda: (jobs.read_job(run_dir) or {}).get("attempts") == 2, 30, "the other worker to take the run")
    assert time.monotonic() - killed_at < 30
    assert wait_ended(run_dir)["state"] == "finished", (run_dir / "train.log").read_text()
    resumed = jobs.read_job(run_dir)
    assert resumed["worker"] != job["worker"] and resumed["exit_code"] == 0
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    begins = [(e["start_epoch"], e["start_batch"]) for e in events if e["event"] == "train_begin"]
    assert len(begins) == 2 and begins[1] != (1, 0)  # the second began where the first had saved
    assert figures(run_dir) == local_figures(run_dir, tiny_sst_dir, tmp_path / "uninterrupted")
    page_env["start_worker"]()  # two workers again for what follows


def test_redis_stopped_while_a_page_polls_says_so_and_runs_go_on(page_env, tiny_sst_dir):
    root, server = page_env["root"], page_env["server"]
    slow = dict(phrases=True, batch_size=8, train_limit=240, hidden_dim=32, epochs=2)
    training = [jobs.start_run(tiny_config(seed=s, **slow), root=root, limits=LIMITS, data_dir=tiny_sst_dir,
                               name=f"outage-{s}") for s in (11, 12)]
    waiting = jobs.start_run(tiny_config(seed=13), root=root, limits=LIMITS, data_dir=tiny_sst_dir, name="outage-13")
    # Both workers have taken a run (a trainer takes seconds to load torch); the third waits in Redis.
    wait_for(lambda: all(jobs.read_job(r)["state"] == "launched" for r in training), 60, "both workers to take a run")
    assert jobs.job_view(waiting).state == "queued" and jobs.job_view(waiting).queue_place == 1
    server.stop()  # and it comes back empty (no persistence): the run folders are the record
    note = jobs.queue_note(root)
    assert note.problem and note.text.count(". ") == 0 and "cannot be reached" in note.text
    assert "Traceback" not in note.text
    assert all(jobs.job_view(r).active for r in training)  # the page's poll: still training
    wait_for(lambda: all(read_status(r)["state"] in ("running", "finished") for r in training), 120,
             "the runs to train without Redis")
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(redis_queue.QueueUnreachable, match=r"^The job queue \(Redis\) cannot be reached"):
        jobs.start_run(tiny_config(seed=14), root=root, limits=LIMITS, data_dir=tiny_sst_dir, name="outage-14")
    assert sorted(p.name for p in root.iterdir()) == before  # nothing half-written
    server.start()
    for run_dir in (*training, waiting):  # the workers re-register and enqueue again what Redis forgot
        assert wait_ended(run_dir)["state"] == "finished", (run_dir / "train.log").read_text()
    assert not jobs.queue_note(root).problem


def test_a_job_whose_run_was_deleted_or_cancelled_is_dropped(page_env, tiny_sst_dir):
    root = page_env["root"]
    run_dir = root / "deleted"
    run_dir.mkdir(parents=True)
    (run_dir / "job.json").write_text(json.dumps({"queue": "redis", "rq_job": "run-x", "state": "pending"}))
    shutil.rmtree(run_dir)  # deleted from the page while it waited
    assert redis_queue._take(run_dir, "run-x") == "dropped: the run deleted was deleted before a worker took it"
    cancelled = create_run(tiny_config(seed=21), root=root, name="cancelled")
    jobs.write_job(cancelled, queue="redis", rq_job="run-y", state="done", cancelled=True)  # as stop_run leaves it
    assert redis_queue._take(cancelled, "run-y").startswith("dropped: the run cancelled was cancelled")
    jobs.write_job(cancelled, state="pending")
    assert redis_queue._take(cancelled, "run-other").startswith("dropped:")  # queued again since: a newer job
    assert read_status(cancelled)["state"] == "queued" and not (cancelled / "train.log").exists()


# ---------------------------------------------------------------------------------------------
# Without Redis: the setting, and a pid recorded on another machine


def test_the_queue_setting_takes_only_a_redis_url():
    from sentiment_core import settings

    assert settings.queue_url({}) is None and settings.queue_url({"SENTIMENT_QUEUE": " "}) is None
    assert settings.queue_url({"SENTIMENT_QUEUE": "redis://r:6379/0"}) == "redis://r:6379/0"
    with pytest.raises(ValueError, match="not a Redis URL"):
        settings.queue_url({"SENTIMENT_QUEUE": "amqp://r"})
    assert redis_queue.shown_url("redis://user:secret@r:6379/0") == "redis://user:***@r:6379/0"


def test_a_run_training_on_another_machine_is_not_read_as_interrupted(tmp_path):
    from sentiment_core.runs.processes import is_process_alive, this_host
    from sentiment_core.runs.store import write_status

    run_dir = create_run(tiny_config(), root=tmp_path, name="elsewhere")
    write_status(run_dir, state="running", pid=2**22 + 17, host=this_host() + "-other")
    assert read_status(run_dir)["state"] == "running"  # its worker's heartbeats say when it is gone
    write_status(run_dir, host=this_host())
    assert read_status(run_dir)["state"] == "interrupted"  # here, a dead pid is a dead trainer
    assert not is_process_alive(2**22 + 17, None, None)


def test_the_local_queue_is_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SENTIMENT_QUEUE", raising=False)
    assert jobs.queue_note(tmp_path) is None
    run_dir = jobs.start_run(tiny_config(), root=tmp_path, limits=Limits(), program=[sys.executable, "-c", "pass"])
    assert "queue" not in jobs.read_job(run_dir) and jobs.read_job(run_dir)["state"] == "launched"


def test_a_run_resumed_mid_epoch_reports_the_epoch_train_loss_of_an_uninterrupted_run(tmp_path, tiny_corpus):
    """last.pt keeps the epoch's running sums, so a resumed epoch's train loss counts the batches before the save."""
    from tests.helpers import StopAt

    train_run(tiny_config(epochs=2), tmp_path / "whole", corpus=tiny_corpus, catch_signals=False)
    halves = tmp_path / "halves"
    _, status = train_run(tiny_config(epochs=2), halves, corpus=tiny_corpus, catch_signals=False,
                          callbacks=[StopAt(lambda: halves, 1, 3)])
    assert status["state"] == "stopped"
    train_run(None, halves, resume=True, corpus=tiny_corpus, catch_signals=False)
    assert figures(halves) == figures(tmp_path / "whole")
