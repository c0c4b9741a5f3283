"""Copies of a trained run whose status records a chosen dev figure, for the default-model tests.

The ranking (sentiment_core.analysis.inference.model_choice) reads only what a run records: its dev accuracy,
how many dev sentences it was measured on and its eval_limit. A copy keeps the model (so the page can
load it) and records the figure the test wants to rank.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path


def ranked_copy(source: Path, root: Path, name: str, accuracy: float, count: int, eval_limit: int | None = None
                ) -> Path:
    """`source` copied to root/name, recorded as finished with `accuracy` on `count` dev sentences."""
    target = root / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("job.json", "stop", "*.lock"))
    status = json.loads((target / "status.json").read_text())
    status.update(state="finished", name=name, created_at=time.time(), best_dev_accuracy=accuracy)
    results = status.setdefault("results", {})
    results["dev"] = {**results.get("dev", {}), "accuracy": accuracy, "count": count}
    (target / "status.json").write_text(json.dumps(status))
    config = json.loads((target / "config.json").read_text())
    config["data"]["eval_limit"] = eval_limit
    (target / "config.json").write_text(json.dumps(config))
    time.sleep(0.01)  # distinct creation times: the pages list runs newest first
    return target
