"""Runs on disk: names, status, metrics, checkpoints, listing, stop / resume, on the real treebank."""
from __future__ import annotations

import json
import os
import shutil
import threading

import pytest
import torch

from sentiment_core.config import RunConfig
from sentiment_core.training.losses import sentence_class_weights
from sentiment_core.runs.metrics import MetricsWriter, read_metrics
from sentiment_core.runs.processes import process_start_time
from sentiment_core.runs.execution import evaluate_best, load_model, train_run
from sentiment_core.runs.checkpoints import load_checkpoint, save_torch
from sentiment_core.runs.listing import list_runs, load_run
from sentiment_core.runs.store import (CHECKPOINT, LAST, METRICS, STATUS, RunError, RunNotFound, claim_run,
                                           create_run, delete_run, read_status, request_stop, sanitize_run_name,
                                           write_status)
from sentiment_core.training.trainer import Callback, TrainControl
from tests.helpers import StopAt, dead_pid, synthetic_treebank_fixtures, tiny_config


# Unit tests: the synthetic treebank (tests/synthetic_treebank.py) stands in for the real one here.
corpus, vocab = synthetic_treebank_fixtures()




@pytest.mark.parametrize("given, expected", [
    ("my run", "my-run"), ("../../etc/passwd", "etc-passwd"), (".hidden", "hidden"),
    ("a/b\\c", "a-b-c"), ("lstm..v2", "lstm.v2"), ("ok_name-1.5", "ok_name-1.5")])
def test_run_names_are_sanitised(given, expected):
    assert sanitize_run_name(given) == expected


@pytest.mark.parametrize("given", ["", "   ", "..", "/", "../.."])
def test_a_name_with_nothing_usable_is_refused_clearly(given):
    with pytest.raises(RunError, match="no usable characters"):
        sanitize_run_name(given)


def test_default_names_are_unique_and_user_names_do_not_clash(tmp_path):
    first, second = create_run(tiny_config(), root=tmp_path), create_run(tiny_config(), root=tmp_path)
    assert first != second and first.parent == second.parent == tmp_path
    assert first.name.endswith("gru-3cls") and read_status(first)["state"] == "queued"
    create_run(tiny_config(), root=tmp_path, name="mine")
    with pytest.raises(RunError, match="already exists"):
        create_run(tiny_config(), root=tmp_path, name="mine")


def test_metrics_reader_skips_and_reports_damaged_lines(tmp_path):
    (tmp_path / METRICS).write_text('{"event": "batch_end", "loss": 1.0}\nnot json\n[1, 2]\n'
                                    '{"event": "epoch_end"}\n{"event": "batch_e', encoding="utf-8")
    events, problems = read_metrics(tmp_path)
    assert [e["event"] for e in events] == ["batch_end", "epoch_end"]
    assert len(problems) == 3 and "line 2" in problems[0] and "incomplete" in problems[2]
    writer = MetricsWriter(tmp_path)  # a writer after a half-written line starts a fresh one
    writer.write({"event": "train_end"})
    writer.close()
    events, _ = read_metrics(tmp_path)
    assert events[-1] == {"event": "train_end"}


def test_a_running_run_whose_process_died_is_interrupted_and_broken_runs_are_listed(tmp_path):
    alive = create_run(tiny_config(), root=tmp_path, name="alive")
    write_status(alive, state="running", pid=os.getpid(), pid_started=process_start_time(os.getpid()))
    dead = create_run(tiny_config(), root=tmp_path, name="dead")
    write_status(dead, state="running", pid=dead_pid())
    # A live process that reuses a dead trainer's id is not the trainer: its start time differs.
    reused = create_run(tiny_config(), root=tmp_path, name="reused")
    write_status(reused, state="running", pid=os.getpid(), pid_started=process_start_time(os.getpid()) - 1)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / STATUS).write_text("{not json", encoding="utf-8")
    runs = {r.name: r for r in list_runs(tmp_path)}
    assert runs["alive"].state == "running"
    assert runs["dead"].state == "interrupted" and "ended without finishing" in runs["dead"].status["message"]
    assert "python" not in runs["dead"].status["message"]  # a page shows it: what happened, not what to type
    assert runs["reused"].state == "interrupted"
    assert runs["broken"].state == "broken" and runs["broken"].problems
    names = [r.name for r in list_runs(tmp_path)]
    assert names.index("dead") < names.index("alive")  # newest first


def test_checkpoints_load_with_weights_only_and_refuse_pickled_objects(tmp_path):
    save_torch(tmp_path / "ok.pt", {"model_state": {"w": torch.ones(2)}, "model_config": {}, "labels": 3})
    assert torch.equal(load_checkpoint(tmp_path / "ok.pt")["model_state"]["w"], torch.ones(2))
    torch.save({"model_state": {}, "model_config": {}, "labels": 3, "evil": RunConfig()}, tmp_path / "bad.pt")
    with pytest.raises(RunError, match="cannot be read"):
        load_checkpoint(tmp_path / "bad.pt")


