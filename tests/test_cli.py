"""The train / evaluate / predict commands, run as separate processes the way users and the dashboard do."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sentiment_core.cli import build_parser, main
from sentiment_core.cli.train import config_from_args
from sentiment_core.training.metrics import read_metrics
from sentiment_core.training.store import read_status

TINY = ["--cell", "gru", "--embedding-dim", "16", "--hidden-dim", "16", "--batch-size", "25",
        "--train-limit", "200", "--eval-limit", "60"]


def cli(*args, timeout=120):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "sentiment_core", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def parse(argv):
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_options_override_the_preset_and_none_switches_a_setting_off():
    config = parse(["--preset", "seed", "--epochs", "2", "--clip", "none", "--cell", "lstm"])
    assert config.preset == "seed" and config.train.epochs == 2 and config.train.clip is None
    assert config.model.cell == "lstm" and not config.model.tutorial  # the tutorial model is scratch only
    assert config.train.batch_size == 4  # untouched preset value
    assert parse(["--preset", "seed"]).model.tutorial
    default = parse(["--bidirectional", "--phrases", "--labels", "5"])
    assert default.model.bidirectional and default.data.phrases and default.data.labels == 5
    assert parse(["--preset", "best-3", "--no-phrases"]).data.phrases is False


def test_train_evaluate_predict_smoke(tmp_path, sst_dir, capsys):
    run_dir = tmp_path / "run"
    trained = cli("train", *TINY, "--epochs", "2", "--data-dir", sst_dir, "--out", run_dir, "--json")
    assert trained.returncode == 0, trained.stderr
    outcome = json.loads(trained.stdout)
    assert outcome["state"] == "finished" and outcome["run_dir"] == str(run_dir)
    assert "epoch 2/2" in trained.stderr  # the per-epoch summary line after the progress bar
    evaluated = cli("evaluate", run_dir, "--split", "test", "--data-dir", sst_dir, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["split"] == "test" and result["count"] == 2210  # evaluate reads the whole split
    assert len(result["confusion"]) == 3 and sum(map(sum, result["confusion"])) == 2210
    assert {row["label"] for row in result["per_class"]} == {"positive", "negative", "neutral"}
    predicted = cli("predict", run_dir, "a gorgeous , witty , seductive movie .", "--json")
    assert predicted.returncode == 0, predicted.stderr
    answer = json.loads(predicted.stdout)
    assert answer["label"] in answer["probabilities"] and sum(answer["probabilities"].values()) == pytest.approx(1)
    assert answer["tokens"][:2] == ["a", "gorgeous"]
    assert main(["predict", str(run_dir), "zzzqx blorptastic", "--json"]) == 0  # in this process: faster
    unknown = json.loads(capsys.readouterr().out)
    assert unknown["unknown"] == ["zzzqx", "blorptastic"] and "vocabulary" in unknown["note"]


@pytest.mark.parametrize("args, message", [
    (["predict", "{run}", "   "], "nothing to classify"),
    (["predict", "{run}", "fine"], "no vocabulary"),
    (["evaluate", "{missing}"], "no run"),
    (["train", "--lr", "-1", "--out", "{new}"], "learning rate"),
    (["train", "--name", "..", "--train-limit", "10"], "no usable characters"),
    (["train", "--out", "{run}"], "already holds files"),
    (["train", "--resume", "{run}", "--lr", "0.1"], "only --epochs may change"),
])
def test_errors_are_one_clear_line(tmp_path, capsys, args, message):
    # In this process (main() is what `python -m sentiment_core` runs): an uncaught error
    # would surface here as an exception instead of a message and an exit code.
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({}), encoding="utf-8")  # a run without vocab or model
    args = [a.format(run=run, missing=tmp_path / "missing", new=tmp_path / "new") for a in args]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "new").exists()  # nothing was created


def test_sigterm_stops_a_training_process_with_a_loadable_run(tmp_path, sst_dir):
    run_dir = tmp_path / "background"
    process = subprocess.Popen([sys.executable, "-m", "sentiment_core", "train", *TINY, "--epochs", "200",
                                "--patience", "none", "--data-dir", str(sst_dir), "--out", str(run_dir), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            events, _ = read_metrics(run_dir)
            if any(e["event"] == "batch_end" for e in events):
                break
            time.sleep(0.2)
        assert read_status(run_dir)["state"] == "running" and read_status(run_dir)["pid"] == process.pid
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert read_status(run_dir)["state"] == "stopped"
    assert "stopped" in out and "--resume" in out
    assert cli("predict", run_dir, "fine", "--json").returncode == 0
