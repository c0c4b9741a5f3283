"""Bounded text in, neutralised CSV out: the caps every text and file goes through (data/caps.py,
analysis/inference/tables.py), on a random-weight model."""
from __future__ import annotations

import csv
import io
import random

import pytest
import torch

from sentiment_core.data.caps import (bounded_tokens, max_csv_bytes, max_input_chars, max_input_tokens)
from sentiment_core.errors import EmptyInput, InferenceError, InputTooLong, TableError
from sentiment_core.analysis.inference.predictor import Predictor
from sentiment_core.analysis.inference.tables import read_csv_file, rows_to_csv, texts_from_csv
from sentiment_core.data.text import MAX_WORD_CHARS, Tokenizer, Vocab, label_scheme
from sentiment_core.models import build_model
from sentiment_core.settings import MAX_CSV_BYTES, MAX_INPUT_CHARS, PUBLIC_DEFAULTS, effective_env
from sentiment_core.config import ModelConfig


class NoTokenizer(Tokenizer):
    """Fails the test if a text reaches the tokenizer."""

    def __call__(self, text):
        raise AssertionError("the text was tokenized before its character cap was checked")


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    vocab = Vocab.build([["a", "good", "film", "bad", "!"]])
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="gru", num_classes=3, embedding_dim=8, hidden_dim=8), vocab)
    return Predictor(model, vocab, label_scheme(3), max_tokens=50, max_chars=100)


def test_the_character_cap_comes_before_tokenizing_with_one_clear_sentence():
    with pytest.raises(InputTooLong) as refused:
        bounded_tokens("!" * 101, 100, 1000, NoTokenizer())
    message = str(refused.value)
    assert message == ("the text has 101 characters, more than the cap of 100; shorten it, "
                       "or raise SENTIMENT_MAX_INPUT_CHARS")
    assert "!!" not in message  # no excerpt of the text
    assert bounded_tokens("a good film", 11, 3) == ["a", "good", "film"]  # exactly at both caps
    with pytest.raises(InputTooLong, match="4 tokens, more than the cap of 3; .* SENTIMENT_MAX_INPUT_TOKENS"):
        bounded_tokens("a good film!", 100, 3)
    with pytest.raises(EmptyInput):
        bounded_tokens(" \t\n", 100, 3)


def test_the_predictor_and_every_batch_row_use_the_same_caps(predictor):
    with pytest.raises(InputTooLong, match="101 characters, more than the cap of 100"):
        predictor.predict("a" * 101)
    rows = predictor.predict_many(["a good film", "b" * 101, "! " * 49 + "!!", ""])  # 99 characters, 51 tokens
    assert rows[0]["label"] is not None
    assert rows[1]["label"] is None and "cap of 100" in rows[1]["note"] and "SENTIMENT_MAX_INPUT_CHARS" in rows[1]["note"]
    assert rows[2]["label"] is None and "cap of 50" in rows[2]["note"]
    assert rows[3]["label"] is None and "nothing to classify" in rows[3]["note"]


def test_hostile_punctuation_is_refused_and_spacy_never_sees_a_long_run(monkeypatch):
    """spaCy is quadratic in a run without spaces: the cost is bounded by what reaches it, not by a timer.

    (The time itself is a benchmark: `python scripts/bench_input_bounds.py`.)
    """
    from sentiment_core.data import text as text_module

    default = Predictor(build_model(ModelConfig(cell="gru", num_classes=3, embedding_dim=8, hidden_dim=8),
                                    Vocab.build([["!"]])), Vocab.build([["!"]]), label_scheme(3))
    seen: list[str] = []

    class Recording:  # spaCy's tokenizer, noting every text handed to it
        def __init__(self, tokenizer):
            self.tokenizer, self.rules = tokenizer, tokenizer.rules

        def __call__(self, text):
            seen.append(text)
            return self.tokenizer(text)

    recording = Recording(text_module._spacy_tokenizer())
    monkeypatch.setattr(text_module, "_spacy_tokenizer", lambda: recording)
    rng = random.Random(0)
    mixed = "".join(rng.choice("!?.,;:()\"'-") for _ in range(MAX_INPUT_CHARS))  # at the cap, all different
    with pytest.raises(InputTooLong, match="characters"):
        default.predict("!" * 40_000)
    assert seen == []  # refused on its length before any tokenizing
    with pytest.raises(InputTooLong, match="tokens"):
        default.predict(mixed)
    words = [w for text in seen for w in text.split(" ")]
    assert words and max(len(w) for w in words) <= MAX_WORD_CHARS


