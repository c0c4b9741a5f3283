"""The playground's library (sentiment_core.analysis.inference.predictor) without Streamlit, on random-weight models."""
from __future__ import annotations

import math

import pytest
import torch

from sentiment_core.config import ModelConfig
from sentiment_core.analysis.inference.predictor import (EmptyInput, InferenceError, InputTooLong, Predictor, cap,
                                               max_batch_rows, max_input_tokens)
from sentiment_core.analysis.inference.tables import TableError, rows_to_csv, texts_from_csv, texts_from_lines
from sentiment_core.models import build_model
from sentiment_core.data.text import EOS, PAD_INDEX, SOS, UNK_INDEX, Vocab, label_scheme

WORDS = "this movie was actually neither that funny , nor super witty . the film is not bad good".split()
SENTENCE = "This movie was actually neither that funny, nor super witty."
VARIANTS = [(cell, bi) for cell in ("scratch", "rnn", "lstm", "gru") for bi in (False, True)]


@pytest.fixture(scope="module")
def small_vocab() -> Vocab:
    # counts differ per word so the training-count column is checkable
    return Vocab.build([WORDS[:i + 1] for i in range(len(WORDS))])


def make_predictor(vocab, cell="gru", bidirectional=False, pooling="last", layers=1, tutorial=False,
                   labels=3, **kwargs) -> Predictor:
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, bidirectional=bidirectional, pooling=pooling, layers=layers, tutorial=tutorial,
                         num_classes=labels, embedding_dim=12, hidden_dim=10)
    model = build_model(config, vocab)
    with torch.no_grad():  # larger weights than the default init, so predictions move along the sentence
        for p in model.parameters():
            p.mul_(2.0)
    return Predictor(model, vocab, label_scheme(labels), **kwargs)


# ---------------------------------------------------------------------------------------------
# Encoding


def test_encode_frames_counts_and_flags_unknown_words(small_vocab):
    predictor = make_predictor(small_vocab)
    encoded = predictor.encode("This movie was zorgly 😀 funny")
    assert encoded.tokens == [SOS, "this", "movie", "was", "zorgly", "😀", "funny", EOS]
    assert encoded.ids[0] == small_vocab.stoi[SOS] and encoded.ids[-1] == small_vocab.stoi[EOS]
    assert encoded.ids[4] == UNK_INDEX and encoded.ids[5] == UNK_INDEX
    assert encoded.unknown == [False, False, False, False, True, True, False, False]
    assert encoded.unknown_words == ["zorgly", "😀"]
    assert encoded.frequencies[1] == small_vocab.freqs["this"] and encoded.frequencies[1] > encoded.frequencies[6]
    assert encoded.frequencies[0] is None and encoded.frequencies[4] == 0
    rows = encoded.rows()
    assert rows[4] == {"position": 4, "token": "zorgly", "index": UNK_INDEX, "training count": 0, "unknown": True}


@pytest.mark.parametrize("text", ["", "   \n\t ", None])
def test_empty_text_is_refused_with_a_sentence(small_vocab, text):
    with pytest.raises(EmptyInput, match="nothing to classify"):
        make_predictor(small_vocab).predict(text)


@pytest.mark.parametrize("text", ["!!! ?", "😀🎬", "Фильм был ужасен", "映画はとても良かった", "<unk> <pad>"])
def test_odd_text_gets_an_answer(small_vocab, text):
    prediction = make_predictor(small_vocab).predict(text)
    assert math.isclose(sum(prediction.probabilities), 1.0, rel_tol=1e-5)
    assert prediction.label in prediction.class_names


def test_all_unknown_words_get_a_note(small_vocab):
    prediction = make_predictor(small_vocab).predict("Фильм был ужасен")
    assert all(prediction.encoded.unknown[1:-1]) and "bias" in prediction.note
    assert make_predictor(small_vocab).predict("the film").note == ""


