"""Runs are never lost by a failure (issue 19): the trainer that loses the claim leaves the winner's
run; a full disk keeps what was saved; a trainer killed in its first epoch resumes from the page;
and the training inputs that crashed or hung a run (a huge seed, a --config that is no object, a
probe file that is a device or a FIFO) are refused in one sentence. Real `train` processes on the
synthetic treebank, each stopped at a known point by a gate, never by timing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest

from sentiment_core import settings
from sentiment_core.cli import main
from sentiment_core.cli.folders import removed_on_failure
from sentiment_core.cli.health import health_report
from sentiment_core.cli.train import run_worth_keeping
from sentiment_core.runs import jobs
from sentiment_core.config import MAX_SEED, RunConfig, validate, with_changes
from sentiment_core.runs.execution import load_model, train_run
from sentiment_core.training.sentence_probes import ProbeSentencesError, read_probe_sentences
from sentiment_core.runs.checkpoints import load_checkpoint, load_torch
from sentiment_core.runs.store import CHECKPOINT, LAST, claim_run, read_status, write_status
from tests.helpers import dead_pid, open_page, run_picker, tiny_config
from tests.test_page_training import header, rerun_until, texts

ROOT = Path(__file__).resolve().parent.parent
# 240 training sentences in batches of 40: six batches an epoch, the training state saved every two.
TINY = ["--cell", "gru", "--embedding-dim", "8", "--hidden-dim", "8", "--batch-size", "40", "--epochs", "2",
        "--patience", "none", "--probe-every", "0", "--save-every", "2", "--threads", "1", "--quiet"]

# The real `train` command, which stops at its first save inside an epoch: it prints "saved EPOCH BATCH"
# and waits for a line on stdin (then trains on), or for the kill a test sends it.
GATED_TRAIN = """
import sys
from sentiment_core.cli import main
from sentiment_core.runs import execution as runs

real_save_torch, waited = runs.save_torch, []

def save_then_wait(path, data):
    real_save_torch(path, data)
    if path.name == "last.pt" and data["batch"] and not waited:
        waited.append(True)
        print("saved", data["epoch"], data["batch"], flush=True)
        sys.stdin.readline()

runs.save_torch = save_then_wait
sys.exit(main(sys.argv[1:]))
"""

# The real `train` command on a disk that fills up once epoch 1's best checkpoint is written: every
# later write (metrics, training state, status; argv[1] names files spared, comma-separated) fails.
FULL_DISK_TRAIN = """
import errno, os, sys
from sentiment_core.cli import main
from sentiment_core.runs import checkpoints, metrics, execution as runs, store

spared, full = set(filter(None, sys.argv[1].split(","))), []
real_write_text, real_save_torch, real_write_event = (store.atomic_write_text, checkpoints.save_torch,
                                                      metrics.MetricsWriter.write)

def check_space(path):
    if full and path.name not in spared:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

def write_text(path, text, **options):
    check_space(path)
    real_write_text(path, text, **options)

def save_torch(path, data):
    check_space(path)
    real_save_torch(path, data)
    if path.name == "checkpoint.pt" and data["epoch"] >= 1:
        full.append(True)

def write_event(writer, event):
    check_space(writer.path)
    real_write_event(writer, event)

