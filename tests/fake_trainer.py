"""A stand-in for `python -m sentiment_core train` as the queue (runs/jobs.py) sees it.

    python tests/fake_trainer.py train --config CONFIG --out RUN [--data-dir D] [--threads N]
    python tests/fake_trainer.py train --resume RUN [--epochs N] [--data-dir D]

It writes what the real trainer writes (status.json, metrics.jsonl, checkpoint.pt, last.pt)
through the same run store, obeys the stop file, and hands its slot to the next queued run as
it ends, like the CLI. It never loads torch or data, so a queue test runs in seconds.

Tests decide when it ends: with $FAKE_TRAINER_GATES set, after its first batches it waits
for the file $FAKE_TRAINER_GATES/<run name>, which it removes and obeys:
  finish  -> ends as `finished` (one epoch, with results)     crash -> exits 3 mid-run
  (a stop file ends it as `stopped` while it waits). Without the variable it finishes at once.
With $FAKE_TRAINER_FAIL_EARLY set it prints that and exits 2 before training, as a bad
--data-dir makes the real one do.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sentiment_core.runs.metrics import MetricsWriter, read_metrics  # noqa: E402
from sentiment_core.runs.processes import process_start_time  # noqa: E402
from sentiment_core.runs.store import (CHECKPOINT, LAST, STOP_FILE, claim_run, read_status,  # noqa: E402
                                           write_status)

BATCHES = 3  # written before waiting on the gate


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["train"])
    for option in ("--config", "--out", "--resume", "--data-dir", "--epochs", "--threads"):
        parser.add_argument(option)
    return parser.parse_args(argv)


def wait_for_gate(run_dir: Path) -> str:
    gates = os.environ.get("FAKE_TRAINER_GATES")
    if not gates:
        return "finish"
    gate = Path(gates) / run_dir.name
    while True:
        if (run_dir / STOP_FILE).exists():
            return "stop"
        order = gate.read_text().strip() if gate.exists() else ""
        if order:  # an empty file is one still being written: read it again
            gate.unlink()
            return order
        time.sleep(0.02)


def train(run_dir: Path, resumed: bool) -> None:
    events, _ = read_metrics(run_dir)
    step = max([e["step"] for e in events if e["event"] == "batch_end"], default=0) if resumed else 0
    write_status(run_dir, state="running", pid=os.getpid(), pid_started=process_start_time(os.getpid()),
                 started_at=time.time(), ended_at=None, message="resuming" if resumed else "starting", epochs=1)
    writer = MetricsWriter(run_dir)
    now = time.time
    writer.write({"event": "train_begin", "time": now(), "epochs": 1, "start_epoch": 1, "start_batch": 0,
                  "batches_per_epoch": 2 * BATCHES, "resumed": resumed, "world_size": 1})
    for batch in range(1, BATCHES + 1):
        writer.write({"event": "batch_end", "time": now(), "epoch": 1, "batch": batch, "batches": 2 * BATCHES,
                      "step": step + batch, "loss": 1.0 / batch, "sentences_per_second": 100.0, "eta": 1.0,
                      "elapsed": 0.1 * batch})
    (run_dir / LAST).write_bytes(b"fake training state")
    (run_dir / CHECKPOINT).write_bytes(b"fake checkpoint")
    order = wait_for_gate(run_dir)
    if order == "crash":
        os._exit(3)
    state = "stopped" if order == "stop" else "finished"
    writer.write({"event": "train_end", "time": now(), "state": state, "elapsed": 1.0})
    writer.close()
    results = {"results": {"dev": {"accuracy": 0.5}, "test": {"accuracy": 0.5}}} if state == "finished" else {}
    write_status(run_dir, state=state, message="Stopped on request." if state == "stopped" else "Finished.",
                 ended_at=time.time(), epoch=1, **results)
    print(state)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if os.environ.get("FAKE_TRAINER_FAIL_EARLY"):
        print("fake trainer: failing before training as asked", flush=True)
        return 2
    run_dir = Path(args.resume or args.out)
    try:
        with claim_run(run_dir):
            if args.resume:
                (run_dir / STOP_FILE).unlink(missing_ok=True)  # the request that stopped it has been served
            elif read_status(run_dir).get("state") != "queued":
                print(f"{run_dir} is not a queued run", flush=True)
                return 2
            train(run_dir, resumed=bool(args.resume))
    finally:
        from sentiment_core.runs.jobs import hand_over_slot  # as the CLI does when training ends

        for path in hand_over_slot(run_dir):
            print(f"started the next queued run: {path.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
