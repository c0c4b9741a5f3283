"""The yardstick for start-up: a plain script training torch's packed nn.RNN for one epoch on SST-3.

    SST_DIR=/work/shared/data/sst python scripts/reference_packed_rnn.py [--threads N]

What a person would write without this project: torch and the standard library only. It reads
train / dev / test of the treebank (PTB trees; the leaves lowercased are the tokens), builds
the vocabulary of train, trains embedding 100 -> nn.RNN 128 -> linear on pack_padded_sequence
batches of 64 (shuffled, enforce_sorted=False) with torch.optim.Adam (lr 1e-3) for one epoch,
then prints dev and test accuracy. The same sizes, labels and batch size as
`python -m sentiment_core train --cell scratch --labels 3 --epochs 1 --batch-size 64`, so the
two whole processes can be timed side by side (`bench --startup` and the README's Speed section).
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

import torch
from torch import nn

LEAF = re.compile(r"\((\d) ([^()\s]+)\)")
ROOT_LABEL = re.compile(r"^\((\d)")
THREE_CLASSES = {0: 1, 1: 1, 2: 2, 3: 0, 4: 0}  # negative 1, neutral 2, positive 0 (as the project's 3-class)


def read_split(folder: Path, split: str) -> list[tuple[list[str], int]]:
    rows = []
    for line in (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            words = [w.lower() for _, w in LEAF.findall(line)]
            rows.append((words, THREE_CLASSES[int(ROOT_LABEL.match(line).group(1))]))
    return rows


class PackedRNN(nn.Module):
    def __init__(self, vocab_size: int, num_classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 100, padding_idx=0)
        self.rnn = nn.RNN(100, 128)
        self.head = nn.Linear(128, num_classes)

    def forward(self, tokens, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, hidden = self.rnn(packed)
        return self.head(hidden[-1])


def batches(rows, index: dict[str, int], size: int, shuffle: bool):
    order = list(range(len(rows)))
    if shuffle:
        random.shuffle(order)
    for start in range(0, len(order), size):
        chosen = [rows[i] for i in order[start:start + size]]
        ids = [torch.tensor([index.get(w, 1) for w in words]) for words, _ in chosen]
        tokens = nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=0)
        yield tokens, torch.tensor([len(x) for x in ids]), torch.tensor([label for _, label in chosen])


def accuracy(model, rows, index) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for tokens, lengths, labels in batches(rows, index, 256, shuffle=False):
            correct += (model(tokens, lengths).argmax(1) == labels).sum().item()
    return correct / len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(os.environ.get("SST_DIR") or "data/sst")
    if not (folder / "train.txt").is_file():
        print(f"error: no treebank at {folder}; set SST_DIR", file=sys.stderr)
        return 2
    random.seed(0)
    torch.manual_seed(0)
    train, dev, test = (read_split(folder, s) for s in ("train", "dev", "test"))
    words = sorted({w for ws, _ in train for w in ws})
    index = {w: i + 2 for i, w in enumerate(words)}  # 0 padding, 1 unknown
    model = PackedRNN(len(index) + 2, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for tokens, lengths, labels in batches(train, index, 64, shuffle=True):
        loss = nn.functional.cross_entropy(model(tokens, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"dev accuracy {accuracy(model, dev, index):.1%}, test accuracy {accuracy(model, test, index):.1%} "
          f"({time.perf_counter() - started:.1f} s after the imports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
