"""Occlusion (sentiment_core.analysis.inference.occlusion) and the choice of hidden units to show
(sentiment_core.analysis.inference.hidden_units), on small random-weight models."""
from __future__ import annotations

import pytest

from sentiment_core.analysis.inference import occlusion
from sentiment_core.errors import InferenceError
from sentiment_core.analysis.inference.hidden_units import most_moving_units, unit_movement, unit_rows
from sentiment_core.data.text import EOS, SOS, UNK_INDEX, Vocab
from tests.test_inference import WORDS, make_predictor

SENTENCE = "the film is not bad"


@pytest.fixture(scope="module")
def small_vocab() -> Vocab:
    return Vocab.build([WORDS[:i + 1] for i in range(len(WORDS))])


class CountingPredictor:
    """A Predictor that records each batch it scores."""

    def __init__(self, predictor):
        self.predictor, self.batches = predictor, []
        self.vocab, self.class_names = predictor.vocab, predictor.class_names

    def batch_probabilities(self, id_lists):
        self.batches.append([list(ids) for ids in id_lists])
        return self.predictor.batch_probabilities(id_lists)


def test_every_word_removed_in_one_batch_matches_single_predictions(small_vocab):
    predictor = make_predictor(small_vocab)
    counting = CountingPredictor(predictor)
    encoded = predictor.encode(SENTENCE)
    result = occlusion.occlude(counting, encoded)
    assert len(counting.batches) == 1 and len(counting.batches[0]) == 1 + 5  # the original and one per word
    assert [v.word for v in result.variants] == SENTENCE.split()
    assert [v.position for v in result.variants] == [1, 2, 3, 4, 5]
    assert result.probabilities == pytest.approx(predictor.predict(SENTENCE).probabilities, abs=1e-6)
    without_not = predictor.predict("the film is bad").probabilities
    variant = next(v for v in result.variants if v.word == "not")
    assert variant.probabilities == pytest.approx(without_not, abs=1e-6)
    assert variant.changes == pytest.approx([b - a for a, b in zip(result.probabilities, without_not)], abs=1e-6)
    assert variant.replacement is None


def test_replacing_with_unk_or_a_word(small_vocab):
    predictor = make_predictor(small_vocab)
    encoded = predictor.encode(SENTENCE)
    counting = CountingPredictor(predictor)
    occlusion.occlude(counting, encoded, "<unk>")
    assert counting.batches[0][4] == [*encoded.ids[:4], UNK_INDEX, *encoded.ids[5:]]  # "not" read as <unk>
    result = occlusion.occlude(predictor, encoded, "Good")  # tokenized: lower case
    assert result.replacement == "good"
    swapped = next(v for v in result.variants if v.word == "bad")
    assert swapped.probabilities == pytest.approx(predictor.predict("the film is not good").probabilities, abs=1e-6)
    with pytest.raises(InferenceError, match="exactly one word"):
        occlusion.occlude(predictor, encoded, "not good")
    with pytest.raises(InferenceError, match="at most"):
        occlusion.occlude(predictor, encoded, "x" * (occlusion.MAX_REPLACEMENT_CHARS + 1))


def test_sorted_by_effect_table_and_token_effects(small_vocab):
    predictor = make_predictor(small_vocab)
    result = occlusion.occlude(predictor, predictor.encode(SENTENCE))
    target = result.index
    ordered = result.by_effect()
    drops = [v.changes[target] for v in ordered]
    assert drops == sorted(drops)  # the largest drop of the predicted class first
    rows = result.rows()
    assert [r["word"] for r in rows] == [v.word for v in ordered]
    first = rows[0]
    assert set(first) == {"word", "position", "new prediction", "change in negative", "change in neutral",
                          "change in positive"}
    assert first[f"change in {result.class_names[target]}"] == round(100 * ordered[0].changes[target], 1)
    assert first["new prediction"] == result.class_names[ordered[0].index]
    effects = result.token_effects(target)
    assert len(effects) == len(result.tokens) and result.tokens[0] == SOS and result.tokens[-1] == EOS
    assert effects[0] == effects[-1] == 0.0
    assert effects[4] == pytest.approx(-result.variants[3].changes[target])


def test_long_texts_are_scored_in_chunks_within_the_budget(small_vocab):
    predictor = make_predictor(small_vocab)
    encoded = predictor.encode(SENTENCE)
    counting = CountingPredictor(predictor)
    chunked = occlusion.occlude(counting, encoded, tokens_per_batch=15)
    assert len(counting.batches) > 1 and all(sum(map(len, b)) <= 15 for b in counting.batches if len(b) > 1)
    whole = occlusion.occlude(predictor, encoded)
    for a, b in zip(chunked.variants, whole.variants):
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
    assert occlusion.chunks_of([3, 3, 3, 10, 1], 6) == [(0, 2), (2, 3), (3, 4), (4, 5)]


def test_compare_versions(small_vocab):
    predictor = make_predictor(small_vocab)
    first, second = predictor.predict("good"), predictor.predict("not good")
    change = occlusion.compare_versions(first, second)
    assert change == pytest.approx([b - a for a, b in zip(first.probabilities, second.probabilities)])
    assert sum(change) == pytest.approx(0.0, abs=1e-6)
    other = make_predictor(small_vocab, labels=5).predict("good")
    with pytest.raises(InferenceError, match="different classes"):
        occlusion.compare_versions(first, other)


def test_the_units_that_move_most_are_chosen():
    states = [[0.0, 0.1, 0.0],     # range 0.1
              [-0.9, 0.9, 0.0],    # range 1.8
              [0.5, 0.5, 0.5],     # still
              [0.0, 0.4, -0.4],    # range 0.8
              [0.9, -0.9, 0.0]]    # range 1.8, ties with unit 1: the lower number first
    assert most_moving_units(states, 3) == [1, 4, 3]
    assert most_moving_units(states, 10) == [1, 4, 3, 0, 2]
    assert most_moving_units(states, 0) == []
    assert most_moving_units(states, 2, "variance") == [1, 4]
    assert unit_movement([1.0, 3.0], "variance") == pytest.approx(1.0)
    assert unit_movement([]) == 0.0
    with pytest.raises(ValueError, match="unknown measure"):
        unit_movement([1.0], "median")
    assert unit_rows(states, [3, 1]) == [states[3], states[1]]


def test_units_chosen_from_a_real_model_state(small_vocab):
    predictor = make_predictor(small_vocab, cell="lstm")
    inside = predictor.inside(predictor.encode(SENTENCE))
    units = most_moving_units(inside.states, 4)
    ranges = [max(r) - min(r) for r in inside.states]
    assert len(units) == 4 and min(ranges[u] for u in units) >= max(r for i, r in enumerate(ranges) if i not in units)
