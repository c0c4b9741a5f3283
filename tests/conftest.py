"""Shared fixtures: a tiny synthetic treebank for unit tests, and the real one where a test needs it.

The real treebank comes from $SST_DIR, data/sst or ../shared/data/sst; a test that asks for it
(`sst_dir`, `corpus`, `vocab`) is skipped with a reason when none of them holds it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentiment_core.data.treebank import has_treebank
from tests.synthetic_treebank import write_synthetic_treebank

ROOT = Path(__file__).resolve().parent.parent
NO_TREEBANK = ("the real treebank is not here: set SST_DIR to a folder holding train.txt, dev.txt, test.txt "
               "(tests on the synthetic treebank still run)")


def treebank_dir() -> Path | None:
    """The real treebank's folder, or None."""
    for candidate in (os.environ.get("SST_DIR"), ROOT / "data" / "sst", ROOT.parent / "shared" / "data" / "sst"):
        if candidate and has_treebank(Path(candidate)):
            return Path(candidate).resolve()
    return None


def require_treebank() -> Path:
    """The real treebank's folder; skips the calling test when there is none."""
    folder = treebank_dir()
    if folder is None:
        pytest.skip(NO_TREEBANK)
    return folder


def pytest_collection_modifyitems(config, items):
    """Files with a slow test first, browser tests before the others (each file's tests in their order):
    pytest-xdist hands out whole files in this order (pyproject's addopts), so the long ones start
    early and the last file a worker picks up is a short one."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    e2e = ROOT / "tests" / "e2e"

    def rank(item) -> tuple[bool, bool]:
        return item.path not in slow_files, e2e not in item.path.parents

    items.sort(key=rank)  # stable: the order within each group is kept


def pytest_terminal_summary(terminalreporter):
    """The screenshots the browser tests wrote (tests/e2e/conftest.py puts them on the reports). Here, not
    in tests/e2e: with pytest-xdist the session that prints never loads that folder's conftest."""
    written = [value for reports in terminalreporter.stats.values() for report in reports
               for name, value in getattr(report, "user_properties", ()) if name == "screenshot"]
    if written:
        terminalreporter.section("e2e screenshots")
        for path in dict.fromkeys(written):
            terminalreporter.write_line(path)


@pytest.fixture(scope="session")
def sst_dir() -> Path:
    return require_treebank()


@pytest.fixture(scope="session")
def real_corpus(sst_dir):
    """The real treebank's corpus, under a name that a module swapping `corpus` for the synthetic one still sees."""
    from sentiment_core.data.corpus import load_corpus

    return load_corpus(sst_dir)


@pytest.fixture(scope="session")
def corpus(real_corpus):
    return real_corpus


@pytest.fixture(scope="session")
def vocab(corpus):
    return corpus.build_vocab()


@pytest.fixture(scope="session")
def tiny_sst_dir(tmp_path_factory) -> Path:
    """A synthetic treebank of 240 / 80 / 80 sentences (tests/synthetic_treebank.py)."""
    return write_synthetic_treebank(tmp_path_factory.mktemp("tiny-sst") / "sst")


@pytest.fixture(scope="session")
def tiny_corpus(tiny_sst_dir, tmp_path_factory):
    from sentiment_core.data.corpus import load_corpus

    return load_corpus(tiny_sst_dir, cache_dir=tmp_path_factory.mktemp("tiny-cache"))


@pytest.fixture
def public_root(monkeypatch, tmp_path, tiny_sst_dir) -> Path:
    """Public mode on the synthetic treebank with an empty runs folder (returned); every limit at its public default."""
    root = tmp_path / "runs"
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    monkeypatch.setenv("SST_DIR", str(tiny_sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("SENTIMENT_DATA_DIR", "SENTIMENT_MAX_QUEUE", "SENTIMENT_MAX_CONCURRENT_RUNS", "SENTIMENT_ALLOW_DELETE",
                 "SENTIMENT_MAX_RUNS", "SENTIMENT_SHARED_RUNS", "SENTIMENT_MAX_RUNS_PER_VISITOR",
                 "SENTIMENT_OPERATOR_KEY"):
        monkeypatch.delenv(name, raising=False)
    return root
