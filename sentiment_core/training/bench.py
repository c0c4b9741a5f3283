"""Training speed and inference latency, side by side in one run on the same data.

What is measured (SST-3 training sentences, embedding 100, hidden 128):

* the tutorial's SentimentRNN exactly as written: a Python loop over time, batch 4, padding
  processed as words; timed on a fixed slice of batches and reported per second;
* our scratch cell and our rnn / lstm / gru models from `build_model`, batch 64;
* plain baselines written the usual way: torch's nn.RNN / nn.LSTM / nn.GRU on
  pack_padded_sequence(enforce_sorted=False) batches, batch 64.

Ours are trained with the optimizer `train` uses (training/optim.py's Adam: torch's fused
kernel, dense gradients), the tutorial's loop and the baselines with torch.optim.Adam (fused),
as the textbook writes them. `lazy_adam` (`bench --lazy-adam`) trains ours with a sparse
embedding gradient and lazy Adam rows instead: faster, but it costs accuracy, so `train` does
not use it (see optim.py).

A training figure is sentences per second over forward + backward + optimizer step; batches are
built (bucketed, as the trainer builds them) before the clock starts, so only the model and the
optimizer are timed. The tutorial's loop is also timed at batch 64, to separate what batching
gains from what the implementation gains. Each model is timed `repeats` times and the median is
reported, with CPU seconds beside the wall-clock ones: on a shared machine CPU time is the
steadier of the two. Within a pass the models take turns chunk by chunk (see run_benchmark).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sentiment_core.data.batching import Batch, EncodedDataset, make_loader
from sentiment_core.models import SentimentRNN, build_model, native
from sentiment_core.data.corpus import load_corpus
from sentiment_core.training import bench_startup, optim
from sentiment_core.training.bench_figures import (BATCH_SENTENCES, LATENCY_TOKENS, gemm_floor, inference_percentiles,
                                                   one_sentence, sentence_batch)
from sentiment_core.config import ModelConfig

EMBEDDING_DIM, HIDDEN_DIM, BATCH_SIZE, TUTORIAL_BATCH_SIZE = 100, 128, 64, 4
TUTORIAL_BATCHES = 400      # the tutorial's loop is timed on this many batches of 4
CHUNKS = 10                 # models take turns this many times per pass (see run_benchmark)


class PackedBaseline(nn.Module):
    """The textbook way: embedding, torch's recurrent module on a packed batch, last hidden state."""

    def __init__(self, kind: str, vocab_size: int, num_classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, EMBEDDING_DIM, padding_idx=1)
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](EMBEDDING_DIM, HIDDEN_DIM)
        self.head = nn.Linear(HIDDEN_DIM, num_classes)

    def forward(self, tokens, lengths, bptt=None):
        embedded = self.embedding(tokens)  # (B, T, E)
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(packed)
        if isinstance(hidden, tuple):      # LSTM: (h, c)
            hidden = hidden[0]
        return self.head(hidden[-1])       # (B, C)


class TutorialAsWritten(nn.Module):
    """SentimentRNN called exactly as the tutorial calls it: sequence-first, padding included."""

    def __init__(self, vocab_size: int, num_classes: int):
        super().__init__()
        self.net = SentimentRNN(vocab_size, EMBEDDING_DIM, HIDDEN_DIM, num_classes)

    def forward(self, tokens, lengths, bptt=None):
        return self.net(tokens.t())        # (S, B) as the tutorial's iterator gave it


@dataclass
class Contender:
    name: str                              # key in the report
    label: str                             # what it is, for the printed table
    make: Callable[[], nn.Module]
    batches: list[Batch]
    sentences_per_epoch: int               # sentences in a full epoch (the timed slice may be smaller)
    ours: bool = False                     # trained with `train`'s optimizer (sparse embedding, lazy rows)


def make_optimizer(model: nn.Module, fused: bool, ours: bool = False, lazy: bool = False):
    """Ours: what `train` builds (optim.Adam, dense; `lazy`: sparse embedding rows); others: torch.optim.Adam."""
    params = [p for p in model.parameters() if p.requires_grad]
    if ours:
        if lazy:
            optim.sparse_embedding(model)
        return optim.Adam(params, lr=1e-3)
    if fused:
        try:
            return torch.optim.Adam(params, lr=1e-3, fused=True)
        except (RuntimeError, TypeError):  # a torch or device without the fused kernel
            pass
    return torch.optim.Adam(params, lr=1e-3)


