"""DistributedDataParallel: batch sharding, torchrun's environment, and real 2-process runs.

The two `torchrun` tests start `python -m torch.distributed.run --standalone --nproc_per_node 2
-m sentiment_core train ...` on this machine (gloo on CPU) with a small data slice and model.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sentiment_core.config import ModelConfig, RunConfig
from sentiment_core.training.distributed import RANK_WEIGHTS_ENV, DistributedError, World, world_from_env
from sentiment_core.models import build_model
from sentiment_core.runs.metrics import read_metrics
from sentiment_core.runs.store import create_run, read_status, request_stop

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# Sharding and the environment


@pytest.mark.parametrize("count, size", [(10, 2), (11, 2), (7, 3), (1, 2), (2, 4), (12, 4)])
def test_shard_gives_every_rank_the_same_number_of_batches_and_covers_all(count, size):
    batches = [[i, i + 100] for i in range(count)]  # bucketed batches: lists of example indices
    shards = [World(rank=r, size=size, backend="gloo").shard(batches) for r in range(size)]
    per_rank = World(size=size).batches_per_rank(count)
    assert per_rank == -(-count // size)
    assert [len(s) for s in shards] == [per_rank] * size  # equal counts: no rank waits at an all-reduce
    taken = [b for shard in shards for b in shard]
    assert {tuple(b) for b in taken} == {tuple(b) for b in batches}  # nothing dropped
    assert len(taken) - count == per_rank * size - count  # only the padding repeats, wrapping around
    if count >= size:
        assert shards[0] != shards[1]  # ranks train on different data


def test_single_process_world_changes_nothing():
    world = World()
    batches = [[3, 1], [2], [0]]
    assert world.shard(batches) == batches
    assert world.batches_per_rank(3) == 3
    assert world.sum(1.5, 2) == (1.5, 2.0)
    assert world.any(True) and not world.any(False) and world.all(True) and not world.all(False)
    assert world.from_main({"a": 1}) == {"a": 1}
    model = torch.nn.Linear(2, 2)
    assert world.wrap(model) is model
    assert world.is_main and not world.distributed


def test_world_from_torchrun_environment():
    assert world_from_env({}) == World()
    world = world_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert (world.rank, world.size, world.local_rank, world.is_main) == (1, 2, 1, False)
    assert world.backend in ("gloo", "nccl")
    with pytest.raises(DistributedError, match="torchrun"):
        world_from_env({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(DistributedError, match="whole numbers"):
        world_from_env({"RANK": "x", "WORLD_SIZE": "2"})


def test_every_model_configuration_uses_all_its_parameters():
    """DDP runs with find_unused_parameters=False: a parameter without a gradient would hang it."""
    vocab_size = 12
    tokens = torch.tensor([[2, 4, 5, 6, 3], [2, 7, 3, 1, 1]])  # (B, T), padded with 1
    lengths = torch.tensor([5, 3])
    combos = itertools.product(("scratch", "rnn", "lstm", "gru"), (False, True), ("last", "max", "mean"), (1, 2))
    for cell, bidirectional, pooling, layers in combos:
        config = ModelConfig(vocab_size=vocab_size, num_classes=3, cell=cell, embedding_dim=4, hidden_dim=4,
                             layers=layers, bidirectional=bidirectional, pooling=pooling, dropout=0.1)
        model = build_model(config)
        model(tokens, lengths).sum().backward()
        unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
        assert not unused, f"{config}: no gradient for {unused}"
    tutorial = build_model(ModelConfig(vocab_size=vocab_size, num_classes=3, cell="scratch", tutorial=True,
                                       embedding_dim=4, hidden_dim=4))
    tutorial(tokens, lengths).sum().backward()
    assert all(p.grad is not None for p in tutorial.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------
# Two real processes under torchrun

TINY = ["--cell", "gru", "--embedding-dim", "16", "--hidden-dim", "16", "--batch-size", "16",
        "--train-limit", "200", "--eval-limit", "60", "--epochs", "1", "--probe-every", "0", "--quiet"]


def torchrun_train(args: list[str], env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "sentiment_core", "train", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def torchrun_env(sst_dir, corpus, tmp_path):
    # `corpus` built the tokenized-corpus cache first, so the two ranks only read it.
    env = dict(os.environ, SST_DIR=str(sst_dir), SENTIMENT_RUNS_DIR=str(tmp_path / "runs"),
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop(RANK_WEIGHTS_ENV, None)
    return env


@pytest.mark.slow
def test_two_ranks_end_identical_and_write_the_run_once(torchrun_env, tmp_path):
    run_dir, weights_dir = tmp_path / "ddp-run", tmp_path / "weights"
    done = torchrun_train([*TINY, "--out", str(run_dir)], {**torchrun_env, RANK_WEIGHTS_ENV: str(weights_dir)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("finished:") == 1  # only rank 0 reports

    # Both ranks trained on different shards, yet the averaged gradients kept their weights equal.
    rank0 = torch.load(weights_dir / "rank0.pt", weights_only=True)
    rank1 = torch.load(weights_dir / "rank1.pt", weights_only=True)
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert rank0.keys() == rank1.keys() == checkpoint["model_state"].keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the ranks"
        assert torch.equal(rank0[name], checkpoint["model_state"][name])
    initial = build_model(ModelConfig(**checkpoint["model_config"]))
    assert any(not torch.equal(initial.state_dict()[n], rank0[n]) for n in rank0)  # it did train

    # One writer: one run directory with the usual files, each event once.
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        ["checkpoint.pt", "config.json", "last.pt", "metrics.jsonl", "status.json", "vocab.json"])
    status = read_status(run_dir)
    assert status["state"] == "finished" and status["results"]["dev"]["count"] == 60
    events, problems = read_metrics(run_dir)
    assert not problems
    kinds = [e["event"] for e in events]
    assert kinds.count("train_begin") == 1 and kinds.count("epoch_end") == 1 and kinds.count("train_end") == 1
    begin = events[0]
    assert begin["world_size"] == 2 and begin["train_size"] == 200
    total_batches = -(-200 // 16)  # 13 batches of 16 over the slice, shared by two ranks
    assert begin["batches_per_epoch"] == -(-total_batches // 2) == 7
    steps = [(e["epoch"], e["batch"]) for e in events if e["event"] == "batch_end"]
    assert steps == [(1, b) for b in range(1, 8)]  # no duplicated batch events
    assert json.loads((run_dir / "config.json").read_text())["train"]["batch_size"] == 16
    assert len(list(tmp_path.glob("runs/*"))) == 0  # no second run directory under the runs folder


@pytest.mark.slow
def test_a_stop_request_stops_both_ranks_at_the_same_batch(torchrun_env, tmp_path):
    """Rank 0 alone watches the stop file; the others must stop with it, not hang at an all-reduce."""
    run_dir = tmp_path / "stopped-run"
    create_run(RunConfig(), path=run_dir)  # a queued run, as the dashboard prepares one
    request_stop(run_dir)
    done = torchrun_train([*TINY, "--out", str(run_dir)], torchrun_env)
    assert done.returncode == 0, done.stdout + done.stderr
    status = read_status(run_dir)
    assert status["state"] == "stopped", status
    events, _ = read_metrics(run_dir)
    assert [e["batch"] for e in events if e["event"] == "batch_end"] == [1]
    assert [e["state"] for e in events if e["event"] == "train_end"] == ["stopped"]
