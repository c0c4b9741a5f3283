"""Safe as a public hosted demo: visitor text reaches no page as markdown or HTML, errors are one line
without server paths in public mode (SENTIMENT_PUBLIC=1), and a public Home offers no upload or folder.

The page tests run on the synthetic treebank (tests/synthetic_treebank.py), so they need no real data.
"""
from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts.playground import token_labels
from dashboard.escape import escape_markdown
from dashboard.messages import hide_paths, plain_message, shown_path, user_message
from sentiment_core.data.treebank import SPLIT_FILES, split_paths
from sentiment_core.runs.execution import train_run
from tests.helpers import open_page, run_picker, tiny_config
from tests.test_escape import unescape

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
HOSTILE = "a` [click](http://evil.example) `b <b>x</b> $x$ :red[y]"
PUBLIC = {"SENTIMENT_PUBLIC": "1"}


# ---------------------------------------------------------------------------------------------
# The message helper


def test_an_error_is_its_first_line_escaped():
    err = ValueError("the regex `a[` failed\nTraceback (most recent call last):\n  File \"/srv/x.py\"")
    assert plain_message(err, {}) == "the regex `a[` failed"
    assert user_message(err, {}) == escape_markdown("the regex `a[` failed")
    assert plain_message(ValueError(""), {}) == "something went wrong (ValueError)"


def test_public_mode_cuts_every_server_path_to_its_last_component(tmp_path):
    data = tmp_path / "my data"  # a space: only the list of known folders can find this one whole
    env = {**PUBLIC, "SENTIMENT_DATA_DIR": str(data), "SST_DIR": "/opt/treebanks/sst"}
    text = (f"The treebank in {data / 'sst'} could not be read: /opt/treebanks/sst/train.txt, line 3: bad. "
            f"Upload /tmp/.sst-upload-x1.zip failed; see C:\\Users\\me\\x.zip and {data}/runs/a. "
            "Keep http://nlp.stanford.edu/x.zip, and/or 3/4, trees/ folder.")
    shown = plain_message(text, env)
    assert shown == ("The treebank in sst could not be read: train.txt, line 3: bad. Upload .sst-upload-x1.zip "
                     "failed; see x.zip and a. Keep http://nlp.stanford.edu/x.zip, and/or 3/4, trees/ folder.")
    assert plain_message(text, {"SENTIMENT_DATA_DIR": str(data)}) == text  # a local user keeps the paths
    assert shown_path(data / "runs", env) == "runs" and shown_path("/a/b_c", {}) == escape_markdown("/a/b_c")
    assert hide_paths("/", env) == "..."


def test_chart_labels_escape_typed_tokens_for_plotly():
    labels = token_labels(["<sos>", "x<a href='http://evil.example'>y</a>", "<b>z</b>", "&amp;", "<eos>"])
    assert labels == ["0: <sos>", "1: x&lt;a href='http://evil.example'&gt;y&lt;/a&gt;", "2: &lt;b&gt;z&lt;/b&gt;",
                      "3: &amp;amp;", "4: <eos>"]


# ---------------------------------------------------------------------------------------------
# Pages: hostile text is shown escaped


def markdown_bodies(at: AppTest) -> list[tuple[str, bool]]:
    """(body, allows HTML) of every element whose body Streamlit renders as markdown."""
    found = [(m.value, m.proto.allow_html) for m in at.markdown]
    for kind in ("caption", "error", "warning", "info", "success"):
        found += [(e.value, False) for e in getattr(at, kind)]
    return found


def assert_nothing_live(at: AppTest) -> None:
    """No element's body holds a live link, HTML tag, LaTeX or colour from HOSTILE: only escaped forms."""
    for body, allows_html in markdown_bodies(at):
        assert "<a " not in body and "<b>x</b>" not in body, body
        if not allows_html:  # HTML bodies are checked above; their text is html.escape'd
            for live in ("[click](", "http://evil", "$x$", ":red[", "`b", "<b>"):
                assert not re.search(r"(?<!\\)" + re.escape(live), body), body  # present only escaped


