"""Does a run started from the training page train as fast as the same run from the command line?

    python scripts/bench_page_vs_cli.py                      # the seed preset, 2 rounds
    python scripts/bench_page_vs_cli.py --preset best-3 --epochs 1 --train-limit 20000 --rounds 1
    python scripts/bench_page_vs_cli.py --estimate           # limits.estimate_run against measured CPU time
    python scripts/bench_page_vs_cli.py --peak-memory        # peak memory of the largest allowed model

Page path: sentiment_core.runs.jobs.start_run (the page's own call: a background `train` process),
watched every second from this process the way the page's live fragment watches it: the queue
advanced, the runs listed, the new metrics read, the four live charts built and serialised
(`--watch page` reruns the whole training page through AppTest instead, an upper bound that
includes the test harness; `--watch none` only waits).
CLI path: the plain `python -m sentiment_core train --config ... --out ...` command.
Both run the same settings, one after the other, alternating which goes first. Printed per
round: wall time of the process, training time and the trainer's CPU time (train_end's
`elapsed` and `cpu_seconds`), and the CPU the page-style polling used; then the ratios
page / CLI of the medians. The acceptance bar is a training-time ratio of at most 1.10.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentiment_core.analysis.evaluation.run_progress import progress, smooth  # noqa: E402
from sentiment_core.runs import jobs  # noqa: E402
from sentiment_core.runs.metrics import MetricsFollower  # noqa: E402
from sentiment_core.runs.processes import is_process_alive  # noqa: E402
from sentiment_core.config import RunConfig, preset  # noqa: E402
from sentiment_core.runs.limits import Limits  # noqa: E402
from sentiment_core.runs.store import read_json  # noqa: E402


def make_config(args) -> RunConfig:
    config = preset(args.preset)
    if args.cell:
        config.model.cell = args.cell
        config.model.tutorial = config.model.tutorial and args.cell == "scratch"
    if args.epochs:
        config.train.epochs = args.epochs
    if args.train_limit:
        config.data.train_limit = args.train_limit
    config.train.patience = None  # both paths must train the same number of epochs
    return config


def training_figures(run_dir: Path) -> tuple[float, float]:
    """train_end's elapsed and cpu_seconds: the fit loop's own wall and CPU time."""
    for line in reversed((run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()):
        event = json.loads(line)
        if event.get("event") == "train_end":
            return float(event["elapsed"]), float(event.get("cpu_seconds") or "nan")
    raise RuntimeError(f"{run_dir} has no train_end event; see its train.log")


def run_cli(config: RunConfig, work: Path, data_dir: str | None, index: int, threads: int | None) -> dict:
    out = work / f"cli-{index}"
    config_path = work / f"cli-{index}.json"
    config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    command = [sys.executable, "-m", "sentiment_core", "train", "--config", str(config_path), "--out", str(out)]
    if data_dir:
        command += ["--data-dir", data_dir]
    if threads:
        command += ["--threads", str(threads)]
    started = time.monotonic()
    with open(work / f"cli-{index}.log", "wb") as log:  # the progress bars go where a terminal would show them
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True, cwd=ROOT)
    wall = time.monotonic() - started
    train, cpu = training_figures(out)
    return {"wall": wall, "train": train, "cpu": cpu, "watch_cpu": 0.0}


def watch_like_the_page(root: Path, run_dir: Path, limits: Limits, poll_seconds: float) -> None:
    """What the page's live fragment does each second, charts included."""
    from dashboard.charts import training as charts

    follower = MetricsFollower(run_dir)
    while True:
        jobs.advance_queue(root, limits)
        jobs.list_jobs(root)
        view = jobs.job_view(run_dir)
        metrics = follower.update()
        progress(metrics)
        figures = []
        if metrics.steps:
            figures.append(charts.batch_loss_chart(metrics.positions, metrics.losses, smooth(metrics.losses)))
        if metrics.epochs:
            figures += [charts.epoch_loss_chart(metrics.epoch_rows()), charts.epoch_accuracy_chart(metrics.epoch_rows())]
        if metrics.probes:
            figures.append(charts.gradient_flow_chart(metrics.probes))
        for figure in figures:
            figure.to_json()  # Streamlit serialises every chart it sends
        if view.terminal:
            return
        time.sleep(poll_seconds)


