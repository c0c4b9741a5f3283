"""Caps on the text a visitor or a file hands the playground, and the one check every text goes through.

Each cap is a row of the settings table (settings_table.py: its default, public-mode default and
range), read through settings.read at call time, never at import. Also here: the batch sizes of
the costly analyses, which bound one visitor's memory (issue 19; scripts/bench_visitor_memory.py).
"""
from __future__ import annotations

from typing import Mapping

from sentiment_core import settings
from sentiment_core.errors import EmptyInput, InferenceError, InputTooLong
from sentiment_core.data.text import Tokenizer
from sentiment_core.settings import (MAX_BATCH_ROWS_ENV, MAX_CSV_BYTES_ENV, MAX_IG_STEPS_ENV,  # noqa: F401 (re-exported)
                                     MAX_INPUT_CHARS_ENV, MAX_INPUT_TOKENS_ENV)

DEFAULT_MAX_INPUT_TOKENS, DEFAULT_MAX_INPUT_CHARS = settings.MAX_INPUT_TOKENS, settings.MAX_INPUT_CHARS
# Integrated gradients costs one forward and backward pass per step: its time grows with the
# steps (its memory does not: the steps go through the model in batches, see below).

# The costly analyses run the model on many copies of one sentence: integrated gradients one per
# step, the trajectory of a bidirectional model one per prefix (T^2 / 2 tokens), what-if one per
# word (T^2 tokens), "predict all" one per row. Their memory grows with the tokens of one batch
# times the model's width (its word vector and the hidden units of every layer and direction,
# inference.model_width), so each goes through the model in batches of at most this many
# unit-tokens (tokens x width). On the largest public model (vectors of 128, 2 bidirectional LSTM
# layers of 256: width 1,152) a unit-token takes about 40 bytes with gradients, 11 without
# (scripts/bench_visitor_memory.py): one batch stays near 100 MB, whatever the sentence, the
# steps or the model. Single-threaded, the forward passes take no longer in such batches and
# integrated gradients about 20 % longer than in one batch.
GRADIENT_UNITS_PER_BATCH = 2**21  # with a backward pass (integrated gradients)
FORWARD_UNITS_PER_BATCH = 2**23   # forward only (prefixes, what-if variants, many sentences)


def cap(name: str, environ: Mapping[str, str] | None = None) -> int:
    """The playground cap `name` (a settings-table variable), as settings.read gives it (public
    mode's default when unset there); InferenceError, in one sentence, for a value it refuses."""
    try:
        return settings.read(name, environ)
    except settings.SettingError as err:
        raise InferenceError(str(err)) from None


def max_input_tokens(environ: Mapping[str, str] | None = None) -> int:
    return cap(MAX_INPUT_TOKENS_ENV, environ)


def max_input_chars(environ: Mapping[str, str] | None = None) -> int:
    return cap(MAX_INPUT_CHARS_ENV, environ)


def max_batch_rows(environ: Mapping[str, str] | None = None) -> int:
    return cap(MAX_BATCH_ROWS_ENV, environ)


def max_csv_bytes(environ: Mapping[str, str] | None = None) -> int:
    return cap(MAX_CSV_BYTES_ENV, environ)


def max_ig_steps(environ: Mapping[str, str] | None = None) -> int:
    return cap(MAX_IG_STEPS_ENV, environ)


def tokens_per_batch(width: int, units_per_batch: int) -> int:
    """How many tokens one batch of a model `width` units wide (inference.model_width) may hold:
    `units_per_batch` // width, at least one."""
    return max(1, units_per_batch // max(1, width))


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
