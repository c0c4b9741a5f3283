"""Dev-calibrated class bias (runs/calibration.py): the search, the model's buffer, a run that uses it."""
from __future__ import annotations

import pytest
import torch

from sentiment_core.data.text import label_scheme
from sentiment_core.models import build_model
from sentiment_core.runs.calibration import calibrate, fit_class_bias, raw_logits
from sentiment_core.config import ModelConfig, preset, validate
from sentiment_core.training.evaluation import classification_metrics, evaluate
from sentiment_core.runs.execution import evaluation_data, load_model, train_run
from sentiment_core.runs.checkpoints import load_checkpoint
from sentiment_core.runs.store import CHECKPOINT
from tests.helpers import synthetic_treebank_fixtures, tiny_config

corpus, vocab = synthetic_treebank_fixtures()


def _metrics(logits, labels, bias):
    predictions = (logits + torch.tensor(bias)).argmax(1).tolist()
    return classification_metrics(labels.tolist(), predictions, logits.shape[1])


def _shy_middle_class():
    """Logits whose class 1 is right for a third of the examples but never wins by a small margin."""
    labels = torch.tensor([0, 1, 2] * 30)
    logits = torch.zeros(90, 3)
    logits[labels == 0, 0] = 2.0
    logits[labels == 2, 2] = 2.0
    logits[labels == 1, 0] = 1.0        # class 1 is one unit behind class 0 ...
    logits[labels == 1, 1] = 0.5        # ... and half a unit above its own floor
    return logits, labels


def test_the_bias_brings_back_a_class_the_model_never_predicts():
    logits, labels = _shy_middle_class()
    assert _metrics(logits, labels, [0.0, 0.0, 0.0])["per_class"][1]["recall"] == 0.0
    bias = fit_class_bias(logits, labels, "macro-f1")
    calibrated = _metrics(logits, labels, bias)
    assert calibrated["per_class"][1]["recall"] == 1.0 and calibrated["macro_f1"] == pytest.approx(1.0)
    assert sum(bias) == pytest.approx(0.0, abs=1e-3)  # only the differences matter


def test_a_model_already_at_its_best_keeps_zero_offsets():
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    logits = torch.nn.functional.one_hot(labels, 3).float() * 3
    assert fit_class_bias(logits, labels, "macro-f1") == [0.0, 0.0, 0.0]


def test_the_combined_objective_refuses_a_macro_f1_gain_that_costs_more_accuracy():
    # 90 of class 0, 10 of class 1 whose logits overlap class 0's: predicting class 1 at all
    # costs more accuracy than it brings in macro-F1.
    labels = torch.tensor([0] * 90 + [1] * 10)
    logits = torch.zeros(100, 2)
    logits[:, 1] = torch.tensor([0.1 * (i % 10) for i in range(90)] + [0.5] * 10) - 1.0
    by_f1 = _metrics(logits, labels, fit_class_bias(logits, labels, "macro-f1"))
    by_both = _metrics(logits, labels, fit_class_bias(logits, labels, "accuracy+macro-f1"))
    assert by_f1["macro_f1"] >= by_both["macro_f1"]
    assert by_both["accuracy"] + by_both["macro_f1"] >= by_f1["accuracy"] + by_f1["macro_f1"]
    assert by_both["accuracy"] >= by_f1["accuracy"]


def test_an_unknown_objective_is_refused():
    logits, labels = _shy_middle_class()
    with pytest.raises(ValueError, match="objective"):
        fit_class_bias(logits, labels, "recall")


def test_the_setting_is_checked_by_validate():
    config = tiny_config(calibrate="macro-f1")
    validate(config)
    config.train.calibrate = "test-set"
    with pytest.raises(ValueError, match="calibrate must be one of off"):
        validate(config)


def test_the_bias_is_in_the_forward_and_in_the_state_dict(vocab):
    model = build_model(ModelConfig(cell="gru", embedding_dim=8, hidden_dim=8, vocab_size=len(vocab)), vocab).eval()
    tokens, lengths = torch.tensor([[2, 5, 6, 3]]), torch.tensor([4])
    before = model(tokens, lengths)
    model.class_bias.copy_(torch.tensor([0.5, -1.0, 0.5]))
    assert torch.allclose(model(tokens, lengths) - before, torch.tensor([[0.5, -1.0, 0.5]]))
    assert torch.allclose(model.trace(tokens, lengths).logits, model(tokens, lengths))
    assert "class_bias" in model.state_dict()


def test_a_checkpoint_saved_before_the_bias_existed_loads_with_zeros(vocab):
    config = ModelConfig(cell="lstm", embedding_dim=8, hidden_dim=8, vocab_size=len(vocab))
    old_state = {k: v for k, v in build_model(config, vocab).state_dict().items() if k != "class_bias"}
    model = build_model(config, vocab)
    model.class_bias.fill_(3.0)
    model.load_state_dict(old_state)  # strict: no missing key
    assert model.class_bias.tolist() == [0.0, 0.0, 0.0]


def test_calibrate_sets_the_model_and_raw_logits_ignore_it(vocab, corpus):
    config = tiny_config()
    config.model.vocab_size = len(vocab)
    dev, _ = evaluation_data(config, corpus, vocab, label_scheme(3))
    model = build_model(config.model, vocab)
    raw, labels = raw_logits(model, dev)
    record = calibrate(model, dev, "macro-f1")
    assert model.class_bias.tolist() == pytest.approx(record["class_bias"])
    raw_again, _ = raw_logits(model, dev)
    assert torch.equal(raw, raw_again) and model.class_bias.tolist() == pytest.approx(record["class_bias"])
    assert record["dev_macro_f1_after"] >= record["dev_macro_f1_before"]
    assert len(labels) == len(dev)


def test_a_calibrated_run_keeps_its_offsets_in_the_checkpoint(tmp_path, corpus):
    config = tiny_config(calibrate="macro-f1", seed=1)
    run_dir, status = train_run(config, root=tmp_path, name="calibrated", corpus=corpus, catch_signals=False)
    calibration = status["calibration"]
    assert calibration["split"] == "dev" and len(calibration["class_bias"]) == 3
    checkpoint = load_checkpoint(run_dir / CHECKPOINT)
    assert checkpoint["calibration"]["class_bias"] == calibration["class_bias"]
    model, loaded_vocab, loaded_config, scheme = load_model(run_dir)
    assert model.class_bias.tolist() == pytest.approx(calibration["class_bias"])
    dev, _ = evaluation_data(loaded_config, corpus, loaded_vocab, scheme)
    # the figures a run reports are the calibrated model's, as evaluate sees it later
    assert evaluate(model, dev, 3)["accuracy"] == pytest.approx(status["results"]["dev"]["accuracy"])
    assert status["results"]["dev"]["macro_f1"] == pytest.approx(calibration["dev_macro_f1_after"])


def test_an_uncalibrated_run_has_zero_offsets(tmp_path, corpus):
    run_dir, status = train_run(tiny_config(), root=tmp_path, name="plain", corpus=corpus, catch_signals=False)
    assert "calibration" not in status
    assert load_model(run_dir)[0].class_bias.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["best-3", "best-5"])
def test_the_three_and_five_class_presets_calibrate_on_dev(name):
    assert preset(name).train.calibrate != "off"
    assert preset("quick").train.calibrate == "off" and preset("best-2").train.calibrate == "off"
