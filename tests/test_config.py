"""The settings schema: each setting defined once, and what the CLI, the page, the table and validation get from it."""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import fields

import pytest

from sentiment_core.cli import build_parser
from sentiment_core.cli.train import config_from_args, given_settings
from sentiment_core.runs import comparison
from sentiment_core.config import (PRESETS, SETTINGS, DataConfig, ModelConfig, RunConfig, TrainConfig,
                                            allowed_text, preset, validate, validate_model, with_changes)
from sentiment_core.runs.limits import ENV_VARS, Limits


def parse(argv):
    return build_parser().parse_args(["train", *argv])


def test_every_user_field_is_a_setting_with_one_option_and_sound_references():
    user_fields = {f.name for kind in (DataConfig, ModelConfig, TrainConfig) for f in fields(kind)}
    assert set(SETTINGS) == user_fields - {"vocab_size", "num_classes"}  # those two are filled in, not chosen
    options = {a.dest: a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions}
    for key, s in SETTINGS.items():
        assert options[key].option_strings[0] == s.flag == "--" + key.replace("_", "-")
        assert options[key].default is argparse.SUPPRESS  # only typed options override a preset
        assert isinstance(options[key], argparse.BooleanOptionalAction) == (s.kind is bool)
        if s.limit:
            assert s.limit in ENV_VARS and hasattr(Limits(), s.limit) and s.widget is not None
        if s.widget and s.widget.enabled_by:
            other, value = s.widget.enabled_by
            assert other in SETTINGS and value in SETTINGS[other].choices


def test_only_typed_options_override_and_none_switches_off():
    assert given_settings(parse([])) == {}
    assert given_settings(parse(["--clip", "none", "--max-batches", "off", "--bptt", "0", "--no-bucketing"])) == \
        {"clip": None, "max_batches": None, "bptt": None, "bucketing": False}
    assert config_from_args(parse(["--preset", "best-3"])).to_dict() == preset("best-3").to_dict()
    with pytest.raises(SystemExit):  # argparse refuses a choice outside the schema's
        parse(["--pooling", "attention"])


def test_comparison_columns_are_those_the_table_always_had():
    assert comparison.SETTINGS_COLUMNS == (
        ("cell", "model", "cell"), ("layers", "model", "layers"), ("bidirectional", "model", "bidirectional"),
        ("embedding", "model", "embedding_dim"), ("hidden", "model", "hidden_dim"), ("dropout", "model", "dropout"),
        ("pooling", "model", "pooling"), ("optimizer", "train", "optimizer"), ("lr", "train", "lr"),
        ("batch", "train", "batch_size"), ("epochs", "train", "epochs"), ("clip", "train", "clip"),
        ("bptt", "train", "bptt"), ("seed", "train", "seed"), ("labels", "data", "labels"),
        ("phrases", "data", "phrases"), ("train_limit", "data", "train_limit"))


@pytest.mark.parametrize("key, value, message", [
    ("lr", math.inf, "learning rate must be a finite number, not inf"),
    ("lr", math.nan, "learning rate must be a finite number"),
    ("lr", 0.0, "learning rate must be positive, not 0.0"),
    ("clip", math.inf, "clip must be a finite number"),
    ("clip", -1.0, "clip must be positive or none"),
    ("weight_decay", math.nan, "weight_decay must be a finite number"),
    ("weight_decay", -1.0, "weight_decay must be at least 0, not -1.0"),
    ("momentum", 1.0, "momentum must be in [0, 1)"),
    ("momentum", -0.1, "momentum must be in [0, 1)"),
    ("dropout", 1.0, "dropout must be in [0, 1)"),
    ("epochs", 0, "epochs must be a whole number of at least 1, not 0"),
    ("epochs", 2.5, "epochs must be a whole number"),
    ("batch_size", True, "batch_size must be a whole number"),
    ("bptt", 0, "bptt must be a whole number of at least 1 or none"),
    ("train_limit", -5, "train_limit must be a whole number of at least 1 or none"),
    ("seed", -1, "seed must be a whole number in [0, 4294967295], not -1"),
    ("labels", 4, "labels must be one of 2, 3, 5"),
    ("cell", "transformer", "cell must be one of scratch, rnn, lstm, gru"),
    ("pooling", "attention", "pooling must be one of last, max, mean"),
    ("hidden_dim", 0, "hidden_dim must be a whole number of at least 1, not 0"),
    ("optimizer", "adagrad", "optimizer must be one of adam, sgd"),
    ("phrases", "yes", "phrases must be true or false"),
    ("vectors", 3, "vectors must be a file path or none"),
])
def test_validate_refuses_each_bad_value_with_a_sentence(key, value, message):
    config = with_changes(RunConfig(), {key: value})
    with pytest.raises(ValueError) as caught:
        validate(config)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_validate_accepts_the_presets_defaults_and_optional_settings_off():
    for name in PRESETS:
        validate(preset(name))
    validate(with_changes(RunConfig(), {"clip": None, "bptt": None, "max_vocab": 500, "momentum": 0.0,
                                        "weight_decay": 1e-5, "lr": 3}))  # a whole number is a number
    validate_model(ModelConfig(vocab_size=10, num_classes=5))  # filled-in fields are not checked as settings
    assert allowed_text(SETTINGS["hidden_dim"]) == "a whole number of at least 1"


def test_the_tutorial_model_is_switched_off_by_another_cell_unless_asked_for():
    assert with_changes(preset("seed"), {"cell": "lstm"}).model.tutorial is False
    assert with_changes(preset("seed"), {"cell": "scratch", "layers": 1}).model.tutorial is True
    asked = with_changes(preset("seed"), {"cell": "gru", "tutorial": True})
    with pytest.raises(ValueError, match="switch tutorial off"):
        validate(asked)
    with pytest.raises(ValueError, match="no setting called 'hiden_dim'"):
        with_changes(RunConfig(), {"hiden_dim": 3})


def test_config_json_of_older_runs_still_loads():
    # A config.json as written before the schema (other key order, settings added since absent).
    old = {"data": {"labels": 5, "phrases": True, "min_freq": 1, "max_vocab": None, "train_limit": None,
                    "eval_limit": None},
           "model": {"vocab_size": 1234, "num_classes": 5, "cell": "lstm", "embedding_dim": 100, "hidden_dim": 150,
                     "layers": 1, "bidirectional": True, "dropout": 0.5, "pooling": "max", "vectors": None,
                     "freeze_vectors": False, "tutorial": False},
           "train": {"optimizer": "adam", "lr": 0.002, "weight_decay": 0.0, "momentum": 0.9, "clip": 5.0,
                     "epochs": 3, "batch_size": 64, "max_batches": None, "bptt": None, "patience": 2, "seed": 0,
                     "bucketing": True},
           "preset": "best-5"}
    config = RunConfig.from_dict(json.loads(json.dumps(old)))
    assert config.model.vocab_size == 1234 and config.train.probe_every == 1 and config.train.reweight is False
    assert RunConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown TrainConfig settings: speed"):
        RunConfig.from_dict({"train": {"speed": 1}})
