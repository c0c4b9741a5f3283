"""AppTest of the home, explorer and vocabulary pages, with the treebank and without it.

The app reads $SST_DIR and $SENTIMENT_DATA_DIR on every run, and AppTest runs in this process,
so each test sets them with monkeypatch before running the app.
"""
from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sentiment_core.analysis.exploration import explore
from sentiment_core.config import RunConfig
from sentiment_core.data.corpus import default_cache_dir
from sentiment_core.runs.store import create_run
from sentiment_core.data.treebank import SPLIT_FILES, split_paths
from sentiment_core.analysis.exploration.stats import data_summary
from dashboard.escape import escape_markdown
from tests.helpers import open_page

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
COUNT = re.compile(r"\*\*([\d,]+)\*\* of ([\d,]+) (\w+) match")


def run_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60).run()




def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def match_count(at: AppTest) -> tuple[int, int]:
    for element in at.markdown:
        found = COUNT.search(element.value)
        if found:
            return int(found.group(1).replace(",", "")), int(found.group(2).replace(",", ""))
    raise AssertionError("no match count on the page")


@pytest.fixture
def with_treebank(monkeypatch, sst_dir, tmp_path):
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.delenv("SENTIMENT_DATA_DIR", raising=False)
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def without_treebank(monkeypatch, tmp_path):
    """A data root with nothing in it, and no $SST_DIR: the treebank is genuinely missing."""
    monkeypatch.delenv("SST_DIR", raising=False)
    monkeypatch.delenv("SENTIMENT_RUNS_DIR", raising=False)
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(default_cache_dir()))  # reuse the tokenized corpus
    return tmp_path / "data"


def test_home_shows_the_treebank_figures_runs_and_links(with_treebank, corpus):
    create_run(RunConfig(), root=with_treebank, name="demo-run")
    at = run_app()
    assert not at.exception
    summary = data_summary(corpus)
    metrics = {m.label: m.value for m in at.metric}
    for split in ("train", "dev", "test"):
        assert metrics[f"{split} sentences"] == f"{summary['splits'][split]['examples']:,}"
    assert metrics["vocabulary (min_freq 1)"] == f"{summary['vocab_size']:,}"
    assert "Treebank found" in texts(at.success)
    assert any("demo-run" in frame.value["name"].tolist() for frame in at.dataframe if "name" in frame.value)
    assert len(at.get("page_link")) >= 2


def test_home_puts_three_ways_in_above_the_setup(with_treebank):
    """Issue 14: learn, experiment, try come first (cards with a line each); the setup follows them."""
    from dashboard.views.home import WAYS_IN

    at = run_app()
    assert not at.exception
    nodes = list(at.main)
    setup = next(i for i, node in enumerate(nodes)
                 if getattr(node, "type", None) == "header" and node.value == "Setup and status")
    treebank = next(i for i, node in enumerate(nodes) if getattr(node, "type", None) == "success")
    links = [node for node in nodes[:setup] if getattr(node, "type", None) == "page_link"]
    assert [link.value for link in links] == [way.label for way in WAYS_IN]
    assert [link.proto.page for link in links] == ["walkthrough", "training", "playground"]
    assert "preset=quick" in links[1].proto.query_string  # experiment opens the quick preset
    assert setup < treebank  # the treebank's status is below the ways in
    for way in WAYS_IN:  # each card: its link and one line on what you get there
        assert way.line in texts(at.main.get_by_key(way.key).caption)


def test_home_without_the_treebank_offers_three_ways_to_get_it(without_treebank):
    at = run_app()
    assert not at.exception
    assert "not installed yet" in texts(at.warning)
    assert at.button(key="download_treebank") and at.button(key="install_zip").disabled
    assert at.get("file_uploader")
    assert "No training runs yet" in texts(at.info)
    at.button(key="use_folder").click().run()
    assert "Type the path of a folder first" in texts(at.error)
    at.text_input(key="treebank_folder_path").input(str(without_treebank / "nowhere")).run()
    at.button(key="use_folder").click().run()
    assert "does not hold train.txt" in texts(at.error)
    assert not at.exception and not (without_treebank / "sst").exists()


def test_an_sst_dir_without_the_files_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SST_DIR", str(tmp_path))
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    at = run_app()
    assert not at.exception
    assert "does not hold the treebank" in texts(at.error) and "Fix or unset $SST_DIR" in texts(at.error)


def _zip_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for split, path in split_paths(folder).items():
            archive.write(path, f"trees/{SPLIT_FILES[split]}")
    return buffer.getvalue()


def test_uploading_a_bad_zip_installs_nothing(without_treebank):
    at = run_app()
    at.file_uploader(key="treebank_zip").upload("trainDevTestTrees_PTB.zip", b"not a zip", "application/zip").run()
    at.button(key="install_zip").click().run()
    assert not at.exception
    assert "was not installed" in texts(at.error) and "not a valid zip" in texts(at.error)
    assert not (without_treebank / "sst").exists()


def test_uploading_the_zip_installs_the_treebank(without_treebank, sst_dir, corpus):
    at = run_app()
    at.file_uploader(key="treebank_zip").upload("trainDevTestTrees_PTB.zip", _zip_of(sst_dir), "application/zip").run()
    at.button(key="install_zip").click().run()
    assert not at.exception
    installed = without_treebank / "sst"
    assert all(path.read_bytes() == source.read_bytes()
               for path, source in zip(split_paths(installed).values(), split_paths(sst_dir).values()))
    assert "Installed the treebank" in texts(at.success)
    assert {m.label: m.value for m in at.metric}["train sentences"] == f"{len(corpus.sentences['train']):,}"