store.atomic_write_text, checkpoints.save_torch, runs.save_torch = write_text, save_torch, save_torch
metrics.MetricsWriter.write = write_event
sys.exit(main(sys.argv[2:]))
"""


def start_train(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_gate(trainer: subprocess.Popen) -> str:
    line = trainer.stdout.readline()
    assert line, f"the trainer ended before its first save: {trainer.stderr.read()}"
    return line.strip()


def one_error_line(err: str) -> str:
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.fixture
def killed_trainers():
    """Gated trainers a test starts; any still running when it ends are killed (and waited for)."""
    started = []
    yield started
    for trainer in started:
        if trainer.poll() is None:
            trainer.kill()
        trainer.communicate()


# ---------------------------------------------------------------------------------------------
# M6: the trainer that loses the claim leaves the winner's run


def test_the_trainer_that_loses_the_claim_leaves_the_winners_run(tiny_sst_dir, tmp_path, monkeypatch, capsys,
                                                                 killed_trainers):
    """A creates --out and loads its data; meanwhile B (a real process) claims the folder and trains."""
    import sentiment_core.runs.execution as execution  # train_run loads the treebank through its own import

    run_dir = tmp_path / "contested"
    real_load = execution.load_corpus

    def load_while_the_other_claims(*args, **kwargs):
        assert run_dir.is_dir() and not any(run_dir.iterdir())  # A made --out, empty
        winner = start_train(GATED_TRAIN, "train", *TINY, "--data-dir", str(tiny_sst_dir), "--out", str(run_dir))
        killed_trainers.append(winner)
        assert wait_for_gate(winner) == "saved 1 2"  # B holds the claim and has trained two batches
        return real_load(*args, **kwargs)

    monkeypatch.setattr(execution, "load_corpus", load_while_the_other_claims)
    assert main(["train", *TINY, "--data-dir", str(tiny_sst_dir), "--out", str(run_dir)]) == 2
    assert one_error_line(capsys.readouterr().err) == ("error: another process is already training contested; "
                                                       "wait for it to end or stop it first")
    winner = killed_trainers[0]
    assert read_status(run_dir)["state"] == "running" and read_status(run_dir)["pid"] == winner.pid
    out, err = winner.communicate("go on\n", timeout=300)
    assert winner.returncode == 0, err
    status = read_status(run_dir)
    assert status["state"] == "finished" and status["epoch"] == 2 and set(status["results"]) == {"dev", "test"}
    load_model(run_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contested"]  # nothing else made or left


def test_cleanup_removes_only_what_this_process_still_owns(tmp_path):
    """The rules under the test above: a claimed folder is kept; a parent made is removed only while empty."""
    claimed, shared_parent = tmp_path / "claimed", tmp_path / "new" / "parent"
    with ExitStack() as other_trainer, pytest.raises(OSError):
        with removed_on_failure(claimed, keep=run_worth_keeping, create=True, hold=claim_run):
            # Another trainer's claim, held while this one cleans up (a second descriptor conflicts like a process).
            other_trainer.enter_context(claim_run(claimed))
            (claimed / "config.json").write_text("{}", encoding="utf-8")
            raise OSError("the data could not be read")
    with pytest.raises(OSError):
        with removed_on_failure(shared_parent / "mine", keep=run_worth_keeping, create=True, hold=claim_run):
            (shared_parent / "someone-elses").mkdir()  # another run made next to this one meanwhile
            raise OSError("the data could not be read")
    assert (claimed / "config.json").is_file()  # held while this process cleaned up: kept
    assert sorted(p.name for p in shared_parent.iterdir()) == ["someone-elses"]  # only "mine" went


# ---------------------------------------------------------------------------------------------
# M7: a full disk keeps the best checkpoint, and the run resumes


@pytest.mark.parametrize("status_writable", [True, False], ids=["status-written", "nothing-writable"])
def test_a_full_disk_keeps_the_run_its_checkpoint_and_a_status_that_says_so(tiny_sst_dir, tmp_path, capsys,
                                                                           status_writable):
    run_dir = tmp_path / "full-disk"
    trainer = start_train(FULL_DISK_TRAIN, "status.json" if status_writable else "", "train", *TINY,
                          "--data-dir", str(tiny_sst_dir), "--out", str(run_dir))
    _, err = trainer.communicate(timeout=300)
    assert trainer.returncode == 1, err
    assert one_error_line(err) == f"error: No space left on device: {run_dir / LAST}"  # epoch 1's training state
    assert load_checkpoint(run_dir / CHECKPOINT)["epoch"] == 1  # the best checkpoint, written before the disk filled
    saved = load_torch(run_dir / LAST)
    assert (saved["epoch"], saved["batch"]) == (1, 4)  # its last save, mid-epoch
    status = read_status(run_dir)
    assert status["state"] == "interrupted"
    if status_writable:
        assert status["message"].startswith("Training stopped: it could not write its files (No space left on "
                                            "device). What it saved so far is kept")
    else:  # status.json still says running, by a process that has ended
        assert status["message"].startswith(f"The training process (pid {trainer.pid}) ended without finishing")
    assert jobs.job_view(run_dir).can_resume  # the page offers Resume
    # Space freed: the run goes on from epoch 1, batch 4, and finishes.
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 0
    status = read_status(run_dir)
    assert status["state"] == "finished" and status["epoch"] == 2 and status["results"]["test"]["count"] == 80


def test_a_run_that_saved_anything_is_worth_keeping(tmp_path):
    for name, content in (("checkpoint.pt", b"x"), ("last.pt", b"x"), ("metrics.jsonl", b'{"event": "batch_end"}\n')):
        (tmp_path / name).write_bytes(content)
        assert run_worth_keeping(tmp_path), name
        (tmp_path / name).unlink()
    (tmp_path / "metrics.jsonl").write_bytes(b"")  # opened, nothing recorded
    (tmp_path / "status.json").write_text(json.dumps({"state": "running", "pid": os.getpid()}), encoding="utf-8")
    assert not run_worth_keeping(tmp_path)


# ---------------------------------------------------------------------------------------------
# m7: killed in its first epoch, resumed from the page


@pytest.mark.slow
def test_a_trainer_killed_in_its_first_epoch_resumes_from_the_page(tiny_sst_dir, tmp_path, monkeypatch,
                                                                   killed_trainers):
    root = tmp_path / "runs"
    monkeypatch.setenv("SST_DIR", str(tiny_sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    for name in ("SENTIMENT_PUBLIC", "SENTIMENT_MAX_QUEUE", "SENTIMENT_MAX_CONCURRENT_RUNS"):
        monkeypatch.delenv(name, raising=False)
    run_dir = root / "killed"
    trainer = start_train(GATED_TRAIN, "train", *TINY, "--data-dir", str(tiny_sst_dir), "--out", str(run_dir))
    killed_trainers.append(trainer)
    assert wait_for_gate(trainer) == "saved 1 2"
    trainer.send_signal(signal.SIGKILL)
    trainer.wait()
    saved = load_torch(run_dir / LAST)
    assert read_status(run_dir)["state"] == "interrupted" and (saved["epoch"], saved["batch"]) == (1, 2)

    at = open_page("views/training.py")
    run_picker(at).set_value("killed").run()
    shown = texts(at.error)
    assert "interrupted" in header(at) and "Interrupted: The training process" in shown
    assert "python" not in shown and "--resume" not in shown and "Resume it to continue from its last save" in shown
    assert at.number_input(key="train_seed").max == MAX_SEED  # m5: the form stops where the runs can go
    at.button(key="train_resume").click().run()
    assert "will resume" in texts(at.info)
    rerun_until(at, lambda a: "finished" in header(a))
    assert "Finished 2 epochs" in texts(at.success)
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    begins = [(e["start_epoch"], e["start_batch"]) for e in events if e["event"] == "train_begin"]
    assert begins == [(1, 0), (1, 2)]  # resumed mid-epoch, from the periodic save


def test_a_run_killed_before_its_first_save_says_there_is_nothing_to_resume(tiny_sst_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SST_DIR", str(tiny_sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv("SENTIMENT_PUBLIC", raising=False)
    run_dir = tmp_path / "early"
    train_run(tiny_config(epochs=1, save_every=None), run_dir, data_dir=tiny_sst_dir, catch_signals=False)
    (run_dir / LAST).unlink()  # as if killed before its first save
    write_status(run_dir, state="running", pid=dead_pid())
    at = open_page("views/training.py")
    run_picker(at).set_value("early").run()
    shown = texts(at.error)
    assert "It ended before its first save, so there is nothing to resume" in shown and "python" not in shown
    assert not [b for b in at.button if b.key == "train_resume"]


# ---------------------------------------------------------------------------------------------
# m5: the seed's range is what torch.manual_seed takes (with the per-epoch seeds derived from it)


def test_a_seed_out_of_range_is_one_sentence_and_the_largest_one_trains(tiny_corpus, tmp_path, capsys):
    with pytest.raises(ValueError) as refused:
        validate(with_changes(RunConfig(), {"seed": 100_000_000_000_000}))
    assert str(refused.value) == f"seed must be a whole number in [0, {MAX_SEED}], not 100000000000000"
    assert main(["train", "--seed", "100000000000000", "--out", str(tmp_path / "never")]) == 2
    assert one_error_line(capsys.readouterr().err) == f"error: {refused.value}"
    assert not (tmp_path / "never").exists()
    _, status = train_run(tiny_config(seed=MAX_SEED, epochs=1), tmp_path / "largest", corpus=tiny_corpus,
                          catch_signals=False)
    assert status["state"] == "finished"


# ---------------------------------------------------------------------------------------------
# m8: --config that is not a run config


@pytest.mark.parametrize("content, said", [
    ("[1, 2]", "a run config is a JSON object with data, model and train sections, not a list"),
    ('"quick"', "not a text"),
    ('{"train": [5]}', "the TrainConfig section of a run config is an object of settings, not a list"),
    ('{"train": {"epochs": 2}, "extra": 1}', "unknown run config sections: extra"),
    ('{"preset": {"name": "quick"}}', "a run config's preset is a name, not an object"),
    ("[" * 10_000, "it nests deeper than the limit of 4 levels"),
    (" " * (64 * 2**10 + 1), "it is 64 KB, more than the limit of 64 KB"),
    ("{not json", "it is not valid JSON"),
])
def test_a_config_file_that_is_not_a_run_config_is_one_sentence(tmp_path, capsys, content, said):
    config = tmp_path / "config.json"
    config.write_text(content, encoding="utf-8")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "never")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {config} is not a run config") and said in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_a_config_file_that_is_a_device_is_refused_unread(tmp_path, capsys):
    assert main(["train", "--config", "/dev/zero", "--out", str(tmp_path / "never")]) == 2
    assert one_error_line(capsys.readouterr().err) == "error: /dev/zero is not a run config: it is not a regular file"


# ---------------------------------------------------------------------------------------------
# m4: the probe sentence file is a regular file within its cap, for a run and for `health`


def finishes(call, *args):
    """call(*args)'s exception or value, from a thread that must end (a blocking open would hang it)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call(*args)
        except Exception as err:  # the outcome under test
            outcome["value"] = err

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a guard against hanging the suite, not a timing assertion
    assert not worker.is_alive(), f"{call.__name__} blocked"
    return outcome["value"]


