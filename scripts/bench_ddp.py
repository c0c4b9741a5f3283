"""One process against torchrun with N processes: the same training run, figures side by side.

    python scripts/bench_ddp.py [--nproc 2] [--epochs 1] [-- extra train options]

Trains the same settings (default: a GRU of 64 over the 3-class training sentences, batches
of 32) with `python -m sentiment_core train` (PyTorch's default threads, then one thread, as
torchrun gives each of its processes) and with `torchrun --standalone --nproc_per_node N -m
sentiment_core train`, each into a temporary folder, and prints for each: wall time of the
command, training seconds per epoch (from metrics.jsonl), optimizer steps per epoch, and dev
accuracy. The treebank comes from $SST_DIR or data/sst.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SETTINGS = ["--cell", "gru", "--embedding-dim", "64", "--hidden-dim", "64", "--batch-size", "32",
                    "--patience", "none", "--probe-every", "0"]


def train(launcher: list[str], settings: list[str], out: Path, env: dict | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run([*launcher, "-m", "sentiment_core", "train", *settings, "--out", str(out), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(launcher)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def figures(run_dir: Path, wall: float) -> dict:
    from sentiment_core.runs.metrics import read_metrics
    from sentiment_core.runs.store import read_status

    events, _ = read_metrics(run_dir)
    epochs = [e for e in events if e["event"] == "epoch_end"]
    begin = next(e for e in events if e["event"] == "train_begin")
    return {"wall s": wall, "s per epoch": sum(e["epoch_seconds"] for e in epochs) / len(epochs),
            "steps per epoch": begin["batches_per_epoch"], "processes": begin.get("world_size", 1),
            "dev accuracy": read_status(run_dir)["best_dev_accuracy"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nproc", type=int, default=2, help="torchrun processes (default 2)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs (default 1)")
    parser.add_argument("extra", nargs="*", help="more train options, after --")
    args = parser.parse_args(argv)
    settings = [*DEFAULT_SETTINGS, "--epochs", str(args.epochs), *args.extra]
    work = Path(tempfile.mkdtemp(prefix="sentiment-ddp-bench-"))
    from sentiment_core.data.corpus import load_corpus

    load_corpus()  # the tokenized cache, built once before any timed run
    rows = {}
    one = work / "one-process"
    rows["1 process"] = figures(one, train([sys.executable], settings, one))
    # torchrun gives each process one thread (OMP_NUM_THREADS=1): this row separates the effect
    # of the thread count from that of the second process.
    single = work / "one-thread"
    rows["1 proc, 1 thr"] = figures(single, train([sys.executable], settings, single,
                                                  dict(os.environ, OMP_NUM_THREADS="1")))
    many = work / "torchrun"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(args.nproc)]
    rows[f"torchrun x{args.nproc}"] = figures(many, train(launcher, settings, many))

    print(f"settings: {' '.join(settings)}   ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    names = list(next(iter(rows.values())))
    print(f"{'':<14}" + "".join(f"{n:>17}" for n in names))
    for label, row in rows.items():
        cells = [f"{row[n]:.1%}" if n == "dev accuracy" else f"{row[n]:.1f}" if isinstance(row[n], float)
                 else str(row[n]) for n in names]
        print(f"{label:<14}" + "".join(f"{c:>17}" for c in cells))
    other = rows[f"torchrun x{args.nproc}"]
    for label in ("1 process", "1 proc, 1 thr"):
        base = rows[label]
        print(f"torchrun / {label}: wall time x{other['wall s'] / base['wall s']:.2f}, "
              f"epoch time x{other['s per epoch'] / base['s per epoch']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