def test_too_long_text_is_refused_with_the_cap(small_vocab):
    predictor = make_predictor(small_vocab, max_tokens=5)
    assert len(predictor.encode("not bad good good good")) == 7  # 5 words and the frame
    with pytest.raises(InputTooLong, match="cap of 5"):
        predictor.encode("not bad good good good good")
    with pytest.raises(InputTooLong, match="6 tokens"):
        predictor.encode("not bad good good good,")  # 5 words but 6 tokens
    with pytest.raises(InputTooLong, match="at least 100000"):
        make_predictor(small_vocab, max_tokens=5, max_chars=10**6).encode("good " * 100_000)
    with pytest.raises(InputTooLong, match="500,000 characters, more than the cap of 20,000"):
        predictor.encode("good " * 100_000)  # the default character cap comes first


def test_limits_from_the_environment():
    assert max_input_tokens({}) == 1000 and max_batch_rows({}) == 5000
    assert max_input_tokens({"SENTIMENT_MAX_INPUT_TOKENS": "20"}) == 20
    assert max_batch_rows({"SENTIMENT_MAX_BATCH_ROWS": " 7 "}) == 7
    for bad in ("0", "-3", "many", "2.5"):
        with pytest.raises(InferenceError, match=f"SENTIMENT_MAX_IG_STEPS is '{bad}'.* at least 1 .*default, 300"):
            cap("SENTIMENT_MAX_IG_STEPS", {"SENTIMENT_MAX_IG_STEPS": bad})


# ---------------------------------------------------------------------------------------------
# The answer and the trajectory, every cell type


@pytest.mark.parametrize("cell,bidirectional", VARIANTS)
def test_trajectory_ends_at_the_whole_sentence_prediction(small_vocab, cell, bidirectional):
    predictor = make_predictor(small_vocab, cell, bidirectional, layers=2)
    encoded = predictor.encode(SENTENCE)
    whole = predictor.probabilities(encoded)
    trajectory = predictor.prefix_probabilities(encoded)
    assert len(trajectory) == len(encoded.tokens)
    assert trajectory[-1] == pytest.approx(whole, abs=1e-5)
    for k in range(1, len(encoded) + 1):  # each point is the model's answer for that prefix read on its own
        assert trajectory[k - 1] == pytest.approx(predictor.probabilities(_prefix(encoded, k)), abs=1e-5)
    assert max(abs(a - b) for a, b in zip(trajectory[0], trajectory[-1])) > 1e-3  # it moves
    assert ("bidirectional" in predictor.trajectory_note()) == bidirectional


def test_prefix_chunks_cover_every_length_within_the_budget():
    from sentiment_core.analysis.inference.predictor import prefix_chunks

    assert prefix_chunks(4, 100) == [(0, 4)]
    chunks = prefix_chunks(50, 200)
    assert chunks[0][0] == 0 and chunks[-1][1] == 50
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert all(sum(range(start + 1, stop + 1)) <= 200 for start, stop in chunks)
    assert prefix_chunks(3, 1) == [(0, 1), (1, 2), (2, 3)]  # a prefix longer than the budget still runs