def watch_with_the_real_page(root: Path, run_dir: Path, poll_seconds: float) -> None:
    """The training page itself, rerun headless (AppTest) every poll: a whole-page rerun each time,
    which costs more than the browser's fragment rerun, so this bounds the page's cost from above."""
    from streamlit.testing.v1 import AppTest

    os.environ["SENTIMENT_RUNS_DIR"] = str(root)
    os.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from here, as `streamlit run` from the root does
    page = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
    page.switch_page("views/training.py")
    while True:
        started = time.monotonic()
        page.run()
        if page.exception:
            raise RuntimeError(f"the page failed: {page.exception[0].value}")
        if jobs.job_view(run_dir).terminal:
            return
        time.sleep(max(0.0, poll_seconds - (time.monotonic() - started)))


def run_page(config: RunConfig, work: Path, data_dir: str | None, index: int, poll_seconds: float,
             watch: str = "page", threads: int | None = None) -> dict:
    root = work / f"page-{index}"
    limits = Limits(max_epochs=10_000, max_hidden=10_000, max_embedding=10_000, max_layers=100, max_batch=100_000,
                    max_run_minutes=1e9)
    started, watch_started = time.monotonic(), time.process_time()
    run_dir = jobs.start_run(config, root=root, limits=limits, data_dir=data_dir, threads=threads)
    if watch == "page":
        watch_with_the_real_page(root, run_dir, poll_seconds)
    elif watch == "library":
        watch_like_the_page(root, run_dir, limits, poll_seconds)
    else:
        while not jobs.job_view(run_dir).terminal:
            time.sleep(poll_seconds)
    watch_cpu = time.process_time() - watch_started  # what the page's polling costs
    job = jobs.read_job(run_dir)
    while is_process_alive(job.get("pid")):  # the process still writes its last lines
        time.sleep(0.05)
    wall = time.monotonic() - started
    status = read_json(run_dir / "status.json")
    if status.get("state") != "finished":
        raise RuntimeError(f"the page run ended {status.get('state')}: {status.get('message')}")
    train, cpu = training_figures(run_dir)
    return {"wall": wall, "train": train, "cpu": cpu, "watch_cpu": watch_cpu}


