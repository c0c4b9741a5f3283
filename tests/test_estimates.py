"""Time estimates learned from this server's finished runs and its load (sentiment_core.runs.estimates),
the trainer's test hook that slows it on purpose, and the finish message's plural (issue 22)."""
from __future__ import annotations

import time

import pytest

from sentiment_core.runs import estimates, jobs

from sentiment_core.training import test_hooks
from sentiment_core.config import RunConfig, with_changes
from sentiment_core.runs.store import create_run, write_json, write_status
from tests.helpers import synthetic_treebank_fixtures
from tests.test_training import data, run_fit  # noqa: F401 - `data` is a fixture

corpus, vocab = synthetic_treebank_fixtures()


def finished_run(root, name: str, cell: str, *, cpu: float, trained: float, wall: float, threads: int | str = 1):
    """A run this server trained to the end, with its measured figures, as jobs and the trainer record them."""
    run_dir = create_run(with_changes(RunConfig(), {"cell": cell}), root=root, name=name)
    launched = time.time() - 1000
    write_status(run_dir, state="finished", cpu_seconds=cpu, elapsed=trained, started_at=launched + 2,
                 ended_at=launched + wall)
    write_json(run_dir / jobs.JOB_FILE, {"kind": "train", "state": "done", "launched_at": launched,
                                         "command": ["python", "-m", "sentiment_core", "train", "--threads",
                                                     str(threads)]})
    return run_dir


def model_seconds(seconds: float):
    return lambda config: seconds


def test_an_estimate_without_finished_runs_says_it_comes_from_the_settings_alone():
    estimate = estimates.estimate_time(RunConfig(), 30.0, [], threads=1, load=0.0, cores=2)
    assert estimate.basis == estimates.MODEL_ONLY and estimate.wall_seconds == pytest.approx(30.0)
    assert "no run has finished on this server yet" in estimates.basis_text(estimate, "gru")
    busy = estimates.estimate_time(RunConfig(), 30.0, [], threads=1, load=5.0, cores=2)
    assert busy.wall_seconds == pytest.approx(30.0 * (5.0 + 1) / 2)  # 6 runnable on 2 cores: a third of a core each


def test_finished_runs_of_the_same_cell_teach_the_speed(tmp_path):
    # Two GRU runs took 4x the cost model's seconds in wall time, using all the CPU they had: a quiet machine.
    finished_run(tmp_path, "gru-a", "gru", cpu=40.0, trained=40.0, wall=40.0)
    finished_run(tmp_path, "gru-b", "gru", cpu=80.0, trained=80.0, wall=80.0)
    finished_run(tmp_path, "lstm-a", "lstm", cpu=10.0, trained=10.0, wall=10.0)
    finished = estimates.measured_runs(jobs.list_jobs(tmp_path), model_seconds(10.0), cores=2)
    assert len(finished) == 3
    config = with_changes(RunConfig(), {"cell": "gru"})
    estimate = estimates.estimate_time(config, 10.0, finished, threads=1, load=0.0, cores=2)
    assert estimate.basis == estimates.MEASURED and estimate.runs == 2
    assert estimate.wall_seconds == pytest.approx(10.0 * 6.0)  # the median of 4x and 8x
    assert "measured on the 2 GRU runs this server finished" in estimates.basis_text(estimate, "gru")


def test_a_cell_never_finished_learns_from_the_others(tmp_path):
    finished_run(tmp_path, "lstm-a", "lstm", cpu=30.0, trained=30.0, wall=36.0)
    finished = estimates.measured_runs(jobs.list_jobs(tmp_path), model_seconds(10.0), cores=2)
    estimate = estimates.estimate_time(with_changes(RunConfig(), {"cell": "gru"}), 10.0, finished, threads=1,
                                       load=0.0, cores=2)
    assert estimate.basis == estimates.OTHER_CELLS and estimate.wall_seconds == pytest.approx(36.0)
    assert "none with a GRU yet" in estimates.basis_text(estimate, "gru")
    # Start-up and the final evaluation (6 s) do not grow with the run: a 10x bigger one takes 10x the training.
    bigger = estimates.estimate_time(with_changes(RunConfig(), {"cell": "gru"}), 100.0, finished, threads=1,
                                     load=0.0, cores=2)
    assert bigger.wall_seconds == pytest.approx(30.0 * 10 + 6.0)


