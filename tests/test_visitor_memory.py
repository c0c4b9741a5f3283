"""Issue 19, M3 and M4: one visitor's memory is bounded in public mode.

M3: the costly playground sections (integrated gradients, what-if variants, the gates) run only
when their tab is opened; integrated gradients takes at most SENTIMENT_MAX_IG_STEPS steps and goes
through the model in batches, as every costly analysis does, so memory no longer grows with the
steps or the sentence. M4: spaCy's string store, shared by every session, stays bounded however
many new words visitors type. (scripts/bench_visitor_memory.py measures the worst case.)
"""
from __future__ import annotations

import pytest
import torch

from sentiment_core.analysis.inference import attributions, predictor as inference, occlusion
from sentiment_core.errors import InferenceError
from sentiment_core.analysis.inference.predictor import Predictor
from sentiment_core.data import text as text_module
from sentiment_core.data.text import SPECIALS, Tokenizer, Vocab, label_scheme
from sentiment_core.models import build_model
from sentiment_core.settings import PUBLIC_DEFAULTS
from sentiment_core.config import ModelConfig
from tests.helpers import open_page

PAGE = "views/playground.py"
SENTENCE = "A slow start, but the ending of this quiet film about memory is wonderful."


def small_predictor(bidirectional: bool = True) -> Predictor:
    vocab = Vocab(list(SPECIALS) + "a slow start but the ending of this quiet film is wonderful".split())
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="lstm", bidirectional=bidirectional, layers=2, embedding_dim=12,
                                    hidden_dim=10, num_classes=3), vocab)
    with torch.no_grad():  # larger weights than the default init, so the gradients are not tiny
        for p in model.parameters():
            p.mul_(2.0)
    return Predictor(model, vocab, label_scheme(3))


# ---------------------------------------------------------------------------------------------
# M3: the costly sections only when opened