def compare(args) -> None:
    config = make_config(args)
    print(f"settings: preset {args.preset}, cell {config.model.cell}, {config.train.epochs} epochs, "
          f"batch {config.train.batch_size}, train_limit {config.data.train_limit}, "
          f"max_batches {config.train.max_batches}, threads {args.threads or 'default'}; {args.rounds} round(s), "
          f"watched by the {args.watch}; "
          f"machine: {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    results = {"page": [], "cli": []}
    with tempfile.TemporaryDirectory(prefix="bench-page-cli-") as tmp:
        work = Path(tmp)
        for index in range(args.rounds):
            order = ("cli", "page") if index % 2 == 0 else ("page", "cli")
            for path in order:
                if path == "cli":
                    figures = run_cli(config, work, args.data_dir, index, args.threads)
                else:
                    figures = run_page(config, work, args.data_dir, index, args.poll, args.watch, args.threads)
                results[path].append(figures)
                print(f"round {index + 1} {path:>4}: wall {figures['wall']:7.1f} s   training {figures['train']:7.1f} s"
                      f"   trainer CPU {figures['cpu']:7.1f} s   polling CPU {figures['watch_cpu']:5.2f} s", flush=True)

    def median(path: str, key: str) -> float:
        return statistics.median(r[key] for r in results[path])

    for key, title in (("wall", "wall (process)"), ("train", "training (wall)"), ("cpu", "training (CPU)")):
        page, cli = median("page", key), median("cli", key)
        print(f"median {title:<16} page {page:7.1f} s   cli {cli:7.1f} s   ratio page/cli {page / cli:.3f}")
    polling = median("page", "watch_cpu") / median("page", "wall")
    print(f"the page-style polling used {polling:.1%} of one core while the page run lasted")
    ratio = median("page", "train") / median("cli", "train")
    print("acceptance (training wall ratio <= 1.10):", "met" if ratio <= 1.10 else "NOT met",
          f"(load average now {os.getloadavg()[0]:.1f}: on a busy machine wall times are noisy; "
          "the CPU ratio and the polling share are the steadier figures)")


# ---------------------------------------------------------------------------------------------
# The estimate and the memory of limits.py


ESTIMATE_GRID = [  # (cell, embedding, hidden, layers, bidirectional, batch, phrases, bptt)
    ("lstm", 100, 128, 1, False, 64, False, None), ("lstm", 300, 256, 1, False, 64, False, None),
    ("lstm", 300, 512, 1, False, 64, False, None), ("lstm", 300, 256, 2, True, 64, False, None),
    ("gru", 100, 128, 1, False, 64, False, None), ("rnn", 100, 128, 1, False, 64, False, None),
    ("scratch", 100, 128, 1, False, 64, False, None), ("scratch", 100, 128, 1, False, 4, False, None),
    ("lstm", 100, 128, 1, False, 4, False, None), ("lstm", 100, 128, 1, False, 16, False, None),
    ("lstm", 100, 128, 1, False, 256, False, None), ("lstm", 300, 256, 2, True, 256, False, None),
    ("lstm", 100, 150, 1, True, 64, True, None), ("lstm", 100, 150, 1, True, 16, True, None),
    ("lstm", 300, 256, 1, False, 64, True, None), ("rnn", 100, 64, 1, False, 32, True, None),
    ("gru", 300, 512, 2, True, 128, True, None), ("lstm", 100, 128, 1, False, 64, False, 10),
]


def cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_estimate(args) -> None:
    """Single-thread CPU ms per training sentence, measured against limits.milliseconds_per_sentence."""
    import torch
    from torch import nn

    from sentiment_core.data.batching import BucketBatchSampler, EncodedDataset, pad_collate
    from sentiment_core.config import ModelConfig
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.runs.limits import milliseconds_per_sentence
    from sentiment_core.models import build_model

    torch.set_num_threads(1)
    corpus = load_corpus(args.data_dir)
    vocab = corpus.build_vocab()
    data = {phrases: EncodedDataset(corpus.examples(3, "train", phrases=phrases), vocab) for phrases in (False, True)}
    print(f"{'cell':>7} {'emb':>4} {'hid':>4} {'lay':>3} {'bi':>3} {'batch':>5} {'data':>8} {'bptt':>4}  "
          f"{'measured ms':>11} {'estimate ms':>11} {'ratio':>6}")
    for cell, emb, hidden, layers, bi, batch, phrases, bptt in ESTIMATE_GRID:
        config = RunConfig(model=ModelConfig(vocab_size=len(vocab), num_classes=3, cell=cell, embedding_dim=emb,
                                             hidden_dim=hidden, layers=layers, bidirectional=bi))
        config.train.bptt, config.train.batch_size = bptt, batch
        torch.manual_seed(0)
        config.model.tutorial = cell == "scratch" and batch == 4  # the seed preset's model
        model = build_model(config.model, vocab)
        optimizer = torch.optim.Adam(model.parameters())
        dataset = data[phrases]
        batches = BucketBatchSampler(dataset.lengths, batch, shuffle=True, seed=0).batches(0)
        batches = batches[:max(4, args.sentences // batch)]
        sentences = tokens = 0
        started = cpu_seconds()
        for indices in batches:
            b = pad_collate([dataset[i] for i in indices])
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(b.tokens, b.lengths, bptt=bptt), b.labels).backward()
            optimizer.step()
            sentences += len(indices)
            tokens += int(b.lengths.sum())
        measured = (cpu_seconds() - started) * 1000 / sentences
        estimate = milliseconds_per_sentence(config, tokens / sentences, batch, len(vocab))
        print(f"{cell:>7} {emb:>4} {hidden:>4} {layers:>3} {'y' if bi else 'n':>3} {batch:>5} "
              f"{'phrases' if phrases else 'sent.':>8} {bptt or '-':>4}  {measured:11.2f} {estimate:11.2f} "
              f"{estimate / measured:6.2f}", flush=True)


def peak_memory(args) -> None:
    """Train a few batches of the longest sentences with the largest model the default limits allow."""
    import resource

    import torch
    from torch import nn

    from sentiment_core.data.batching import EncodedDataset, pad_collate
    from sentiment_core.config import ModelConfig
    from sentiment_core.data.corpus import load_corpus
    from sentiment_core.runs.limits import limits_from_env
    from sentiment_core.models import build_model

    limits = limits_from_env()  # the defaults, or what the SENTIMENT_MAX_* variables say
    corpus = load_corpus(args.data_dir)
    vocab = corpus.build_vocab()
    examples = corpus.examples(5, "train", phrases=True)  # the phrase list in memory too, as best-* runs hold it
    dataset = EncodedDataset(examples, vocab)
    lengths = dataset.lengths  # a property that builds a list: read it once
    longest = sorted(range(len(dataset)), key=lambda i: -lengths[i])[:limits.max_batch]
    print(f"data loaded: resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    for cell in ("lstm", "scratch"):
        config = ModelConfig(vocab_size=len(vocab), num_classes=5, cell=cell, embedding_dim=limits.max_embedding,
                             hidden_dim=limits.max_hidden, layers=limits.max_layers, bidirectional=True)
        model = build_model(config, vocab)
        optimizer = torch.optim.Adam(model.parameters())
        batch = pad_collate([dataset[i] for i in longest])
        optimizer.zero_grad()  # one step: forward, backward and Adam's state allocated
        nn.functional.cross_entropy(model(batch.tokens, batch.lengths), batch.labels).backward()
        optimizer.step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{cell}: {limits.max_layers} bidirectional layers of {limits.max_hidden}, embeddings "
              f"{limits.max_embedding}, batch {limits.max_batch} x {batch.tokens.shape[1]} tokens: "
              f"peak resident memory so far {peak:,.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="seed", help="settings to train (default: seed)")
    parser.add_argument("--cell", help="override the preset's cell")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--train-limit", type=int, help="use only the first N training examples")
    parser.add_argument("--rounds", type=int, default=2, help="page and CLI runs each (default 2)")
    parser.add_argument("--poll", type=float, default=1.0, help="page polling interval in seconds (default 1)")
    parser.add_argument("--watch", choices=("library", "page", "none"), default="library",
                        help="library (default): each poll makes the calls the page's live fragment makes (queue, "
                             "runs, metrics, charts built and serialised); page: the whole training page rerun "
                             "headless through AppTest (an upper bound: whole-page reruns plus the test harness); "
                             "none: the background process alone")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads for both paths (`train --threads`; 1 steadies figures on a busy machine)")
    parser.add_argument("--data-dir", default=None, help="treebank folder (default: $SST_DIR, then data/sst)")
    parser.add_argument("--estimate", action="store_true", help="compare the time estimate with measurements")
    parser.add_argument("--sentences", type=int, default=1280, help="--estimate: sentences per setting (default 1280)")
    parser.add_argument("--peak-memory", action="store_true", help="peak memory of the largest allowed model")
    args = parser.parse_args()
    if args.estimate:
        measure_estimate(args)
    elif args.peak_memory:
        peak_memory(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
