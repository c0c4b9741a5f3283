"""Start-up of a training process (issue 23): what it imports, the probe words kept between runs, its
moments for `bench --startup`, the thread count a page's run gets and the passive OpenMP wait."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sentiment_core import settings
from sentiment_core.cli import main
from sentiment_core.data import text
from sentiment_core.data.batching import EncodedDataset
from sentiment_core.training.bench_startup import PHASES, format_startup, phases_of, summarize
from sentiment_core.runs.processes import training_env
from sentiment_core.training.sentence_probes import ProbeScorer, probe_tokenizer, saved_words_path

SMALL = ["--cell", "scratch", "--epochs", "1", "--embedding-dim", "8", "--hidden-dim", "8", "--batch-size", "25",
         "--threads", "1", "--quiet"]
# Runs the train command in a fresh interpreter and prints what it imported, as JSON.
TRAIN_AND_LIST_MODULES = """
import json, sys
from sentiment_core.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def fresh_process(code: str, *args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=180, env=env)


def train_modules(tmp_path, tiny_sst_dir, name: str, env: dict) -> set[str]:
    done = fresh_process(TRAIN_AND_LIST_MODULES, "train", *SMALL, "--data-dir", tiny_sst_dir,
                         "--out", tmp_path / name, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    return set(result["modules"])


def test_a_single_process_run_loads_neither_spacy_nor_more_of_torch_distributed_than_torch_does(tmp_path,
                                                                                               tiny_sst_dir):
    env = {**os.environ, "SENTIMENT_CACHE_DIR": str(tmp_path / "cache")}
    train_modules(tmp_path, tiny_sst_dir, "first", env)  # a cold cache: tokenizes the treebank and probes
    modules = train_modules(tmp_path, tiny_sst_dir, "second", env)
    assert not {m for m in modules if m == "spacy" or m.startswith("spacy.")}
    torch_alone = fresh_process("import json, sys, torch; print(json.dumps(sorted(sys.modules)))", env=env)
    baseline = set(json.loads(torch_alone.stdout))
    extra = sorted(m for m in modules - baseline if m.startswith("torch.distributed"))
    if extra and "torch._dynamo" in modules:
        pytest.xfail("the optimizer still imports torch._dynamo, which loads torch.distributed's FSDP itself")
    assert not extra


def test_probe_sentences_are_tokenized_from_the_saved_words_as_spacy_tokenizes_them(tmp_path, monkeypatch, vocab):
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path))
    sentences = ["The film is not bad at all.", "Hardly a masterpiece, yet never boring!", "I didn't like it."]
    with_spacy = ProbeScorer(sentences, vocab).batch.tokens
    assert saved_words_path(sentences).is_file()

    def no_spacy():
        raise AssertionError("spaCy was loaded although every word was saved")

    monkeypatch.setattr(text, "_spacy_tokenizer", no_spacy)
    assert torch.equal(ProbeScorer(sentences, vocab).batch.tokens, with_spacy)
    assert probe_tokenizer(sentences)("I didn't like it.") == ["i", "did", "n't", "like", "it", "."]


def test_a_damaged_saved_words_file_is_ignored_and_written_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path))
    sentences = ["A dull, tedious movie."]
    path = saved_words_path(sentences)
    path.write_text('{"tokenizer": "' + text.TOKENIZER_VERSION + '", "lower": true, "words": [1, 2]}')
    assert probe_tokenizer(sentences)(sentences[0]) == ["a", "dull", ",", "tedious", "movie", "."]
    assert json.loads(path.read_text())["words"]["dull,"] == ["dull", ","]
    other_version = {"tokenizer": "another", "lower": True, "words": {"dull,": ["wrong"]}}
    path.write_text(json.dumps(other_version))
    assert text.Tokenizer().load_words(path) == 0


def test_encoded_examples_are_vocab_encode_with_sos_and_eos(tiny_corpus):
    vocab = tiny_corpus.build_vocab(min_freq=2)
    examples = tiny_corpus.examples(3, "train", phrases=True)
    data = EncodedDataset(examples, vocab)
    assert len(data) == len(examples) and data.lengths == [len(e.tokens) + 2 for e in examples]
    assert all(data[i][0].tolist() == vocab.encode(e.tokens, add_sos_eos=True) and data[i][1] == e.label
               for i, e in enumerate(examples))
    bare = EncodedDataset(examples[:5], vocab, add_sos_eos=False)
    assert [bare[i][0].tolist() for i in range(5)] == [vocab.encode(e.tokens) for e in examples[:5]]
    assert len(EncodedDataset([], vocab)) == 0


