"""The train / evaluate / predict commands, run as separate processes the way users and the dashboard do."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from sentiment_core import settings
from sentiment_core.cli import DATA_SETTINGS, build_parser, main
from sentiment_core.cli.progress import CallbackBar, progress_bar
from sentiment_core.cli.train import config_from_args
from sentiment_core.config import SETTINGS, RunConfig, get_setting
from sentiment_core.runs.metrics import read_metrics
from sentiment_core.runs.store import read_status
from sentiment_core.runs.provenance import record_treebank, recorded_treebank, treebank_for

TINY = ["--cell", "gru", "--embedding-dim", "16", "--hidden-dim", "16", "--batch-size", "25",
        "--train-limit", "200", "--eval-limit", "60"]


def cli(*args, timeout=120, env=None):
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
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


@pytest.mark.slow  # train processes on the real treebank
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
    assert 0 < result["macro_f1"] <= 1 and all(0 <= row["recall"] <= 1 for row in result["per_class"])
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


@pytest.mark.slow  # train processes on the real treebank
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
    assert main(["predict", str(run_dir), "fine", "--json"]) == 0  # loadable (in-process: one cold start fewer)


@pytest.mark.parametrize("option, value, message", [
    ("--lr", "inf", "learning rate must be a finite number"),
    ("--clip", "inf", "clip must be a finite number"),
    ("--weight-decay", "nan", "weight_decay must be a finite number"),
    ("--weight-decay", "-1", "weight_decay must be at least 0"),
    ("--momentum", "1", "momentum must be in [0, 1)"),
    ("--bptt", "-3", "bptt must be a whole number of at least 1 or none"),
])
def test_bad_numbers_are_refused_in_one_line_before_anything_is_created(tmp_path, capsys, option, value, message):
    assert main(["train", option, value, "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("command, option", [("train", "--hidden-dim"), ("train", "--lr"), ("train", "--bptt"),
                                             ("train", "--threads"), ("data", "--min-freq")])
def test_a_huge_number_is_refused_unparsed_and_not_echoed_whole(tmp_path, capsys, command, option):
    typed = "9" * 100_000  # int() of it would be slow; argparse used to print all of it back
    with pytest.raises(SystemExit) as exit_info:
        main([command, option, typed, *(["--out", str(tmp_path / "new")] if command == "train" else [])])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {option}: expected a" in last and "100,000 characters" in last and len(last) < 250
    assert not (tmp_path / "new").exists()


def test_progress_off_a_terminal_is_a_plain_line_every_interval():
    log = io.StringIO()
    bar = progress_bar(200, "epoch 1", unit="batch", stream=log, interval=0.2)
    started = time.monotonic()
    while time.monotonic() - started < 1.1:
        bar.set_postfix_str("loss 0.5", refresh=False)
        bar.update(1)
        time.sleep(0.005)
    bar.close()
    lines = log.getvalue().split("\n")
    assert "\r" not in log.getvalue() and lines[-1] == ""  # newline-terminated, never a redraw
    assert 2 <= len(lines) - 1 <= 6 and lines[0].startswith("epoch 1: ") and "loss 0.5" in lines[0]
    quiet = io.StringIO()
    CallbackBar("Downloading treebank", stream=quiet).close()  # nothing to report: nothing drawn
    assert quiet.getvalue() == ""


def test_treebank_choice_explicit_then_recorded_then_the_usual_search(tmp_path, sst_dir):
    run = tmp_path / "run"
    run.mkdir()
    assert treebank_for(run, None) == (None, "")  # a run from before the record: the usual search
    record_treebank(run, SimpleNamespace(folder=sst_dir, checksum="x"))
    assert recorded_treebank(run) == {"folder": str(sst_dir), "checksum": "x"}
    assert treebank_for(run, "elsewhere") == ("elsewhere", "")
    folder, note = treebank_for(run, None)
    assert folder == sst_dir and note.startswith("note: ") and str(sst_dir) in note
    record_treebank(run, SimpleNamespace(folder=tmp_path / "gone", checksum="x"))
    folder, note = treebank_for(run, None)
    assert folder is None and note.startswith("warning: ") and "is gone" in note and "--data-dir" in note


@pytest.mark.slow  # train processes on the real treebank
def test_a_run_remembers_its_treebank_for_evaluate(tmp_path, sst_dir, monkeypatch, capsys):
    treebank, run_dir = tmp_path / "treebank", tmp_path / "run"
    shutil.copytree(sst_dir, treebank)
    trained = cli("train", *TINY, "--epochs", "2", "--data-dir", treebank, "--out", run_dir)
    assert trained.returncode == 0, trained.stderr
    # Into a pipe: plain lines (start, at most one progress line per few seconds, one per epoch), no redraws.
    assert "\r" not in trained.stderr and len(trained.stderr.splitlines()) <= 6
    assert trained.stderr.splitlines()[-1].startswith("epoch 2/2: ")
    assert recorded_treebank(run_dir)["folder"] == str(treebank.resolve())

    # No --data-dir, no SST_DIR, no treebank in the data folder: the run's own treebank is used.
    env = {k: v for k, v in os.environ.items() if k != "SST_DIR"}
    env.update(SENTIMENT_DATA_DIR=str(tmp_path / "data"), SENTIMENT_CACHE_DIR=str(settings.default_cache_dir()))
    evaluated = cli("evaluate", run_dir, "--split", "test", "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["count"] == 2210
    assert evaluated.stderr == f"note: using the treebank run was trained on, in {treebank.resolve()} " \
                               "(--data-dir chooses another)\n"

    monkeypatch.delenv("SST_DIR", raising=False)
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    test_file = treebank / "test.txt"
    test_file.write_text("".join(test_file.read_text().splitlines(keepends=True)[:100]))  # the treebank changed
    assert main(["evaluate", str(run_dir), "--split", "test", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["count"] == 100 and "differs from the one run was trained on" in err

    treebank.rename(tmp_path / "moved")  # the treebank is gone: say so, then the usual search finds none
    assert main(["evaluate", str(run_dir), "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("warning: the treebank run was trained on") and "is gone" in err and "error: " in err
    assert main(["predict", str(run_dir), "a gorgeous , witty , seductive movie .", "--json"]) == 0  # no treebank
    assert json.loads(capsys.readouterr().out)["tokens"][:2] == ["a", "gorgeous"]


def test_results_say_macro_f1_and_each_class_recall_after_train_and_evaluate(tmp_path):
    from sentiment_core.cli.evaluate import format_evaluation
    from sentiment_core.cli.train import format_outcome

    per_class = [{"label": "negative", "precision": 0.7, "recall": 0.8, "f1": 0.75, "support": 10},
                 {"label": "neutral", "precision": 0.5, "recall": 0.026, "f1": 0.05, "support": 10},
                 {"label": "positive", "precision": 0.7, "recall": 0.9, "f1": 0.8, "support": 10}]
    result = {"split": "test", "count": 30, "accuracy": 0.711, "loss": 0.9, "macro_f1": 0.535, "per_class": per_class,
              "class_names": ["negative", "neutral", "positive"], "confusion": [[8, 0, 2], [4, 1, 5], [1, 0, 9]]}
    text = format_evaluation(result)
    assert "accuracy 71.1%, macro F1 0.535, recall negative 80.0% / neutral 2.6% / positive 90.0%" in text
    status = {"state": "finished", "message": "Finished.", "best_epoch": 2, "results": {"dev": result, "test": result}}
    outcome = format_outcome(tmp_path, status, 1.0)
    assert "  test: accuracy 71.1%, macro F1 0.535, recall negative 80.0% / neutral 2.6%" in outcome
    assert "  dev: " in outcome


def test_a_bad_probe_sentence_file_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SENTIMENT_PROBE_SENTENCES", str(tmp_path / "missing-probes.txt"))
    assert main(["train", *TINY, "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "missing-probes.txt" in err and "SENTIMENT_PROBE_SENTENCES" in err and "Traceback" not in err
    assert str(tmp_path) not in err and not (tmp_path / "new").exists()


def _command_options(command: str) -> dict:
    """option string -> argparse action of one sub-command."""
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    return {flag: action for action in subparsers.choices[command]._actions for flag in action.option_strings}


def test_the_data_command_takes_its_setting_options_from_the_schema_as_train_does(tmp_path, capsys):
    data, train = _command_options("data"), _command_options("train")
    for key in DATA_SETTINGS:
        flag = SETTINGS[key].flag
        assert (data[flag].help, data[flag].choices, data[flag].type) == (
            train[flag].help, train[flag].choices, train[flag].type)
        assert data[flag].default == get_setting(RunConfig(), key)  # train's defaults come from its preset
    # refused as `train` refuses it, before the (here empty) treebank folder is read
    assert main(["data", "--data-dir", str(tmp_path), "--min-freq", "0"]) == 2
    assert capsys.readouterr().err == "error: min_freq must be a whole number of at least 1, not 0\n"
