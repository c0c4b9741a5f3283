"""Hostile links and searches (issue 19, C1 and M1): no regular expression can hold the server, no
query parameter can raise, and an unexpected exception reaches a visitor as one sentence.

The page tests run on the synthetic treebank (tests/synthetic_treebank.py), in public mode.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.query_params import bounded_text, one_of, shown_value, whole_number
from sentiment_core.analysis.exploration import explore
from sentiment_core.settings import MAX_PATTERN_CHARS, MAX_QUERY_DIGITS

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
SUPERSCRIPT_TWO = "\u00b2"          # str.isdigit() is True, int() raises ValueError
ARABIC_THREE = "\u0663"             # int() reads it as 3
HUGE_NUMBER = "9" * 4301            # past Python's integer-string limit: int() raises ValueError


# ---------------------------------------------------------------------------------------------
# One parser for every number in a link


@pytest.mark.parametrize("raw", [None, "", SUPERSCRIPT_TWO, ARABIC_THREE, " 3", "3 ", "+3", "-3", "3_0", "3.0",
                                 "0x3", HUGE_NUMBER, "1" * (MAX_QUERY_DIGITS + 1)])
def test_a_link_number_is_ascii_digits_only(raw):
    assert whole_number(raw, 0, 10**12) is None


def test_a_link_number_in_range_is_read_and_one_out_of_range_is_not():
    assert whole_number("3", 1, 10) == 3 and whole_number("007", 1, 10) == 7
    assert whole_number("0", 1, 10) is None and whole_number("11", 1, 10) is None
    assert whole_number("9" * MAX_QUERY_DIGITS, 0, 10**MAX_QUERY_DIGITS) == 10**MAX_QUERY_DIGITS - 1


def test_link_texts_are_bounded_before_they_are_compared_or_quoted():
    assert bounded_text("abc", 3) == "abc" and bounded_text("abcd", 3) is None
    assert one_of("gru", ("gru", "lstm")) == "gru" and one_of("x" * 10**6, ("gru",)) is None
    assert shown_value("x" * 10**6) == "x" * 40 + "…" and shown_value(None) == "?"


# ---------------------------------------------------------------------------------------------
# Regular expressions: linear time, bounded, refused in a sentence


def catastrophic_for_backtracking() -> list[tuple[str, str]]:
    """(pattern, text) pairs on which Python's `re` runs for minutes or more (nested quantifiers)."""
    return [("(.+)+#", "a" * 10_000), ("(a|aa)*b", "a" * 10_000), ("(x+x+)+y", "x" * 10_000),
            ("^(([a-z])+.)+[A-Z]([a-z])+$", "a" * 10_000 + "!")]


@pytest.mark.parametrize("pattern, text", catastrophic_for_backtracking())
def test_a_catastrophic_pattern_returns_within_a_second(pattern, text):
    # Python's re on the first pair: still running after minutes (2^n paths); RE2: linear, microseconds.
    matches = explore.compile_search(pattern, "regex")
    row = explore.Row("train", 0, text, tuple(text.split()), 0)
    started = time.perf_counter()
    assert matches(row) is False
    assert time.perf_counter() - started < 1.0


def test_patterns_re2_cannot_run_in_linear_time_or_too_long_are_refused_in_a_sentence():
    for pattern, reason in [(r"(a)\1", "invalid escape"), ("(?=a)b", "invalid perl operator"),
                            ("a{1000}{1000}", "bad repetition"), (r"(\w{100}){100}", "repetition")]:
        with pytest.raises(explore.SearchError, match=f"does not compile .*{reason}.*switch the search to words"):
            explore.compile_search(pattern, "regex")
    with pytest.raises(explore.SearchError, match=f"{MAX_PATTERN_CHARS + 1:,} characters long; the limit is"):
        explore.compile_search("a" * (MAX_PATTERN_CHARS + 1), "regex")


def test_regular_expressions_keep_their_meaning_under_re2():
    def found(pattern, text):
        return explore.compile_search(pattern, "regex")(explore.Row("dev", 0, text, (), 0))

    assert found(r"^the .* film$", "The best FILM") and not found(r"^the .* film$", "a film")
    assert found(r"\bnot\b", "it is not good") and not found(r"\bnot\b", "nothing")
    assert found("café", "CAFÉ society")  # case is ignored beyond ASCII too


# ---------------------------------------------------------------------------------------------
# Pages: hostile links, in public mode


@pytest.fixture
def public_env(monkeypatch, tiny_sst_dir, tmp_path):
    monkeypatch.setenv("SST_DIR", str(tiny_sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    monkeypatch.delenv("SENTIMENT_DATA_DIR", raising=False)


def open_linked(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    return at


def page_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in (at.markdown, at.error, at.warning, at.caption, at.header)
                     for e in kind)


@pytest.mark.parametrize("section", [SUPERSCRIPT_TWO, ARABIC_THREE, HUGE_NUMBER, "-1", "0"])
def test_a_hostile_walkthrough_section_opens_section_one(public_env, section):
    at = open_linked("views/walkthrough.py", {"section": section})
    assert not at.exception, [e.value for e in at.exception]
    assert at.header[0].value.startswith("1. ")


@pytest.mark.parametrize("index", [SUPERSCRIPT_TWO, HUGE_NUMBER, "-1", "99999"])
def test_a_hostile_explorer_index_is_said_in_one_sentence(public_env, index):
    at = open_linked("views/explorer.py", {"split": "test", "index": index})
    assert not at.exception, [e.value for e in at.exception]
    warning = " ".join(w.value for w in at.warning)
    assert "The link names no treebank sentence" in warning and len(warning) < 400  # quoted, cut short


def test_a_hostile_explorer_split_and_run_are_quoted_short(public_env):
    at = open_linked("views/explorer.py", {"split": "x" * 100_000, "index": "1", "run": "y" * 100_000})
    assert not at.exception, [e.value for e in at.exception]
    assert max(len(w.value) for w in at.warning) < 400


def test_a_catastrophic_pattern_on_the_explorer_page_is_answered(public_env):
    at = open_linked("views/explorer.py", {})
    at.radio(key="explorer_search_mode").set_value("regex").run()
    at.text_input(key="explorer_search").input("(.+)+#").run()
    assert not at.exception and "No sentences match" in " ".join(i.value for i in at.info)
    at.text_input(key="explorer_search").input(r"(\w+)\1").run()
    assert not at.exception and "backreferences" in at.error[0].value


# ---------------------------------------------------------------------------------------------
# The page guard


def _failing_app():
    import streamlit as st

    from dashboard import guard

    class Page:
        title = "Broken"

        def run(self):
            st.write("before the failure")
            raise ZeroDivisionError("/srv/secret/path.py line 3")

    guard.hide_error_details(public=True)
    guard.run_page(Page())


def test_an_unexpected_exception_is_one_sentence_with_a_reference_and_no_traceback(caplog):
    at = AppTest.from_function(_failing_app, default_timeout=60).run()
    assert not at.exception
    [error] = at.error
    assert error.value.startswith("This page ran into an unexpected problem and stopped (reference ")
    assert "srv" not in error.value and "ZeroDivisionError" not in error.value
    assert "ZeroDivisionError" in caplog.text  # the operator's log keeps the traceback


def test_public_mode_hides_streamlits_own_error_details():
    from streamlit import config

    from dashboard import guard

    before = config.get_option("client.showErrorDetails")
    try:
        guard.hide_error_details(public=True)
        assert config.get_option("client.showErrorDetails") == "none"
    finally:
        config.set_option("client.showErrorDetails", before)