def train_pass(model: nn.Module, optimizer, batches: list[Batch]) -> tuple[float, float, int]:
    """One pass over `batches`: (wall seconds, CPU seconds, sentences)."""
    model.train()
    sentences = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        loss = F.cross_entropy(model(batch.tokens, batch.lengths), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        sentences += len(batch)
    return time.perf_counter() - wall, time.process_time() - cpu, sentences


def build_contenders(dataset: EncodedDataset, vocab_size: int, num_classes: int, quick: bool) -> list[Contender]:
    batches = list(make_loader(dataset, BATCH_SIZE, shuffle=True, seed=0, bucketing=True))
    small = list(make_loader(dataset, TUTORIAL_BATCH_SIZE, shuffle=True, seed=0, bucketing=True))
    if quick:
        batches, small = batches[:4], small[:10]
    else:
        small = small[:TUTORIAL_BATCHES]
    n = len(dataset)

    def ours(cell: str) -> Callable[[], nn.Module]:
        config = ModelConfig(vocab_size=vocab_size, num_classes=num_classes, cell=cell,
                             embedding_dim=EMBEDDING_DIM, hidden_dim=HIDDEN_DIM)
        return lambda: build_model(config)

    def tutorial() -> nn.Module:
        return TutorialAsWritten(vocab_size, num_classes)

    def baseline(kind: str) -> Callable[[], nn.Module]:
        return lambda: PackedBaseline(kind, vocab_size, num_classes)

    return [
        Contender("tutorial", "tutorial's SentimentRNN as written, batch 4", tutorial, small, n),
        Contender("tutorial_64", "the same loop at batch 64", tutorial, batches, n),
        Contender("scratch", "our scratch RNN cell, batch 64", ours("scratch"), batches, n, True),
        Contender("torch_rnn", "torch nn.RNN, packed, batch 64", baseline("rnn"), batches, n),
        Contender("ours_rnn", "our rnn (nn.RNN weights), batch 64", ours("rnn"), batches, n, True),
        Contender("torch_lstm", "torch nn.LSTM, packed, batch 64", baseline("lstm"), batches, n),
        Contender("ours_lstm", "our lstm (nn.LSTM weights), batch 64", ours("lstm"), batches, n, True),
        Contender("torch_gru", "torch nn.GRU, packed, batch 64", baseline("gru"), batches, n),
        Contender("ours_gru", "our gru (nn.GRU weights), batch 64", ours("gru"), batches, n, True),
    ]


ROWS = ("tutorial", "tutorial_64", "scratch", "torch_rnn", "ours_rnn", "torch_lstm", "ours_lstm", "torch_gru",
        "ours_gru")
GATES = {"scratch": 1, "ours_rnn": 1, "ours_gru": 3, "ours_lstm": 4}  # blocks of H in a cell's products
CELL_PAIRS = (("scratch", "torch_rnn"), ("ours_rnn", "torch_rnn"), ("ours_lstm", "torch_lstm"),
              ("ours_gru", "torch_gru"))
RATIOS = (("scratch", "torch_rnn"), ("scratch", "tutorial"), ("scratch", "tutorial_64"), ("ours_rnn", "torch_rnn"),
          ("ours_lstm", "torch_lstm"), ("ours_gru", "torch_gru"))


def time_in_turns(contenders: list[Contender], models: dict, optimizers: dict, repeats: int, chunks: int,
                  progress=None) -> dict[str, list[tuple[float, float, int]]]:
    """{name: one (wall s, CPU s, sentences) per repeat}.

    Each pass is cut into chunks and the models take turns chunk by chunk, so a burst of load from
    other programs lands on every model alike; a model's pass time is the sum of its chunks.
    """
    runs: dict[str, list[tuple[float, float, int]]] = {c.name: [] for c in contenders}
    total, done = repeats * chunks, 0
    for _ in range(repeats):
        sums = {c.name: [0.0, 0.0, 0] for c in contenders}
        for k in range(chunks):
            for c in contenders:
                part = c.batches[k * len(c.batches) // chunks:(k + 1) * len(c.batches) // chunks]
                for i, value in enumerate(train_pass(models[c.name], optimizers[c.name], part)):
                    sums[c.name][i] += value
            done += 1
            if progress:
                progress(done, total, "")
        for name, (wall, cpu, sentences) in sums.items():
            runs[name].append((wall, cpu, sentences))
    return runs


def training_rows(contenders: list[Contender], runs: dict) -> dict[str, dict]:
    """One row per contender: median sentences per wall and CPU second, and what was timed."""
    training = {}
    for c in contenders:
        walls = [s / w for w, _, s in runs[c.name]]
        cpus = [s / u for _, u, s in runs[c.name]]
        rate = statistics.median(walls)
        training[c.name] = {
            "label": c.label,
            "batch_size": len(c.batches[0]),
            "timed_batches": len(c.batches),
            "timed_sentences": runs[c.name][0][2],
            "full_epoch": len(c.batches) * len(c.batches[0]) >= c.sentences_per_epoch,
            "sentences_per_s": rate,
            "cpu_sentences_per_s": statistics.median(cpus),
            "seconds_per_epoch": c.sentences_per_epoch / rate,
            "runs_sentences_per_s": walls,
        }
    return training


def run_benchmark(data_dir=None, quick: bool = False, repeats: int | None = None, threads: int | None = None,
                  fused_adam: bool = True, only: list[str] | None = None, progress=None, floor: bool = True,
                  lazy_adam: bool = False) -> dict:
    """Time every contender on SST-3 train; returns a plain dict (see format_report)."""
    unknown = set(only or ()) - set(ROWS)
    if unknown:
        raise ValueError(f"unknown benchmark rows {', '.join(sorted(unknown))}; choose from {', '.join(ROWS)}")
    threads = threads or torch.get_num_threads()  # torch's default: one per core
    torch.set_num_threads(threads)
    repeats = repeats or (1 if quick else 3)
    corpus = load_corpus(data_dir)
    vocab = corpus.build_vocab()
    dataset = EncodedDataset(corpus.examples(3, "train"), vocab)
    contenders = [c for c in build_contenders(dataset, len(vocab), 3, quick) if not only or c.name in only]
    models, optimizers = {}, {}
    for c in contenders:
        torch.manual_seed(0)
        models[c.name] = c.make()
        optimizers[c.name] = make_optimizer(models[c.name], fused_adam, c.ours, lazy_adam)
        train_pass(models[c.name], optimizers[c.name], c.batches[:2])  # warm-up: allocator, kernels
    runs = time_in_turns(contenders, models, optimizers, repeats, 1 if quick else CHUNKS, progress)
    training = training_rows(contenders, runs)
    ratios = {f"{a}/{b}": {"wall": training[a]["sentences_per_s"] / training[b]["sentences_per_s"],
                           "cpu": training[a]["cpu_sentences_per_s"] / training[b]["cpu_sentences_per_s"]}
              for a, b in RATIOS if a in training and b in training}
    inputs = {"one": one_sentence(len(vocab)), "batch": sentence_batch(dataset)}
    inference = {name: inference_percentiles(model, inputs, 20 if quick else 200) for name, model in models.items()}
    result = {
        "data": {"split": "train", "labels": 3, "sentences": len(dataset), "vocab_size": len(vocab),
                 "embedding_dim": EMBEDDING_DIM, "hidden_dim": HIDDEN_DIM, "quick": quick},
        "threads": threads,
        "compiled_recurrences": native.status(),
        "optimizer": (("ours: sparse embedding, lazy Adam rows" if lazy_adam else "ours: Adam (training/optim.py)")
                      + "; others: " + ("Adam (fused)" if fused_adam else "Adam")),
        "lazy_adam": lazy_adam,
        "repeats": repeats,
        "training": training,
        "ratios": ratios,
        "inference": inference,
        "inference_ratios": inference_ratios(inference),
        "latency_tokens": LATENCY_TOKENS,
        "batch_sentences": BATCH_SENTENCES,
        "floor": None,
        "cell_floors": {},
        "startup": startup_figures(),
        "torch": torch.__version__,
    }
    if floor and "scratch" in training:
        result["floor"] = floor_figures(contenders, training)
        result["cell_floors"] = cell_floors(contenders, training)
    return result


def inference_ratios(inference: dict) -> dict:
    """torch's p50 over ours, per cell and input: above 1 means ours answers faster."""
    return {f"{ours}/{theirs}": {name: inference[theirs][name]["p50"] / inference[ours][name]["p50"]
                                 for name in inference[ours]}
            for ours, theirs in CELL_PAIRS if ours in inference and theirs in inference}


def floor_figures(contenders: list[Contender], training: dict, name: str = "scratch", gates: int = 1) -> dict:
    """A cell's epoch of matrix products timed alone here, and the share of that floor the epoch reaches."""
    contender = next(c for c in contenders if c.name == name)
    figures = gemm_floor(contender.batches, EMBEDDING_DIM, HIDDEN_DIM, gates=gates)
    row = training[name]
    timed_wall = row["timed_sentences"] / row["sentences_per_s"]        # seconds for the timed batches
    timed_cpu = row["timed_sentences"] / row["cpu_sentences_per_s"]
    return {**figures, "epoch_seconds": timed_wall, "epoch_cpu_seconds": timed_cpu,
            "share": figures["seconds"] / timed_wall, "cpu_share": figures["cpu_seconds"] / timed_cpu}


def cell_floors(contenders: list[Contender], training: dict) -> dict:
    """Per cell: its floor, the share ours and torch's reach, and the share 2x torch's speed would need.

    By CPU time: where `cpu_share_for_2x` is near or above 1, twice torch's speed would need
    the epoch's products to run faster than torch.mm runs them alone.
    """
    floors = {}
    for ours, theirs in CELL_PAIRS:
        if ours not in training or theirs not in training:
            continue
        figures = floor_figures(contenders, training, ours, GATES[ours])
        theirs_cpu = training[theirs]["timed_sentences"] / training[theirs]["cpu_sentences_per_s"]
        floors[ours] = {"gflop": figures["gflop"], "cpu_seconds": figures["cpu_seconds"],
                        "cpu_share": figures["cpu_share"], "torch_cpu_share": figures["cpu_seconds"] / theirs_cpu,
                        "cpu_share_for_2x": 2 * figures["cpu_seconds"] / theirs_cpu}
    return floors


def startup_figures() -> dict | None:
    """bench_startup.startup_figures() where that module offers it (issue 23's start-up figures), else None."""
    figures = getattr(bench_startup, "startup_figures", None)
    return figures() if callable(figures) else None


def format_report(result: dict) -> str:
    d = result["data"]
    lines = [f"Training speed on SST-3 train ({d['sentences']} sentences, vocab {d['vocab_size']}, "
             f"embedding {d['embedding_dim']}, hidden {d['hidden_dim']}{', QUICK slices' if d['quick'] else ''})",
             f"torch {result['torch']}, {result['threads']} thread(s), median of {result['repeats']} run(s); "
             "forward + backward + optimizer step",
             f"optimizer: {result['optimizer']}",
             f"compiled recurrences: {result['compiled_recurrences']}",
             "",
             f"{'model':<46} {'sent/s':>8} {'s/epoch':>8} {'sent/CPU-s':>11}"]
    for row in result["training"].values():
        note = "" if row["full_epoch"] else f"  (timed on {row['timed_batches']} batches)"
        lines.append(f"{row['label']:<46} {row['sentences_per_s']:>8,.0f} {row['seconds_per_epoch']:>8.2f} "
                     f"{row['cpu_sentences_per_s']:>11,.0f}{note}")
    if result["ratios"]:
        lines += ["", "Ratios (wall clock; CPU time in brackets)"]
        for key, value in result["ratios"].items():
            lines.append(f"  {key:<22} {value['wall']:6.2f}x  ({value['cpu']:.2f}x)")
    lines += ["", format_floor(result)] if result.get("floor") else []
    lines += ["", format_inference(result)]
    return "\n".join(lines)


def format_floor(result: dict) -> str:
    f = result["floor"]
    cells = [f"  {name:<10} floor {c['cpu_seconds']:.3f} CPU-s ({c['gflop']:.0f} GFLOP): ours at {c['cpu_share']:.0%}, "
             f"torch's at {c['torch_cpu_share']:.0%}; 2x torch's would need {c['cpu_share_for_2x']:.0%}"
             for name, c in result.get("cell_floors", {}).items()]
    return "\n".join([_scratch_floor(result, f), *(["Floor per cell, by CPU time:"] + cells if cells else [])])


def _scratch_floor(result: dict, f: dict) -> str:
    return (f"GEMM floor: the scratch epoch's {f['products']:,} matrix products ({f['gflop']:.1f} GFLOP) alone take "
            f"{f['seconds']:.3f} s wall, {f['cpu_seconds']:.3f} s CPU here ({f['gflop_per_s']:.1f} GFLOP/s with "
            f"torch.mm, {result['threads']} thread(s)); the epoch took {f['epoch_seconds']:.3f} s wall, "
            f"{f['epoch_cpu_seconds']:.3f} s CPU: "
            f"{f['share']:.0%} of the floor's speed by wall clock ({f['cpu_share']:.0%} by CPU time)")


def format_inference(result: dict) -> str:
    lines = [f"Inference, no gradient, ms p50 / p95: one {result['latency_tokens']}-token sentence, and a batch of "
             f"{result['batch_sentences']} training sentences",
             f"{'model':<46} {'one sentence':>16} {'batch':>18}"]
    for name, figures in result["inference"].items():
        one, batch = figures["one"], figures["batch"]
        lines.append(f"{result['training'][name]['label']:<46} {one['p50']:>7.2f} / {one['p95']:<6.2f} "
                     f"{batch['p50']:>8.2f} / {batch['p95']:<7.2f}")
    for key, value in result["inference_ratios"].items():
        lines.append(f"  {key:<22} torch's p50 / ours: one {value['one']:.2f}x, batch {value['batch']:.2f}x")
    return "\n".join(lines)


MARKDOWN_ROWS = (("tutorial", "tutorial's loop as written, batch 4", None),
                 ("tutorial_64", "the same loop at batch 64", None),
                 ("scratch", "our scratch cell", "torch_rnn"), ("torch_rnn", "torch nn.RNN, packed", None),
                 ("ours_rnn", "our rnn (nn.RNN weights)", "torch_rnn"), ("torch_lstm", "torch nn.LSTM, packed", None),
                 ("ours_lstm", "our lstm (nn.LSTM weights)", "torch_lstm"), ("torch_gru", "torch nn.GRU, packed", None),
                 ("ours_gru", "our gru (nn.GRU weights)", "torch_gru"))


TORCH_NAMES = {"torch_rnn": "nn.RNN", "torch_lstm": "nn.LSTM", "torch_gru": "nn.GRU"}


def format_markdown(result: dict) -> str:
    """The README's Speed table from a result (`bench --markdown`): training, ratios, inference, floor."""
    training, inference = result["training"], result["inference"]
    lines = ["| model (batch 64 unless said) | sent/s wall (CPU) | s/epoch | vs torch, wall (CPU) "
             f"| one sentence p50 / p95 ms | {result['batch_sentences']} sentences p50 / p95 ms |",
             "|---|---|---|---|---|---|"]
    for name, label, versus in MARKDOWN_ROWS:
        if name not in training:
            continue
        row, one, batch = training[name], inference[name]["one"], inference[name]["batch"]
        ratio = result["ratios"].get(f"{name}/{versus}") if versus else None
        against = f"**{ratio['wall']:.2f}x** ({ratio['cpu']:.2f}x) {TORCH_NAMES[versus]}" if ratio else ""
        lines.append(f"| {label} | {row['sentences_per_s']:,.0f} ({row['cpu_sentences_per_s']:,.0f}) | "
                     f"{row['seconds_per_epoch']:.2f} | {against} | {one['p50']:.2f} / {one['p95']:.2f} | "
                     f"{batch['p50']:.2f} / {batch['p95']:.2f} |")
    notes = [f"torch {result['torch']}, {result['threads']} thread(s), median of {result['repeats']} run(s); "
             f"optimizer: {result['optimizer']}."]
    if result.get("floor"):
        notes.append(format_floor(result).replace("\n  ", "\n- ").replace(":\n", ":\n\n"))  # a markdown list
    return "\n".join(lines) + "\n\n" + "\n".join(notes)
