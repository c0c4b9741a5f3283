"""Pretrained word vectors: rows for a vocabulary from a GloVe-format text file."""
from __future__ import annotations

from pathlib import Path

import torch

from sentiment_core.data.text import PAD_INDEX, SPECIALS


class VectorFileError(ValueError):
    """A pretrained vector file that cannot be read as GloVe text."""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_glove_vectors(path, vocab, dim: int) -> tuple[torch.Tensor, dict]:
    """Rows for the vocabulary from a GloVe-format text file ("word v1 ... v_dim" per line).

    Words of the vocabulary without a vector get random rows with the found vectors' spread
    (so both kinds start on the same scale); the padding row is zero. Coverage counts the
    vocabulary's words (specials excluded): {"found", "total", "share"}.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no pretrained vector file at {path}; give the path of a GloVe-format text file")
    weights = torch.zeros(len(vocab), dim)
    found = torch.zeros(len(vocab), dtype=torch.bool)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # a word2vec-style header "count dimension"
            if parts == [""]:
                continue
            if len(parts) > dim + 1 and not _is_number(parts[-dim - 1]):
                parts = [" ".join(parts[:-dim]), *parts[-dim:]]  # a word with spaces (GloVe 840B has some)
            if len(parts) != dim + 1:
                raise VectorFileError(
                    f"{path} line {number}: expected a word and {dim} numbers, found {len(parts) - 1} numbers; "
                    f"the vectors must have embedding_dim={dim} dimensions (set embedding_dim to the file's size)")
            index = vocab.stoi.get(parts[0])
            if index is None or found[index]:
                continue
            try:
                weights[index] = torch.tensor([float(v) for v in parts[1:]])
            except ValueError:
                raise VectorFileError(f"{path} line {number}: a value after {parts[0]!r} is not a number") from None
            found[index] = True
    words = torch.ones(len(vocab), dtype=torch.bool)
    words[:len(SPECIALS)] = False
    n_found, total = int((found & words).sum()), int(words.sum())
    spread = float(weights[found].std()) if int(found.sum()) > 1 else 1.0
    missing = ~found
    weights[missing] = torch.randn(int(missing.sum()), dim) * spread
    weights[PAD_INDEX] = 0.0
    return weights, {"found": n_found, "total": total, "share": n_found / total if total else 0.0}
