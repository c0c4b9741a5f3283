"""The treebank layer: parser, label schemes, finding, installing and downloading."""
from __future__ import annotations

import http.server
import io
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest

from sentiment_core.data import treebank
from sentiment_core.data.treebank import (TreebankFormatError, TreebankNotFound, find_treebank, install_treebank_folder,
                                install_treebank_zip, locate_treebank, parse_tree, read_tree_file, scan_tree,
                                unescape_ptb)

SMALL = "(3 (2 (2 The) (2 Film)) (4 (3 (2 is) (4 great)) (2 .)))"


def test_parse_tree_labels_children_leaves():
    tree = parse_tree(SMALL)
    assert tree.label == 3
    assert len(tree.children) == 2
    assert tree.leaves() == ["The", "Film", "is", "great", "."]
    phrases = [(t.label, t.text) for t in tree.subtrees()]
    assert phrases[0] == (3, "The Film is great .")
    assert (2, "The Film") in phrases and (4, "great") in phrases
    assert len(phrases) == 9  # 5 leaves + 4 inner nodes of a binary tree
    assert parse_tree(tree.to_ptb()) == tree


def test_ptb_escapes_undone_for_display():
    tree = parse_tree(r"(2 (2 -LRB-) (2 (2 co-writer\/director) (2 -RRB-)))")
    assert tree.text == "( co-writer/director )"
    assert tree.leaves()[0] == "-LRB-"  # raw leaves keep the escapes
    assert unescape_ptb("-RRB-") == ")" and unescape_ptb("a\\/b") == "a/b" and unescape_ptb("-") == "-"


@pytest.mark.parametrize("line, message", [
    ("(3 (2 a) (2 b)", "unbalanced"),
    ("(3 (2 a) (2 b)))", "unbalanced"),
    ("( (2 a))", "label"),
    ("(7 (2 a) (2 b))", "label '7'"),
    ("(3 (x a) (2 b))", "label"),
    ("(2 )", "neither a word nor children"),
    ("", "empty"),
])
def test_malformed_lines_name_the_problem(line, message):
    with pytest.raises(TreebankFormatError, match=message):
        parse_tree(line, "train.txt", 7)
    with pytest.raises(TreebankFormatError, match="train.txt, line 7"):
        scan_tree(line or " ", "train.txt", 7)


def test_scan_tree_agrees_with_parser():
    label, leaves, spans = scan_tree(SMALL)
    tree = parse_tree(SMALL)
    assert label == tree.label and leaves == tree.leaves()
    assert sorted(spans) == sorted(tree.spans())


def test_bad_files_named_with_line(tmp_path):
    bad = tmp_path / "train.txt"
    bad.write_text(SMALL + "\n(3 (2 a) (2 b)\n")
    with pytest.raises(TreebankFormatError, match=r"train.txt, line 2"):
        read_tree_file(bad)
    (tmp_path / "latin1.txt").write_bytes("(2 (2 caf\xe9))".encode("latin-1"))
    with pytest.raises(TreebankFormatError, match="not UTF-8"):
        read_tree_file(tmp_path / "latin1.txt")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(TreebankFormatError, match="no trees"):
        read_tree_file(tmp_path / "empty.txt")


def test_full_treebank_parses(sst_dir):
    trees = treebank.load_trees(sst_dir)
    assert {k: len(v) for k, v in trees.items()} == {"train": 8544, "dev": 1101, "test": 2210}
    assert trees["train"][111].text == "The film aims to be funny , uplifting and moving , sometimes all at once ."
    assert trees["train"][111].label == 3
    # the three non-breaking spaces stay inside their words
    nbsp = [w for t in trees["train"] for w in t.leaves() if "\xa0" in w]
    assert len(nbsp) == 3 and all("1\\/2" in w for w in nbsp)


# ---- finding the treebank ----------------------------------------------------------------

