"""Background training jobs, without Streamlit: the queue's logic with a fake trainer
(tests/fake_trainer.py, seconds), one real `train` process started, watched, queued, stopped,
killed and resumed (slow); the metrics reader; the queue's limits."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from sentiment_core.analysis.evaluation.run_progress import progress, smooth
from sentiment_core.runs import jobs
from sentiment_core.cli import build_parser
from sentiment_core.runs.limits import LimitExceeded, Limits
from sentiment_core.runs.metrics import MetricsFollower, RunMetrics, read_metrics
from sentiment_core.runs.store import LAST, METRICS, RunNotFound, create_run, read_status, write_status
from tests.helpers import tiny_config

ONE_AT_A_TIME = Limits(max_concurrent_runs=1, max_queue=1)
FAKE_TRAINER = (sys.executable, str(Path(__file__).resolve().parent / "fake_trainer.py"))




def wait_for(condition, root, limits=ONE_AT_A_TIME, timeout=120.0, every=0.2):
    """Poll the way the page does (advancing the queue) until condition() is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs.advance_queue(root, limits)
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def fake_cli_run(root, name="terminal-run"):
    """A run training in a terminal (this test process stands in for it): it holds a slot."""
    run_dir = create_run(tiny_config(), root=root, name=name)
    write_status(run_dir, state="running", pid=os.getpid())
    return run_dir


def test_the_command_is_the_cli_train_command(tmp_path):
    run_dir = tmp_path / "r"
    args = build_parser().parse_args(jobs.train_command(run_dir, data_dir="/data/sst")[3:])
    assert (args.command, args.out, args.config, args.data_dir) == ("train", str(run_dir.resolve()),
                                                                     str(run_dir.resolve() / "config.json"), "/data/sst")
    args = build_parser().parse_args(jobs.train_command(run_dir, resume=True, epochs=7, threads=1)[3:])
    assert (args.resume, args.epochs, args.threads) == (str(run_dir.resolve()), 7, 1)


