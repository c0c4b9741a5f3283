"""Shared fixtures: the real treebank (from $SST_DIR, data/sst or ../shared/data/sst)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentiment_core.data.treebank import has_treebank

ROOT = Path(__file__).resolve().parent.parent


def treebank_dir() -> Path:
    for candidate in (os.environ.get("SST_DIR"), ROOT / "data" / "sst", ROOT.parent / "shared" / "data" / "sst"):
        if candidate and has_treebank(Path(candidate)):
            return Path(candidate).resolve()
    raise RuntimeError("The tests need the treebank: set SST_DIR to a folder holding train.txt, dev.txt, test.txt.")


@pytest.fixture(scope="session")
def sst_dir() -> Path:
    return treebank_dir()


@pytest.fixture(scope="session")
def corpus(sst_dir):
    from sentiment_core.data.corpus import load_corpus

    return load_corpus(sst_dir)


@pytest.fixture(scope="session")
def vocab(corpus):
    return corpus.build_vocab()
