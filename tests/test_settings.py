"""Public mode: one switch, tight defaults that an operator's own values override."""
from __future__ import annotations

from sentiment_core.settings import PUBLIC_DEFAULTS, effective_env, is_public


def test_public_mode_is_off_unless_switched_on():
    assert not is_public({})
    assert not is_public({"SENTIMENT_PUBLIC": "0"}) and not is_public({"SENTIMENT_PUBLIC": " off "})
    assert is_public({"SENTIMENT_PUBLIC": "1"}) and is_public({"SENTIMENT_PUBLIC": "YES"})
    assert is_public({"SENTIMENT_PUBLIC": "maybe"})  # unreadable: the safe side


def test_public_defaults_apply_under_the_operators_values():
    assert effective_env({"SENTIMENT_MAX_EPOCHS": "9"}) == {"SENTIMENT_MAX_EPOCHS": "9"}  # local: untouched
    env = effective_env({"SENTIMENT_PUBLIC": "1", "SENTIMENT_MAX_EPOCHS": "9", "SENTIMENT_MAX_QUEUE": " "})
    assert env["SENTIMENT_MAX_EPOCHS"] == "9"  # the operator's own value wins
    assert env["SENTIMENT_MAX_QUEUE"] == PUBLIC_DEFAULTS["SENTIMENT_MAX_QUEUE"]  # blank means unset
    assert env["SENTIMENT_ALLOW_DELETE"] == "0"
