"""What a trained model says about a sentence, and why: the playground's library.

`Predictor` wraps a model, its vocabulary and its label scheme, and answers:

- `encode(text)`: the tokens the model reads (framed by <sos> / <eos> as in training), each
  with its vocabulary index, its training count and whether it became <unk>.
- `predict(text)`: class probabilities and the label.
- `prefix_probabilities(encoded)`: the class probabilities after each prefix of the sentence,
  all prefixes in batched forward passes (lengths 1..T), so the last row is the prediction
  for the whole sentence.
- `gradient_times_input` and `integrated_gradients`: one attribution score per token, taken
  with respect to the word vectors (computed in sentiment_core.analysis.inference.attributions).
- `inside(encoded)`: the top layer's hidden states over time and, for LSTM / GRU, the gates.
- `predict_many(texts)`: a table of predictions for many sentences, in length-sorted batches
  (sentiment_core.analysis.inference.tables reads and writes such tables).

The costly analyses (prefixes, integrated gradients, many sentences) size their batches by
the model's width (analysis.caps), so their memory stays bounded however long the work.
Everything runs on the CPU in eval mode; no function changes the model's weights or gradients
(gradients are taken with torch.autograd.grad on the inputs only), so one Predictor can serve
several threads at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from sentiment_core.analysis.inference import attributions
from sentiment_core.analysis.inference.attributions import Attribution
from sentiment_core.data.caps import (DEFAULT_MAX_INPUT_CHARS, DEFAULT_MAX_INPUT_TOKENS,  # noqa: F401 (re-exported)
                                          FORWARD_UNITS_PER_BATCH, GRADIENT_UNITS_PER_BATCH, MAX_BATCH_ROWS_ENV,
                                          MAX_CSV_BYTES_ENV, MAX_IG_STEPS_ENV, MAX_INPUT_CHARS_ENV,
                                          MAX_INPUT_TOKENS_ENV, bounded_tokens, cap, max_batch_rows,
                                          max_csv_bytes, max_ig_steps, max_input_chars, max_input_tokens,
                                          tokens_per_batch)
from sentiment_core.errors import EmptyInput, InferenceError, InputTooLong
from sentiment_core.models import RecurrentClassifier
from sentiment_core.data.text import EOS, PAD_INDEX, SOS, SPECIALS, UNK_INDEX, LabelScheme, Tokenizer, Vocab
from sentiment_core.runs.execution import load_model
from sentiment_core.runs.listing import list_runs
from sentiment_core.pretrained import shipped_runs
from sentiment_core.runs import jobs
from sentiment_core.runs.limits import Limits
from sentiment_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

# Sentences to try: the tutorial's own example, negations, contrasts, plain cases.
EXAMPLE_SENTENCES = (
    "This movie was actually neither that funny, nor super witty.",
    "The film is not bad at all.",
    "I did not like this movie.",
    "The acting was great, but the story was boring.",
    "It starts slow, but the ending is wonderful.",
    "A moving, beautifully acted and often very funny film.",
    "A dull, tedious and completely forgettable movie.",
    "The movie is about a man who travels to Paris.",
)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class EncodedText:
    """A sentence as the model reads it."""

    text: str
    tokens: list[str]              # (T,) what the model reads, <sos> / <eos> included when trained so
    ids: list[int]                 # (T,) vocabulary indices (0 = <unk>)
    unknown: list[bool]            # (T,) the token is not in the vocabulary and became <unk>
    frequencies: list[int | None]  # (T,) count in the training data (None for <sos> / <eos>)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def unknown_words(self) -> list[str]:
        return [t for t, u in zip(self.tokens, self.unknown) if u]

    @property
    def words(self) -> list[str]:
        """The tokens without the <sos> / <eos> frame."""
        return [t for t in self.tokens if t not in (SOS, EOS)]

    @property
    def word_count(self) -> int:
        return len(self.words)

    def rows(self) -> list[dict]:
        """One row per token for a table: position, token, index, training count, unknown."""
        return [{"position": i, "token": t, "index": ix, "training count": f, "unknown": u}
                for i, (t, ix, f, u) in enumerate(zip(self.tokens, self.ids, self.frequencies, self.unknown))]


@dataclass
class Prediction:
    encoded: EncodedText
    probabilities: list[float]  # (C,) in class-id order
    class_names: list[str]
    note: str = ""              # e.g. every word was unknown

    @property
    def index(self) -> int:
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    @property
    def label(self) -> str:
        return self.class_names[self.index]


@dataclass
class Inside:
    """The hidden state over time and, for LSTM / GRU, the gate activations."""

    tokens: list[str]
    states: list[list[float]]                  # (H, T): units by tokens, top layer, left to right
    gates: dict[str, list[list[float]]] = field(default_factory=dict)  # name -> (H, T)
    note: str = ""


# ---------------------------------------------------------------------------------------------
# The predictor

def prefix_chunks(count: int, max_tokens: int) -> list[tuple[int, int]]:
    """(start, stop) ranges of prefix lengths start+1..stop whose tokens fit `max_tokens` per range."""
    chunks, start = [], 0
    while start < count:
        stop, total = start, 0
        while stop < count and (stop == start or total + stop + 1 <= max_tokens):
            stop += 1
            total += stop
        chunks.append((start, stop))
        start = stop
    return chunks


def padded_chunks(lengths: Sequence[int], max_tokens: int) -> list[tuple[int, int]]:
    """(start, stop) ranges of `lengths` whose padded batch (rows x longest) fits `max_tokens`
    (each range holds at least one)."""
    chunks, start = [], 0
    while start < len(lengths):
        stop, longest = start + 1, lengths[start]
        while stop < len(lengths) and (stop + 1 - start) * max(longest, lengths[stop]) <= max_tokens:
            longest = max(longest, lengths[stop])
            stop += 1
        chunks.append((start, stop))
        start = stop
    return chunks


def is_bidirectional(model: nn.Module) -> bool:
    return bool(getattr(getattr(model, "config", None), "bidirectional", False))


def model_width(model: nn.Module) -> int:
    """Values a token's activations grow with: its word vector and the hidden units of every layer
    and direction (the costly analyses size their batches by it, analysis.caps)."""
    config = getattr(model, "config", None)
    layers = 1 if getattr(config, "tutorial", False) else int(getattr(config, "layers", 1))
    directions = 2 if is_bidirectional(model) else 1
    return int(getattr(config, "embedding_dim", 0)) + layers * directions * int(getattr(config, "hidden_dim", 1))


class Predictor:
    """A model in eval mode on the CPU, its vocabulary and its classes."""

    def __init__(self, model: nn.Module, vocab: Vocab, scheme: LabelScheme, *, add_sos_eos: bool = True,
                 max_tokens: int = DEFAULT_MAX_INPUT_TOKENS, max_chars: int = DEFAULT_MAX_INPUT_CHARS):
        self.model = model.to("cpu").eval()
        self.vocab, self.scheme = vocab, scheme
        self.add_sos_eos, self.max_tokens, self.max_chars = add_sos_eos, max_tokens, max_chars

    @classmethod
    def from_run(cls, run_dir: str | Path, max_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
                 max_chars: int | None = None) -> "Predictor":
        """The run's best checkpoint; `max_chars` None: SENTIMENT_MAX_INPUT_CHARS, else its default."""
        max_chars = max_input_chars() if max_chars is None else max_chars  # a bad value fails before loading
        model, vocab, _, scheme = load_model(run_dir)
        # training frames every sentence with <sos> / <eos> (batching.EncodedDataset), so do we
        return cls(model, vocab, scheme, add_sos_eos=True, max_tokens=max_tokens, max_chars=max_chars)

    @property
    def class_names(self) -> list[str]:
        return list(self.scheme.class_names)

    @property
    def cell(self) -> str:
        config = getattr(self.model, "config", None)
        return getattr(config, "cell", "?")

    # -- text to ids --------------------------------------------------------------------------

    def encode(self, text: str, tokenizer: Tokenizer | None = None) -> EncodedText:
        """Tokenize and look up; raises EmptyInput or InputTooLong with a sentence to show.

        A Predictor is shared between sessions, so it keeps no tokenizer (whose word cache would
        grow with every text anyone types): a fresh one costs about 0.3 ms per sentence. Pass one
        to share its cache over many texts.
        """
        text = "" if text is None else str(text)
        words = bounded_tokens(text, self.max_chars, self.max_tokens, tokenizer)
        ids = self.vocab.encode(words, add_sos_eos=self.add_sos_eos)
        tokens = [SOS, *words, EOS] if self.add_sos_eos else list(words)
        specials = set(SPECIALS)
        unknown = [i == UNK_INDEX and t not in specials for t, i in zip(tokens, ids)]
        frequencies = [None if t in (SOS, EOS) else int(self.vocab.freqs.get(t, 0)) for t in tokens]
        return EncodedText(text, tokens, ids, unknown, frequencies)

    @staticmethod
    def _tensors(encoded: EncodedText) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = torch.tensor([encoded.ids], dtype=torch.long)  # (1, T)
        return tokens, torch.tensor([len(encoded.ids)], dtype=torch.long)

    # -- the answer ---------------------------------------------------------------------------

    @torch.no_grad()
    def probabilities(self, encoded: EncodedText) -> list[float]:
        tokens, lengths = self._tensors(encoded)
        return torch.softmax(self.model(tokens, lengths).float(), dim=1)[0].tolist()

    def tokens_per_batch(self, units_per_batch: int) -> int:
        """Tokens one batch of this model may hold within `units_per_batch` (analysis.caps)."""
        return tokens_per_batch(model_width(self.model), units_per_batch)

    @torch.no_grad()
    def batch_probabilities(self, id_lists: Sequence[Sequence[int]]) -> list[list[float]]:
        """(B, C): class probabilities of several encoded sentences (any lengths), in padded batches
        of at most FORWARD_UNITS_PER_BATCH unit-tokens: memory stays bounded however many there are."""
        rows: list[list[float]] = []
        for start, stop in padded_chunks([len(x) for x in id_lists], self.tokens_per_batch(FORWARD_UNITS_PER_BATCH)):
            ids = [torch.tensor(list(x), dtype=torch.long) for x in id_lists[start:stop]]
            tokens = nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=PAD_INDEX)  # (b, T)
            lengths = torch.tensor([len(x) for x in ids])
            rows.extend(torch.softmax(self._forward_lengths(tokens, lengths).float(), dim=1).tolist())
        return rows

    def predict(self, text: str) -> Prediction:
        encoded = self.encode(text)
        return Prediction(encoded, self.probabilities(encoded), self.class_names, self._note(encoded))

    @staticmethod
    def _note(encoded: EncodedText) -> str:
        if encoded.word_count and len(encoded.unknown_words) == encoded.word_count:
            return ("none of the words is in the training vocabulary, so the model sees only <unk>: "
                    "the answer shows the model's bias, not the text")
        return ""

    # -- token by token -----------------------------------------------------------------------

    @torch.no_grad()
    def prefix_probabilities(self, encoded: EncodedText) -> list[list[float]]:
        """(T, C): row k is the prediction after reading the first k + 1 tokens, as if the
        sentence ended there; the last row is the whole sentence's prediction.

        A left-to-right model needs one pass (see `_prefix_logits_in_one_pass`); any other model
        (bidirectional, the tutorial's) gets all T prefixes in batched forward passes with
        lengths 1..T (batches of FORWARD_UNITS_PER_BATCH unit-tokens), padding never read.
        """
        logits = self._prefix_logits_in_one_pass(encoded)
        if logits is not None:
            return torch.softmax(logits.float(), dim=1).tolist()
        T = len(encoded.ids)
        ids = torch.tensor(encoded.ids, dtype=torch.long)
        rows = []
        # T prefixes hold T (T + 1) / 2 tokens: in chunks, so a very long text cannot exhaust memory
        for start, stop in prefix_chunks(T, self.tokens_per_batch(FORWARD_UNITS_PER_BATCH)):
            lengths = torch.arange(start + 1, stop + 1)                   # (b,)
            tokens = ids[:stop].unsqueeze(0).expand(len(lengths), stop).clone()  # (b, stop)
            tokens[torch.arange(stop).unsqueeze(0) >= lengths.unsqueeze(1)] = PAD_INDEX
            rows.append(torch.softmax(self._forward_lengths(tokens, lengths).float(), dim=1))
        return torch.cat(rows).tolist()

    def _prefix_logits_in_one_pass(self, encoded: EncodedText) -> torch.Tensor | None:
        """(T, C) logits of every prefix from one left-to-right pass, or None for other models.

        In a left-to-right model the top layer's output at step t depends only on tokens 0..t,
        so pooling the outputs up to t (the last one, a running mean or a running max) and
        applying the output layer gives exactly the prediction for that prefix read alone,
        at the cost of one pass instead of T (tests compare both).
        """
        model = self.model
        if not isinstance(model, RecurrentClassifier) or model.encoder.directions != 1:
            return None
        tokens, lengths = self._tensors(encoded)
        x, layout = model.embed(tokens, lengths)
        out = model.encoder(x, layout)                         # (T, H): one sentence, so rows are steps
        if model.pooling == "mean":
            out = out.cumsum(0) / torch.arange(1, len(out) + 1, dtype=out.dtype).unsqueeze(1)
        elif model.pooling == "max":
            out = torch.cummax(out, 0).values
        return model.head(out)                                  # (T, C)

    def _forward_lengths(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        net = getattr(self.model, "net", None)
        if getattr(getattr(self.model, "config", None), "tutorial", False) and net is not None:
            # The tutorial's model reads padding as words; its `lengths` switch freezes a
            # finished sentence's state, which is exactly reading the prefix alone.
            return net(tokens.t(), lengths=lengths)
        return self.model(tokens, lengths)

    def trajectory_note(self) -> str:
        if is_bidirectional(self.model):
            return ("This model is bidirectional: its backward direction reads each prefix from the prefix's "
                    "end, so every point is the prediction for the prefix as if the sentence stopped there, "
                    "not a left-to-right reading of the whole sentence.")
        return "Each point is the prediction after reading the sentence up to that token."

    # -- which words mattered -----------------------------------------------------------------

    def gradient_times_input(self, encoded: EncodedText, target: int | None = None) -> Attribution:
        """attributions.gradient_times_input: x_t . d p(target) / d x_t per token."""
        return attributions.gradient_times_input(self.model, encoded, self.class_names, target)

    def integrated_gradients(self, encoded: EncodedText, steps: int = 50, target: int | None = None,
                             max_steps: int | None = None) -> Attribution:
        """attributions.integrated_gradients from a baseline where every word is <pad>.

        At most `max_steps` steps (None: SENTIMENT_MAX_IG_STEPS, read now), since time grows with
        them; the steps go through the model in batches of GRADIENT_UNITS_PER_BATCH unit-tokens,
        so memory does not.
        """
        max_steps = max_ig_steps() if max_steps is None else max_steps
        if steps > max_steps:
            raise InferenceError(f"integrated gradients takes at most {max_steps} steps on this server, not "
                                 f"{steps}; choose fewer, or raise {MAX_IG_STEPS_ENV}")
        steps_per_batch = self.tokens_per_batch(GRADIENT_UNITS_PER_BATCH) // max(1, len(encoded.ids))
        return attributions.integrated_gradients(self.model, encoded, self.class_names, steps, target,
                                                 steps_per_batch=max(1, steps_per_batch))

    # -- inside the network -------------------------------------------------------------------

    @torch.no_grad()
    def inside(self, encoded: EncodedText) -> Inside:
        tokens, lengths = self._tensors(encoded)
        trace = self.model.trace(tokens, lengths)
        states = torch.stack([s[0] for s in trace.states], 1)  # (H, T)
        gates = {name: g[0].t().tolist() for name, g in (trace.gates or {}).items()}  # name -> (H, T)
        note = ""
        if is_bidirectional(self.model):
            note = "The states shown are the top layer's left-to-right direction; the backward direction is not drawn."
        return Inside(list(encoded.tokens), states.tolist(), gates, note)

    # -- many sentences -----------------------------------------------------------------------

    @torch.no_grad()
    def predict_many(self, texts: Sequence[str], batch_size: int = 256,
                     progress: Callable[[int, int], None] | None = None) -> list[dict]:
        """One row per text (in order): text, tokens, unknown words, label, a probability per class.

        A text that cannot be classified (empty, too long) gets no label and a note saying why.
        Sentences go through the model in batches of similar length.
        """
        rows: list[dict] = []
        encoded: list[tuple[int, EncodedText]] = []
        tokenizer = Tokenizer()
        for i, text in enumerate(texts):
            row = {"text": text, "tokens": None, "unknown words": None, "label": None,
                   **{f"p({name})": None for name in self.class_names}, "note": ""}
            try:
                enc = self.encode(text, tokenizer)
                encoded.append((i, enc))
                row.update({"tokens": enc.word_count, "unknown words": " ".join(enc.unknown_words),
                            "note": self._note(enc)})
            except InferenceError as err:
                row["note"] = str(err)
            rows.append(row)
        encoded.sort(key=lambda item: len(item[1]))
        total, done = len(texts), len(texts) - len(encoded)
        if progress:
            progress(done, total)
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start:start + batch_size]
            probs = self.batch_probabilities([e.ids for _, e in chunk])
            for (i, _), p in zip(chunk, probs):
                best = max(range(len(p)), key=p.__getitem__)
                rows[i]["label"] = self.class_names[best]
                rows[i].update({f"p({name})": round(v, 6) for name, v in zip(self.class_names, p)})
            done += len(chunk)
            if progress:
                progress(done, total)
        return rows


