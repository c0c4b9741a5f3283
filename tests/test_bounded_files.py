"""Run files, checkpoints and treebank files are size- and depth-checked before any parse or allocation that
could grow with them (issue 19: M8, M9, m1, m2, m3). Each hostile file is refused with one sentence, or,
where it is legal, costs what a real one does; nothing is installed, built or crashed on the way."""
from __future__ import annotations

import json
import os
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from sentiment_core import settings
from sentiment_core.analysis.exploration import explore
from sentiment_core.analysis.exploration.tree_view import tree_nodes
from sentiment_core.cli import main
from sentiment_core.data import text
from sentiment_core.data.corpus import load_corpus
from sentiment_core.data.ptb import parse_tree, scan_tree
from sentiment_core.data.text import MAX_WORD_CHARS, Tokenizer
from sentiment_core.data.treebank import TreebankFormatError, install_treebank_folder, split_paths, treebank_checksum
from sentiment_core.fileio import (FileRefused, atomic_write, atomic_write_text, json_depth, loads_bounded,
                                    read_bytes_bounded)
from sentiment_core.pretrained import PRETRAINED_DIR
from sentiment_core.runs.metrics import MetricsFollower, read_metrics
from sentiment_core.runs.provenance import recorded_treebank
from sentiment_core.runs.execution import load_model
from sentiment_core.runs.checkpoints import load_checkpoint
from sentiment_core.runs.listing import list_runs
from sentiment_core.runs.store import BROKEN, RunError, read_config, read_status, read_vocab

SPLITS = ("train.txt", "dev.txt", "test.txt")
APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
DEEP = "[" * 100_000 + "]" * 100_000  # the finding's status.json / config.json / vocab.json
GUARD = "unexpected problem"  # the page guard's sentence for an uncaught exception


def copy_treebank(source: Path, folder: Path, extra_train_line: str | None = None) -> Path:
    """The synthetic treebank copied to `folder`, with one more tree line at the end of train.txt."""
    folder.mkdir(parents=True)
    for name in SPLITS:
        shutil.copyfile(source / name, folder / name)
    if extra_train_line is not None:
        with open(folder / "train.txt", "a", encoding="utf-8") as train:
            train.write(extra_train_line + "\n")
    return folder


def nested_tree(depth: int) -> str:
    """A tree `depth` nodes deep, root to leaf: (2 (2 ... (2 x) ...))."""
    return "(2 " * (depth - 1) + "(2 x)" + ")" * (depth - 1)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ---------------------------------------------------------------------------------------------
# M8: a leaf of 10,000 punctuation characters used to pass install and then hang tokenizing


def test_install_refuses_a_leaf_longer_than_the_word_cap(tiny_sst_dir, tmp_path):
    leaf = "!?" * 4_950  # 9,900 characters: a line under MAX_TREE_LINE_CHARS
    source = copy_treebank(tiny_sst_dir, tmp_path / "hostile", f"(2 (2 {leaf}) (2 .))")
    with pytest.raises(TreebankFormatError, match=f"longer than the limit of {settings.MAX_TREE_WORD_CHARS} "
                                                  "characters") as err:
        install_treebank_folder(source, tmp_path / "sst")
    assert not (tmp_path / "sst").exists()
    assert len(str(err.value)) < 300 and "9,900 characters" in str(err.value)  # an excerpt, not the word
    with pytest.raises(TreebankFormatError, match="longer than the limit"):
        load_corpus(source, cache_dir=tmp_path / "cache")  # the same check on a folder used in place



def test_install_refuses_many_distinct_punctuation_words_under_the_word_cap(tiny_sst_dir, tmp_path):
    # Each word is under every other cap, but spaCy's cost grows with the punctuation of each distinct word:
    # a split of them took minutes to tokenize. 600 words of 100 punctuation characters: 60,000 in all.
    symbols = "!?.,;:'-"
    words = ["".join(symbols[(i * 7 + j * (i % 5 + 1)) % len(symbols)] for j in range(100)) + str(i) for i in range(600)]
    lines = "\n".join(f"(2 (2 {word}) (2 .))" for word in words)
    source = copy_treebank(tiny_sst_dir, tmp_path / "hostile", lines)
    with pytest.raises(TreebankFormatError, match="punctuation or symbol characters, more than the limit of 50,000"):
        install_treebank_folder(source, tmp_path / "sst")
    assert not (tmp_path / "sst").exists()
    with pytest.raises(TreebankFormatError, match="punctuation or symbol characters"):
        load_corpus(source, cache_dir=tmp_path / "cache")  # the same check on a folder used in place