@pytest.fixture
def public_playground(monkeypatch, tmp_path):
    """Public mode with no runs of its own: the shipped default model answers."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    for name in ("SENTIMENT_MAX_IG_STEPS", "SENTIMENT_MAX_INPUT_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    return root


def count_calls(monkeypatch, owner, name: str, calls: dict) -> None:
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def test_costly_sections_are_computed_only_when_opened(public_playground, monkeypatch):
    calls = {"integrated_gradients": 0, "occlude": 0, "inside": 0}
    count_calls(monkeypatch, Predictor, "integrated_gradients", calls)
    count_calls(monkeypatch, Predictor, "inside", calls)
    count_calls(monkeypatch, occlusion, "occlude", calls)
    at = open_page(PAGE)
    text = "A sentence typed only by the memory test, with a wonderful ending."  # never cached before
    at.text_area(key="pg_text").input(text).run()
    assert not at.exception
    assert any(m.label == "Predicted label" for m in at.metric)
    assert [c for c in at.get("plotly_chart") if "pg_trajectory" in c.proto.id]  # the first tab is drawn
    assert calls == {"integrated_gradients": 0, "occlude": 0, "inside": 0}
    opened = {"Which words mattered": "integrated_gradients", "What if": "occlude", "Inside the network": "inside"}
    for title, name in opened.items():
        at.session_state["pg_section"] = title
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert calls[name] == 1, (title, calls)
        assert sum(calls.values()) == list(opened).index(title) + 1  # the others were not run again
    assert not [c for c in at.get("plotly_chart") if "pg_trajectory" in c.proto.id]  # nor the closed first tab


def test_public_integration_steps_stop_at_the_cap(public_playground, monkeypatch):
    at = open_page(PAGE)
    at.session_state["pg_section"] = "Which words mattered"
    at.run()
    cap = int(PUBLIC_DEFAULTS["SENTIMENT_MAX_IG_STEPS"])
    slider = at.slider(key="pg_ig_steps")
    assert slider.max == cap and slider.value == 50 and "At most 100 on this server" in slider.help
    slider.set_value(cap).run()
    assert "with 100 steps" in "\n".join(c.value for c in at.caption)
    monkeypatch.setenv("SENTIMENT_MAX_IG_STEPS", "1")  # nothing left to choose: no slider, one step
    at.run()
    assert not at.exception and not at.get("slider")
    captions = "\n".join(c.value for c in at.caption)
    assert "Integration steps: 1 (this server's limit" in captions and "with 1 steps" in captions


def test_steps_above_the_cap_are_refused_with_a_sentence(monkeypatch):
    predictor = small_predictor()
    encoded = predictor.encode("the ending is wonderful")
    monkeypatch.setenv("SENTIMENT_PUBLIC", "1")
    monkeypatch.delenv("SENTIMENT_MAX_IG_STEPS", raising=False)
    with pytest.raises(InferenceError, match=r"^integrated gradients takes at most 100 steps on this server, "
                                             r"not 101; choose fewer, or raise SENTIMENT_MAX_IG_STEPS$"):
        predictor.integrated_gradients(encoded, steps=101)
    assert predictor.integrated_gradients(encoded, steps=100).steps == 100
    monkeypatch.setenv("SENTIMENT_MAX_IG_STEPS", "many")
    with pytest.raises(InferenceError, match="SENTIMENT_MAX_IG_STEPS is 'many', which is not a whole number"):
        predictor.integrated_gradients(encoded, steps=10)


# ---------------------------------------------------------------------------------------------
# M3: batches of bounded size, the same answer


class BatchRecorder:
    """Wraps a model's forward_embedded and records each batch's shape (B, T)."""

    def __init__(self, model, monkeypatch):
        self.shapes, original = [], model.forward_embedded

        def recorded(embedded, lengths):
            self.shapes.append(tuple(embedded.shape[:2]))
            return original(embedded, lengths)

        monkeypatch.setattr(model, "forward_embedded", recorded)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_integrated_gradients_in_batches_equal_one_batch(bidirectional, monkeypatch):
    predictor = small_predictor(bidirectional)
    encoded = predictor.encode(SENTENCE)
    whole = attributions.integrated_gradients(predictor.model, encoded, predictor.class_names, steps=30)
    recorder = BatchRecorder(predictor.model, monkeypatch)
    for per_batch in (1, 7):
        recorder.shapes.clear()
        batched = attributions.integrated_gradients(predictor.model, encoded, predictor.class_names, steps=30,
                                                    steps_per_batch=per_batch)
        path_batches = recorder.shapes[1:]  # the first is f(x) and f(baseline), without gradients
        assert sum(b for b, _ in path_batches) == 30 and max(b for b, _ in path_batches) == per_batch
        assert batched.scores == pytest.approx(whole.scores, abs=1e-6)
        assert (batched.target, batched.probability, batched.baseline_probability) == pytest.approx(
            (whole.target, whole.probability, whole.baseline_probability))
    assert whole.completeness_gap < 0.05 * max(abs(whole.expected_total), 1e-3)


def test_predictor_sizes_gradient_batches_by_tokens(monkeypatch):
    """However many steps, one batch holds at most GRADIENT_UNITS_PER_BATCH unit-tokens."""
    predictor = small_predictor()
    encoded = predictor.encode(SENTENCE)
    width = inference.model_width(predictor.model)
    assert width == 12 + 2 * 2 * 10  # word vector + 2 layers x 2 directions x 10 units
    whole = predictor.integrated_gradients(encoded, steps=40)
    monkeypatch.setattr(inference, "GRADIENT_UNITS_PER_BATCH", 3 * len(encoded) * width)  # 3 paths a batch
    recorder = BatchRecorder(predictor.model, monkeypatch)
    batched = predictor.integrated_gradients(encoded, steps=40)
    assert [b for b, _ in recorder.shapes[1:]] == [3] * 13 + [1]
    assert batched.scores == pytest.approx(whole.scores, abs=1e-6)


def test_forward_batches_stay_within_the_budget(monkeypatch):
    """Many sentences (what-if variants, 'predict all') go through the model in bounded padded batches."""
    predictor = small_predictor()
    id_lists = [predictor.encode(t).ids for t in ("a slow start", SENTENCE, "the film", "wonderful", SENTENCE)]
    whole = predictor.batch_probabilities(id_lists)
    budget = 2 * max(map(len, id_lists))
    monkeypatch.setattr(inference, "FORWARD_UNITS_PER_BATCH", budget * inference.model_width(predictor.model))
    shapes, forward = [], predictor._forward_lengths

    def recorded(tokens, lengths):
        shapes.append(tuple(tokens.shape))
        return forward(tokens, lengths)

    monkeypatch.setattr(predictor, "_forward_lengths", recorded)
    batched = predictor.batch_probabilities(id_lists)
    assert len(shapes) > 1 and all(rows * length <= budget for rows, length in shapes)
    assert sum(rows for rows, _ in shapes) == len(id_lists)
    for row, expected in zip(batched, whole):
        assert row == pytest.approx(expected, abs=1e-6)
    assert inference.padded_chunks([3, 3, 5, 1, 9], 9) == [(0, 2), (2, 3), (3, 4), (4, 5)]


# ---------------------------------------------------------------------------------------------
# M4: spaCy's string store


def test_the_shared_tokenizer_string_store_stays_bounded(monkeypatch):
    monkeypatch.setattr(text_module, "MAX_TOKENIZER_STRINGS", 3_000)
    first = text_module._spacy_tokenizer()
    largest, replaced = 0, 0
    for batch in range(40):  # 40 texts of 200 new words that spaCy must see (not purely alphabetic)
        words = [f"w{i}x{batch}" for i in range(200)]
        assert Tokenizer()(" ".join(words)) == words
        shared = text_module._shared["tokenizer"]  # the one that tokenized the text (no check on reading it)
        largest = max(largest, len(shared.vocab.strings))
        replaced += shared is not first
    assert largest <= 3_000 + 2 * 200  # the cap, plus what the one text that crossed it brought
    assert replaced  # 8,000 new strings went through: the tokenizer was replaced
    assert Tokenizer()("Don't stop, it's wonderful!") == ["do", "n't", "stop", ",", "it", "'s", "wonderful", "!"]
