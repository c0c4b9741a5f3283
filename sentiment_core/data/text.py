"""Text to integers: spaCy's English tokenizer, the vocabulary, the label schemes."""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from sentiment_core.fileio import atomic_write_text, read_json_bounded
from sentiment_core.settings import MAX_RUN_JSON_BYTES, MAX_RUN_JSON_DEPTH

UNK, PAD, SOS, EOS = "<unk>", "<pad>", "<sos>", "<eos>"
SPECIALS = (UNK, PAD, SOS, EOS)  # indices 0-3, as torchtext's Field gave the tutorial
UNK_INDEX, PAD_INDEX, SOS_INDEX, EOS_INDEX = range(4)

TOKENIZER_VERSION = "spacy-blank-en-lower-v1"  # part of the corpus cache key
MAX_WORD_CHARS = 64  # longer runs without a space are cut before spaCy sees them (bounded_words)
MAX_SAVED_WORDS_BYTES = 2 * 2**20  # a saved-words file (Tokenizer.save_words): 50 probe sentences take ~10 KB


# spaCy's vocabulary keeps every string it has tokenized for as long as it lives: shared by a
# server's sessions, it would keep every word any visitor ever typed (issue 19, M4: 114 MB per
# 150,000 new words). So the shared tokenizer is replaced by a fresh one (65 ms) once its string
# store holds this many strings (about 25 MB; blank English starts with 1,255).
MAX_TOKENIZER_STRINGS = 50_000
_shared = {"tokenizer": None}
_shared_lock = threading.Lock()


def _spacy_tokenizer():
    """The shared spaCy tokenizer, fresh once it has seen MAX_TOKENIZER_STRINGS strings (a caller
    still holding the old one finishes with it; the old one is freed after)."""
    with _shared_lock:
        tokenizer = _shared["tokenizer"]
        if tokenizer is None or len(tokenizer.vocab.strings) > MAX_TOKENIZER_STRINGS:
            import spacy  # imported lazily: spaCy takes ~0.3 s to load

            tokenizer = _shared["tokenizer"] = spacy.blank("en").tokenizer
        return tokenizer