@pytest.mark.slow
def test_runs_train_in_the_background_queue_and_survive_a_kill_a_resume_and_a_stop(tmp_path, sst_dir):
    root = tmp_path / "runs"
    first = jobs.start_run(tiny_config(), root=root, limits=ONE_AT_A_TIME, data_dir=sst_dir, name="first")
    assert jobs.job_view(first).state in ("starting", "running")  # returned at once, the process works on
    # Enough batches that the kill below lands mid-run: 20 per epoch.
    second = jobs.start_run(tiny_config(epochs=10, train_limit=200, batch_size=10), root=root, limits=ONE_AT_A_TIME,
                            data_dir=sst_dir, name="second")
    view = jobs.job_view(second)
    assert (view.state, view.queue_place, view.job["state"]) == ("queued", 1, jobs.PENDING)
    with pytest.raises(jobs.QueueFull, match="queue is full"):
        jobs.start_run(tiny_config(), root=root, limits=ONE_AT_A_TIME, data_dir=sst_dir, name="third")
    assert sorted(p.name for p in jobs.run_dirs(root)) == ["first", "second"]  # nothing created

    follower = MetricsFollower(first)
    seen = []  # (first's state, second's state) at every poll: never both training

    def first_ended():
        seen.append((jobs.job_view(first).state, jobs.job_view(second).state))
        return jobs.job_view(first).terminal

    wait_for(first_ended, root)
    assert not [s for s in seen if s[0] in jobs.ACTIVE and s[1] in ("starting", "running")]  # one at a time
    assert follower.update().steps  # its batches were recorded as it trained
    view = jobs.job_view(first)
    assert view.state == "finished" and view.has_checkpoint and not view.can_resume
    assert 0 < view.status["results"]["test"]["accuracy"] <= 1
    metrics = follower.update()
    assert sorted(metrics.epochs) == [1, 2] and metrics.end["state"] == "finished"
    assert len(metrics.steps) == 2 * 8 and metrics.steps == sorted(set(metrics.steps))
    assert sorted(metrics.probes) == [0, 1, 2] and metrics.evaluations["test"]["count"] == 60
    assert metrics.problems == [] and progress(metrics).fraction == 1.0
    assert (first / jobs.LOG_FILE).read_text().startswith("$ ")  # the command, then its output
    # The status is written before the command prints its last line: wait for that line.
    assert wait_for(lambda: "finished" in (first / jobs.LOG_FILE).read_text(), root)

    # The freed slot goes to the queued run. It is killed from outside mid-run, resumed, then stopped.
    follower = MetricsFollower(second)
    wait_for(lambda: 1 in follower.update().epochs and (second / LAST).is_file(), root, every=0.05)
    os.kill(jobs.read_job(second)["pid"], signal.SIGKILL)
    wait_for(lambda: jobs.job_view(second).state == "interrupted" and jobs.read_job(second)["state"] == jobs.DONE,
             root)
    view = jobs.job_view(second)
    assert view.can_resume and "ended without finishing" in view.message
    # The exit code is known to the process that launched it: first's, which handed its slot over
    # as it ended, or this one's, if a poll here got there first.
    launched_here = view.job["launcher_pid"] == os.getpid()
    assert view.job["exit_code"] == (-signal.SIGKILL if launched_here else None)

    jobs.resume_run(second, limits=ONE_AT_A_TIME, data_dir=sst_dir)
    assert jobs.job_view(second).state in ("starting", "running")
    wait_for(lambda: follower.update().begin["resumed"] and len(follower.update().steps) > 30, root, every=0.05)
    message = jobs.stop_run(second, limits=ONE_AT_A_TIME)
    assert "stop after its current batch" in message and jobs.job_view(second).stop_requested
    wait_for(lambda: jobs.job_view(second).terminal and jobs.read_job(second)["state"] == jobs.DONE, root)
    view = jobs.job_view(second)
    assert view.state == "stopped" and "Stopped on request" in view.message and view.has_checkpoint
    assert view.job["exit_code"] == 0 and view.can_resume
    metrics = follower.update()
    assert metrics.steps == list(range(1, len(metrics.steps) + 1))  # the killed epoch's batches replaced
    assert 1 in metrics.epochs and metrics.end["state"] == "stopped" and metrics.begin["resumed"]
    with pytest.raises(jobs.JobError, match="nothing to stop"):
        jobs.stop_run(second, limits=ONE_AT_A_TIME)
    with pytest.raises(jobs.JobError, match="only a stopped or interrupted run"):
        jobs.resume_run(first, limits=ONE_AT_A_TIME)


@pytest.fixture
def gates(tmp_path, monkeypatch):
    """Where a test opens the fake trainer's gates (see tests/fake_trainer.py)."""
    folder = tmp_path / "gates"
    folder.mkdir()
    monkeypatch.setenv("FAKE_TRAINER_GATES", str(folder))
    monkeypatch.setenv("SENTIMENT_MAX_CONCURRENT_RUNS", "1")  # the server's limits, inherited by the processes

    def open_gate(run_dir, order="finish"):
        # Written whole, then renamed: the fake trainer polls for the file and must never read it half-written.
        temporary = folder / f".{Path(run_dir).name}.tmp"
        temporary.write_text(order)
        os.replace(temporary, folder / Path(run_dir).name)

    return open_gate


def start_fake(root, name, limits=ONE_AT_A_TIME):
    return jobs.start_run(tiny_config(), root=root, limits=limits, name=name, program=FAKE_TRAINER)


def test_the_queue_runs_one_at_a_time_and_the_next_starts_when_a_slot_frees(tmp_path, gates):
    root = tmp_path / "runs"
    first = start_fake(root, "first")
    assert jobs.job_view(first).state in ("starting", "running")  # returned at once, the process works on
    second = start_fake(root, "second")
    view = jobs.job_view(second)
    assert (view.state, view.queue_place, view.job["state"]) == ("queued", 1, jobs.PENDING)
    with pytest.raises(jobs.QueueFull, match="queue is full"):
        start_fake(root, "third")
    assert sorted(p.name for p in jobs.run_dirs(root)) == ["first", "second"]  # nothing created

    follower = MetricsFollower(first)
    assert wait_for(lambda: follower.update().steps == [1, 2, 3], root)  # batches show while it trains
    assert jobs.job_view(first).state == "running" and jobs.job_view(second).state == "queued"  # one at a time
    gates(first)
    wait_for(lambda: jobs.job_view(first).terminal, root)
    view = jobs.job_view(first)
    assert view.state == "finished" and view.has_checkpoint and not view.can_resume
    assert follower.update().end["state"] == "finished"
    wait_for(lambda: jobs.job_view(second).state == "running", root)  # the freed slot went to the queued run
    gates(second)
    wait_for(lambda: jobs.job_view(second).terminal and jobs.read_job(second)["state"] == jobs.DONE, root)
    assert jobs.job_view(second).state == "finished"
    assert (first / jobs.LOG_FILE).read_text().startswith("$ ")  # the command, then its output


