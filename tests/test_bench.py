"""The `bench` command, run for real on quick slices of the treebank (a smoke test, not a measurement)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from sentiment_core.cli import main

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
    assert result["compiled_recurrences"] in ("on", "off (SENTIMENT_NATIVE=0)") or \
        result["compiled_recurrences"].startswith("unavailable: ")
    assert set(result["training"]) == ROWS and set(result["latency_ms"]) == ROWS
    for name, row in result["training"].items():
        assert row["sentences_per_s"] > 0 and row["cpu_sentences_per_s"] > 0, name
        assert row["seconds_per_epoch"] == 8544 / row["sentences_per_s"]
        assert row["full_epoch"] is False  # quick slices say so
        assert result["latency_ms"][name] > 0
    assert result["training"]["tutorial"]["batch_size"] == 4
    assert result["training"]["scratch"]["batch_size"] == 64
    assert set(result["ratios"]) == {"scratch/torch_rnn", "scratch/tutorial", "scratch/tutorial_64",
                                     "ours_rnn/torch_rnn", "ours_lstm/torch_lstm", "ours_gru/torch_gru"}
    ratio = result["ratios"]["scratch/torch_rnn"]["wall"]
    training = result["training"]
    assert ratio == training["scratch"]["sentences_per_s"] / training["torch_rnn"]["sentences_per_s"]


def test_bench_refuses_bad_options_with_a_sentence(capsys):
    assert main(["bench", "--only", "scratch", "nonsense"]) == 2
    assert "unknown benchmark rows nonsense" in capsys.readouterr().err
    assert main(["bench", "--repeats", "0"]) == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err
