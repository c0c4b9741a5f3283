"""Time loading the treebank: cold (parse, tokenize, vocabulary; no cache) and warm (from the cache file).

Each figure is the median of fresh processes, so nothing is shared between runs; library
imports (torch, spaCy) are timed separately because every process using the corpus pays them once.

    python scripts/bench_load.py [--data-dir DIR] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch, spacy
from sentiment_core.data.text import _spacy_tokenizer
_spacy_tokenizer()
t1, c1 = time.perf_counter(), time.process_time()
from sentiment_core.data.corpus import load_corpus
corpus = load_corpus(sys.argv[1], sys.argv[2], use_cache=sys.argv[3] == "1")
vocab = corpus.build_vocab()
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "load_cpu": c2 - c1, "vocab": len(vocab)}))
"""


def run_child(data_dir: str, cache_dir: str, use_cache: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, data_dir, cache_dir, "1" if use_cache else "0"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from sentiment_core.data.treebank import find_treebank

    data_dir = str(find_treebank(args.data_dir, download=False))
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = [run_child(data_dir, cache_dir, False) for _ in range(args.repeats)]
        run_child(data_dir, cache_dir, True)  # writes the cache
        warm = [run_child(data_dir, cache_dir, True) for _ in range(args.repeats)]
    result = {
        "cold_load_s": round(statistics.median(r["load"] for r in cold), 3),
        "warm_load_s": round(statistics.median(r["load"] for r in warm), 3),
        "cold_load_cpu_s": round(statistics.median(r["load_cpu"] for r in cold), 3),
        "warm_load_cpu_s": round(statistics.median(r["load_cpu"] for r in warm), 3),
        "library_imports_s": round(statistics.median(r["imports"] for r in cold + warm), 3),
        "vocab_size": cold[0]["vocab"],
        "repeats": args.repeats,
    }
    # CPU time is printed beside wall time: on a shared machine it is the steadier figure
    print(f"cold load (parse + tokenize + vocabulary): {result['cold_load_s']:.3f} s wall, "
          f"{result['cold_load_cpu_s']:.3f} s CPU  (target <= 2 s)")
    print(f"warm load (cache file + vocabulary):       {result['warm_load_s']:.3f} s wall, "
          f"{result['warm_load_cpu_s']:.3f} s CPU  (target <= 0.3 s)")
    print(f"library imports (torch, spaCy), once per process: {result['library_imports_s']:.3f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