def test_an_ending_run_starts_the_next_queued_one_with_nobody_polling(tmp_path, gates):
    """No page is open: the first run's own process hands its slot to the waiting run."""
    root = tmp_path / "runs"
    first = start_fake(root, "first")
    second = start_fake(root, "second")
    assert jobs.read_job(second)["state"] == jobs.PENDING
    gates(first)
    deadline = time.monotonic() + 60
    while jobs.read_job(second)["state"] == jobs.PENDING and time.monotonic() < deadline:
        time.sleep(0.05)  # only reading: nothing here advances the queue
    assert read_status(first)["state"] == "finished"
    assert jobs.read_job(second)["state"] == jobs.LAUNCHED  # started by first's process as it ended
    deadline = time.monotonic() + 60
    while "started the next" not in (first / jobs.LOG_FILE).read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # the job record is written before the line is printed
    assert "started the next queued run: second" in (first / jobs.LOG_FILE).read_text()
    gates(second)
    wait_for(lambda: jobs.job_view(second).terminal, root)
    assert read_status(second)["state"] == "finished"


def test_a_killed_run_is_interrupted_then_resumes_and_stops(tmp_path, gates):
    root = tmp_path / "runs"
    run_dir = start_fake(root, "killed")
    follower = MetricsFollower(run_dir)
    wait_for(lambda: len(follower.update().steps) == 3 and jobs.job_view(run_dir).state == "running", root)
    os.kill(jobs.read_job(run_dir)["pid"], signal.SIGKILL)
    wait_for(lambda: jobs.job_view(run_dir).state == "interrupted" and jobs.read_job(run_dir)["state"] == jobs.DONE,
             root)
    view = jobs.job_view(run_dir)
    assert view.can_resume and "ended without finishing" in view.message
    assert view.job["exit_code"] == -signal.SIGKILL  # this process launched it and collected it

    jobs.resume_run(run_dir, limits=ONE_AT_A_TIME, program=FAKE_TRAINER)
    assert jobs.job_view(run_dir).state in ("starting", "running")
    wait_for(lambda: follower.update().begin["resumed"] and len(follower.update().steps) == 6, root)
    message = jobs.stop_run(run_dir, limits=ONE_AT_A_TIME)
    # (the request itself is transient: a fast trainer may already have served it and removed it)
    assert "stop after its current batch" in message
    wait_for(lambda: jobs.job_view(run_dir).terminal and jobs.read_job(run_dir)["state"] == jobs.DONE, root)
    view = jobs.job_view(run_dir)
    assert view.state == "stopped" and view.has_checkpoint and view.can_resume and view.job["exit_code"] == 0
    assert not view.stop_requested and follower.update().end["state"] == "stopped"
    with pytest.raises(jobs.JobError, match="nothing to stop"):
        jobs.stop_run(run_dir, limits=ONE_AT_A_TIME)


def test_a_crash_mid_run_and_a_death_before_training_are_told_apart(tmp_path, gates, monkeypatch):
    root = tmp_path / "runs"
    crashed = start_fake(root, "crashed", Limits())
    wait_for(lambda: jobs.job_view(crashed).state == "running", root, Limits())
    gates(crashed, "crash")
    wait_for(lambda: jobs.job_view(crashed).terminal and jobs.read_job(crashed)["state"] == jobs.DONE, root, Limits())
    view = jobs.job_view(crashed)
    assert view.state == "interrupted" and view.job["exit_code"] == 3 and view.can_resume

    monkeypatch.setenv("FAKE_TRAINER_FAIL_EARLY", "1")
    early = start_fake(root, "early", Limits())
    wait_for(lambda: jobs.job_view(early).terminal, root, Limits())
    view = jobs.job_view(early)
    assert view.state == "failed" and "ended before training started (exit code 2)" in view.message
    assert "failing before training as asked" in view.message and not view.can_resume


