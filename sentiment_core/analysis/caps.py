"""Caps on the text a visitor or a file hands the playground, and the one check every text goes through.

Each cap has a default (settings.py) and an environment variable an operator may set; public
mode (settings.PUBLIC_DEFAULTS) lowers the defaults. Read at call time, never at import.
"""
from __future__ import annotations

from typing import Mapping

from sentiment_core.analysis.errors import EmptyInput, InferenceError, InputTooLong
from sentiment_core.data.text import Tokenizer
from sentiment_core.settings import MAX_BATCH_ROWS, MAX_CSV_BYTES, MAX_INPUT_CHARS, MAX_INPUT_TOKENS, effective_env

MAX_INPUT_TOKENS_ENV, DEFAULT_MAX_INPUT_TOKENS = "SENTIMENT_MAX_INPUT_TOKENS", MAX_INPUT_TOKENS
MAX_INPUT_CHARS_ENV, DEFAULT_MAX_INPUT_CHARS = "SENTIMENT_MAX_INPUT_CHARS", MAX_INPUT_CHARS
MAX_BATCH_ROWS_ENV, DEFAULT_MAX_BATCH_ROWS = "SENTIMENT_MAX_BATCH_ROWS", MAX_BATCH_ROWS
MAX_CSV_BYTES_ENV, DEFAULT_MAX_CSV_BYTES = "SENTIMENT_MAX_CSV_BYTES", MAX_CSV_BYTES


def limit_from_env(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """A positive whole-number limit from the environment variable `name`, else `default`.

    By default the environment is read as settings.effective_env() gives it: in public mode the
    PUBLIC_DEFAULTS fill what the operator left unset.
    """
    environ = effective_env() if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InferenceError(f"{name} must be a positive whole number, not {raw!r}; "
                             f"unset it to use the default of {default}")
    return value


def max_input_tokens(environ: Mapping[str, str] | None = None) -> int:
    return limit_from_env(MAX_INPUT_TOKENS_ENV, DEFAULT_MAX_INPUT_TOKENS, environ)


def max_input_chars(environ: Mapping[str, str] | None = None) -> int:
    return limit_from_env(MAX_INPUT_CHARS_ENV, DEFAULT_MAX_INPUT_CHARS, environ)


def max_batch_rows(environ: Mapping[str, str] | None = None) -> int:
    return limit_from_env(MAX_BATCH_ROWS_ENV, DEFAULT_MAX_BATCH_ROWS, environ)


def max_csv_bytes(environ: Mapping[str, str] | None = None) -> int:
    return limit_from_env(MAX_CSV_BYTES_ENV, DEFAULT_MAX_CSV_BYTES, environ)


# ---------------------------------------------------------------------------------------------
# The one check every text goes through


def bounded_tokens(text: str | None, max_chars: int, max_tokens: int, tokenizer: Tokenizer | None = None) -> list[str]:
    """The tokens of one text, within its caps: characters before tokenizing, tokens after.

    Every way a text comes in goes through here: the playground (Predictor.encode), each row
    of a pasted list or CSV file (Predictor.predict_many) and `python -m sentiment_core predict`.
    Raises EmptyInput or InputTooLong, whose message names the cap and how to change it (and
    never repeats the text).
    """
    text = "" if text is None else str(text)
    if len(text) > max_chars:  # before any work on it: splitting and spaCy are linear or worse
        raise InputTooLong(f"the text has {len(text):,} characters, more than the cap of {max_chars:,}; "
                           f"shorten it, or raise {MAX_INPUT_CHARS_ENV}")
    # Tokens are never fewer than whitespace-separated chunks: refuse a text with too many
    # before spending time tokenizing it.
    chunks = len(text.split())
    if chunks > max_tokens:
        raise _too_many_tokens(chunks, max_tokens, at_least=True)
    words = (tokenizer or Tokenizer())(text)
    if not words:
        raise EmptyInput("there is nothing to classify: the text is empty; type or pick a sentence")
    if len(words) > max_tokens:
        raise _too_many_tokens(len(words), max_tokens)
    return words


def _too_many_tokens(count: int, cap: int, at_least: bool = False) -> InputTooLong:
    return InputTooLong(f"the text has {'at least ' if at_least else ''}{count} tokens, more than the cap of "
                        f"{cap}; shorten it, or raise {MAX_INPUT_TOKENS_ENV}")
