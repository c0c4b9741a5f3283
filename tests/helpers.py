"""Small helpers shared by several test modules (fixtures live in conftest.py)."""
from __future__ import annotations

import json
import subprocess
import sys

from sentiment_core.training.store import request_stop
from sentiment_core.training.trainer import Callback


def chart_spec(at, key: str) -> dict:
    """The plotly figure of the one chart keyed `key` on an AppTest page, as the browser gets it."""
    charts = [c for c in at.get("plotly_chart") if key in c.proto.id]
    assert len(charts) == 1, f"expected one chart keyed {key}"
    return json.loads(charts[0].proto.spec)


def metric(at, label: str) -> str | None:
    """The value of the st.metric with this label, or None."""
    return next((m.value for m in at.metric if m.label == label), None)


def dead_pid() -> int:
    """The id of a process that has ended (and been waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class StopAt(Callback):
    """Asks for a stop the way the dashboard does: a `stop` file in the run directory."""

    def __init__(self, run_dir_of, epoch, batch):
        self.run_dir_of, self.epoch, self.batch = run_dir_of, epoch, batch

    def on_batch_end(self, event, control):
        if (event["epoch"], event["batch"]) == (self.epoch, self.batch):
            request_stop(self.run_dir_of())
