"""The training loop and evaluation metrics, on small slices of the real treebank."""
from __future__ import annotations

import math

import pytest
import torch

from sentiment_core.data.batching import EncodedDataset
from sentiment_core.config import ModelConfig, TrainConfig
from sentiment_core.models import build_model
from sentiment_core.data.text import label_scheme
from sentiment_core.training.evaluation import classification_metrics, evaluate, predict_batches
from sentiment_core.training.probe import probe_batch
from sentiment_core.training.trainer import Callback, EventLog, fit

from tests.helpers import synthetic_treebank_fixtures

# Unit tests: the synthetic treebank (tests/synthetic_treebank.py) stands in for the real one here.
corpus, vocab = synthetic_treebank_fixtures()


@pytest.fixture(scope="module")
def data(corpus, vocab):
    scheme = label_scheme(3)
    train = EncodedDataset(corpus.examples(scheme, "train")[:240], vocab)
    dev = EncodedDataset(corpus.examples(scheme, "dev")[:80], vocab)
    return train, dev


def tiny_model(vocab, cell="gru", seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(vocab_size=len(vocab), num_classes=3, cell=cell, embedding_dim=16,
                                   hidden_dim=16, dropout=dropout))


def run_fit(vocab, data, **settings):
    train, dev = data
    model = tiny_model(vocab, settings.pop("cell", "gru"), settings.pop("model_seed", 0),
                       settings.pop("dropout", 0.0))
    log = EventLog()
    hooks = {name: settings.pop(name) for name in ("save_state", "save_best") if name in settings}
    callbacks = settings.pop("callbacks", [])
    config = TrainConfig(**{"epochs": 2, "batch_size": 24, "probe_every": 0, "patience": None, **settings})
    result = fit(model, train, dev, config, num_classes=3, callbacks=[log, *callbacks], **hooks)
    return model, result, log


def test_classification_metrics_on_a_hand_made_example():
    labels = [0, 0, 0, 1, 1, 2]
    predictions = [0, 0, 1, 1, 2, 0]
    m = classification_metrics(labels, predictions, 3, ["pos", "neg", "neu"])
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [1, 0, 0]]
    assert m["accuracy"] == pytest.approx(3 / 6)
    pos, neg, neu = m["per_class"]
    assert (pos["precision"], pos["recall"], pos["support"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3), 3)
    assert pos["f1"] == pytest.approx(2 / 3)
    assert (neg["precision"], neg["recall"]) == (pytest.approx(1 / 2), pytest.approx(1 / 2))
    assert (neu["precision"], neu["recall"], neu["f1"]) == (0.0, 0.0, 0.0)  # never right: no division by zero
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_evaluate_matches_metrics_of_the_models_own_predictions(vocab, data):
    _, dev = data
    model = tiny_model(vocab)
    result = evaluate(model, dev, 3)
    with torch.no_grad():
        ids, labels = zip(*(dev[i] for i in range(len(dev))))
        predictions = [int(model(x.unsqueeze(0), torch.tensor([len(x)])).argmax()) for x in ids]
    expected = classification_metrics(list(labels), predictions, 3)
    assert result["confusion"] == expected["confusion"]
    assert result["count"] == len(dev) and math.isfinite(result["loss"])


def test_predict_batches_gives_probabilities_for_every_example_once(vocab, data):
    _, dev = data
    labels, probabilities, order = predict_batches(tiny_model(vocab), dev)
    assert sorted(order) == list(range(len(dev)))
    assert labels == [dev[i][1] for i in order]
    assert all(len(p) == 3 and sum(p) == pytest.approx(1) for p in probabilities)


def test_a_short_training_lowers_the_loss_and_reports_events(vocab, data):
    train, _ = data
    before = evaluate(tiny_model(vocab), train, 3)["loss"]
    model, result, log = run_fit(vocab, data, epochs=3, lr=1e-2, probe_every=1)
    after = evaluate(model, train, 3)["loss"]
    assert result.state == "finished" and result.epochs_done == 3
    assert after < before - 0.05
    batches = log.of_kind("batch_end")
    assert len(batches) == 3 * 10  # 240 examples in batches of 24
    first = batches[0]
    for key in ("epoch", "batch", "batches", "loss", "accuracy", "grad_norm", "sentences_per_second", "elapsed",
                "eta", "running_loss", "running_accuracy"):
        assert key in first
    assert (first["epoch"], first["batch"], first["batches"]) == (1, 1, 10)
    epochs = log.of_kind("epoch_end")
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert epochs[-1]["best_dev_accuracy"] == max(e["dev_accuracy"] for e in epochs)
    probes = log.of_kind("probe")
    assert [p["epoch"] for p in probes] == [0, 1, 2, 3]
    assert len(probes[-1]["norms"]) == probes[-1]["length"] and all(n >= 0 for n in probes[-1]["norms"])
    assert [e["event"] for e in log.events][0] == "train_begin" and log.events[-1]["event"] == "train_end"