def zip_of_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for name in SPLITS:
            out.write(folder / name, f"trees/{name}")
    return archive


def test_data_install_refuses_such_a_leaf_in_one_line(tiny_sst_dir, tmp_path, capsys):
    source = copy_treebank(tiny_sst_dir, tmp_path / "hostile", f"(2 (2 {'!' * 9_900}) (2 .))")
    archive = zip_of_folder(source, tmp_path / "trainDevTestTrees_PTB.zip")
    assert main(["data", "--install", str(archive), "--data-dir", str(tmp_path / "sst")]) == 1
    assert "longer than the limit of 200 characters for one word" in one_error_line(capsys)
    assert not (tmp_path / "sst").exists()


def test_an_upload_with_such_a_leaf_installs_nothing_and_says_why(tiny_sst_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("SST_DIR", raising=False)
    monkeypatch.delenv("SENTIMENT_RUNS_DIR", raising=False)
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    for hostile in (f"(2 (2 {'!' * 9_900}) (2 .))", nested_tree(2_400)):  # M8's leaf, m3's tree
        source = copy_treebank(tiny_sst_dir, tmp_path / f"upload-{len(hostile)}", hostile)
        archive = zip_of_folder(source, tmp_path / f"upload-{len(hostile)}.zip")
        at = AppTest.from_file(APP, default_timeout=60).run()
        at.file_uploader(key="treebank_zip").upload("trainDevTestTrees_PTB.zip", archive.read_bytes(),
                                                    "application/zip").run()
        at.button(key="install_zip").click().run()
        assert not at.exception
        said = "\n".join(str(e.value) for e in at.error)
        assert "was not installed" in said and ("longer than the limit" in said or "nests deeper" in said), said
        assert not (tmp_path / "data" / "sst").exists()


def test_the_tokenizer_hands_spacy_no_word_longer_than_the_cap(monkeypatch):
    """A leaf under the install cap but over MAX_WORD_CHARS is cut as typed text is: spaCy's cost is
    quadratic in a word's length, so the longest chunk it is given bounds the cost per character."""
    real = text._spacy_tokenizer()
    seen: list[str] = []

    def spying():
        def tokenize(chunk: str):
            seen.extend(chunk.split())
            return real(chunk)
        tokenize.rules = real.rules
        return tokenize

    monkeypatch.setattr(text, "_spacy_tokenizer", spying)
    leaf = ",!" * 90  # 180 characters: installs (under MAX_TREE_WORD_CHARS), then is tokenized
    tokenizer = Tokenizer()
    tokens = tokenizer.tokenize_words(["a", leaf, "film"])
    assert seen and max(map(len, seen)) <= MAX_WORD_CHARS
    assert tokens == ["a", *[",", "!"] * 90, "film"]  # the pieces' tokens, in order: nothing lost
    assert tokenizer.split_word(leaf) == [",", "!"] * 90


def test_a_treebank_with_a_leaf_under_the_cap_loads(tiny_sst_dir, tmp_path):
    source = copy_treebank(tiny_sst_dir, tmp_path / "long-leaf", f"(3 (2 {'!' * 150}) (3 good))")
    corpus = load_corpus(install_treebank_folder(source, tmp_path / "sst"), cache_dir=tmp_path / "cache")
    assert corpus.sentences["train"][-1][0] == ("!",) * 150 + ("good",)


# ---------------------------------------------------------------------------------------------
# M9: the checksum read whole files before the size cap


def test_a_huge_split_is_refused_by_size_before_anything_reads_it(tiny_sst_dir, tmp_path, monkeypatch):
    folder = copy_treebank(tiny_sst_dir, tmp_path / "huge")
    with open(folder / "train.txt", "r+b") as train:  # sparse: 2 GB that cost no disk
        train.truncate(2 * 2**30)
    monkeypatch.setenv("SST_DIR", str(folder))
    tracemalloc.start()
    try:
        for load in (lambda: treebank_checksum(folder), lambda: load_corpus(cache_dir=tmp_path / "cache")):
            with pytest.raises(TreebankFormatError, match="2048 MB, more than a treebank split's limit of 16 MB"):
                load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # refused from its size: not one chunk of it was read


def test_the_streamed_checksum_is_the_whole_files_checksum(tiny_sst_dir):
    """Streaming changed nothing: corpus caches and the checksums runs recorded stay valid."""
    import hashlib

    whole = hashlib.sha256()
    for split, path in split_paths(tiny_sst_dir).items():
        whole.update(split.encode() + path.read_bytes())
    assert treebank_checksum(tiny_sst_dir) == whole.hexdigest()


# ---------------------------------------------------------------------------------------------
# m3: a tree nested 2,400 deep installed, then recursion over it failed


def test_a_tree_past_the_depth_cap_is_refused_at_install(tiny_sst_dir, tmp_path):
    source = copy_treebank(tiny_sst_dir, tmp_path / "deep", nested_tree(2_400))
    with pytest.raises(TreebankFormatError, match=f"nests deeper than the limit of {settings.MAX_TREE_DEPTH} "
                                                  "levels") as err:
        install_treebank_folder(source, tmp_path / "sst")
    assert not (tmp_path / "sst").exists() and len(str(err.value)) < 300
    line = nested_tree(settings.MAX_TREE_DEPTH + 1)
    for parse in (parse_tree, scan_tree):  # the fast path and the precise one refuse alike
        with pytest.raises(TreebankFormatError, match="nests deeper"):
            parse(line)


def test_a_tree_at_the_depth_cap_works_in_everything_recursive():
    line = nested_tree(settings.MAX_TREE_DEPTH)
    tree = parse_tree(line)
    assert scan_tree(line)[1] == ["x"] and tree.to_ptb() == line
    assert len(list(tree.subtrees())) == settings.MAX_TREE_DEPTH == len(tree.spans())
    assert tree.text == "x" and tree == parse_tree(line)
    tokens, nodes = tree_nodes(tree, Tokenizer().split_word)  # the model tree view
    assert tokens == ["x"] and len(nodes) == settings.MAX_TREE_DEPTH
    assert explore.tree_layout(tree)  # the explorer's drawing


# ---------------------------------------------------------------------------------------------
# m1: damaged run files


def test_bounded_json_refuses_depth_size_nan_and_special_files(tmp_path):
    assert json_depth(b'{"a": ["[[[", {"b": "\\"]]"}], "c": "\\\\"}') == 3  # brackets in strings do not count
    for data, reason in ((DEEP.encode(), "nests deeper than the limit of 32"),
                         (("[" * 100_000).encode(), "nests deeper"),
                         (b'{"best_dev_accuracy": NaN}', "NaN"), (b'[Infinity]', "Infinity"),
                         (b"\xff{}", "not UTF-8")):
        with pytest.raises(FileRefused, match=reason):
            loads_bounded(data, 32)
    assert loads_bounded(b'{"loss": NaN}', 32, allow_nan=True)["loss"] != 0  # metrics.jsonl may log NaN
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(2 * settings.MAX_RUN_JSON_BYTES)
    with pytest.raises(FileRefused, match="is 8 MB, more than the limit of 4 MB"):
        read_bytes_bounded(big, settings.MAX_RUN_JSON_BYTES)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer for ever
    with pytest.raises(FileRefused, match="not a regular file"):
        read_bytes_bounded(fifo, 100)


def shipped_copy(root: Path, name: str, created_at: float = 1.0) -> Path:
    """A copy of the shipped GRU run (a real checkpoint) under `name`, as a visitor's run."""
    run = root / name
    shutil.copytree(PRETRAINED_DIR / "gru-3cls", run)
    status = json.loads((run / "status.json").read_text())
    status.pop("shipped", None)
    status.update(name=name, preset=None, created_at=created_at)
    (run / "status.json").write_text(json.dumps(status))
    return run


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))  # json.dumps writes NaN as NaN, as a damaged file may hold it