def test_chunked_trajectory_equals_one_batch(small_vocab, monkeypatch):
    import sentiment_core.analysis.inference.predictor as inference

    predictor = make_predictor(small_vocab, "gru", True)
    encoded = predictor.encode(SENTENCE)
    whole = predictor.prefix_probabilities(encoded)
    monkeypatch.setattr(inference, "FORWARD_UNITS_PER_BATCH", 20 * inference.model_width(predictor.model))
    chunked = predictor.prefix_probabilities(encoded)
    assert len(chunked) == len(whole)
    for row, expected in zip(chunked, whole):
        assert row == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("pooling", ["max", "mean"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_trajectory_with_pooling(small_vocab, pooling, bidirectional):
    predictor = make_predictor(small_vocab, "lstm", bidirectional, pooling=pooling, layers=2)
    encoded = predictor.encode(SENTENCE)
    trajectory = predictor.prefix_probabilities(encoded)
    for k in range(1, len(encoded) + 1):
        assert trajectory[k - 1] == pytest.approx(predictor.probabilities(_prefix(encoded, k)), abs=1e-5)


def test_tutorial_model_trajectory_and_attributions(small_vocab):
    predictor = make_predictor(small_vocab, "scratch", tutorial=True)
    encoded = predictor.encode(SENTENCE)
    trajectory = predictor.prefix_probabilities(encoded)
    assert trajectory[-1] == pytest.approx(predictor.probabilities(encoded), abs=1e-5)
    assert trajectory[2] == pytest.approx(predictor.probabilities(_prefix(encoded, 3)), abs=1e-5)
    ig = predictor.integrated_gradients(encoded, steps=64)
    assert ig.completeness_gap < 0.01 * max(abs(ig.expected_total), 1e-3) + 1e-4
    inside = predictor.inside(encoded)
    assert len(inside.states) == 10 and len(inside.states[0]) == len(encoded) and inside.gates == {}


def _prefix(encoded, k):
    return type(encoded)(encoded.text, encoded.tokens[:k], encoded.ids[:k], encoded.unknown[:k], encoded.frequencies[:k])


# ---------------------------------------------------------------------------------------------
# Attributions


@pytest.mark.parametrize("cell,bidirectional", VARIANTS)
def test_integrated_gradients_are_complete(small_vocab, cell, bidirectional):
    predictor = make_predictor(small_vocab, cell, bidirectional)
    encoded = predictor.encode(SENTENCE)
    ig = predictor.integrated_gradients(encoded, steps=100)
    whole = predictor.probabilities(encoded)
    assert ig.target == max(range(3), key=whole.__getitem__)
    assert ig.probability == pytest.approx(whole[ig.target], abs=1e-5)
    # the baseline: every word replaced by <pad>, the frame kept
    baseline = type(encoded)(encoded.text, encoded.tokens, [encoded.ids[0], *[PAD_INDEX] * (len(encoded) - 2),
                                                            encoded.ids[-1]], encoded.unknown, encoded.frequencies)
    assert ig.baseline_probability == pytest.approx(predictor.probabilities(baseline)[ig.target], abs=1e-5)
    assert abs(ig.expected_total) > 1e-3
    assert ig.completeness_gap == pytest.approx(abs(ig.total - ig.expected_total))
    assert ig.completeness_gap < 0.02 * abs(ig.expected_total) + 1e-4
    assert ig.scores[0] == 0.0 and ig.scores[-1] == 0.0  # the frame is the same in input and baseline
    coarse = predictor.integrated_gradients(encoded, steps=2)
    assert coarse.steps == 2 and coarse.completeness_gap >= 0.0


def test_integrated_gradients_can_explain_another_class(small_vocab):
    predictor = make_predictor(small_vocab, "lstm")
    encoded = predictor.encode(SENTENCE)
    predicted = predictor.integrated_gradients(encoded, steps=20).target
    other = (predicted + 1) % 3
    ig = predictor.integrated_gradients(encoded, steps=20, target=other)
    assert ig.target == other and ig.target_name == predictor.class_names[other]
    with pytest.raises(InferenceError, match="at least 1 step"):
        predictor.integrated_gradients(encoded, steps=0)


@pytest.mark.parametrize("cell,bidirectional", [("scratch", False), ("gru", True), ("lstm", False)])
def test_gradient_times_input_matches_a_finite_difference(small_vocab, cell, bidirectional):
    """x . grad is the first-order change of p(target) when a word vector is scaled by (1 + eps)."""
    predictor = make_predictor(small_vocab, cell, bidirectional)
    encoded = predictor.encode(SENTENCE)
    gxi = predictor.gradient_times_input(encoded)
    assert gxi.probability == pytest.approx(predictor.probabilities(encoded)[gxi.target], abs=1e-5)
    model = predictor.model
    tokens, lengths = torch.tensor([encoded.ids]), torch.tensor([len(encoded)])
    with torch.no_grad():
        x = model.embedding(tokens).double()
        model.double()
        try:
            position, eps = 4, 1e-4
            up, down = x.clone(), x.clone()
            up[0, position] *= 1 + eps
            down[0, position] *= 1 - eps
            p_up = torch.softmax(model.forward_embedded(up, lengths), 1)[0, gxi.target]
            p_down = torch.softmax(model.forward_embedded(down, lengths), 1)[0, gxi.target]
        finally:
            model.float()
    assert float(p_up - p_down) / (2 * eps) == pytest.approx(gxi.scores[position], rel=1e-2, abs=1e-6)


def test_attributions_leave_the_model_untouched(small_vocab):
    predictor = make_predictor(small_vocab, "gru")
    before = {k: v.clone() for k, v in predictor.model.state_dict().items()}
    encoded = predictor.encode(SENTENCE)
    predictor.integrated_gradients(encoded, steps=8)
    predictor.gradient_times_input(encoded)
    assert all(p.grad is None for p in predictor.model.parameters())
    assert all(torch.equal(before[k], v) for k, v in predictor.model.state_dict().items())
    assert not predictor.model.training


# ---------------------------------------------------------------------------------------------
# Inside the network


@pytest.mark.parametrize("cell,gates", [("scratch", []), ("rnn", []), ("lstm", ["input", "forget", "cell", "output"]),
                                        ("gru", ["reset", "update", "new"])])
def test_inside_gives_states_and_gates(small_vocab, cell, gates):
    predictor = make_predictor(small_vocab, cell)
    encoded = predictor.encode("the film is not bad")
    inside = predictor.inside(encoded)
    assert len(inside.states) == 10 and all(len(row) == len(encoded) for row in inside.states)
    assert sorted(inside.gates) == sorted(gates)
    for grid in inside.gates.values():
        assert len(grid) == 10 and len(grid[0]) == len(encoded)
    if cell != "scratch":
        assert all(-1.0 <= v <= 1.0 for row in inside.states for v in row)
    if cell == "lstm":
        assert all(0.0 <= v <= 1.0 for row in inside.gates["forget"] for v in row)


def test_inside_of_a_bidirectional_model_says_which_direction(small_vocab):
    inside = make_predictor(small_vocab, "lstm", True).inside(make_predictor(small_vocab).encode("not bad"))
    assert len(inside.states) == 10 and "left-to-right" in inside.note


# ---------------------------------------------------------------------------------------------
# Many sentences


def test_predict_many_matches_single_predictions(small_vocab):
    predictor = make_predictor(small_vocab, "lstm", True, max_tokens=8)
    texts = ["the film is not bad", "", "good", SENTENCE, "funny , witty , super good film", "😀"]
    progress = []
    rows = predictor.predict_many(texts, batch_size=2, progress=lambda done, total: progress.append((done, total)))
    assert [r["text"] for r in rows] == texts
    assert progress[-1] == (6, 6) and len(progress) >= 3
    assert rows[1]["label"] is None and "nothing to classify" in rows[1]["note"]
    assert rows[3]["label"] is None and "cap of 8" in rows[3]["note"]
    for i in (0, 2, 4, 5):
        single = predictor.predict(texts[i])
        assert rows[i]["label"] == single.label
        assert [rows[i][f"p({n})"] for n in single.class_names] == pytest.approx(single.probabilities, abs=1e-5)
    assert rows[5]["unknown words"] == "😀"
    csv_text = rows_to_csv(rows)
    assert csv_text.splitlines()[0] == "text,tokens,unknown words,label,p(positive),p(negative),p(neutral),note"
    assert len(csv_text.splitlines()) == 7


def test_texts_from_lines():
    assert texts_from_lines("good\n\n  bad film \n", 5) == ["good", "bad film"]
    with pytest.raises(TableError, match="no sentences"):
        texts_from_lines(" \n ", 5)
    with pytest.raises(TableError, match="limit of 2 rows"):
        texts_from_lines("a\nb\nc", 2)


def test_texts_from_csv():
    data = 'id,Text,label\n1,"good, really",x\n2,bad film,y\n\n3,,z\n'.encode()
    assert texts_from_csv(data, 10) == ["good, really", "bad film", ""]
    assert texts_from_csv("\ufeffsentence\nnot bad\n".encode("utf-8"), 10) == ["not bad"]  # BOM, other name
    with pytest.raises(TableError, match="no text column.*'id', 'review'"):
        texts_from_csv(b"id,review\n1,good\n", 10)
    with pytest.raises(TableError, match="more than 2 rows"):
        texts_from_csv(b"text\na\nb\nc\n", 2)
    with pytest.raises(TableError, match="not UTF-8"):
        texts_from_csv("text\nfilm d'été\n".encode("latin-1"), 10)
    with pytest.raises(TableError, match="binary"):
        texts_from_csv(b"PK\x03\x04\x00\x00text", 10)
    with pytest.raises(TableError, match="empty"):
        texts_from_csv(b"", 10)
    with pytest.raises(TableError, match="no rows"):
        texts_from_csv(b"text\n", 10)