def test_a_run_from_a_terminal_hands_over_nothing(tmp_path):
    run_dir = create_run(tiny_config(), root=tmp_path, name="terminal")
    assert jobs.hand_over_slot(run_dir) == []


def test_a_process_that_dies_before_training_shows_why(tmp_path):
    root = tmp_path / "runs"
    run_dir = jobs.start_run(tiny_config(), root=root, limits=Limits(), data_dir=tmp_path / "no-treebank-here")
    wait_for(lambda: jobs.job_view(run_dir).terminal, root, Limits())
    view = jobs.job_view(run_dir)
    assert view.state == "failed" and "ended before training started (exit code 2)" in view.message
    assert "does not hold the treebank" in view.message and jobs.LOG_FILE in view.message


def test_a_full_queue_and_out_of_range_settings_create_nothing(tmp_path):
    root = tmp_path / "runs"
    busy = fake_cli_run(root)
    with pytest.raises(LimitExceeded, match="SENTIMENT_MAX_HIDDEN"):
        config = tiny_config()
        config.model.hidden_dim = 100_000
        jobs.start_run(config, root=root, limits=ONE_AT_A_TIME)
    waiting = jobs.start_run(tiny_config(), root=root, limits=ONE_AT_A_TIME, name="waiting")
    assert jobs.job_view(waiting).queue_place == 1 and jobs.read_job(waiting)["pid"] is None  # slot held
    with pytest.raises(jobs.QueueFull, match="SENTIMENT_MAX_QUEUE"):
        jobs.start_run(tiny_config(), root=root, limits=ONE_AT_A_TIME, name="refused")
    assert sorted(p.name for p in jobs.run_dirs(root)) == ["terminal-run", "waiting"]
    assert {v.name: v.state for v in jobs.list_jobs(root)} == {"terminal-run": "running", "waiting": "queued"}

    # A waiting run is cancelled without ever starting; deleting obeys the switch and refuses a live run.
    assert "taken out of the queue" in jobs.stop_run(waiting, limits=ONE_AT_A_TIME)
    view = jobs.job_view(waiting)
    assert view.state == "stopped" and "nothing was trained" in view.message and not view.can_resume
    with pytest.raises(jobs.JobError, match="SENTIMENT_ALLOW_DELETE"):
        jobs.delete_run(waiting, limits=Limits(allow_delete=False))
    with pytest.raises(jobs.JobError, match="still training"):
        jobs.delete_run(busy, limits=Limits())
    jobs.delete_run(waiting, limits=Limits())
    assert not waiting.exists() and busy.exists()
    with pytest.raises(RunNotFound, match="no longer exists"):
        jobs.job_view(waiting)


def test_a_terminal_run_abandoned_before_training_is_not_shown_as_waiting(tmp_path):
    run_dir = create_run(tiny_config(), root=tmp_path, name="abandoned")  # queued, no job record
    assert jobs.job_view(run_dir).state == "queued"  # a train command may be about to start it
    status = json.loads((run_dir / "status.json").read_text())
    status["updated_at"] -= jobs.ABANDONED_SECONDS + 1
    (run_dir / "status.json").write_text(json.dumps(status))
    view = jobs.job_view(run_dir)
    assert view.state == "failed" and not view.active and "never started training" in view.message