def _copy_treebank(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("train.txt", "dev.txt", "test.txt"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_search_order_explicit_env_default(tmp_path, sst_dir):
    default = _copy_treebank(sst_dir, tmp_path / "default")
    env_dir = _copy_treebank(sst_dir, tmp_path / "env" / "trees")  # a trees/ sub-folder is accepted
    explicit = _copy_treebank(sst_dir, tmp_path / "explicit")
    env = {treebank.SST_DIR_ENV: str(env_dir.parent)}
    assert locate_treebank(explicit, env, default) == explicit
    assert locate_treebank(None, env, default) == env_dir
    assert locate_treebank(None, {}, default) == default
    assert locate_treebank(None, {}, tmp_path / "nothing") is None
    with pytest.raises(TreebankNotFound, match="does not hold the treebank"):
        locate_treebank(tmp_path / "nothing", {}, default)


def test_offline_without_copy_is_one_clear_error(tmp_path):
    with pytest.raises(TreebankNotFound) as err:
        find_treebank(None, {}, tmp_path / "sst", url="http://127.0.0.1:9/trainDevTestTrees_PTB.zip")
    message = str(err.value)
    assert "trainDevTestTrees_PTB.zip" in message and treebank.SST_DIR_ENV in message and str(tmp_path / "sst") in message
    assert not (tmp_path / "sst").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


# ---- installing from a zip or folder -----------------------------------------------------

def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _treebank_zip(sst_dir: Path) -> bytes:
    return _zip_bytes({f"trees/{n}": (sst_dir / n).read_bytes() for n in ("train.txt", "dev.txt", "test.txt")})


def test_install_zip(tmp_path, sst_dir):
    archive = tmp_path / "trainDevTestTrees_PTB.zip"
    archive.write_bytes(_treebank_zip(sst_dir))
    target = install_treebank_zip(archive, tmp_path / "data" / "sst")
    assert (target / "train.txt").read_bytes() == (sst_dir / "train.txt").read_bytes()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["sst"]  # no staging left


@pytest.mark.parametrize("case", ["traversal", "absolute", "truncated", "not_zip", "missing", "not_utf8",
                                  "malformed", "empty"])
def test_bad_zip_refused_and_nothing_written(tmp_path, sst_dir, case):
    good = {f"trees/{n}": (sst_dir / n).read_bytes() for n in ("train.txt", "dev.txt", "test.txt")}
    if case == "traversal":
        data = _zip_bytes({**good, "../evil.txt": b"x"})
    elif case == "absolute":
        data = _zip_bytes({**good, "/tmp/evil.txt": b"x"})
    elif case == "truncated":
        data = _zip_bytes(good)[: 200_000]
    elif case == "not_zip":
        data = b"<html>not a zip</html>"
    elif case == "missing":
        data = _zip_bytes({"trees/train.txt": good["trees/train.txt"]})
    elif case == "not_utf8":
        data = _zip_bytes({**good, "trees/dev.txt": "(2 (2 caf\xe9))".encode("latin-1")})
    elif case == "malformed":
        data = _zip_bytes({**good, "trees/test.txt": b"(2 (2 a) (2 b)\n"})
    else:
        data = _zip_bytes({**good, "trees/dev.txt": b""})
    archive = tmp_path / "in.zip"
    archive.write_bytes(data)
    target = tmp_path / "data" / "sst"
    with pytest.raises(TreebankFormatError) as err:
        install_treebank_zip(archive, target)
    assert str(archive) in str(err.value)
    assert not target.exists()
    assert list((tmp_path / "data").iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_install_keeps_old_copy_when_new_one_is_bad(tmp_path, sst_dir):
    target = _copy_treebank(sst_dir, tmp_path / "sst")
    archive = tmp_path / "bad.zip"
    archive.write_bytes(b"garbage")
    with pytest.raises(TreebankFormatError):
        install_treebank_zip(archive, target)
    assert (target / "train.txt").read_bytes() == (sst_dir / "train.txt").read_bytes()


def test_install_folder(tmp_path, sst_dir):
    source = _copy_treebank(sst_dir, tmp_path / "unzipped" / "trees")
    target = install_treebank_folder(source.parent, tmp_path / "sst")
    assert (target / "test.txt").read_bytes() == (sst_dir / "test.txt").read_bytes()


# ---- downloading, for real, from a local HTTP server --------------------------------------

@pytest.fixture()
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_from_local_server_with_progress(tmp_path, sst_dir, http_server):
    root, base = http_server
    payload = _treebank_zip(sst_dir)
    (root / "trainDevTestTrees_PTB.zip").write_bytes(payload)
    seen = []
    target = tmp_path / "data" / "sst"
    folder = find_treebank(None, {}, target, url=f"{base}/trainDevTestTrees_PTB.zip",
                           progress=lambda done, total: seen.append((done, total)))
    assert folder == target
    assert (target / "dev.txt").read_bytes() == (sst_dir / "dev.txt").read_bytes()
    assert seen[0] == (0, len(payload)) and seen[-1] == (len(payload), len(payload))
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["sst"]


def test_download_of_corrupt_zip_leaves_nothing(tmp_path, http_server):
    root, base = http_server
    (root / "trainDevTestTrees_PTB.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    target = tmp_path / "data" / "sst"
    with pytest.raises(TreebankFormatError, match="not a valid zip"):
        treebank.download_treebank(target, url=f"{base}/trainDevTestTrees_PTB.zip")
    assert list((tmp_path / "data").iterdir()) == []


def test_download_404_is_clear(tmp_path, http_server):
    _, base = http_server
    with pytest.raises(TreebankNotFound, match="404"):
        find_treebank(None, {}, tmp_path / "sst", url=f"{base}/missing.zip")
    assert not (tmp_path / "sst").exists()