def test_caps_from_the_environment_and_public_mode():
    assert max_input_chars({}) == MAX_INPUT_CHARS == 20_000 and max_csv_bytes({}) == MAX_CSV_BYTES == 2 * 2**20
    assert max_input_chars({"SENTIMENT_MAX_INPUT_CHARS": "500"}) == 500
    assert max_csv_bytes({"SENTIMENT_MAX_CSV_BYTES": " 4096 "}) == 4096
    for bad in ("0", "-1", "2MB"):
        with pytest.raises(InferenceError, match=f"^SENTIMENT_MAX_CSV_BYTES is '{bad}'.* at least 1 "):
            max_csv_bytes({"SENTIMENT_MAX_CSV_BYTES": bad})
    public = effective_env({"SENTIMENT_PUBLIC": "1"})
    assert max_input_chars(public) == int(PUBLIC_DEFAULTS["SENTIMENT_MAX_INPUT_CHARS"]) < MAX_INPUT_CHARS
    assert max_csv_bytes(public) < MAX_CSV_BYTES and max_input_tokens(public) == 300


def test_a_csv_file_is_size_capped_before_it_is_parsed(tmp_path):
    undecodable = b"text\n" + b"\xff" * 100
    with pytest.raises(TableError, match="105 bytes, more than the limit of 100; .* SENTIMENT_MAX_CSV_BYTES"):
        texts_from_csv(undecodable, 10, max_bytes=100)  # refused for its size, not its bytes
    with pytest.raises(TableError, match="not UTF-8"):
        texts_from_csv(undecodable, 10, max_bytes=105)
    big = tmp_path / "big.csv"
    big.write_bytes(b"text\n" + b"good film\n" * 100_000)  # 1 MB
    with pytest.raises(TableError, match="more than the limit of 1,000 bytes"):
        read_csv_file(big, 1_000)
    assert read_csv_file(big, big.stat().st_size) == big.read_bytes()


def test_the_size_cap_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("SENTIMENT_MAX_CSV_BYTES", "20")
    with pytest.raises(TableError, match="limit of 20"):
        texts_from_csv(b"text\na good film indeed\n", 10)
    monkeypatch.delenv("SENTIMENT_MAX_CSV_BYTES")
    assert texts_from_csv(b"text\na good film indeed\n", 10) == ["a good film indeed"]


HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "@SUM(A1)", "-2+3", "\t=1", "\r=1+1", " =cmd|' /C calc'!A0", "%0A"]


def test_downloads_neutralise_formulas():
    rows = [{"text": text, "label": "=bad", "p(positive)": -0.25, "note": "-"} for text in HOSTILE]
    rows.append({"text": "  a good film", "label": "positive", "p(positive)": 0.75, "note": ""})
    parsed = list(csv.reader(io.StringIO(rows_to_csv(rows))))
    assert parsed[0] == ["text", "label", "p(positive)", "note"]
    for (text, label, p, note), hostile in zip(parsed[1:], HOSTILE):
        assert text.startswith("'") and text.lstrip("'").replace("\\|", "|") == hostile.lstrip(), text
        assert label == "'=bad" and p == "-0.25" and note == "'-"  # a number stays a number
    assert parsed[-1] == ["a good film", "positive", "0.75", ""]  # leading spaces go: the model ignores them
    assert rows_to_csv([]) == ""