class FakeResponse(io.BytesIO):
    """What urllib.request.urlopen returns, serving bytes from memory (the tests run offline)."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_offline_says_what_to_do_then_a_download_installs(without_treebank, sst_dir, monkeypatch):
    def unreachable(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    at = run_app()
    at.button(key="download_treebank").click().run()
    assert not at.exception
    assert "could not be downloaded" in texts(at.error) and "upload the zip" in texts(at.error)
    assert not (without_treebank / "sst").exists()

    data = _zip_of(sst_dir)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(data))
    at.button(key="download_treebank").click().run()
    assert not at.exception
    assert "Downloaded and installed the treebank" in texts(at.success)
    assert (without_treebank / "sst" / "train.txt").read_bytes() == (sst_dir / "train.txt").read_bytes()


def test_a_folder_for_the_session_feeds_the_other_pages(without_treebank, sst_dir, corpus):
    at = run_app()
    open_page("views/explorer.py", at=at)
    assert "needs the Stanford Sentiment Treebank" in texts(at.warning)
    at = run_app()
    at.text_input(key="treebank_folder_path").input(str(sst_dir)).run()
    at.button(key="use_folder").click().run()
    assert "This session reads the treebank" in texts(at.success)
    open_page("views/explorer.py", at=at)
    assert match_count(at)[1] == sum(len(rows) for rows in corpus.sentences.values())
    assert not (without_treebank / "sst").exists()  # used in place, not copied


def test_explorer_search_filters_and_tree(with_treebank, corpus):
    at = open_page("views/explorer.py", at=run_app())
    total = sum(len(rows) for rows in corpus.sentences.values())
    assert match_count(at) == (total, total)

    at.text_input(key="explorer_search").input("not").run()
    rows = explore.example_rows(corpus, 3)
    expected = len(explore.filter_rows(rows, explore.compile_search("not", "words")))
    assert match_count(at) == (expected, total) and 0 < expected < total

    at.radio(key="explorer_search_mode").set_value("regex").run()
    at.text_input(key="explorer_search").input("fun(ny").run()
    assert not at.exception and "does not compile" in texts(at.error)
    assert match_count(at)[0] == total  # the search is ignored until it compiles

    at.text_input(key="explorer_search").input("zzzqqq").run()
    assert match_count(at)[0] == 0 and "No sentences match" in texts(at.info)

    at.text_input(key="explorer_search").input("").run()
    at.multiselect(key="explorer_label_filter_3").set_value(["neutral"]).run()
    neutral = sum(1 for r in rows if r.label == 2)
    assert match_count(at)[0] == neutral

    longest = max(r.length for r in rows)
    at.slider(key=f"explorer_length_{longest}").set_value((1, 5)).run()
    assert match_count(at)[0] == sum(1 for r in rows if r.label == 2 and r.length <= 5)

    at.number_input(key="explorer_tree_row").set_value(2).run()
    shown = explore.filter_rows(rows, None, [2], (1, 5))[2]
    assert any(escape_markdown(shown.text) in m.value for m in at.markdown)  # treebank text, shown escaped
    at.button(key="explorer_random").click().run()
    assert not at.exception


def test_explorer_phrase_level_counts_training_phrases(with_treebank, corpus):
    at = open_page("views/explorer.py", at=run_app())
    at.radio(key="explorer_split").set_value("train").run()
    at.radio(key="explorer_level").set_value("phrases").run()
    assert not at.exception
    assert match_count(at)[1] == len(corpus.examples(3, "train", phrases=True))


def test_vocabulary_page_sizes_lookups_and_an_empty_vocabulary(with_treebank, corpus, vocab):
    at = open_page("views/vocabulary.py", at=run_app())

    def size() -> str:
        return {m.label: m.value for m in at.metric}["vocabulary size"]

    assert size() == f"{len(vocab):,}"
    assert any(f"film → index **{vocab.stoi['film']}**" in m.value for m in at.markdown)
    at.number_input(key=f"vocab_lookup_index_{len(vocab)}").set_value(19).run()
    assert any("index **19** → film" in m.value for m in at.markdown)

    at.select_slider(key="vocab_min_freq").set_value(2).run()
    assert size() == f"{len(corpus.build_vocab(2)):,}" != f"{len(vocab):,}"

    at.text_input(key="vocab_lookup_word").input("qwertyuiop").run()
    assert "is not in the vocabulary" in texts(at.warning)

    at.select_slider(key="vocab_min_freq").set_value(10000).run()
    assert not at.exception
    assert size() == "4" and "only the 4 specials" in texts(at.error)


def test_cached_figures_are_keyed_by_the_treebank_checksum(tmp_path):
    """resources' hash_funcs: a corpus is its checksum, so a replaced treebank gets fresh figures."""
    from dashboard import resources
    from sentiment_core.data.corpus import Corpus

    def tiny(checksum: str, words: tuple[str, ...]) -> Corpus:
        sentences = {"train": [(words, 4, " ".join(words))], "dev": [], "test": []}
        return Corpus(tmp_path, checksum, sentences, [])

    first = resources.vocabulary(tiny("checksum-a", ("good", "film")), 1)
    same = resources.vocabulary(tiny("checksum-a", ("other", "words")), 1)  # same checksum: the cached one
    replaced = resources.vocabulary(tiny("checksum-b", ("other", "words")), 1)
    assert same is first and "good" in first
    assert replaced is not first and "other" in replaced and "good" not in replaced
