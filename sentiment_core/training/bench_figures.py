"""The bench's other figures: the GEMM floor of an epoch, and inference latency percentiles.

GEMM floor (`bench --floor`): the scratch cell's epoch is, at heart, a list of matrix products
(per batch of N packed rows, B sentences, b_t of them running at step t; E = embedding, H =
hidden): the input projection (N x E by E x H), the recurrent product of every step after the
first (b_t x H by H x H), and in backward the same recurrent products, dLoss/dx (N x H by H x E),
dW_xh (H x N by N x E) and dW_hh (H x N by N x H). `gemm_floor` runs exactly those products with
torch.mm on random matrices of the same shapes, back to back, on torch's threads, and times them:
the time one epoch could take if it did nothing but its matrix products at this machine's own
rate. The share reached is that floor over the epoch's measured time, by wall clock and by CPU
time (each against the same clock; on a busy machine the CPU figure is the steadier).

Inference (`inference_percentiles`): p50 and p95 wall-clock milliseconds of one sentence of
LATENCY_TOKENS tokens, and of a batch of BATCH_SENTENCES training sentences (their own lengths,
padded), without gradients, each model in eval mode.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from sentiment_core.data.batching import Batch, pad_collate

LATENCY_TOKENS = 30         # inference: one sentence of this many tokens
BATCH_SENTENCES = 100       # inference: a batch of this many sentences


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of `samples` (seconds) in milliseconds; p95 is the nearest-rank value."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def time_it(fn, repeats: int, clock=time.perf_counter, warmup: int = 1) -> list[float]:
    """`repeats` timings of fn() in seconds, after `warmup` untimed calls (first-call allocations)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = clock()
        fn()
        samples.append(clock() - start)
    return samples


def epoch_products(batches: list[Batch], embedding_dim: int, hidden_dim: int,
                   gates: int = 1) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product of one training epoch of a one-layer cell with `gates`
    blocks of H (tanh RNN 1, GRU 3, LSTM 4): the same list with G*H outputs where H had them."""
    E, H, G, products = embedding_dim, hidden_dim, gates, []
    for batch in batches:
        lengths = batch.lengths.tolist()
        N, steps = sum(lengths), max(lengths)
        running = [sum(1 for n in lengths if n > t) for t in range(1, steps)]  # b_t, t >= 1
        products.append((N, E, G * H))                          # input projection
        products += [(b, H, G * H) for b in running]            # recurrent step, forward
        products += [(b, G * H, H) for b in running]            # recurrent step, backward
        products += [(N, G * H, E), (G * H, N, E), (G * H, N, H)]  # dLoss/dx, dW_xh, dW_hh
    return products


def gemm_floor(batches: list[Batch], embedding_dim: int, hidden_dim: int, repeats: int = 3, gates: int = 1) -> dict:
    """Seconds the epoch's matrix products take with torch.mm here (median of `repeats`), and their rate."""
    products = epoch_products(batches, embedding_dim, hidden_dim, gates)
    generator = torch.Generator().manual_seed(0)
    operands = {}
    for m, k, n in set(products):
        operands[(m, k, n)] = (torch.randn(m, k, generator=generator), torch.randn(k, n, generator=generator),
                               torch.empty(m, n))

    def run_all():
        for shape in products:
            a, b, out = operands[shape]
            torch.mm(a, b, out=out)

    walls, cpus = [], []
    run_all()  # warm-up: first-call allocations
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run_all()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    seconds, cpu_seconds = statistics.median(walls), statistics.median(cpus)
    flops = 2 * sum(m * k * n for m, k, n in products)
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "gflop": flops / 1e9, "gflop_per_s": flops / seconds / 1e9,
            "products": len(products)}


def one_sentence(vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(4, vocab_size, (1, LATENCY_TOKENS), generator=generator)
    return tokens, torch.tensor([LATENCY_TOKENS])


def sentence_batch(dataset, count: int = BATCH_SENTENCES) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` training sentences (a spread of lengths), padded."""
    batch = pad_collate([dataset[i] for i in range(min(count, len(dataset)))])
    return batch.tokens, batch.lengths


def inference_percentiles(model: nn.Module, inputs: dict[str, tuple[torch.Tensor, torch.Tensor]],
                          repeats: int) -> dict[str, dict[str, float]]:
    """{input name: {"p50": ms, "p95": ms}} of model(tokens, lengths) without gradients, eval mode."""
    was_training = model.training
    model.eval()
    figures = {}
    try:
        with torch.inference_mode():
            for name, (tokens, lengths) in inputs.items():
                p50, p95 = percentiles(time_it(lambda: model(tokens, lengths), repeats, warmup=5))
                figures[name] = {"p50": p50, "p95": p95}
    finally:
        model.train(was_training)
    return figures