def test_the_same_seed_gives_the_same_curve(vocab, data):
    curves = []
    for seed in (3, 3, 4):
        _, _, log = run_fit(vocab, data, seed=seed, model_seed=seed, dropout=0.3, epochs=2)
        curves.append([e["loss"] for e in log.of_kind("batch_end")])
    assert curves[0] == curves[1]
    assert curves[0] != curves[2]


def test_a_stop_request_from_a_callback_ends_between_batches_with_saved_state(vocab, data):
    class StopAtThirdBatch(Callback):
        def on_batch_end(self, event, control):
            if event["batch"] == 3:
                control.should_stop = True

    saved, best = [], []
    _, result, log = run_fit(vocab, data, callbacks=[StopAtThirdBatch()], save_state=saved.append,
                             save_best=lambda model, info: best.append(info))
    assert result.state == "stopped" and "epoch 1, batch 3" in result.message
    assert len(log.of_kind("batch_end")) == 3
    assert saved[-1]["epoch"] == 1 and saved[-1]["batch"] == 3 and "optimizer" in saved[-1]
    assert best and best[-1]["provisional"]  # a usable checkpoint even before the first epoch ended


def test_a_stop_between_epochs_names_the_end_of_the_last_one(vocab, data):
    class StopAtFirstEpochEnd(Callback):
        def on_epoch_end(self, event, control):
            control.should_stop = True

    _, result, log = run_fit(vocab, data, callbacks=[StopAtFirstEpochEnd()], epochs=3)
    last = log.of_kind("batch_end")[-1]
    assert result.state == "stopped" and last["epoch"] == 1
    assert f"epoch 1, batch {last['batch']} of {last['batch']}" in result.message  # not "epoch 2, batch 0"


def test_a_huge_learning_rate_fails_with_a_clear_message(vocab, data):
    # Gated cells saturate instead of overflowing; a step this large overflows float32 at once.
    _, result, log = run_fit(vocab, data, optimizer="sgd", lr=1e38, clip=None, epochs=2)
    assert result.state == "failed"
    assert "learning rate" in result.message and "clipping" in result.message and "epoch 1" in result.message
    assert log.events[-1]["event"] == "train_end" and log.events[-1]["state"] == "failed"
    assert not log.of_kind("epoch_end")


def test_early_stopping_after_patience_epochs_without_improvement(vocab, data):
    # An SGD step of 1e-12 changes nothing, so dev accuracy never improves after epoch 1.
    _, result, log = run_fit(vocab, data, optimizer="sgd", lr=1e-12, epochs=6, patience=2)
    assert result.state == "finished" and "Early stopping" in result.message
    assert [e["epoch"] for e in log.of_kind("epoch_end")] == [1, 2, 3]
    assert result.best_epoch == 1


def test_the_best_weights_are_restored_at_the_end(vocab, data):
    model, result, _ = run_fit(vocab, data, epochs=3, lr=1e-2)
    assert evaluate(model, data[1], 3)["accuracy"] == pytest.approx(result.best_dev_accuracy)


def test_truncated_bptt_is_passed_to_the_model(vocab, data):
    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tiny_model(vocab)

        def forward(self, tokens, lengths, bptt=None):
            seen.append(bptt)
            return self.inner(tokens, lengths, bptt=bptt)

    train, dev = data
    fit(Recorder(), train, dev, TrainConfig(epochs=1, batch_size=60, bptt=5, probe_every=0), num_classes=3)
    assert 5 in seen  # training batches
    assert None in seen  # evaluation reads whole sentences


def test_the_probe_batch_holds_sentences_of_one_length(data):
    batch = probe_batch(data[1])
    assert len(batch) >= 2 and bool((batch.lengths == batch.tokens.shape[1]).all())


def test_a_loss_grown_a_hundredfold_fails_as_diverged_and_keeps_the_best_weights(vocab, data):
    class BlowsUp(torch.nn.Module):
        """A fine model until `armed`: then it bets everything on one class, a finite but huge loss."""

        def __init__(self):
            super().__init__()
            self.inner, self.armed = tiny_model(vocab), False

        def forward(self, tokens, lengths, bptt=None):
            logits = self.inner(tokens, lengths, bptt=bptt)
            if self.armed and self.training:
                logits = logits + torch.tensor([1e4, 0.0, 0.0])
            return logits

    class ArmAfterFirstEpoch(Callback):
        def on_epoch_end(self, event, control):
            model.armed = True

    model = BlowsUp()
    train, dev = data
    log, saved = EventLog(), []
    result = fit(model, train, dev, TrainConfig(epochs=3, batch_size=24, probe_every=0, patience=None), num_classes=3,
                 callbacks=[log, ArmAfterFirstEpoch()], save_best=lambda m, info: saved.append(info))
    assert result.state == "failed" and "over 100 times its first value" in result.message
    assert "epoch 2, batch 1" in result.message and "the best checkpoint (epoch 1) was kept" in result.message
    assert [info["epoch"] for info in saved] == [1] and result.best_epoch == 1 and result.epochs_done == 1
    assert log.events[-1]["state"] == "failed" and math.isfinite(log.of_kind("batch_end")[-1]["loss"])
    model.armed = False
    assert evaluate(model, dev, 3)["accuracy"] == pytest.approx(result.best_dev_accuracy)  # best weights restored