@pytest.mark.parametrize("cores, load, free", [(2, 0.2, 2), (2, 1.0, 1), (2, 6.0, 1), (8, 3.4, 5), (4, 0.0, 4),
                                               (1, 0.0, 1)])
def test_free_cores_are_the_usable_cores_less_the_load(cores, load, free):
    assert settings.free_cores(cores, load) == free


def test_threads_auto_takes_the_free_cores_and_a_bad_value_is_one_line(tmp_path, tiny_sst_dir, monkeypatch, capsys):
    threads = torch.get_num_threads()
    monkeypatch.setattr(settings, "free_cores", lambda: 1)
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    try:
        at = SMALL.index("--threads")
        assert main(["train", *SMALL[:at], *SMALL[at + 2:], "--threads", "auto", "--data-dir", str(tiny_sst_dir),
                     "--out", str(tmp_path / "auto")]) == 0
        assert torch.get_num_threads() == 1 and "threads: 1" in capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)
    with pytest.raises(SystemExit):
        main(["train", "--threads", "many", "--out", str(tmp_path / "bad")])
    assert "expected a whole number or 'auto', not 'many'" in capsys.readouterr().err


def test_training_processes_wait_passively_unless_the_operator_chose_a_policy():
    assert training_env({})["OMP_WAIT_POLICY"] == "PASSIVE"
    assert training_env({"OMP_WAIT_POLICY": "ACTIVE"})["OMP_WAIT_POLICY"] == "ACTIVE"
    assert training_env({})["PYTHONUNBUFFERED"] == "1"


def test_the_train_command_notes_its_moments_and_bench_startup_tables_them(tmp_path, tiny_sst_dir):
    marks_file = tmp_path / "marks.json"
    env = {**os.environ, "SENTIMENT_STARTUP_MARKS": str(marks_file), "SENTIMENT_CACHE_DIR": str(tmp_path / "c")}
    done = subprocess.run([sys.executable, "-m", "sentiment_core", "train", *SMALL, "--data-dir", str(tiny_sst_dir),
                           "--out", str(tmp_path / "run"), "--json"], capture_output=True, text=True, timeout=180,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "finished"  # the whole output arrives through the quick exit
    marks = json.loads(marks_file.read_text())["marks"]
    names = [name for name, _, _ in marks]
    assert names == ["imports", "data", "train_begin", "first_batch", "epoch_end_1", "train_end", "evaluated"]
    assert [when for _, when, _ in marks] == sorted(when for _, when, _ in marks)
    started = marks[0][1] - 1.0
    phases = phases_of(marks, started, wall=marks[-1][1] - started + 0.5, cpu=marks[-1][2] + 0.25)
    assert list(phases) == [phase for phase, _ in PHASES] + ["exit"]
    assert phases["imports"]["wall"] == pytest.approx(1.0) and phases["exit"]["cpu"] == pytest.approx(0.25)
    assert sum(p["wall"] for p in phases.values()) == pytest.approx(marks[-1][1] - started + 0.5)
    run = {"wall": 4.0, "cpu": 3.0, "phases": phases}
    result = summarize([run, {**run, "wall": 6.0}], [{"wall": 8.0, "cpu": 6.0}, {"wall": 8.0, "cpu": 3.0}], None)
    assert result["ratio"] == {"wall": pytest.approx(0.625), "cpu": pytest.approx(0.75)}
    table = format_startup(result)
    assert all(phase in table for phase, _ in PHASES) and "0.62x wall" in table


def test_a_command_that_fails_still_says_why_and_exits_with_its_code(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sentiment_core", "train", "--lr", "inf", "--out",
                           str(tmp_path / "x")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: learning rate must be a finite number")


def test_the_quick_exit_prints_a_message_code_as_sys_exit_does():
    result = subprocess.run([sys.executable, "-c", "from sentiment_core.cli.quick_exit import quick_exit; "
                             "print('done'); quick_exit('no treebank here')"],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 1
    assert result.stdout == "done\n" and result.stderr.strip() == "no treebank here"
