"""Operator commands and errors: `predict --file`, `data --install`, and one-line errors that leave
nothing behind (on the synthetic treebank, in this process: an uncaught error would surface here)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from sentiment_core.cli import error_line, main
from sentiment_core.cli.folders import removed_on_failure
from sentiment_core.cli.train import run_has_ended
from tests.synthetic_treebank import SIZES

TINY = ["--cell", "gru", "--embedding-dim", "8", "--hidden-dim", "8", "--batch-size", "40", "--epochs", "1",
        "--quiet"]


@pytest.fixture(scope="module")
def run(tiny_sst_dir, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", *TINY, "--data-dir", str(tiny_sst_dir), "--out", str(run_dir)]) == 0
    return run_dir


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ---------------------------------------------------------------------------------------------
# predict --file


def test_predict_file_writes_a_neutralised_table(run, tmp_path, capsys):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text('id,Text\n1,a good film\n2,"=HYPERLINK(""http://x"")"\n3,\n4,\t@SUM(A1)\n', encoding="utf-8")
    assert main(["predict", str(run), "--file", str(source), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.strip() == f"3 of 4 rows classified (1 could not be: see the note column); wrote {out}"
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [row["text"] for row in table] == ["a good film", "'=HYPERLINK(\"http://x\")", "", "'@SUM(A1)"]
    assert table[0]["label"] in ("positive", "negative", "neutral") and table[2]["label"] == ""
    assert "nothing to classify" in table[2]["note"]
    assert not any(cell.startswith(("=", "+", "@")) for row in table for cell in row.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no temporary file left


def test_predict_file_applies_the_playground_caps_per_row(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SENTIMENT_MAX_INPUT_CHARS", "20")
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("text\na good film\n" + "a very long review of a film\n", encoding="utf-8")
    assert main(["predict", str(run), "--file", str(source), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"out": str(out), "rows": 2, "classified": 1}
    notes = [row["note"] for row in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))]
    assert "28 characters, more than the cap of 20" in notes[1]


@pytest.mark.parametrize("args, env, message", [
    (["--file", "{source}"], {}, "--file needs --out OUT.csv"),
    (["--file", "{source}", "--out", "{out}"], {"SENTIMENT_MAX_CSV_BYTES": "10"},
     "more than the limit of 10 bytes; split it, or raise SENTIMENT_MAX_CSV_BYTES"),
    (["--file", "{source}", "--out", "{out}"], {"SENTIMENT_MAX_BATCH_ROWS": "1"}, "more than 1 rows"),
    (["--file", "{source}", "--out", "{out}"], {"SENTIMENT_MAX_INPUT_TOKENS": "zero"}, "'zero', which is not a whole number"),
    (["good", "--file", "{source}", "--out", "{out}"], {}, "not both"),
    (["--file", "{tmp}/missing.csv", "--out", "{out}"], {}, "is not a file"),
    (["--file", "{source}", "--out", "{tmp}/no/such/folder/out.csv"], {}, "does not exist"),
    (["--file", "{source}", "--out", "{source}"], {}, "names the input file"),
    ([], {}, "give a sentence in quotes, or a CSV file"),
    (["good", "--out", "{out}"], {}, "--out goes with --file"),
])
def test_predict_file_refusals_are_one_line_and_write_nothing(run, tmp_path, monkeypatch, capsys, args, env,
                                                              message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("text\na good film\nbad\n", encoding="utf-8")
    out.write_text("an earlier table\n", encoding="utf-8")
    args = [a.format(source=source, out=out, tmp=tmp_path) for a in args]
    assert main(["predict", str(run), *args]) == 2
    assert message in one_error_line(capsys)
    assert out.read_text(encoding="utf-8") == "an earlier table\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no temporary file left


def test_predict_one_sentence_has_the_character_cap(run, monkeypatch, capsys):
    monkeypatch.setenv("SENTIMENT_MAX_INPUT_CHARS", "10")
    assert main(["predict", str(run), "a good film indeed"]) == 2
    assert one_error_line(capsys) == ("error: the text has 18 characters, more than the cap of 10; shorten it, "
                                      "or raise SENTIMENT_MAX_INPUT_CHARS\n")
    monkeypatch.delenv("SENTIMENT_MAX_INPUT_CHARS")
    assert main(["predict", str(run), "a good film", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == ["a", "good", "film"]


# ---------------------------------------------------------------------------------------------
# Runs that cannot be read


def test_predict_on_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nope"), "a good film"]) == 2
    assert "there is no run at" in one_error_line(capsys)
    assert main(["predict", str(tmp_path / "nope"), "--file", __file__, "--out", str(tmp_path / "o.csv")]) == 2
    assert "csv" not in [p.suffix for p in tmp_path.iterdir()]


@pytest.mark.parametrize("damage", [b"garbage\n", "truncated"])
def test_evaluate_on_a_damaged_checkpoint_is_one_short_line(run, tiny_sst_dir, tmp_path, capsys, damage):
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    checkpoint = damaged / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000] if damage == "truncated" else damage)
    assert main(["evaluate", str(damaged), "--data-dir", str(tiny_sst_dir)]) == 2
    err = one_error_line(capsys)
    assert "cannot be read as a checkpoint" in err and "weights_only" not in err and len(err) < 320


def test_error_line_keeps_one_short_line():
    assert error_line(PermissionError(13, "Permission denied", "/srv/runs/x")) == "Permission denied: /srv/runs/x"
    assert error_line(ValueError("first\nsecond")) == "first"
    long = ValueError("the file cannot be read (" + "detail " * 100 + ")")
    assert error_line(long) == "the file cannot be read"
    assert len(error_line(ValueError("x" * 1000))) == 300


# ---------------------------------------------------------------------------------------------
# train: a destination that cannot be written


def test_train_into_a_path_under_a_file_is_one_line_and_creates_nothing(tiny_sst_dir, tmp_path, capsys):
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder", encoding="utf-8")
    assert main(["train", *TINY, "--data-dir", str(tiny_sst_dir), "--out", str(blocker / "run")]) == 1
    assert one_error_line(capsys) == f"error: Not a directory: {blocker / 'run'}\n"
    assert blocker.read_text(encoding="utf-8") == "not a folder" and sorted(tmp_path.iterdir()) == [blocker]


def test_a_failed_start_leaves_no_run_folder_nor_its_parents(tiny_sst_dir, tmp_path, capsys):
    too_long = tmp_path / "new" / ("x" * 300)  # "new" is made, then the name is refused
    assert main(["train", *TINY, "--data-dir", str(tiny_sst_dir), "--out", str(too_long)]) == 1
    assert one_error_line(capsys).startswith("error: File name too long")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", *TINY, "--data-dir", str(empty), "--out", str(tmp_path / "fresh" / "run")]) == 2
    assert "does not hold the treebank" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_run_that_recorded_its_end_is_kept(tmp_path):
    ended, never = tmp_path / "parent" / "ended", tmp_path / "other" / "never"
    for folder, state in ((ended, "failed"), (never, None)):
        with pytest.raises(OSError):
            with removed_on_failure(folder, keep=run_has_ended, create=True):
                if state:
                    (folder / "status.json").write_text(json.dumps({"state": state}), encoding="utf-8")
                raise OSError(28, "No space left on device")
    assert (ended / "status.json").is_file() and not (tmp_path / "other").exists()


# ---------------------------------------------------------------------------------------------
# data --install ZIP


def treebank_zip(tiny_sst_dir: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("train.txt", "dev.txt", "test.txt"):
            archive.write(tiny_sst_dir / name, f"trees/{name}")
    return path


def test_data_install_puts_the_treebank_in_place(tiny_sst_dir, tmp_path, monkeypatch, capsys):
    archive = treebank_zip(tiny_sst_dir, tmp_path / "trainDevTestTrees_PTB.zip")
    target = tmp_path / "deep" / "sst"
    assert main(["data", "--install", str(archive), "--data-dir", str(target)]) == 0
    assert capsys.readouterr().out == f"installed the treebank in {target}: {SIZES['train']} train, {SIZES['dev']} dev, {SIZES['test']} test sentences\n"
    assert sorted(p.name for p in target.iterdir()) == ["dev.txt", "test.txt", "train.txt"]
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "root"))  # no --data-dir: <data root>/sst
    assert main(["data", "--install", str(archive), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"installed": str(tmp_path / "root" / "sst"),
                                                   "sentences": SIZES}


@pytest.mark.parametrize("content, message", [
    (b"not a zip at all", "not a valid zip file"),
    (None, "is not a file"),
])
def test_data_install_failure_is_one_line_and_changes_nothing(tiny_sst_dir, tmp_path, capsys, content, message):
    archive = tmp_path / "download.zip"
    if content is not None:
        archive.write_bytes(content)
    installed = tmp_path / "installed"
    installed.mkdir()
    (installed / "train.txt").write_text("(2 (2 old))\n", encoding="utf-8")
    for target in (installed, tmp_path / "new" / "sst"):
        assert main(["data", "--install", str(archive), "--data-dir", str(target)]) == 1
        assert message in one_error_line(capsys)
    assert [p.name for p in installed.iterdir()] == ["train.txt"]  # the old folder as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["installed", *(["download.zip"] if content else [])])