def test_a_run_trains_to_the_end_and_its_model_loads(tmp_path, corpus):
    run_dir, status = train_run(tiny_config(), root=tmp_path, name="full", corpus=corpus, catch_signals=False)
    assert status["state"] == "finished" and status["epoch"] == 2
    assert set(status["results"]) == {"dev", "test"} and status["results"]["dev"]["count"] == 60
    assert status["best_dev_accuracy"] == pytest.approx(status["results"]["dev"]["accuracy"])
    events, problems = read_metrics(run_dir)
    kinds = [e["event"] for e in events]
    assert not problems and kinds[0] == "train_begin" and kinds.count("epoch_end") == 2
    assert kinds.count("probe") == 3 and kinds[-2:] == ["evaluation", "evaluation"]
    model, vocab, config, scheme = load_model(run_dir)
    assert not model.training and len(vocab) == config.model.vocab_size and scheme.num_classes == 3
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["model"]["vocab_size"] == len(vocab) and saved["train"]["epochs"] == 2


def test_a_stop_file_stops_and_resume_gives_the_uninterrupted_result(tmp_path, corpus):
    config = tiny_config(epochs=2)
    whole_dir, _ = train_run(config, root=tmp_path, name="whole", corpus=corpus, catch_signals=False)
    run_dir = tmp_path / "halves"
    _, status = train_run(tiny_config(epochs=2), run_dir, corpus=corpus, catch_signals=False,
                          callbacks=[StopAt(lambda: run_dir, 1, 3)])
    assert status["state"] == "stopped" and "epoch 1, batch 3" in status["message"]
    assert (run_dir / CHECKPOINT).is_file() and (run_dir / LAST).is_file()
    load_model(run_dir)  # a stopped run always has a loadable checkpoint
    assert "results" not in status  # stopping skips the evaluation; evaluate_best fills it in
    evaluated = evaluate_best(run_dir, corpus)
    assert evaluated["state"] == "stopped" and set(evaluated["results"]) == {"dev", "test"}
    assert evaluated["results"]["test"]["count"] == config.data.eval_limit
    assert read_status(run_dir)["results"] == evaluated["results"]
    events, _ = read_metrics(run_dir)
    assert [e["split"] for e in events if e["event"] == "evaluation"] == ["dev", "test"]
    with pytest.raises(RunError, match="only a stopped run"):
        evaluate_best(whole_dir, corpus)
    _, status = train_run(None, run_dir, resume=True, corpus=corpus, catch_signals=False)
    assert status["state"] == "finished" and status["epoch"] == 2
    events, _ = read_metrics(run_dir)
    assert [e["resumed"] for e in events if e["event"] == "train_begin"] == [False, True]
    assert [e["epoch"] for e in events if e["event"] == "epoch_end"] == [1, 2]
    # Same seed, no dropout: the stopped-and-resumed run ends with the same weights.
    whole = load_checkpoint(whole_dir / CHECKPOINT)["model_state"]
    halves = load_checkpoint(run_dir / CHECKPOINT)["model_state"]
    assert all(torch.allclose(whole[k], halves[k]) for k in whole)
    with pytest.raises(RunError, match="already completed"):
        train_run(None, run_dir, resume=True, corpus=corpus, catch_signals=False)


def test_a_stop_via_the_control_leaves_a_loadable_checkpoint(tmp_path, corpus):
    control = TrainControl(should_stop=True)  # asked before the first batch
    run_dir, status = train_run(tiny_config(), root=tmp_path, corpus=corpus, control=control, catch_signals=False)
    assert status["state"] == "stopped" and read_status(run_dir)["state"] == "stopped"
    load_model(run_dir)


def test_divergence_fails_the_run_and_keeps_the_last_good_checkpoint(tmp_path, corpus):
    config = tiny_config(optimizer="sgd", lr=1e38, clip=None)
    run_dir, status = train_run(config, root=tmp_path, corpus=corpus, catch_signals=False)
    assert status["state"] == "failed" and "learning rate" in status["message"]
    assert read_status(run_dir)["state"] == "failed" and "results" not in status
    model, _, _, _ = load_model(run_dir)
    assert all(torch.isfinite(p).all() for p in model.state_dict().values())


