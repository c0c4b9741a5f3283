"""Which words mattered: one attribution score per token, taken with respect to the word vectors.

The model is run from its embeddings (`forward_embedded`), so the gradient reaches each word's
vector; gradients are taken with torch.autograd.grad on those inputs only, so the model's
weights and their .grad stay untouched and one model can serve several threads at once.
`encoded` is an inference.EncodedText (its `tokens` and `ids` are read).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from sentiment_core.errors import InferenceError
from sentiment_core.glossary import GRADIENT_X_INPUT, INTEGRATED_GRADIENTS
from sentiment_core.data.text import EOS, PAD_INDEX, SOS


@dataclass
class Attribution:
    """One score per token: how much it pushed the target class's probability."""

    method: str                   # glossary.GRADIENT_X_INPUT or glossary.INTEGRATED_GRADIENTS
    tokens: list[str]
    scores: list[float]           # (T,) summed over the embedding dimensions
    target: int                   # the class explained (the predicted one unless asked)
    target_name: str
    probability: float            # f(x): the target class's probability for the sentence
    baseline_probability: float | None = None  # f(x'): with every word replaced by <pad> (IG only)
    steps: int | None = None      # integration steps (IG only)

    @property
    def total(self) -> float:
        return float(sum(self.scores))

    @property
    def expected_total(self) -> float | None:
        """f(x) - f(baseline): what integrated gradients' scores should sum to (completeness)."""
        if self.baseline_probability is None:
            return None
        return self.probability - self.baseline_probability

    @property
    def completeness_gap(self) -> float | None:
        """|sum of scores - (f(x) - f(baseline))|: the integration's error, shrinking with steps."""
        expected = self.expected_total
        return None if expected is None else abs(self.total - expected)

    @property
    def signed_gap(self) -> float | None:
        """sum of scores - (f(x) - f(baseline)), with its sign: above zero, the scores overshoot."""
        expected = self.expected_total
        return None if expected is None else self.total - expected


# A score counts as pointing one way only when it is at least this share of its method's largest
# |score| in the sentence: below it, the sign of a near-zero score is noise, not a disagreement.
MIN_SHARE = 0.05


@dataclass(frozen=True)
class SignDisagreement:
    """A word that integrated gradients and gradient x input push in opposite directions."""

    position: int
    token: str
    integrated: float     # integrated gradients' score
    gradient: float       # gradient x input's score


def sign_disagreements(integrated: Attribution, gradient: Attribution,
                       min_share: float = MIN_SHARE) -> list[SignDisagreement]:
    """Words whose two scores have opposite signs, each at least `min_share` of its method's largest |score|;
    the largest disagreement first. Both attributions must explain the same class of the same tokens."""
    if integrated.tokens != gradient.tokens or integrated.target != gradient.target:
        raise ValueError("the two attributions explain different tokens or classes")
    floor_ig = min_share * max((abs(v) for v in integrated.scores), default=0.0)
    floor_gxi = min_share * max((abs(v) for v in gradient.scores), default=0.0)
    found = [SignDisagreement(i, token, a, b)
             for i, (token, a, b) in enumerate(zip(integrated.tokens, integrated.scores, gradient.scores))
             if a * b < 0 and abs(a) >= floor_ig and abs(b) >= floor_gxi]
    return sorted(found, key=lambda d: abs(d.integrated) + abs(d.gradient), reverse=True)


def _embedded(model: nn.Module, encoded) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.tensor([encoded.ids], dtype=torch.long)  # (1, T)
    with torch.no_grad():
        return model.embedding(tokens), torch.tensor([len(encoded.ids)], dtype=torch.long)  # (1, T, E), (1,)


def _class_probabilities(model: nn.Module, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return torch.softmax(model.forward_embedded(embedded, lengths).float(), dim=1)  # (B, C)


def gradient_times_input(model: nn.Module, encoded, class_names: Sequence[str],
                         target: int | None = None) -> Attribution:
    """Score_t = x_t . d p(target) / d x_t, with x_t the t-th word vector (target: the predicted class)."""
    x, lengths = _embedded(model, encoded)
    x = x.clone().requires_grad_(True)
    with torch.enable_grad():
        probs = _class_probabilities(model, x, lengths)[0]    # (C,)
        target = int(probs.argmax()) if target is None else target
        (grad,) = torch.autograd.grad(probs[target], x)       # (1, T, E)
    probs = probs.detach()
    scores = (grad * x.detach()).sum(-1)[0]                   # (T,)
    return Attribution(GRADIENT_X_INPUT, list(encoded.tokens), scores.tolist(), target,
                       class_names[target], float(probs[target]))


def integrated_gradients(model: nn.Module, encoded, class_names: Sequence[str], steps: int = 50,
                         target: int | None = None, steps_per_batch: int | None = None) -> Attribution:
    """Integrated gradients from a baseline where every word is <pad> (<sos> / <eos> stay).

    The path integral is a midpoint sum over `steps` points. The points go through the model
    in batches of `steps_per_batch` (default: all at once), each with one forward and one
    backward pass whose gradients are summed: memory grows with a batch, not with the steps.
    Completeness: the scores sum to f(x) - f(baseline) up to the reported gap.
    """
    if steps < 1:
        raise InferenceError(f"integrated gradients needs at least 1 step, not {steps}")
    steps_per_batch = steps if steps_per_batch is None else max(1, steps_per_batch)
    x, lengths = _embedded(model, encoded)                                 # (1, T, E)
    baseline = x.clone()
    words = torch.tensor([t not in (SOS, EOS) for t in encoded.tokens])   # (T,)
    baseline[0, words] = model.embedding.weight.detach()[PAD_INDEX]
    with torch.no_grad():  # f(x) and f(baseline), read the way a prediction is
        ends = _class_probabilities(model, torch.cat([x, baseline]), lengths.expand(2))  # (2, C)
    target = int(ends[0].argmax()) if target is None else target
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps            # midpoints in (0, 1)
    grad_sum = torch.zeros_like(x[0])                                      # (T, E)
    for batch in alphas.split(steps_per_batch):
        path = (baseline + batch.view(-1, 1, 1) * (x - baseline)).requires_grad_(True)  # (b, T, E)
        with torch.enable_grad():
            probs = _class_probabilities(model, path, lengths.expand(len(batch)))  # (b, C)
            (grad,) = torch.autograd.grad(probs[:, target].sum(), path)
        grad_sum += grad.sum(0)
    scores = ((x - baseline)[0] * (grad_sum / steps)).sum(-1)              # (T,)
    return Attribution(INTEGRATED_GRADIENTS, list(encoded.tokens), scores.tolist(), target,
                       class_names[target], float(ends[0, target]), float(ends[1, target]), steps)
