"""`bench --startup`: one epoch of the scratch cell as a whole process, against a plain torch script.

What a person waits for when they type the train command is the whole process: the interpreter,
the imports, the treebank, the model, the epoch, the evaluation and the exit. This times

    python -m sentiment_core train --cell scratch --labels 3 --epochs 1 --batch-size 64

beside scripts/reference_packed_rnn.py (torch's packed nn.RNN, the same data and sizes, torch and
the standard library only), each a fresh process, in turns (ours, the script, ours, ...) after one
warm-up of each that is not counted (it fills the file cache and, on a new machine, builds the
compiled recurrences). Wall and CPU seconds of each process come from the operating system
(os.wait4). The train command is run with $SENTIMENT_STARTUP_MARKS set, so it notes its own
moments (timeline.py), and the breakdown is read from them:

    imports      process start to the train command ready (the interpreter, torch, this package)
    data         the treebank read (the tokenized corpus from its cache)
    model        vocabulary, encoded data, model, optimizer, probe sentences: up to train_begin
    first batch  train_begin to the first batch's end (the gradient probe included)
    epoch        the rest of the epoch and its dev score
    evaluation   the best checkpoint's dev and test figures, the run's files
    exit         the interpreter's tear-down, until the process has ended

Each figure is the median over the counted runs.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sentiment_core.settings import MARKS_ENV, PROJECT_ROOT, SST_DIR_ENV

REFERENCE_SCRIPT = PROJECT_ROOT / "scripts" / "reference_packed_rnn.py"
TRAIN_ARGS = ["--cell", "scratch", "--labels", "3", "--epochs", "1", "--batch-size", "64"]
PHASES = (("imports", "imports"), ("data", "data"), ("model", "train_begin"), ("first batch", "first_batch"),
          ("epoch", "epoch_end_1"), ("evaluation", "evaluated"))
TARGET_RATIO = 0.8  # issue 23: the whole command at most 0.8x the plain script's wall time


def timed_process(command: list[str], env: dict) -> tuple[float, float, float, int]:
    """(unix start, wall seconds, CPU seconds, exit code) of one process, its output discarded."""
    started, clock = time.time(), time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - clock
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return started, wall, usage.ru_utime + usage.ru_stime, process.returncode


def our_command(runs_dir: Path, data_dir, threads) -> list[str]:
    command = [sys.executable, "-m", "sentiment_core", "train", *TRAIN_ARGS, "--runs-dir", str(runs_dir), "--quiet"]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    return command + (["--threads", str(threads)] if threads else [])


def reference_command(threads) -> list[str]:
    return [sys.executable, str(REFERENCE_SCRIPT)] + (["--threads", str(threads)] if threads else [])


def phases_of(marks: list, started: float, wall: float, cpu: float) -> dict[str, dict]:
    """{phase: {"wall", "cpu"}} from one run's marks; a phase whose mark is missing is left out."""
    at = {name: (when, used) for name, when, used in marks}
    out, previous = {}, (started, 0.0)
    for phase, name in PHASES:
        if name not in at:
            continue
        when, used = at[name]
        out[phase] = {"wall": when - previous[0], "cpu": used - previous[1]}
        previous = (when, used)
    out["exit"] = {"wall": started + wall - previous[0], "cpu": cpu - previous[1]}
    return out


def run_ours(runs_dir: Path, data_dir, threads, env: dict) -> dict:
    marks_file = runs_dir / "marks.json"
    started, wall, cpu, code = timed_process(our_command(runs_dir, data_dir, threads),
                                             {**env, MARKS_ENV: str(marks_file)})
    if code != 0 or not marks_file.is_file():
        raise RuntimeError(f"the train command failed (exit code {code}); run it by hand to see why: "
                           + " ".join(our_command(runs_dir, data_dir, threads)))
    marks = json.loads(marks_file.read_text())["marks"]
    return {"wall": wall, "cpu": cpu, "phases": phases_of(marks, started, wall, cpu)}


def run_reference(data_dir, threads, env: dict) -> dict:
    reference_env = {**env, SST_DIR_ENV: str(data_dir)} if data_dir else env
    _, wall, cpu, code = timed_process(reference_command(threads), reference_env)
    if code != 0:
        raise RuntimeError(f"the reference script failed (exit code {code}); run {REFERENCE_SCRIPT} by hand")
    return {"wall": wall, "cpu": cpu}


def startup_benchmark(data_dir=None, runs: int = 3, threads: int | None = None, progress=None) -> dict:
    """Time both commands `runs` times in turns (after a warm-up of each); a plain dict (format_startup)."""
    if runs < 1:
        raise ValueError(f"--repeats must be at least 1, not {runs}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ours, reference = [], []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        for index in range(runs + 1):  # index 0: the warm-up of each, not counted
            one = run_ours(Path(tempfile.mkdtemp(dir=scratch)), data_dir, threads, env)
            other = run_reference(data_dir, threads, env)
            if index:
                ours.append(one)
                reference.append(other)
            if progress:
                progress(index + 1, runs + 1, "")
    return summarize(ours, reference, threads)


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def summarize(ours: list[dict], reference: list[dict], threads: int | None) -> dict:
    names = [phase for phase, _ in PHASES] + ["exit"]
    phases = {name: {kind: statistics.median(run["phases"][name][kind] for run in ours if name in run["phases"])
                     for kind in ("wall", "cpu")}
              for name in names if any(name in run["phases"] for run in ours)}
    ratios = {kind: statistics.median(a[kind] / b[kind] for a, b in zip(ours, reference)) for kind in ("wall", "cpu")}
    return {
        "command": "python -m sentiment_core train " + " ".join(TRAIN_ARGS),
        "reference": f"python {REFERENCE_SCRIPT.relative_to(PROJECT_ROOT)}",
        "runs": len(ours),
        "threads": threads,
        "phases": phases,
        "ours": {"wall": _median(ours, "wall"), "cpu": _median(ours, "cpu"), "walls": [r["wall"] for r in ours]},
        "reference_seconds": {"wall": _median(reference, "wall"), "cpu": _median(reference, "cpu"),
                              "walls": [r["wall"] for r in reference]},
        "ratio": ratios,  # ours / reference, the median of the pairs (each pair ran back to back)
        "target_ratio": TARGET_RATIO,
    }


def format_startup(result: dict) -> str:
    lines = [f"Start-up: `{result['command']}` as a whole process, against `{result['reference']}`",
             f"median of {result['runs']} run(s) in turns after a warm-up; threads: "
             f"{result['threads'] or 'torch default'}", "",
             f"{'phase':<14} {'wall s':>8} {'CPU s':>8}"]
    for name, row in result["phases"].items():
        lines.append(f"{name:<14} {row['wall']:>8.2f} {row['cpu']:>8.2f}")
    ours, reference, ratio = result["ours"], result["reference_seconds"], result["ratio"]
    lines += [f"{'whole process':<14} {ours['wall']:>8.2f} {ours['cpu']:>8.2f}",
              f"{'plain script':<14} {reference['wall']:>8.2f} {reference['cpu']:>8.2f}", "",
              f"ours / plain script: {ratio['wall']:.2f}x wall, {ratio['cpu']:.2f}x CPU "
              f"(target: at most {result['target_ratio']:.1f}x wall)"]
    return "\n".join(lines)