# ---------------------------------------------------------------------------------------------
# Sentence probes: fixed sentences scored at every epoch end (sentence_probes.py)


def test_sentence_probes_are_scored_at_every_epoch_end_without_changing_training(vocab, data):
    from sentiment_core.training.sentence_probes import ProbeScorer

    scorer = ProbeScorer(["The film is not good.", "Not bad at all, but thin."], vocab)
    modes = []

    def scored(model):
        modes.append(model.training)
        return scorer(model)

    plain_model, plain, plain_log = run_fit(vocab, data, dropout=0.3)
    train, dev = data
    model = tiny_model(vocab, dropout=0.3)
    log = EventLog()
    config = TrainConfig(epochs=2, batch_size=24, probe_every=0, patience=None)
    fit(model, train, dev, config, num_classes=3, callbacks=[log], epoch_fields=scored)
    begin, = log.of_kind("train_begin")
    rows = log.of_kind("epoch_end")
    for event in (begin, *rows):
        probes = event["sentence_probes"]
        assert [p["text"] for p in probes] == ["The film is not good.", "Not bad at all, but thin."]
        for p in probes:
            assert len(p["probabilities"]) == 3 and sum(p["probabilities"]) == pytest.approx(1, abs=1e-4)
            assert p["predicted"] == max(range(3), key=p["probabilities"].__getitem__)
    assert rows[0]["sentence_probes"] != begin["sentence_probes"]  # the model learnt between them
    assert modes == [True, True, True]  # before training, then at each epoch end, in train mode ...
    assert model.training is True       # ... and scoring gave the model back in train mode
    fresh = tiny_model(vocab, dropout=0.5).train()
    assert scorer(fresh) == scorer(fresh) and fresh.training  # eval mode inside: no dropout noise
    # Eval mode and no random numbers: the same seeded run, dropout included, with or without probes.
    assert [e["loss"] for e in log.of_kind("batch_end")] == [e["loss"] for e in plain_log.of_kind("batch_end")]
    assert "sentence_probes" not in plain_log.of_kind("epoch_end")[0]


def test_probe_sentence_files_are_read_and_bounded(tmp_path):
    from sentiment_core import settings
    from sentiment_core.training.sentence_probes import ProbeSentencesError, read_probe_sentences

    shipped = read_probe_sentences(settings.DEFAULT_PROBE_SENTENCES)
    assert 10 <= len(shipped) <= settings.MAX_PROBE_SENTENCES
    assert any("not bad" in s for s in shipped) and any(" but " in s for s in shipped)
    assert settings.probe_sentences_path({settings.PROBE_SENTENCES_ENV: "/x/mine.txt"}).name == "mine.txt"
    assert settings.probe_sentences_path({}) == settings.DEFAULT_PROBE_SENTENCES

    mine = tmp_path / "mine.txt"
    mine.write_text("# a note\n\n  Not good.  \nNot bad.\n", encoding="utf-8")
    assert read_probe_sentences(mine) == ["Not good.", "Not bad."]
    cases = {"many.txt": ("a\n" * 4, dict(max_sentences=3), "more than the cap of 3"),
             "long.txt": ("fine\n" + "x" * 20 + "\n", dict(max_chars=10), "line 2"),
             "empty.txt": ("# only a note\n", {}, "holds no sentence"),
             "big.txt": ("a\n" * 100, dict(max_bytes=50), "more than the limit of 50 bytes"),
             "latin.txt": (None, {}, "UTF-8")}
    for name, (text, caps, said) in cases.items():
        path = tmp_path / name
        if text is None:
            path.write_bytes("caf\xe9\n".encode("latin-1"))
        else:
            path.write_text(text, encoding="utf-8")
        with pytest.raises(ProbeSentencesError, match=said):
            read_probe_sentences(path, **caps)
    with pytest.raises(ProbeSentencesError, match="does not exist") as missing:
        read_probe_sentences(tmp_path / "nowhere.txt")
    assert str(tmp_path) not in str(missing.value)  # no server path in the message
