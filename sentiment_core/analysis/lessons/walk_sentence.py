"""The sentence the walkthrough's sections 2 to 5 read: its tokens and their word vectors as x_1 .. x_T.

The vectors come from a trained embedding table (the shipped default model's, see
sentiment_core.pretrained), so the lesson's inputs are the words of a real review rather than
random numbers. Everything typed is bounded before any work (settings.MAX_INPUT_CHARS, then
MAX_WALK_TOKENS: a diagram with one box per word stays readable).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sentiment_core import settings
from sentiment_core.data.text import Tokenizer, Vocab

# Dev sentences of the Stanford Sentiment Treebank, as its trees spell them: short ones of each class,
# then two long ones (37 and 40 tokens), where vanishing and exploding gradients show (exercise 4 of
# the last section needs 39 or more: 1.2^k passes 1000 at k = 38 words back).
TREEBANK_SENTENCES = (
    "A warm , funny , engaging film .",
    "Suffers from the lack of a compelling or comprehensible narrative .",
    "You wo n't like Roger , but you will quickly recognize him .",
    "It 's like watching a nightmare made flesh .",
    "The performances take the movie to a higher level .",
    "Not only is Undercover Brother as funny , if not more so , than both Austin Powers films , but it 's also one "
    "of the smarter , savvier spoofs to come along in some time .",
    "At times , the suspense is palpable , but by the end there 's a sense that the crux of the mystery hinges on a "
    "technicality that strains credulity and leaves the viewer haunted by the waste of potential .",
)
LONGEST_SENTENCE = TREEBANK_SENTENCES[-1]
MAX_WALK_TOKENS = 40  # words one lesson reads; longer text is cut (and the page says so)


@dataclass
class SentenceInputs:
    text: str
    tokens: list[str]       # what the tokenizer made of the text, at most MAX_WALK_TOKENS
    ids: list[int]          # their vocabulary indices (no <sos> / <eos>: the lesson reads the words)
    x: torch.Tensor         # (T, E) the word vectors x_1 .. x_T
    unknown: list[str]      # tokens the vocabulary does not hold (read as <unk>)
    cut: int = 0            # tokens dropped beyond MAX_WALK_TOKENS


def sentence_inputs(text: str, tokenizer: Tokenizer, vocab: Vocab, weight: torch.Tensor,
                    max_tokens: int = MAX_WALK_TOKENS) -> SentenceInputs:
    """Tokenize `text` (bounded first), look each token up in `vocab`, and each index up in `weight`."""
    if len(text) > settings.MAX_INPUT_CHARS:
        raise ValueError(f"the text is {len(text):,} characters long; the limit is {settings.MAX_INPUT_CHARS:,}")
    tokens = tokenizer(text)
    if not tokens:
        raise ValueError("the sentence is empty: type a few words")
    cut = max(0, len(tokens) - max_tokens)
    tokens = tokens[:max_tokens]
    ids = vocab.encode(tokens, add_sos_eos=False)
    with torch.no_grad():
        x = weight[torch.tensor(ids, dtype=torch.long)].detach().clone()
    return SentenceInputs(text, tokens, ids, x, [t for t in tokens if t not in vocab], cut)


def token_labels(tokens: list[str]) -> list[str]:
    """Axis labels that stay distinct when a word repeats: 'good', ',', 'good (2)'."""
    seen: dict[str, int] = {}
    labels = []
    for token in tokens:
        seen[token] = seen.get(token, 0) + 1
        labels.append(token if seen[token] == 1 else f"{token} ({seen[token]})")
    return labels