def probe_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    fifo = tmp_path / "probes.fifo"
    os.mkfifo(fifo)
    large = tmp_path / "large.txt"
    large.write_text("not bad at all\n" * (settings.MAX_PROBE_FILE_BYTES // 15 + 1), encoding="utf-8")
    return {"device": (Path("/dev/zero"), "is not a regular file"), "fifo": (fifo, "is not a regular file"),
            "large": (large, "more than the limit of 64 KB")}


def test_a_probe_file_that_is_a_device_a_fifo_or_too_large_is_refused_unread(tmp_path):
    for kind, (path, said) in probe_files(tmp_path).items():
        refused = finishes(read_probe_sentences, path)
        assert isinstance(refused, ProbeSentencesError) and said in str(refused), (kind, refused)
        assert settings.PROBE_SENTENCES_ENV in str(refused)


def test_health_fails_on_the_probe_files_a_run_refuses(tmp_path, monkeypatch, capsys):
    for kind, (path, said) in probe_files(tmp_path).items():
        report = finishes(health_report, {**os.environ, settings.PROBE_SENTENCES_ENV: str(path)})
        assert not report["probe sentences"]["ok"] and said in report["probe sentences"]["detail"], kind
    healthy = health_report({k: v for k, v in os.environ.items() if k != settings.PROBE_SENTENCES_ENV})
    assert healthy["probe sentences"]["ok"] and "sentences in" in healthy["probe sentences"]["detail"]