def damaged_runs(root: Path) -> dict[str, str]:
    """Run folders each damaged as the finding found them, newer than the good one; {name: what the problem says}."""
    damage = {
        "deep-status": ("status.json", lambda path: path.write_text(DEEP), "nests deeper"),
        "deep-config": ("config.json", lambda path: path.write_text(DEEP), "nests deeper"),
        "deep-vocab": ("vocab.json", lambda path: path.write_text(DEEP), "nests deeper"),
        "yesterday": ("status.json", lambda path: edit_json(path, lambda s: s.update(created_at="yesterday")),
                      "created_at is 'yesterday', not a number"),
        "nan-status": ("status.json", lambda path: edit_json(path, lambda s: s.update(best_dev_accuracy=float("nan"))),
                       "NaN"),
        "labels-7": ("config.json", lambda path: edit_json(path, lambda c: c["data"].update(labels=7)),
                     "labels must be one of 2, 3, 5, not 7"),
        "results-7": ("status.json", lambda path: edit_json(path, lambda s: s.update(results=7)),
                      "results is 7, not an object"),
        "bad-figures": ("status.json", lambda path: edit_json(
            path, lambda s: s["results"]["test"].update(confusion=[["x"]])), "not a table of counts"),
    }
    for n, (name, (filename, spoil, _)) in enumerate(damage.items()):
        spoil(shipped_copy(root, name, created_at=100.0 + n) / filename)
    return {name: said for name, (_, _, said) in damage.items()}


