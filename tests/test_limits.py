"""Operator limits: read from the environment, checked against run settings, the time estimate."""
from __future__ import annotations

import pytest

from sentiment_core.settings import concurrent_runs_for_machine
from sentiment_core.config import PRESETS, RunConfig, preset
from sentiment_core.runs.limits import (ENV_VARS, LimitExceeded, Limits, LimitsError, check_limits, data_shape,
                                   describe_limits, estimate_run, limit_problems, limits_from_env)


_SHAPES: dict = {}


def shape_of(corpus, config):
    """data_shape, computed once per data setting in this module (phrase lists take a while)."""
    key = tuple(sorted(vars(config.data).items()))
    if key not in _SHAPES:
        _SHAPES[key] = data_shape(corpus, config)
    return _SHAPES[key]


def test_unset_variables_give_the_defaults_and_each_variable_sets_its_limit():
    assert limits_from_env({}) == Limits()
    assert limits_from_env({"SENTIMENT_MAX_EPOCHS": "  "}) == Limits()  # blank counts as unset
    env = {"SENTIMENT_MAX_EPOCHS": "3", "SENTIMENT_MAX_HIDDEN": "64", "SENTIMENT_MAX_EMBEDDING": "50",
           "SENTIMENT_MAX_LAYERS": "1", "SENTIMENT_MAX_BATCH": "32", "SENTIMENT_MAX_RUN_MINUTES": "2.5",
           "SENTIMENT_MAX_CONCURRENT_RUNS": "2", "SENTIMENT_MAX_QUEUE": "0", "SENTIMENT_ALLOW_DELETE": "off"}
    assert limits_from_env(env) == Limits(max_epochs=3, max_hidden=64, max_embedding=50, max_layers=1, max_batch=32,
                                          max_run_minutes=2.5, max_concurrent_runs=2, max_queue=0, allow_delete=False)
    assert limits_from_env({"SENTIMENT_ALLOW_DELETE": "Yes"}).allow_delete is True
    assert {row[0] for row in describe_limits(Limits())} == {name for name, _ in ENV_VARS.values()}


def test_public_mode_tightens_the_unset_limits_and_an_operator_value_still_wins(monkeypatch):
    public = limits_from_env({"SENTIMENT_PUBLIC": "1"})
    assert public == Limits(max_epochs=5, max_hidden=256, max_embedding=128, max_layers=2, max_batch=128,
                            max_run_minutes=3, max_concurrent_runs=concurrent_runs_for_machine(), max_queue=60,
                            allow_delete=False, max_runs=200, max_runs_per_visitor=1)
    assert limits_from_env({"SENTIMENT_PUBLIC": "1", "SENTIMENT_MAX_EPOCHS": "8", "SENTIMENT_ALLOW_DELETE": "1",
                            "SENTIMENT_MAX_QUEUE": " "}) == Limits(**{**vars(public), "max_epochs": 8,
                                                                      "allow_delete": True})
    assert limits_from_env({"SENTIMENT_PUBLIC": "0"}) == Limits()  # off: today's defaults
    for name, _ in ENV_VARS.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    assert limits_from_env() == public  # the default reads os.environ through settings.effective_env
    monkeypatch.delenv("SENTIMENT_PUBLIC")
    assert limits_from_env() == Limits()


@pytest.mark.parametrize("name, value, expected", [
    ("SENTIMENT_MAX_EPOCHS", "ten", "not a whole number"),
    ("SENTIMENT_MAX_EPOCHS", "2.5", "not a whole number"),
    ("SENTIMENT_MAX_CONCURRENT_RUNS", "0", "at least 1"),
    ("SENTIMENT_MAX_QUEUE", "-1", "at least 0"),
    ("SENTIMENT_MAX_RUN_MINUTES", "inf", "at least"),
    ("SENTIMENT_ALLOW_DELETE", "maybe", "neither on nor off"),
])
def test_a_bad_value_names_the_variable_and_what_to_do(name, value, expected):
    with pytest.raises(LimitsError, match=expected) as caught:
        limits_from_env({name: value})
    assert name in str(caught.value) and "unset it for the default" in str(caught.value)


def test_settings_above_the_limits_are_each_named_with_their_variable():
    config = RunConfig()
    config.model.hidden_dim, config.model.layers, config.train.epochs, config.train.batch_size = 1024, 4, 50, 1000
    config.model.embedding_dim = 301
    problems = limit_problems(config, Limits())
    assert len(problems) == 5
    for variable in ("SENTIMENT_MAX_HIDDEN", "SENTIMENT_MAX_LAYERS", "SENTIMENT_MAX_EPOCHS", "SENTIMENT_MAX_BATCH",
                     "SENTIMENT_MAX_EMBEDDING"):
        assert any(variable in p for p in problems), variable
    assert "Hidden size is 1024, above this server's limit of 512" in " ".join(problems)
    with pytest.raises(LimitExceeded) as caught:
        check_limits(config, Limits())
    assert caught.value.problems == problems
    assert limit_problems(config, Limits(max_epochs=50, max_hidden=1024, max_embedding=301, max_layers=4,
                                         max_batch=1000)) == []


def test_every_preset_fits_the_default_limits_on_the_real_treebank(corpus):
    for name in PRESETS:
        config = preset(name)
        shape = shape_of(corpus, config)
        assert limit_problems(config, Limits(), shape) == [], name
        assert estimate_run(config, shape).minutes < Limits().max_run_minutes


def test_the_estimate_grows_with_the_work_and_refuses_a_run_too_long(corpus):
    base = preset("best-3")
    shape = shape_of(corpus, base)
    assert shape.train_size > 150_000 and 5 < shape.train_length < 15  # phrases: many, short
    assert shape.dev_size == 1101 and shape.eval_size == 1101 + 2210 and shape.vocab_size > 10_000
    estimate = estimate_run(base, shape)
    assert estimate.examples_per_epoch == shape.train_size
    assert estimate.batches_per_epoch == -(-shape.train_size // base.train.batch_size)

    def minutes(**changes) -> float:
        config = preset("best-3")
        for key, value in changes.items():
            section = "model" if key in ("hidden_dim", "layers") else "train"
            setattr(getattr(config, section), key, value)
        return estimate_run(config, shape).minutes

    assert minutes(epochs=8) > 1.9 * minutes(epochs=4)
    assert minutes(hidden_dim=512) > minutes() and minutes(layers=3) > minutes()
    assert minutes(max_batches=100) < minutes() / 10
    big = preset("best-3")
    big.model.hidden_dim, big.model.layers, big.train.epochs = 512, 3, 20
    problems = limit_problems(big, Limits(), shape_of(corpus, big))
    assert len(problems) == 1 and "SENTIMENT_MAX_RUN_MINUTES" in problems[0] and "minutes" in problems[0]
    assert limit_problems(big, Limits(max_run_minutes=1e6), shape_of(corpus, big)) == []
