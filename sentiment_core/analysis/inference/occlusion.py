"""What if a word were not there? Occlusion: remove (or replace) each word in turn and score every variant.

Attributions (sentiment_core.analysis.inference.attributions) read gradients; occlusion asks the model
directly: the sentence without "good" (or with "good" read as <unk>, or as "bad") gets which
probabilities? The answer is exact for that edit and needs no calculus to explain, at the cost of
one forward pass per word, all sentences scored together in batches (`Predictor.batch_probabilities`).

`predictor` is an inference.Predictor (its `vocab`, `class_names` and `batch_probabilities` are
used) and `encoded` an inference.EncodedText, already bounded by the input caps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sentiment_core.errors import InferenceError
from sentiment_core.data.text import EOS, SOS, UNK, UNK_INDEX, Tokenizer

REMOVE = None                   # replacement meaning "drop the word"
# Variants handed to the predictor at once (lists of ids: small); Predictor.batch_probabilities
# runs them through the model in batches sized by its width (analysis.caps), which bounds memory.
VARIANT_TOKENS_PER_BATCH = 65536
MAX_REPLACEMENT_CHARS = 40      # a replacement is one word


@dataclass
class Variant:
    """The sentence with one word removed or replaced, and what the model makes of it."""

    position: int               # index of the word in the encoded tokens (<sos> is 0)
    word: str                   # the word taken out
    replacement: str | None     # what took its place (None: nothing)
    probabilities: list[float]  # (C,) for the edited sentence
    changes: list[float]        # (C,) edited minus original probability, per class

    @property
    def index(self) -> int:
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)


@dataclass
class Occlusion:
    tokens: list[str]            # the original tokens, <sos> / <eos> included
    class_names: list[str]
    probabilities: list[float]   # (C,) of the original sentence
    replacement: str | None
    variants: list[Variant]      # one per word, in sentence order

    @property
    def index(self) -> int:
        """The original prediction."""
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    def by_effect(self, class_index: int | None = None) -> list[Variant]:
        """Variants by how much the edit lowered `class_index` (default: the prediction), largest drop first:
        the words that held the answer up come first, those that held it back last."""
        target = self.index if class_index is None else class_index
        return sorted(self.variants, key=lambda v: (v.changes[target], v.position))

    def token_effects(self, class_index: int) -> list[float]:
        """(T,) per token, how much it pushed `class_index` up: original minus edited probability
        (0 for <sos> / <eos>, which are never edited)."""
        effects = [0.0] * len(self.tokens)
        for variant in self.variants:
            effects[variant.position] = -variant.changes[class_index]
        return effects

    def rows(self, class_index: int | None = None) -> list[dict]:
        """A table sorted by effect: word, position, new prediction, and the change of every class's
        probability in percentage points ("change in negative": -4.2 for 4.2 points less)."""
        return [{"word": v.word, "position": v.position, "new prediction": self.class_names[v.index],
                 **{f"change in {name}": round(100 * change, 1) for name, change in zip(self.class_names, v.changes)}}
                for v in self.by_effect(class_index)]


def replacement_token(word: str | None, tokenizer: Tokenizer | None = None) -> str | None:
    """The one token a typed replacement stands for (None: remove the word; "<unk>" kept as is).

    Raises InferenceError when it is not exactly one token, or longer than MAX_REPLACEMENT_CHARS.
    """
    if word is None or word == UNK:
        return word
    if len(word) > MAX_REPLACEMENT_CHARS:
        raise InferenceError(f"a replacement is one word of at most {MAX_REPLACEMENT_CHARS} characters")
    tokens = (tokenizer or Tokenizer())(word)
    if len(tokens) != 1:
        raise InferenceError("a replacement is exactly one word (one token, e.g. 'bad' or 'not'); "
                             f"this one reads as {len(tokens)} tokens")
    return tokens[0]


def variant_ids(ids: Sequence[int], position: int, replacement_id: int | None) -> list[int]:
    """`ids` with the token at `position` removed (replacement_id None) or replaced."""
    middle = [] if replacement_id is None else [replacement_id]
    return [*ids[:position], *middle, *ids[position + 1:]]


def word_positions(tokens: Sequence[str]) -> list[int]:
    """Positions of the words: every token but the <sos> / <eos> frame."""
    return [i for i, t in enumerate(tokens) if t not in (SOS, EOS)]


def chunks_of(lengths: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """(start, stop) ranges of `lengths` whose sum fits `budget` (each range holds at least one)."""
    ranges, start = [], 0
    while start < len(lengths):
        stop, total = start + 1, lengths[start]
        while stop < len(lengths) and total + lengths[stop] <= budget:
            total += lengths[stop]
            stop += 1
        ranges.append((start, stop))
        start = stop
    return ranges


def occlude(predictor, encoded, replacement: str | None = REMOVE,
            tokens_per_batch: int = VARIANT_TOKENS_PER_BATCH) -> Occlusion:
    """Every word of `encoded` removed (or replaced by `replacement`, one token) in turn, all scored at once.

    The original sentence goes in the same batch as its variants, so both are scored the same way.
    """
    replacement = replacement_token(replacement)
    replacement_id = None if replacement is None else predictor.vocab.stoi.get(replacement, UNK_INDEX)
    positions = word_positions(encoded.tokens)
    id_lists = [list(encoded.ids)] + [variant_ids(encoded.ids, p, replacement_id) for p in positions]
    scored: list[list[float]] = []
    for start, stop in chunks_of([len(ids) for ids in id_lists], tokens_per_batch):
        scored.extend(predictor.batch_probabilities(id_lists[start:stop]))
    original = scored[0]
    variants = [Variant(p, encoded.tokens[p], replacement, probs, [new - old for new, old in zip(probs, original)])
                for p, probs in zip(positions, scored[1:])]
    return Occlusion(list(encoded.tokens), list(predictor.class_names), original, replacement, variants)


def compare_versions(first, second) -> list[float]:
    """(C,) per class, the second prediction's probability minus the first's (inference.Prediction each)."""
    if list(first.class_names) != list(second.class_names):
        raise InferenceError("the two versions were scored by models with different classes")
    return [b - a for a, b in zip(first.probabilities, second.probabilities)]