@pytest.fixture(scope="module")
def tiny_runs(tiny_corpus, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("public") / "runs"
    train_run(tiny_config(train_limit=120, eval_limit=20, epochs=1, probe_every=0), root=root, name="tiny-gru",
              corpus=tiny_corpus, catch_signals=False)
    return root


@pytest.fixture
def tiny_env(monkeypatch, tiny_sst_dir, tiny_runs, tmp_path):
    monkeypatch.setenv("SST_DIR", str(tiny_sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tiny_runs))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("SENTIMENT_PUBLIC", "SENTIMENT_DATA_DIR", "SENTIMENT_MAX_INPUT_TOKENS", "SENTIMENT_ALLOW_DELETE"):
        monkeypatch.delenv(name, raising=False)
    return tiny_runs


def test_the_playground_shows_hostile_query_text_escaped(tiny_env):
    at = open_page("views/playground.py", query={"text": HOSTILE})
    assert at.text_area(key="pg_text").value == HOSTILE
    assert_nothing_live(at)
    unknown = next(c.value for c in at.caption if "not in the training vocabulary" in c.value)
    assert escape_markdown("click](http://evil") in unknown  # the visitor's words are there, escaped


def test_the_explorer_shows_a_hostile_search_escaped(tiny_env):
    at = open_page("views/explorer.py")
    at.radio(key="explorer_search_mode").set_value("regex").run()
    at.text_input(key="explorer_search").input(HOSTILE + " (").run()  # an open group: the error quotes it
    assert not at.exception
    assert "does not compile" in at.error[0].value and "evil" in at.error[0].value
    assert_nothing_live(at)
    at.text_input(key="explorer_search").input(HOSTILE).run()  # compiles, matches nothing
    assert "No sentences match" in " ".join(i.value for i in at.info)
    assert_nothing_live(at)


# ---------------------------------------------------------------------------------------------
# Public mode


def test_a_public_home_offers_no_upload_no_folder_and_names_no_path(tiny_env, tiny_sst_dir, monkeypatch):
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "operator of this demo has set up the treebank" in at.success[0].value
    assert {m.label: m.value for m in at.metric}["train sentences"] == "240"
    assert not at.get("file_uploader") and not at.text_input and not at.get("tabs")
    assert not [b for b in at.button if b.key in ("download_treebank", "install_zip", "use_folder", "copy_folder")]
    for body, _ in markdown_bodies(at):
        assert str(tiny_sst_dir) not in unescape(body) and str(tiny_env) not in unescape(body), body


def test_a_public_home_without_a_treebank_says_the_demo_is_not_set_up(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    monkeypatch.delenv("SST_DIR", raising=False)
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error
    assert "This demo is not set up yet" in at.warning[0].value
    assert not at.get("file_uploader") and not at.text_input and not at.button


def assert_no_server_path(body: str, root: Path) -> None:
    """One line, naming no absolute path (a '/' may remain in words such as "trees/ folder")."""
    text = unescape(body)
    assert "\n" not in text and str(root) not in text, text
    assert not re.search(r"(^|[\s'\"(])[~]?/", text), text  # nothing that starts like /srv/... or ~/...


@pytest.mark.parametrize("damage", ["missing", "unparsable"])
def test_public_errors_name_no_server_path(damage, monkeypatch, tmp_path, tiny_sst_dir):
    broken = tmp_path / "srv" / "broken-sst"
    broken.mkdir(parents=True)
    if damage == "unparsable":
        for split, path in split_paths(tiny_sst_dir).items():
            shutil.copyfile(path, broken / SPLIT_FILES[split])
        (broken / "train.txt").write_text("(3 (2 fine) (4 tree))\n(3 (2 this one) is broken\n", encoding="utf-8")
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    monkeypatch.setenv("SST_DIR", str(broken))
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and at.error
    for error in at.error:
        assert_no_server_path(error.value, tmp_path)
    assert "broken-sst" in unescape(at.error[0].value)  # the folder, by its last name only
    assert "This demo is not set up yet" in at.warning[0].value
    open_page("views/explorer.py", at=at)
    assert at.error
    for error in at.error:
        assert_no_server_path(error.value, tmp_path)


def test_a_public_training_page_has_the_public_limits_and_no_delete(tiny_env, monkeypatch):
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["visitor_operator"] = True  # the operator (dashboard/visitor.py): a visitor sees no terminal run
    at.switch_page("views/training.py").run()
    assert run_picker(at).value == "tiny-gru"
    assert not [c for c in at.checkbox if c.key == "train_confirm_delete_tiny-gru"]
    assert not [b for b in at.button if b.key == "train_delete"]
    limits = next(m.value for m in at.markdown if "(`SENTIMENT_MAX_EPOCHS`)" in m.value)  # the limits panel
    assert "**5** (`SENTIMENT_MAX_EPOCHS`)" in limits and "**off** (`SENTIMENT_ALLOW_DELETE`)" in limits
    monkeypatch.setenv("SENTIMENT_PUBLIC", "0")
    at = open_page("views/training.py")  # locally the delete stays offered
    assert [b for b in at.button if b.key == "train_delete"]


# ---------------------------------------------------------------------------------------------
# Home, local: a folder or a zip is validated before anything is claimed


def test_a_folder_whose_train_split_does_not_parse_is_not_used(monkeypatch, tmp_path, tiny_sst_dir):
    monkeypatch.delenv("SST_DIR", raising=False)
    monkeypatch.delenv("SENTIMENT_PUBLIC", raising=False)
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "mine"
    shutil.copytree(tiny_sst_dir, folder)
    (folder / "train.txt").write_text("(3 (2 fine) (4 tree))\n(3 (2 unclosed\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="treebank_folder_path").input(str(folder)).run()
    at.button(key="use_folder").click().run()
    assert not at.exception and not at.success
    error = unescape(" ".join(e.value for e in at.error))
    assert "The folder was not used" in error and "train.txt, line 2" in error
    assert "not installed yet" in " ".join(w.value for w in at.warning)  # the session still has no treebank
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before and not (tmp_path / "data" / "sst").exists()
    at.text_input(key="treebank_folder_path").input(str(tiny_sst_dir)).run()
    at.button(key="use_folder").click().run()  # a sound folder still works
    assert "This session reads the treebank" in at.success[0].value


def _corrupt_deflate_zip(folder: Path) -> bytes:
    """A zip of the three splits whose train.txt has its deflate stream overwritten in the middle."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for split, path in split_paths(folder).items():
            archive.write(path, f"trees/{SPLIT_FILES[split]}")
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("trees/train.txt")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle:middle + 64] = b"\xff" * 64
    return bytes(data)


def test_a_zip_with_a_corrupt_deflate_stream_is_one_sentence(monkeypatch, tmp_path, tiny_sst_dir):
    monkeypatch.delenv("SST_DIR", raising=False)
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.file_uploader(key="treebank_zip").upload("trainDevTestTrees_PTB.zip", _corrupt_deflate_zip(tiny_sst_dir),
                                                "application/zip").run()
    at.button(key="install_zip").click().run()
    assert not at.exception and len(at.error) == 1
    error = unescape(at.error[0].value)
    assert error.startswith("trainDevTestTrees_PTB.zip was not installed: trainDevTestTrees_PTB.zip: not a valid zip")
    assert "\n" not in error and ".sst-upload-" not in error  # named by the upload's name, not the temporary file
    assert not (tmp_path / "data" / "sst").exists()
    assert not [p for p in (tmp_path / "data").iterdir()]  # the temporary upload and staging are gone