@pytest.fixture
def damaged_root(tmp_path):
    root = tmp_path / "runs"
    shipped_copy(root, "good-run")
    return root, damaged_runs(root)


def test_each_damaged_run_file_is_one_sentence_and_the_run_is_listed_as_such(damaged_root):
    root, said = damaged_root
    runs = {run.name: run for run in list_runs(root)}  # no RecursionError, no TypeError while sorting
    assert set(runs) == {"good-run", *said}
    assert runs["good-run"].problems == [] and runs["good-run"].state == "finished"
    for name, words in said.items():
        problems = " ".join(runs[name].problems)
        if name == "deep-vocab":  # listing reads no vocabulary; loading the model says it
            with pytest.raises(RunError, match=words):
                read_vocab(root / name)
            continue
        assert words in problems and "\n" not in problems and len(problems) < 300 + len(str(root)), problems
    assert runs["yesterday"].state == runs["nan-status"].state == BROKEN and runs["labels-7"].config is None
    with pytest.raises(RunError, match="labels must be one of 2, 3, 5, not 7"):
        read_config(root / "labels-7")
    with pytest.raises(RunError, match="nests deeper"):
        read_status(root / "deep-status")
    assert recorded_treebank(root / "deep-status") is None  # provenance reads status.json the same way


def test_vocab_types_are_checked(tmp_path):
    run = shipped_copy(tmp_path, "v")
    for vocab, words in (({"itos": 7}, "not a list of words"), ({"itos": ["<unk>", "<pad>", "<sos>", "<eos>", "a"],
                                                                 "freqs": {"a": "many"}}, "word counts"),
                         ([1, 2], "an object"), ({"itos": ["<unk>", "<pad>", "<sos>", "<eos>", "a", "a"]}, "twice")):
        (run / "vocab.json").write_text(json.dumps(vocab))
        with pytest.raises(RunError, match=words):
            read_vocab(run)


@pytest.mark.parametrize("page", ["views/training.py", "views/playground.py", "views/analysis.py"])
def test_pages_show_the_other_runs_beside_damaged_ones(damaged_root, page, monkeypatch, sst_dir):
    root, _ = damaged_root
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [str(e.value) for e in at.error]
    assert not [e for e in errors if GUARD in e], errors
    pickers = [box for box in [*at.selectbox, *at.multiselect] if any("good-run" in o for o in box.options)]
    assert pickers, "the good run is not offered"
    picker = pickers[0]
    picker.set_value(["good-run"] if picker.type == "multiselect" else "good-run").run()  # and it still works
    assert not at.exception and not [e for e in at.error if GUARD in str(e.value)]


