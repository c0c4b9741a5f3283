"""What saving the training state (last.pt) costs against training, per preset: the figure behind
config.SAVE_EVERY_BATCHES (a killed run resumes from its last save, taken every N batches).

    python scripts/bench_state_save.py [PRESET ...]      (default: quick best-3; needs the real treebank)

For each preset: the size of last.pt, the time of one save (the fastest of five), the time of one
batch (batches 21-200 of the first epoch, one thread) and what a save every SAVE_EVERY_BATCHES
batches adds to the training time.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sentiment_core.data.corpus import load_corpus  # noqa: E402
from sentiment_core.models import build_model  # noqa: E402
from sentiment_core.config import SAVE_EVERY_BATCHES, preset  # noqa: E402
from sentiment_core.runs.execution import prepare_data  # noqa: E402
from sentiment_core.runs.checkpoints import save_torch  # noqa: E402
from sentiment_core.training.trainer import Callback, fit  # noqa: E402

TIMED_FROM, TIMED_TO = 20, 200  # batches: the first ones warm up


class BatchTimer(Callback):
    def on_batch_end(self, event, control):
        if event["batch"] == TIMED_FROM:
            self.started = time.perf_counter()
        elif event["batch"] == TIMED_TO:
            self.per_batch = (time.perf_counter() - self.started) / (TIMED_TO - TIMED_FROM)


def measure(name: str, corpus, folder: Path) -> str:
    config = preset(name)
    config.train.epochs, config.train.max_batches, config.train.probe_every = 1, TIMED_TO, 0
    config.train.save_every, config.data.eval_limit = None, 50
    vocab = corpus.build_vocab(config.data.min_freq, config.data.max_vocab)
    train, dev, _, scheme = prepare_data(config, corpus, vocab)
    config.model.vocab_size, config.model.num_classes = len(vocab), scheme.num_classes
    torch.manual_seed(0)
    states, timer = [], BatchTimer()
    fit(build_model(config.model, vocab), train, dev, config.train, num_classes=scheme.num_classes,
        callbacks=[timer], save_state=states.append)  # the epoch's end hands over a full state
    seconds = []
    for _ in range(5):
        started = time.perf_counter()
        save_torch(folder / "last.pt", states[-1])
        seconds.append(time.perf_counter() - started)
    save, batch = min(seconds), timer.per_batch
    epoch_batches = len(train) // config.train.batch_size
    return (f"{name}: last.pt {(folder / 'last.pt').stat().st_size / 2**20:.1f} MB, one save {save * 1000:.0f} ms, "
            f"one batch {batch * 1000:.1f} ms ({epoch_batches} batches an epoch, {epoch_batches * batch:.0f} s); "
            f"a save every {SAVE_EVERY_BATCHES} batches adds {save / (SAVE_EVERY_BATCHES * batch):.1%}")


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    corpus = load_corpus()
    with tempfile.TemporaryDirectory() as folder:
        for name in names or ["quick", "best-3"]:
            print(measure(name, corpus, Path(folder)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