def test_a_queued_resume_can_be_cancelled_back_to_its_state(tmp_path):
    root = tmp_path / "runs"
    fake_cli_run(root)
    stopped = create_run(tiny_config(), root=root, name="stopped")
    write_status(stopped, state="stopped", message="Stopped on request.")
    with pytest.raises(jobs.JobError, match="no saved training state"):
        jobs.resume_run(stopped, limits=ONE_AT_A_TIME)
    (stopped / LAST).write_bytes(b"state")  # never read: the slot is held, so it only queues
    jobs.resume_run(stopped, limits=ONE_AT_A_TIME, epochs=3)
    view = jobs.job_view(stopped)
    assert (view.state, view.queue_place, read_status(stopped)["state"]) == ("queued", 1, "queued")
    command = view.job["command"]
    assert command[command.index("--epochs") + 1] == "3" and "--resume" in command
    jobs.stop_run(stopped, limits=ONE_AT_A_TIME)
    view = jobs.job_view(stopped)
    assert view.state == "stopped" and "cancelled" in view.message and view.can_resume


def write_lines(path, lines, mode="a"):
    with open(path, mode, encoding="utf-8") as handle:
        handle.write("".join(lines))


def batch(step, loss=1.0, epoch=1, batches=4, speed=100.0, eta=10.0, when=1000.0):
    return json.dumps({"event": "batch_end", "epoch": epoch, "batch": (step - 1) % batches + 1, "batches": batches,
                       "step": step, "loss": loss, "sentences_per_second": speed, "eta": eta, "elapsed": step,
                       "time": when}) + "\n"


def test_the_metrics_follower_reads_only_new_lines_and_names_damaged_ones(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    follower = MetricsFollower(run_dir)
    assert follower.update().steps == []  # no file yet
    path = run_dir / METRICS
    begin = {"event": "train_begin", "epochs": 2, "batches_per_epoch": 4, "start_epoch": 1, "start_batch": 0}
    write_lines(path, [json.dumps(begin) + "\n", batch(1), batch(2)])
    assert follower.update().steps == [1, 2]
    write_lines(path, [batch(3)[:-10]])  # half a line: still being written
    assert follower.update().steps == [1, 2] and follower.offset == path.stat().st_size
    write_lines(path, [batch(3)[-10:], "{not json\n", "[1, 2]\n", batch(4, loss=0.5)])
    metrics = follower.update()
    assert metrics.steps == [1, 2, 3, 4] and metrics.losses[-1] == 0.5
    assert metrics.problems == [f"{METRICS} line 5 is damaged (not valid JSON) and was skipped.",
                                f"{METRICS} line 6 is not an event and was skipped."]
    assert read_metrics(run_dir)[0][-1]["step"] == 4  # runs.read_metrics agrees on the events

    # A replaced (shorter) file is read again from the start; a deleted run says so.
    write_lines(path, [json.dumps(begin) + "\n", batch(1, loss=2.0)], mode="w")
    metrics = follower.update()
    assert metrics.steps == [1] and metrics.losses == [2.0] and metrics.problems == []
    path.unlink()
    run_dir.rmdir()
    with pytest.raises(RunNotFound, match="no longer exists"):
        follower.update()


def test_progress_speed_and_resumed_batches(tmp_path):
    metrics = RunMetrics()
    assert progress(metrics) is None
    metrics.take({"event": "train_begin", "epochs": 2, "batches_per_epoch": 4, "start_epoch": 1, "start_batch": 0})
    for step in range(1, 7):
        metrics.take(json.loads(batch(step, epoch=1 if step <= 4 else 2, speed=100.0 if step % 2 else 300.0,
                                      eta=8.0 - step)))
    metrics.take({"event": "epoch_end", "epoch": 1, "dev_accuracy": 0.5})
    p = progress(metrics, now=1001.0)
    assert (p.epoch, p.batch, p.batches, p.fraction) == (2, 2, 4, 6 / 8)
    assert p.sentences_per_second == pytest.approx(150.0)  # harmonic mean of 100 and 300
    assert p.seconds_left == pytest.approx(1.0)  # eta 2 s at the event, 1 s ago
    # After a resume from the start of epoch 2, the repeated steps replace the old ones.
    metrics.take(json.loads(batch(5, epoch=2, loss=9.0)))
    assert metrics.steps == [1, 2, 3, 4, 5] and metrics.losses[-1] == 9.0
    assert smooth([1.0, 1.0, 1.0]) == pytest.approx([1.0, 1.0, 1.0])
    assert smooth([0.0, 10.0], weight=0.5) == pytest.approx([0.0, 10 * 0.5 / 0.75])
