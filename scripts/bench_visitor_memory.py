"""One public visitor's worst case: time and peak memory of everything the playground computes.

    python scripts/bench_visitor_memory.py [--repeats 6]

Run it as its own process (as above): its peak resident memory (VmHWM in /proc/self/status) is
then its own. It switches public mode on (SENTIMENT_PUBLIC=1, unless the caller set it), reads the
public limits, and builds the largest model they accept: an LSTM (the cell with most gates) of
SENTIMENT_MAX_LAYERS bidirectional layers of SENTIMENT_MAX_HIDDEN over word vectors of
SENTIMENT_MAX_EMBEDDING, 5 classes, random weights (cost does not depend on them) over a
vocabulary of 20,000 words (the treebank's training sentences have about 16,600). Its sentence is
the worst one allowed: SENTIMENT_MAX_INPUT_TOKENS distinct words, each one spaCy has to split
("w17x", never in the vocabulary). On it, every costly analysis at its public cap, as the
playground runs them: the answer, the prediction after every prefix, gradient x input,
integrated gradients at the most steps allowed, the what-if variants (each word removed), two
versions side by side, the hidden units and gates.

For each step: seconds of wall-clock time and the peak resident memory during that step minus
the baseline (the resident memory after imports, with spaCy's tokenizer loaded); the peak is
reset before each step (writing 5 to /proc/self/clear_refs), and the last line gives the
largest. Then "predict all" of the most rows allowed (SENTIMENT_MAX_BATCH_ROWS rows of the most
tokens, every word new), repeated, with the resident memory and the size of spaCy's string store
after each: it must level off (finding M4 of issue 19), not grow with every new word.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SENTIMENT_PUBLIC", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from sentiment_core.data import caps  # noqa: E402

from sentiment_core.analysis.inference import occlusion  # noqa: E402
from sentiment_core.analysis.inference.predictor import Predictor  # noqa: E402
from sentiment_core.data import text as text_module  # noqa: E402
from sentiment_core.data.text import SPECIALS, Tokenizer, Vocab, label_scheme  # noqa: E402
from sentiment_core.models import build_model  # noqa: E402
from sentiment_core.settings import is_public, limits_from_env  # noqa: E402
from sentiment_core.config import ModelConfig, RunConfig  # noqa: E402
from sentiment_core.runs.limits import check_limits  # noqa: E402

VOCAB_WORDS = 20_000
CLASSES = 5


def status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (the high-water mark since the last reset), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} is not in /proc/self/status (this script needs Linux)")


def reset_peak() -> None:
    """Start a new high-water mark from the current resident size (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def largest_public_model() -> tuple[Predictor, ModelConfig]:
    limits = limits_from_env()
    model_config = ModelConfig(cell="lstm", layers=limits.max_layers, bidirectional=True,
                               embedding_dim=limits.max_embedding, hidden_dim=limits.max_hidden,
                               num_classes=CLASSES)
    check_limits(RunConfig(model=model_config), limits)  # the training form would accept it
    vocab = Vocab(list(SPECIALS) + [f"word{i}" for i in range(VOCAB_WORDS)])
    torch.manual_seed(0)
    model = build_model(model_config, vocab)
    predictor = Predictor(model, vocab, label_scheme(CLASSES), max_tokens=caps.max_input_tokens(),
                          max_chars=caps.max_input_chars())
    return predictor, model_config


def distinct_words(count: int, tag: str) -> str:
    """`count` words never seen before (a letter, a number, a tag: spaCy splits none, but must see each)."""
    return " ".join(f"w{i}{tag}" for i in range(count))


def worst_sentence(max_tokens: int, max_chars: int) -> str:
    text = distinct_words(max_tokens, "x")
    if len(text) > max_chars:
        raise SystemExit(f"{max_tokens} distinct words need {len(text)} characters, above the cap of {max_chars}")
    return text


def measured(rows: list, baseline: float, name: str, work):
    reset_peak()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    rows.append((name, seconds, status_mb("VmHWM") - baseline))
    print(f"{name:<48} {seconds:8.2f} s {rows[-1][2]:9.0f} MB", flush=True)
    return result


def one_sentence(predictor: Predictor, baseline: float) -> list:
    ig_steps = caps.max_ig_steps()
    text = worst_sentence(predictor.max_tokens, predictor.max_chars)
    rows: list = []
    print(f"{'step (one sentence of ' + str(predictor.max_tokens) + ' distinct words)':<48} {'time':>10} "
          f"{'peak - baseline':>15}")
    prediction = measured(rows, baseline, "the answer (tokens, prediction)", lambda: predictor.predict(text))
    encoded = prediction.encoded
    measured(rows, baseline, "token by token (prediction after every prefix)",
             lambda: predictor.prefix_probabilities(encoded))
    measured(rows, baseline, "gradient x input", lambda: predictor.gradient_times_input(encoded))
    measured(rows, baseline, f"integrated gradients, {ig_steps} steps",
             lambda: predictor.integrated_gradients(encoded, steps=ig_steps))
    measured(rows, baseline, "what if: each word removed", lambda: occlusion.occlude(predictor, encoded))
    measured(rows, baseline, "what if: two versions side by side",
             lambda: [predictor.predict(t) for t in (text, " ".join(text.split()[1:]))])
    measured(rows, baseline, "inside the network (states and gates)", lambda: predictor.inside(encoded))
    return rows


def predict_all(predictor: Predictor, repeats: int, baseline: float) -> None:
    rows = caps.max_batch_rows()
    print(f"\n'predict all' of {rows} rows of {predictor.max_tokens} new words each, {repeats} times")
    print(f"{'repeat':>6} {'seconds':>8} {'peak - baseline':>16} {'resident MB':>12} {'spaCy strings':>14}")
    for repeat in range(repeats):
        texts = [distinct_words(predictor.max_tokens, f"r{repeat}n{row}") for row in range(rows)]
        reset_peak()
        started = time.perf_counter()
        predictor.predict_many(texts)
        seconds = time.perf_counter() - started
        strings = len(text_module._spacy_tokenizer().vocab.strings)
        print(f"{repeat + 1:>6} {seconds:8.1f} {status_mb('VmHWM') - baseline:13.0f} MB {status_mb('VmRSS'):12.0f} "
              f"{strings:14,}", flush=True)


def fresh_tokenizer_seconds() -> float:
    """What replacing the shared spaCy tokenizer costs (data/text.py does it every MAX_TOKENIZER_STRINGS)."""
    import spacy

    started = time.perf_counter()
    spacy.blank("en").tokenizer("warm")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=6, help="'predict all' repeats (default 6)")
    args = parser.parse_args()
    Tokenizer()("Warm up spaCy's tokenizer, as a running server has.")
    baseline = status_mb("VmRSS")
    predictor, config = largest_public_model()
    print(f"public mode: {is_public()}; model: {config.layers} bidirectional {config.cell.upper()} layers of "
          f"{config.hidden_dim}, embeddings of {config.embedding_dim}; torch threads: {torch.get_num_threads()}; "
          f"baseline after imports: {baseline:.0f} MB resident\n")
    steps = one_sentence(predictor, baseline)
    worst = max(steps, key=lambda row: row[2])
    print(f"{'worst step: ' + worst[0]:<48} {'':10} {worst[2]:9.0f} MB; all steps: "
          f"{sum(r[1] for r in steps):.1f} s")
    print(f"a fresh spaCy tokenizer: {1000 * fresh_tokenizer_seconds():.0f} ms, every "
          f"{text_module.MAX_TOKENIZER_STRINGS:,} new strings")
    predict_all(predictor, args.repeats, baseline)


if __name__ == "__main__":
    main()
