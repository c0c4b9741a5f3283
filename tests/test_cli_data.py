"""`python -m sentiment_core data`: a real subprocess on the full treebank."""
from __future__ import annotations

import json
import os
import subprocess
import sys


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sentiment_core", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_data_json_matches_known_facts(sst_dir, vocab):
    done = _run("data", "--data-dir", str(sst_dir), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert {s: v["examples"] for s, v in summary["splits"].items()} == {"train": 8544, "dev": 1101, "test": 2210}
    assert summary["splits"]["train"]["labels"] == {"positive": 3610, "negative": 3310, "neutral": 1624}
    assert summary["vocab_size"] == len(vocab)
    assert 0 < summary["splits"]["dev"]["oov_rate"] < 0.1
    assert summary["padding"]["bucketed"] < summary["padding"]["unbucketed"]
    assert summary["splits"]["train"]["max_length"] >= summary["splits"]["train"]["mean_length"] > 10


def test_data_binary_and_text_output(sst_dir):
    done = _run("data", "--data-dir", str(sst_dir), "--labels", "2")
    assert done.returncode == 0, done.stderr
    assert "6,920" in done.stdout and "872" in done.stdout and "1,821" in done.stdout
    phrases = json.loads(_run("data", "--data-dir", str(sst_dir), "--phrases", "--json").stdout)
    assert phrases["splits"]["train"]["examples"] > 150_000 and phrases["splits"]["dev"]["examples"] == 1101


def test_data_missing_folder_is_one_clear_line(tmp_path):
    done = _run("data", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