def test_cli_on_a_damaged_vocabulary_is_one_line(damaged_root, tiny_sst_dir, capsys):
    root, _ = damaged_root
    assert main(["predict", str(root / "deep-vocab"), "a good film"]) == 2
    assert "vocab.json cannot be read: it nests deeper than the limit of 32 levels" in one_error_line(capsys)
    assert main(["analyze", str(root / "deep-vocab"), "--data-dir", str(tiny_sst_dir)]) == 2
    assert "nests deeper" in one_error_line(capsys)


def test_a_deep_metrics_line_is_skipped_and_named(tmp_path):
    run = shipped_copy(tmp_path, "m")
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as metrics:
        metrics.write(DEEP + "\n" + json.dumps({"event": "batch_end", "loss": float("nan")}) + "\n")
    events, problems = read_metrics(run)
    assert events[-1]["event"] == "batch_end" and any("is damaged" in p for p in problems)
    assert any("is damaged" in p for p in MetricsFollower(run).update().problems)


# ---------------------------------------------------------------------------------------------
# m2: a checkpoint whose model_config claims an embedding of 200,000 was built before the check


def spoil_checkpoint(run: Path, **changes) -> None:
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    for key, value in changes.items():
        if key in checkpoint["model_config"]:
            checkpoint["model_config"][key] = value
        else:
            checkpoint[key] = value
    torch.save(checkpoint, run / "checkpoint.pt")


def test_a_checkpoint_claiming_a_huge_model_is_refused_before_one_is_built(tmp_path, monkeypatch):
    import sentiment_core.runs.execution as execution  # load_model builds the model through its own import

    run = shipped_copy(tmp_path, "huge-claim")
    spoil_checkpoint(run, embedding_dim=20_000)  # the finding: 200,000 (4.8 GB); this is enough to tell
    devices = []
    real_build = execution.build_model

    def watched_build(*args, **kwargs):
        devices.append(torch.empty(0).device.type)  # where its tensors would be allocated
        return real_build(*args, **kwargs)

    monkeypatch.setattr(execution, "build_model", watched_build)
    with pytest.raises(RunError, match=r"does not fit its model settings \(its settings imply [0-9.,]+M weights but it holds 0.4M\)"):
        load_model(run)
    assert devices == []  # refused from the sizes alone: no model of 20,000-wide vectors was built


@pytest.mark.parametrize("changes, words", [
    ({"labels": 7}, "its labels is 7, not 2, 3 or 5"),
    ({"hidden_dim": -1}, "hidden_dim must be a whole number of at least 1"),
    ({"num_classes": 5}, "num_classes (5) is not its labels (3)"),
    ({"model_state": {"embedding.weight": [1, 2]}}, "not a table of named tensors"),
])
def test_a_checkpoint_with_damaged_parts_is_one_sentence(tmp_path, changes, words):
    run = shipped_copy(tmp_path, "damaged")
    spoil_checkpoint(run, **changes)
    with pytest.raises(RunError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_checkpoint(run / "checkpoint.pt")
    with pytest.raises(RunError):
        load_model(run)


def test_a_checkpoint_past_the_size_cap_is_refused_before_torch_load(tmp_path):
    run = shipped_copy(tmp_path, "huge-file")
    with open(run / "checkpoint.pt", "r+b") as checkpoint:  # sparse
        checkpoint.truncate(2 * settings.MAX_CHECKPOINT_BYTES)
    tracemalloc.start()
    try:
        with pytest.raises(RunError, match="is 2 GB, more than a checkpoint's limit of 1 GB"):
            load_checkpoint(run / "checkpoint.pt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_writing_a_status_over_a_damaged_one_replaces_it_without_parsing_it_unbounded(tmp_path):
    from sentiment_core.runs.store import read_json, write_status

    run = tmp_path / "run"
    run.mkdir()
    (run / "status.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    status = write_status(run, state="failed", message="m")
    assert status["state"] == "failed" and read_json(run / "status.json")["message"] == "m"


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "status.json"
    atomic_write_text(target, "old")

    def half_then_fail(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]
    assert atomic_write(target, lambda temporary: temporary.write_text("new") and "returned") == "returned"
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]
    with pytest.raises(FileNotFoundError):  # a folder that is gone is not brought back
        atomic_write_text(tmp_path / "gone" / "status.json", "x", create_parents=False)
    assert not (tmp_path / "gone").exists()
