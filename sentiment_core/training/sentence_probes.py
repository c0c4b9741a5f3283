"""Sentence probes: a dozen fixed sentences scored at every epoch end, to watch a model learn.

Not the gradient-through-time probe (probe.py): these are sentences with negation and
contrast ("not bad at all", "the plot is thin, but the acting is wonderful"). The trainer asks
for extra epoch fields through `fit(epoch_fields=...)`; `ProbeScorer` answers with
``{"sentence_probes": [{"text", "probabilities", "predicted"}, ...]}``, one batch in eval mode,
so every epoch_end row of metrics.jsonl holds how each sentence was read at that epoch (and
train_begin of a new run holds them before training, epoch 0).

The sentences come from a text file (one a line, `#` starts a note): the shipped
probe_sentences.txt, or the operator's own named by SENTIMENT_PROBE_SENTENCES (settings.py),
bounded before it is used: the file's size, the number of sentences, each one's length.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import nn

from sentiment_core import settings
from sentiment_core.data.caps import bounded_tokens
from sentiment_core.errors import InferenceError
from sentiment_core.data.batching import pad_collate
from sentiment_core.data.text import TOKENIZER_VERSION, Tokenizer, Vocab, bounded_words
from sentiment_core.fileio import FileRefused, read_bytes_bounded
from sentiment_core.models.modes import evaluating
from sentiment_core.training import SENTENCE_PROBES


class ProbeSentencesError(ValueError):
    """The probe sentence file cannot be used, said as a sentence naming the fix."""


def read_probe_sentences(path: str | Path, max_sentences: int = settings.MAX_PROBE_SENTENCES,
                         max_chars: int = settings.MAX_PROBE_CHARS,
                         max_bytes: int = settings.MAX_PROBE_FILE_BYTES) -> list[str]:
    """The sentences of a probe file, in order; blank lines and `#` notes skipped.

    Raises ProbeSentencesError for a missing, oversized or non-UTF-8 file, one with no
    sentence or more than `max_sentences`, or a line longer than `max_chars`. Only a regular
    file is read (fileio.read_bytes_bounded): a device such as /dev/zero, whose size says 0, or
    a FIFO, which would block the run, is refused before a byte is read.
    """
    path = Path(path)
    where = f"the probe sentence file {path.name} (set by {settings.PROBE_SENTENCES_ENV})"
    try:
        text = read_bytes_bounded(path, max_bytes).decode("utf-8")
    except FileNotFoundError:
        raise ProbeSentencesError(f"{where} does not exist; point {settings.PROBE_SENTENCES_ENV} at a text file "
                                  "with one sentence a line, or unset it for the shipped sentences") from None
    except FileRefused as err:
        raise ProbeSentencesError(f"{where} {err}; point {settings.PROBE_SENTENCES_ENV} at a text file of at "
                                  f"most {max_sentences} short sentences, one a line") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ProbeSentencesError(f"{where} cannot be read as UTF-8 text ({type(err).__name__}); save it as "
                                  "plain UTF-8 text with one sentence a line") from None
    sentences = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > max_chars:
            raise ProbeSentencesError(f"line {number} of {where} has {len(line):,} characters, more than the cap "
                                      f"of {max_chars}; shorten it")
        sentences.append(line)
    if not sentences:
        raise ProbeSentencesError(f"{where} holds no sentence; write one sentence a line")
    if len(sentences) > max_sentences:
        raise ProbeSentencesError(f"{where} holds {len(sentences)} sentences, more than the cap of "
                                  f"{max_sentences}; keep the ones you want to watch")
    return sentences


def saved_words_path(sentences: Sequence[str]) -> Path:
    """Where the probe sentences' word splits are kept between runs: one small file per set of sentences."""
    digest = hashlib.sha256("\n".join(sentences).encode("utf-8")).hexdigest()[:16]
    return settings.default_cache_dir() / f"probe-words-{digest}-{TOKENIZER_VERSION}.json"


def probe_tokenizer(sentences: Sequence[str]) -> Tokenizer:
    """A tokenizer that already knows how the sentences' words split, from the last run's saved file.

    Without it every run would load spaCy (0.5 s, seconds on a busy machine) before its first batch
    for a dozen fixed sentences; the first run with new sentences saves their splits for the next.
    """
    tokenizer, path = Tokenizer(), saved_words_path(sentences)
    words = [w for text in sentences for w in bounded_words(text)]
    tokenizer.load_words(path)
    if not tokenizer.knows(words):
        tokenizer.save_words(path, words)
    return tokenizer


class ProbeScorer:
    """Scores fixed sentences with a model: call it with the model, get the epoch fields."""

    def __init__(self, sentences: Sequence[str], vocab: Vocab, add_sos_eos: bool = True):
        self.sentences = list(sentences)
        tokenizer = probe_tokenizer(self.sentences)
        encoded = []
        for text in self.sentences:
            try:
                words = bounded_tokens(text, settings.MAX_PROBE_CHARS, settings.MAX_INPUT_TOKENS, tokenizer)
            except InferenceError as err:
                raise ProbeSentencesError(f"the probe sentence {text[:40]!r} cannot be used: {err}") from None
            ids = vocab.encode(words, add_sos_eos=add_sos_eos)
            encoded.append((torch.tensor(ids, dtype=torch.long), 0))  # the label is unused
        self.batch = pad_collate(encoded)  # (N, T) padded: all sentences in one forward pass

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> dict:
        """{"sentence_probes": [...]}: each sentence's class probabilities and predicted class.

        Eval mode (no dropout) and back to the mode the model was in; no random numbers are drawn,
        so scoring leaves a seeded run's batches and dropout masks as they were.
        """
        with evaluating(model):
            batch = self.batch.to(next(model.parameters()).device)
            probabilities = torch.softmax(model(batch.tokens, batch.lengths).float(), dim=1).tolist()  # (N, C)
        return {SENTENCE_PROBES: [{"text": text, "probabilities": [round(p, 6) for p in row],
                         "predicted": max(range(len(row)), key=row.__getitem__)}
                        for text, row in zip(self.sentences, probabilities)]}


def probe_changes(history: Mapping[int, Sequence[Mapping]], epoch: int, class_names: Sequence[str]) -> list[dict]:
    """Each probe sentence at `epoch` and how it moved since the epoch before it in `history`.

    One dict per sentence: text, predicted (a class name), probabilities, change (per class,
    in probability points since the previous epoch; None at the first epoch or for a sentence
    the previous epoch did not score), was (the previous prediction when it changed, else None).
    Sentences are matched by text, so an operator's edited probe file between a stop and a
    resume only loses the change for the new sentences.
    """
    earlier = [e for e in sorted(history) if e < epoch]
    before = {p.get("text"): p for p in history[earlier[-1]]} if earlier else {}
    rows = []
    for probe in history.get(epoch, []):
        probabilities = list(probe["probabilities"])
        predicted = _name(class_names, probe.get("predicted"))
        previous = before.get(probe.get("text"))
        change = was = None
        if previous is not None and len(previous.get("probabilities", ())) == len(probabilities):
            change = [now - then for now, then in zip(probabilities, previous["probabilities"])]
            was_name = _name(class_names, previous.get("predicted"))
            was = was_name if was_name != predicted else None
        rows.append({"text": str(probe.get("text", "")), "predicted": predicted, "probabilities": probabilities,
                     "change": change, "was": was})
    return rows


def _name(class_names: Sequence[str], index) -> str:
    return class_names[index] if isinstance(index, int) and 0 <= index < len(class_names) else "?"
