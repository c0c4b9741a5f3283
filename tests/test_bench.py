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
from sentiment_core.training.bench import format_markdown, format_report
from sentiment_core.training.bench_figures import epoch_products

ROOT = Path(__file__).resolve().parent.parent
ROWS = {"tutorial", "tutorial_64", "scratch", "torch_rnn", "ours_rnn", "torch_lstm", "ours_lstm", "torch_gru",
        "ours_gru"}


def test_bench_quick_json_reports_every_model(sst_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "sentiment_core", "bench", "--quick", "--json", "--threads", "1",
                           "--data-dir", str(sst_dir)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["data"]["sentences"] == 8544 and result["data"]["quick"] is True
    assert result["threads"] == 1 and result["optimizer"] == "ours: Adam (training/optim.py); others: Adam (fused)"
    # the bench ran in a process with this one's environment: it says what this process finds
    assert result["compiled_recurrences"] == native.status()
    assert set(result["training"]) == ROWS and set(result["inference"]) == ROWS
    for name, row in result["training"].items():
        figures = (row["sentences_per_s"], row["cpu_sentences_per_s"])
        assert all(math.isfinite(value) and value > 0 for value in figures), name
        assert row["seconds_per_epoch"] == 8544 / row["sentences_per_s"]
        assert row["full_epoch"] is False  # quick slices say so
        for size in ("one", "batch"):
            p50, p95 = result["inference"][name][size]["p50"], result["inference"][name][size]["p95"]
            assert 0 < p50 <= p95, (name, size)
    for key, value in result["inference_ratios"].items():
        ours, theirs = key.split("/")
        assert value["one"] == result["inference"][theirs]["one"]["p50"] / result["inference"][ours]["one"]["p50"]
    assert set(result["inference_ratios"]) == {"scratch/torch_rnn", "ours_rnn/torch_rnn", "ours_lstm/torch_lstm",
                                               "ours_gru/torch_gru"}
    floor = result["floor"]  # the scratch epoch's matrix products, timed alone
    assert floor["products"] > 0 and floor["gflop"] > 0 and floor["seconds"] > 0
    assert floor["share"] == floor["seconds"] / floor["epoch_seconds"]
    assert floor["cpu_share"] == floor["cpu_seconds"] / floor["epoch_cpu_seconds"]
    assert "startup" in result  # bench_startup.startup_figures() where that module offers it
    assert set(result["cell_floors"]) == {"scratch", "ours_rnn", "ours_lstm", "ours_gru"}
    for name, cell in result["cell_floors"].items():
        theirs = {"scratch": "torch_rnn"}.get(name, name.replace("ours", "torch"))
        theirs_cpu = training_cpu_seconds(result["training"][theirs])
        assert cell["cpu_share_for_2x"] == 2 * cell["cpu_seconds"] / theirs_cpu, name
    # an LSTM does 4 blocks of H where the tanh RNN does 1: four times its floor's work
    assert result["cell_floors"]["ours_lstm"]["gflop"] == 4 * result["cell_floors"]["ours_rnn"]["gflop"]
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
    assert "GEMM floor" in report and f"{floor['share']:.0%} of the floor" in report
    table = format_markdown(result)
    assert table.count("\n| ") == len(ROWS)  # one row per model under the header
    assert f"**{result['ratios']['ours_lstm/torch_lstm']['wall']:.2f}x**" in table


def training_cpu_seconds(row: dict) -> float:
    return row["timed_sentences"] / row["cpu_sentences_per_s"]


def test_epoch_products_count_every_step_after_the_first():
    from sentiment_core.data.batching import Batch
    batch = Batch(tokens=torch.zeros(3, 4, dtype=torch.long), lengths=torch.tensor([4, 2, 1]),
                  labels=torch.zeros(3, dtype=torch.long))
    products = epoch_products([batch], embedding_dim=5, hidden_dim=7)
    # steps 1..3 run 2, 1, 1 sentences: forward and backward once each; N = 7 packed rows
    assert sorted(products) == sorted([(7, 5, 7), (2, 7, 7), (1, 7, 7), (1, 7, 7), (2, 7, 7), (1, 7, 7),
                                       (1, 7, 7), (7, 7, 5), (7, 7, 5), (7, 7, 7)])
    lstm = epoch_products([batch], embedding_dim=5, hidden_dim=7, gates=4)
    assert (7, 5, 28) in lstm and (2, 7, 28) in lstm and (2, 28, 7) in lstm and (28, 7, 7) in lstm


def test_bench_refuses_bad_options_with_a_sentence(capsys):
    assert main(["bench", "--only", "scratch", "nonsense"]) == 2
    assert "unknown benchmark rows nonsense" in capsys.readouterr().err
    assert main(["bench", "--repeats", "0"]) == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err
