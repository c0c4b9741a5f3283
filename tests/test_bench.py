"""The `bench` command, run for real on quick slices of the treebank (a smoke test, not a measurement)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

from sentiment_core.cli import main
from sentiment_core.models import native
from sentiment_core.training.bench import format_report

ROOT = Path(__file__).resolve().parent.parent
ROWS = {"tutorial", "tutorial_64", "scratch", "torch_rnn", "ours_rnn", "torch_lstm", "ours_lstm", "torch_gru",
        "ours_gru"}


def test_bench_quick_json_reports_every_model(sst_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "sentiment_core", "bench", "--quick", "--json", "--data-dir",
                           str(sst_dir)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["data"]["sentences"] == 8544 and result["data"]["quick"] is True
    assert result["threads"] == torch.get_num_threads() and result["optimizer"] == "Adam (fused)"
    # the bench ran in a process with this one's environment: it says what this process finds
    assert result["compiled_recurrences"] == native.status()
    assert set(result["training"]) == ROWS and set(result["latency_ms"]) == ROWS
    for name, row in result["training"].items():
        figures = (row["sentences_per_s"], row["cpu_sentences_per_s"], result["latency_ms"][name])
        assert all(math.isfinite(value) and value > 0 for value in figures), name
        assert row["seconds_per_epoch"] == 8544 / row["sentences_per_s"]
        assert row["full_epoch"] is False  # quick slices say so
        assert result["latency_ms"][name] > 0
    assert result["training"]["tutorial"]["batch_size"] == 4
    assert result["training"]["scratch"]["batch_size"] == 64
    assert set(result["ratios"]) == {"scratch/torch_rnn", "scratch/tutorial", "scratch/tutorial_64",
                                     "ours_rnn/torch_rnn", "ours_lstm/torch_lstm", "ours_gru/torch_gru"}
    training, report = result["training"], format_report(result)
    for key, ratio in result["ratios"].items():
        ours, theirs = key.split("/")
        assert ratio["wall"] == training[ours]["sentences_per_s"] / training[theirs]["sentences_per_s"], key
        assert ratio["cpu"] == training[ours]["cpu_sentences_per_s"] / training[theirs]["cpu_sentences_per_s"], key
        assert f"{key:<22} {ratio['wall']:6.2f}x" in report, key  # every ratio is printed, GRU's too


def test_bench_refuses_bad_options_with_a_sentence(capsys):
    assert main(["bench", "--only", "scratch", "nonsense"]) == 2
    assert "unknown benchmark rows nonsense" in capsys.readouterr().err
    assert main(["bench", "--repeats", "0"]) == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err
