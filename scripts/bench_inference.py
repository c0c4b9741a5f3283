"""How long the playground's answers take: `python scripts/bench_inference.py`.

For each cell type (default sizes: embedding 100, hidden 128; also bidirectional with --bidirectional)
it times, on the CPU, for a sentence of 50 tokens:
  answer+trajectory+gxi  predict(text) + prefix_probabilities + gradient_times_input (target: p95 <= 50 ms)
  integrated gradients   50 steps, one batched forward/backward            (target: p95 <= 500 ms)
and each part on its own, printing p50 / p95 in milliseconds of wall-clock time, and for the two
targets also of CPU time (time.process_time): on a busy machine the wall clock includes time spent
waiting for a CPU, the CPU time does not.

The models are the newest finished run of each cell under the runs folder when one exists
(--runs-dir, default $SENTIMENT_RUNS_DIR or data/runs); otherwise a model with random weights
over the treebank's vocabulary (timing does not depend on the weights). Each row says which.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentiment_core.config import CELLS, ModelConfig  # noqa: E402
from sentiment_core.analysis.inference.predictor import EXAMPLE_SENTENCES, Predictor  # noqa: E402
from sentiment_core.models import build_model  # noqa: E402
from sentiment_core.training.bench_figures import percentiles, time_it  # noqa: E402
from sentiment_core.runs.listing import list_runs  # noqa: E402
from sentiment_core.data.text import Tokenizer, Vocab, label_scheme  # noqa: E402


def sentence_of(tokens: int) -> str:
    """Example sentences joined until the tokenizer gives exactly `tokens` words."""
    words: list[str] = []
    tokenizer = Tokenizer()
    while len(words) < tokens:
        for sentence in EXAMPLE_SENTENCES:
            words.extend(tokenizer(sentence))
    return " ".join(words[:tokens])


def find_vocab(sst_dir: str | None) -> tuple[Vocab, str]:
    from sentiment_core.data.corpus import load_corpus

    try:
        return load_corpus(sst_dir).build_vocab(), "treebank vocabulary"
    except Exception as err:  # no treebank here: a synthetic vocabulary of the same size
        print(f"(no treebank: {err}; using a synthetic vocabulary of 16,000 words)")
        return Vocab.build([[f"w{i}" for i in range(16000)]]), "synthetic vocabulary"


def predictors(args) -> list[tuple[str, Predictor]]:
    runs = [r for r in list_runs(args.runs_dir) if r.state in ("finished", "stopped") and r.has_checkpoint
            and r.config is not None]
    chosen, vocab = [], None
    for cell in CELLS:
        for bidirectional in ((False, True) if args.bidirectional else (False,)):
            name = f"{cell}{' bi' if bidirectional else ''}"
            run = next((r for r in runs if r.config.model.cell == cell and r.config.model.bidirectional == bidirectional
                        and not r.config.model.tutorial), None)
            if run is not None and not args.random:
                chosen.append((f"{name} (run {run.name}, emb {run.config.model.embedding_dim}, "
                               f"hidden {run.config.model.hidden_dim})", Predictor.from_run(run.path)))
                continue
            if vocab is None:
                vocab, vocab_source = find_vocab(args.sst_dir)
            torch.manual_seed(0)
            config = ModelConfig(cell=cell, bidirectional=bidirectional, embedding_dim=100, hidden_dim=128,
                                 num_classes=3)
            chosen.append((f"{name} (random weights, {vocab_source}, emb 100, hidden 128)",
                           Predictor(build_model(config, vocab).eval(), vocab, label_scheme(3))))
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=50, help="sentence length in words (default 50)")
    parser.add_argument("--steps", type=int, default=50, help="integrated-gradient steps (default 50)")
    parser.add_argument("--repeats", type=int, default=40, help="timed repetitions per measure (default 40)")
    parser.add_argument("--bidirectional", action="store_true", help="also time bidirectional models")
    parser.add_argument("--random", action="store_true", help="random-weight models even when runs exist")
    parser.add_argument("--runs-dir", default=None, help="runs folder (default $SENTIMENT_RUNS_DIR, data/runs)")
    parser.add_argument("--sst-dir", default=None, help="treebank folder (for the vocabulary)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.tokens}-token sentence, "
          f"{args.repeats} repeats; p50 / p95 in ms")
    header = (f"{'model':<70} {'answer+traj+gxi':>16} {'(CPU time)':>14} {'answer':>12} {'trajectory':>12} "
              f"{'grad x input':>12} {'IG ' + str(args.steps) + ' steps':>14} {'(CPU time)':>14}")
    print(header)
    for name, predictor in predictors(args):
        text = sentence_of(args.tokens)
        encoded = predictor.encode(text)

        def playground_answer():
            prediction = predictor.predict(text)
            predictor.prefix_probabilities(prediction.encoded)
            predictor.gradient_times_input(prediction.encoded)

        measures = [
            time_it(playground_answer, args.repeats),
            time_it(playground_answer, args.repeats, time.process_time),
            time_it(lambda: predictor.predict(text), args.repeats),
            time_it(lambda: predictor.prefix_probabilities(encoded), args.repeats),
            time_it(lambda: predictor.gradient_times_input(encoded), args.repeats),
            time_it(lambda: predictor.integrated_gradients(encoded, steps=args.steps), max(10, args.repeats // 2)),
            time_it(lambda: predictor.integrated_gradients(encoded, steps=args.steps), max(10, args.repeats // 2),
                    time.process_time),
        ]
        cells = [f"{p50:.1f} / {p95:.1f}" for p50, p95 in map(percentiles, measures)]
        print(f"{name:<70} {cells[0]:>16} {cells[1]:>14} {cells[2]:>12} {cells[3]:>12} {cells[4]:>12} "
              f"{cells[5]:>14} {cells[6]:>14}")
    print("targets: answer+traj+gxi p95 <= 50 ms; integrated gradients p95 <= 500 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