class Tokenizer:
    """spaCy's rule-based English tokenizer, lowercased after splitting (as torchtext did).

    spaCy splits on whitespace first and applies its rules to each chunk on its own, so
    a whitespace-separated word always splits the same way: we cache per word, which
    makes tokenizing the treebank (already word-split) fast.
    """

    def __init__(self, lower: bool = True):
        self.lower = lower
        self._word_cache: dict[str, list[str]] = {}

    def split_word(self, word: str) -> list[str]:
        pieces = self._word_cache.get(word)
        if pieces is None:
            self.prepare(word.split(" "))
            pieces = self._word_cache[word]
        return pieces

    def prepare(self, words: Iterable[str]) -> None:
        """Tokenize every new word in one spaCy call (one call per word is ~30x slower)."""
        new = [w for w in dict.fromkeys(words) if w not in self._word_cache and w]
        new = self._prepare_long_words(new)
        if not new:
            return
        tokenizer = _spacy_tokenizer()
        # A purely alphabetic word that is not one of spaCy's special cases ("cannot",
        # "gonna") is never split; skipping spaCy for it saves most of a cold load.
        plain = [w for w in new if w.isalpha() and w not in tokenizer.rules]
        self._word_cache.update((w, [w.lower() if self.lower else w]) for w in plain)
        new = [w for w in new if w not in self._word_cache]
        if not new:
            return
        doc = tokenizer(" ".join(new))
        groups: list[list[str]] = [[]]
        for token in doc:
            if not token.is_space:
                groups[-1].append(token.text.lower() if self.lower else token.text)
            if token.whitespace_:
                groups.append([])
        if len(groups) != len(new):  # unexpected spacing: fall back to one call per word
            groups = [[t.text.lower() if self.lower else t.text for t in tokenizer(w) if not t.is_space]
                      for w in new]
        self._word_cache.update(zip(new, groups))

    def _prepare_long_words(self, new: list[str]) -> list[str]:
        """Tokenize each word longer than MAX_WORD_CHARS as its pieces (bounded_words); the rest, returned, go to spaCy.

        The bound typed text gets, for every word: a treebank leaf too (no real one is near the cap,
        so nothing real changes), since spaCy's rules are quadratic in a word's length.
        """
        pieces = {w: bounded_words(w) for w in new if len(w) > MAX_WORD_CHARS}
        if not pieces:
            return new
        self.prepare(piece for cut in pieces.values() for piece in cut)
        self._word_cache.update((w, [t for piece in cut for t in self._word_cache[piece]]) for w, cut in pieces.items())
        return [w for w in new if w not in pieces]

    def load_words(self, path: Path) -> int:
        """Add the word splits `save_words` wrote to `path` (same tokenizer version) to the cache; how many.

        A run scores a dozen probe sentences (training/sentence_probes.py): with their words read
        back here, spaCy (about 0.5 s to import, more on a busy machine) is not loaded at all. A
        missing, damaged or other-version file adds nothing: the words then go to spaCy as before.
        """
        try:
            data = read_json_bounded(Path(path), MAX_SAVED_WORDS_BYTES, 3)
        except (OSError, ValueError):  # FileRefused is a ValueError
            return 0
        same = isinstance(data, dict) and data.get("tokenizer") == TOKENIZER_VERSION and data.get("lower") == self.lower
        words = data.get("words") if same else None
        if not isinstance(words, dict):
            return 0
        valid = {w: pieces for w, pieces in words.items()
                 if isinstance(pieces, list) and all(isinstance(p, str) and p for p in pieces)}
        self._word_cache.update(valid)
        return len(valid)

    def knows(self, words: Iterable[str]) -> bool:
        """Every one of `words` is split already (tokenizing them needs no spaCy)."""
        return all(w in self._word_cache for w in words if w)

    def save_words(self, path: Path, words: Iterable[str]) -> None:
        """Write how each of `words` splits (tokenizing the new ones first) for `load_words`; best effort."""
        words = [w for w in dict.fromkeys(words) if w]
        self.prepare(words)
        data = {"tokenizer": TOKENIZER_VERSION, "lower": self.lower, "words": {w: self._word_cache[w] for w in words}}
        try:
            atomic_write_text(Path(path), json.dumps(data, ensure_ascii=False))
        except OSError:
            pass  # a read-only cache folder only costs the next run spaCy's load

    def tokenize_words(self, words: Iterable[str]) -> list[str]:
        words = list(words)
        self.prepare(words)
        tokens: list[str] = []
        cache = self._word_cache
        for word in words:
            if word:
                tokens.extend(cache[word])
        return tokens

    def __call__(self, text: str) -> list[str]:
        return self.tokenize_words(bounded_words(text))


def bounded_words(text: str, max_chars: int = MAX_WORD_CHARS) -> list[str]:
    """The whitespace-separated words of `text`, each longer one cut into pieces of `max_chars`.

    spaCy's rules are quadratic in the length of a chunk without spaces (10,000 "!" take
    seconds); no real word comes near the cap, so cutting changes nothing for real text and
    bounds the cost of a hostile one.
    """
    words = text.split()
    if all(len(w) <= max_chars for w in words):
        return words
    return [w[i:i + max_chars] for w in words for i in range(0, len(w), max_chars)]