def test_a_busier_machine_now_stretches_the_estimate_and_a_quieter_one_does_not_shrink_it(tmp_path):
    # Measured alone on a quiet machine: 1 thread used its whole core (contention 1).
    finished_run(tmp_path, "quiet", "gru", cpu=20.0, trained=20.0, wall=20.0)
    finished = estimates.measured_runs(jobs.list_jobs(tmp_path), model_seconds(10.0), cores=2)
    quiet = estimates.estimate_time(RunConfig(), 10.0, finished, threads=1, load=0.0, cores=2)
    busy = estimates.estimate_time(RunConfig(), 10.0, finished, threads=1, load=7.0, cores=2)
    assert quiet.wall_seconds == pytest.approx(20.0)
    assert busy.wall_seconds == pytest.approx(20.0 * (7.0 + 1) / 2) and busy.slowdown == pytest.approx(4.0)
    assert "busier now than when they ran (load 7.0 on 2 cores)" in estimates.basis_text(busy, "gru")
    # Measured while sharing its core (CPU 10 s in 40 s of training): a busy machine now is no busier than then.
    finished_run(tmp_path, "shared", "lstm", cpu=10.0, trained=40.0, wall=40.0)
    shared = estimates.measured_runs([v for v in jobs.list_jobs(tmp_path) if v.name == "shared"],
                                     model_seconds(10.0), cores=2)
    assert shared[0].contention == pytest.approx(4.0)
    lstm = with_changes(RunConfig(), {"cell": "lstm"})
    assert estimates.estimate_time(lstm, 10.0, shared, threads=1, load=5.0, cores=2).wall_seconds == pytest.approx(40.0)
    assert estimates.estimate_time(lstm, 10.0, shared, threads=1, load=0.0, cores=2).wall_seconds == pytest.approx(40.0)


def test_only_finished_first_runs_with_figures_count(tmp_path):
    finished_run(tmp_path, "ok", "gru", cpu=5.0, trained=5.0, wall=6.0)
    stopped = finished_run(tmp_path, "stopped", "gru", cpu=5.0, trained=5.0, wall=6.0)
    write_status(stopped, state="stopped")
    old = finished_run(tmp_path, "old", "gru", cpu=5.0, trained=5.0, wall=6.0)
    write_status(old, cpu_seconds=None)  # a run from before the trainer recorded CPU time
    resumed = finished_run(tmp_path, "resumed", "gru", cpu=5.0, trained=5.0, wall=6.0)
    write_json(resumed / jobs.JOB_FILE, {"kind": "resume", "state": "done"})
    finished = estimates.measured_runs(jobs.list_jobs(tmp_path), model_seconds(1.0), cores=2)
    assert len(finished) == 1


def test_threads_of_a_run_and_of_a_new_one():
    assert estimates.run_threads({"command": ["train", "--threads", "1"]}, 4) == 1
    assert estimates.run_threads({"command": ["train", "--threads", "auto"]}, 4) == 4
    assert estimates.run_threads(None, 4) == 4
    assert estimates.new_run_threads(2, 4, 0.0) == 1           # several at once: a core each
    assert estimates.new_run_threads(1, 4, 1.2) == 3           # alone: the cores free now
    assert estimates.new_run_threads(1, 2, 9.0) == 1


def test_the_batch_delay_hook_reads_its_variable(monkeypatch):
    for raw, seconds in (("", 0.0), ("0.25", 0.25)):
        monkeypatch.setenv(test_hooks.BATCH_DELAY_ENV, raw)
        test_hooks.batch_delay_seconds.cache_clear()
        assert test_hooks.batch_delay_seconds() == seconds
    for bad in ("soon", "-1", "nan", "3600"):
        monkeypatch.setenv(test_hooks.BATCH_DELAY_ENV, bad)
        test_hooks.batch_delay_seconds.cache_clear()
        with pytest.raises(ValueError, match=test_hooks.BATCH_DELAY_ENV):
            test_hooks.batch_delay_seconds()
    test_hooks.batch_delay_seconds.cache_clear()


def test_the_slowed_trainer_sleeps_between_batches_and_says_one_epoch(monkeypatch, vocab, data):
    monkeypatch.setenv(test_hooks.BATCH_DELAY_ENV, "0.2")
    test_hooks.batch_delay_seconds.cache_clear()
    try:
        started = time.monotonic()
        _, result, log = run_fit(vocab, data, epochs=1)
        slept = time.monotonic() - started
    finally:
        monkeypatch.delenv(test_hooks.BATCH_DELAY_ENV)
        test_hooks.batch_delay_seconds.cache_clear()
    batches = len(log.of_kind("batch_end"))
    assert batches >= 2 and slept >= 0.2 * batches
    assert result.message.startswith("Finished 1 epoch;")  # not "1 epochs"