def biggest_turn(trajectory: Sequence[Sequence[float]], class_index: int) -> tuple[int, float, float] | None:
    """(position, before, after): the token after which `class_index`'s probability moved most.

    None for a one-token trajectory.
    """
    if len(trajectory) < 2:
        return None
    position = max(range(1, len(trajectory)),
                   key=lambda k: abs(trajectory[k][class_index] - trajectory[k - 1][class_index]))
    return position, trajectory[position - 1][class_index], trajectory[position][class_index]


# ---------------------------------------------------------------------------------------------
# Which runs can answer, and a quick one when there is none

USABLE_STATES = ("finished", "stopped")
QUICK_PRESET = "playground-quick"


def usable_runs(root: str | Path | None = None, include_walkthrough: bool = False) -> list:
    """Runs with a saved model that have ended (finished, or stopped with a checkpoint), newest first;
    the walkthrough's own runs only with `include_walkthrough`."""
    return [r for r in list_runs(root, include_walkthrough) if r.state in USABLE_STATES and r.has_checkpoint and r.config is not None]


def playground_runs(root: str | Path | None = None, shipped_folder: str | Path | None = None,
                    include_walkthrough: bool = False, requester=None, limits=None) -> list:
    """What the playground offers: the visitor's usable runs (newest first), then the shipped default
    models (sentiment_core.pretrained; read-only), so a fresh deployment answers at the first visit.

    `requester` (jobs.Requester; public mode passes the visitor): only the runs they may see
    (jobs.may_see: their own, or everyone's in class mode, `limits.shared_runs`). None: every run.
    """
    runs = usable_runs(root, include_walkthrough)
    if requester is not None:
        limits = Limits() if limits is None else limits
        runs = [r for r in runs if jobs.may_see(requester, jobs.listed_job(r.path), limits)]
    shipped = [r for r in shipped_runs(shipped_folder) if r.has_checkpoint and r.config is not None]
    return runs + shipped


def quick_run_config():
    """A small model that trains in well under a minute of CPU time: a GRU over the training
    sentences (3 classes), 2 epochs (about 57 % dev accuracy; 13 s of single-thread CPU time
    measured on the development machine)."""
    return RunConfig(data=DataConfig(labels=3),
                     model=ModelConfig(cell="gru", embedding_dim=100, hidden_dim=128),
                     train=TrainConfig(epochs=2, batch_size=64, lr=2e-3, patience=None, probe_every=0),
                     preset=QUICK_PRESET)


__all__ = ["Predictor", "EncodedText", "Prediction", "Attribution", "Inside", "InferenceError", "EmptyInput",
           "InputTooLong", "EXAMPLE_SENTENCES", "max_input_tokens", "max_input_chars", "max_batch_rows",
           "max_csv_bytes", "max_ig_steps", "cap", "bounded_tokens",
           "biggest_turn", "usable_runs", "playground_runs", "quick_run_config", "QUICK_PRESET"]