class Vocab:
    """A two-way map between tokens and indices, built from training tokens only."""

    def __init__(self, itos: Sequence[str], freqs: dict[str, int] | None = None, min_freq: int = 1,
                 max_size: int | None = None):
        if tuple(itos[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with the specials {SPECIALS}")
        self.itos = list(itos)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}
        self.freqs = Counter(freqs or {})
        self.min_freq, self.max_size = min_freq, max_size

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """Specials first, then tokens by falling frequency (ties alphabetical, as torchtext)."""
        if min_freq < 1:
            raise ValueError("min_freq must be at least 1")
        counts = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        return cls.from_counts(counts, min_freq, max_size)

    @classmethod
    def from_counts(cls, counts: Counter, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        words = [w for w, c in ranked if c >= min_freq]
        if max_size is not None:
            words = words[:max_size]
        return cls(list(SPECIALS) + words, counts, min_freq, max_size)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def index(self, token: str) -> int:
        return self.stoi.get(token, UNK_INDEX)

    def encode(self, tokens: Sequence[str], add_sos_eos: bool = False) -> list[int]:
        ids = [self.stoi.get(t, UNK_INDEX) for t in tokens]
        return [SOS_INDEX, *ids, EOS_INDEX] if add_sos_eos else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict:
        return {"itos": self.itos, "freqs": {t: self.freqs[t] for t in self.itos if t in self.freqs},
                "min_freq": self.min_freq, "max_size": self.max_size}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocab":
        """The vocabulary of `to_dict`'s dict; ValueError saying what is wrong with a damaged one."""
        check_vocab_dict(data)
        return cls(data["itos"], data.get("freqs"), data.get("min_freq", 1), data.get("max_size"))

    def save(self, path: Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        return cls.from_dict(read_json_bounded(Path(path), MAX_RUN_JSON_BYTES, MAX_RUN_JSON_DEPTH))


def check_vocab_dict(data) -> None:
    """Raise ValueError with a sentence unless `data` has the shape Vocab.to_dict gives (a vocab.json read back)."""
    if not isinstance(data, dict):
        raise ValueError("a vocabulary is an object with a list of words, \"itos\"")
    itos, freqs = data.get("itos"), data.get("freqs")
    if not isinstance(itos, list) or not all(isinstance(word, str) for word in itos):
        raise ValueError("its \"itos\" is not a list of words")
    if len(set(itos)) != len(itos):
        raise ValueError("its \"itos\" lists a word twice")
    if freqs is not None and not (isinstance(freqs, dict) and all(_is_count(n) for n in freqs.values())):
        raise ValueError("its \"freqs\" is not an object of word counts")
    if not _is_count(data.get("min_freq", 1)) or data.get("min_freq", 1) < 1:
        raise ValueError("its \"min_freq\" is not a whole number of at least 1")
    if data.get("max_size") is not None and not (_is_count(data["max_size"]) and data["max_size"] >= 1):
        raise ValueError("its \"max_size\" is neither null nor a whole number of at least 1")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class LabelScheme:
    """How the treebank's 0-4 labels become classes. `fine_to_class[l]` is None when dropped."""

    name: str
    class_names: tuple[str, ...]  # index = class id
    fine_to_class: tuple[int | None, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def map(self, fine_label: int) -> int | None:
        return self.fine_to_class[fine_label]


# Class order follows the training split's frequency, as torchtext's label vocabulary did
# (3-class: positive 3610, negative 3310, neutral 1624).
LABEL_SCHEMES = {
    2: LabelScheme("binary", ("positive", "negative"), (1, 1, None, 0, 0)),
    3: LabelScheme("3-class", ("positive", "negative", "neutral"), (1, 1, 2, 0, 0)),
    5: LabelScheme("5-class", ("very negative", "negative", "neutral", "positive", "very positive"),
                   (0, 1, 2, 3, 4)),
}
# The label schemes by their number of classes, (2, 3, 5): the settings' choices, the presets, the
# checkpoint check and the pages' scheme pickers all read them here.
LABEL_COUNTS = tuple(LABEL_SCHEMES)
LABEL_COUNTS_TEXT = ", ".join(map(str, LABEL_COUNTS[:-1])) + f" or {LABEL_COUNTS[-1]}"  # "2, 3 or 5"


def label_scheme(num_classes: int) -> LabelScheme:
    try:
        return LABEL_SCHEMES[int(num_classes)]
    except (KeyError, ValueError):
        raise ValueError(f"labels must be {LABEL_COUNTS_TEXT}, not {num_classes!r}") from None