def test_delete_run_removes_a_run_and_refuses_other_folders(tmp_path):
    run_dir = create_run(tiny_config(), root=tmp_path, name="gone")
    delete_run(run_dir)
    assert not run_dir.exists() and list_runs(tmp_path) == []
    other = tmp_path / "photos"
    other.mkdir()
    with pytest.raises(RunError, match="does not look like a run"):
        delete_run(other)
    assert other.exists()
    busy = create_run(tiny_config(), root=tmp_path, name="busy")
    write_status(busy, state="running", pid=os.getpid())
    with pytest.raises(RunError, match="stop it first"):
        delete_run(busy)


def test_load_run_reports_a_missing_run(tmp_path):
    with pytest.raises(RunError, match="no run"):
        load_run(tmp_path / "nothing")


def test_reweighting_makes_phrases_count_like_sentences(real_corpus):
    phrases = [e.label for e in real_corpus.examples(3, "train", phrases=True)]
    sentences = [e.label for e in real_corpus.examples(3, "train")]
    weights = sentence_class_weights(phrases, sentences, 3)
    assert weights[2] < 0.5 and weights[0] > 1 and weights[1] > 1  # half the phrases are neutral
    weighted = [phrases.count(c) * weights[c] for c in range(3)]
    assert [w / sum(weighted) for w in weighted] == pytest.approx([sentences.count(c) / len(sentences)
                                                                   for c in range(3)])


def test_of_two_concurrent_claims_on_a_run_exactly_one_wins(tmp_path):
    run_dir = create_run(tiny_config(), root=tmp_path, name="contested")
    both_tried, outcomes = threading.Barrier(2), []

    def claim():
        try:
            with claim_run(run_dir):
                outcomes.append("won")
                both_tried.wait(timeout=10)  # hold the claim until the other has tried
        except RunError as err:
            outcomes.append(str(err))
            both_tried.wait(timeout=10)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[-1] == "won" and "another process is already training" in sorted(outcomes)[0]
    with claim_run(run_dir):  # released when its holder ended
        pass
    with pytest.raises(RunNotFound):
        with claim_run(tmp_path / "missing"):
            pass
    assert not (tmp_path / "missing").exists()


def test_a_trainer_refuses_a_run_another_trainer_holds(tmp_path, corpus):
    run_dir = create_run(tiny_config(), root=tmp_path, name="held")  # queued, as a launcher prepares it
    with claim_run(run_dir):
        with pytest.raises(RunError, match="another process is already training held"):
            train_run(tiny_config(), run_dir, corpus=corpus, catch_signals=False)
    assert read_status(run_dir)["state"] == "queued"  # the loser wrote nothing


def test_a_run_deleted_while_it_trains_is_not_recreated(tmp_path, corpus):
    class DeleteAt(Callback):
        def on_batch_end(self, event, control):
            if event["batch"] == 2:
                shutil.rmtree(run_dir)  # e.g. rm -rf from a terminal

    run_dir = tmp_path / "doomed"
    with pytest.raises(RunNotFound, match="no longer exists"):
        train_run(tiny_config(), run_dir, corpus=corpus, catch_signals=False, callbacks=[DeleteAt()])
    assert not run_dir.exists()
    for write in (lambda: write_status(run_dir, state="failed"), lambda: request_stop(run_dir),
                  lambda: MetricsWriter(run_dir), lambda: save_torch(run_dir / LAST, {})):
        with pytest.raises(RunNotFound):
            write()
        assert not run_dir.exists()


def test_a_run_keeps_its_sentence_probes_per_epoch_and_a_bad_probe_file_fails_first(tmp_path, corpus, monkeypatch):
    from sentiment_core.runs.metrics import MetricsFollower
    from sentiment_core.training.sentence_probes import ProbeSentencesError

    probes = tmp_path / "probes.txt"
    probes.write_text("not good\nnot bad at all\nthin, but wonderful\n", encoding="utf-8")
    monkeypatch.setenv("SENTIMENT_PROBE_SENTENCES", str(probes))
    run_dir, _ = train_run(tiny_config(epochs=2), root=tmp_path, name="probed", corpus=corpus, catch_signals=False)
    metrics = MetricsFollower(run_dir).update()
    history = metrics.sentence_probe_history()
    assert sorted(history) == [0, 1, 2]  # before training, then each epoch end
    assert [p["text"] for p in history[2]] == ["not good", "not bad at all", "thin, but wonderful"]
    assert all(len(p["probabilities"]) == 3 for p in history[1])
    assert metrics.epoch_rows()[0]["dev_accuracy"] is not None  # the epoch rows readers use are intact

    probes.write_text("", encoding="utf-8")
    with pytest.raises(ProbeSentencesError, match="holds no sentence"):
        train_run(tiny_config(), root=tmp_path, name="never", corpus=corpus, catch_signals=False)
    assert not (tmp_path / "never").exists()  # refused before a run directory was made
