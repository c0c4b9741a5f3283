"""The treebank as tokenized examples, with a cache keyed by the treebank's checksum.

A cold load parses every tree and tokenizes every sentence and training phrase; the
result is saved to a cache file named after the treebank checksum and the tokenizer
version, so a second load reads one file and a changed input never serves stale data.
"""
from __future__ import annotations

import base64
import json
from array import array
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

from sentiment_core.data.treebank import (SPLITS, Tree, check_split_size, find_treebank, parse_tree, scan_tree_file,
                                          scan_treebank, split_paths, treebank_checksum, unescape_ptb)
from sentiment_core.data.text import TOKENIZER_VERSION, LabelScheme, Tokenizer, Vocab, label_scheme
from sentiment_core.fileio import atomic_write_text, read_bytes_bounded
from sentiment_core.settings import MAX_TREEBANK_FILE_BYTES, default_cache_dir
from sentiment_core.timeline import mark  # bench --startup's moments (a no-op unless asked)

CACHE_FORMAT = 3
# A cache holds each sentence twice (tokens and text) besides the spans: the real one is 1.9 times
# its three splits. Anything larger than twice that at the split caps is damaged, and is rebuilt.
MAX_CACHE_BYTES = 4 * 3 * MAX_TREEBANK_FILE_BYTES


@dataclass(frozen=True)
class Example:
    tokens: tuple[str, ...]
    label: int  # a class id of the chosen label scheme


@dataclass
class Corpus:
    """Tokenized sentences of every split and the distinct labelled phrases of train.

    `sentences[split]` is a list of (tokens, fine_label, display_text); `phrases` is a list
    of (tokens, fine_label) for every distinct labelled subtree of the training trees.
    """

    folder: Path
    checksum: str
    sentences: dict[str, list[tuple[tuple[str, ...], int, str]]]
    phrase_spans: Sequence[int]  # flat: (train sentence index, token start, token end, fine label) * n

    @cached_property
    def phrases(self) -> list[tuple[tuple[str, ...], int]]:
        """Built on first use: most pages and sentence-level training never need them."""
        train = self.sentences["train"]
        flat = self.phrase_spans
        return [(train[flat[k]][0][flat[k + 1]:flat[k + 2]], flat[k + 3]) for k in range(0, len(flat), 4)]

    def tree(self, split: str, index: int) -> Tree:
        """Re-parse one sentence's tree from its file (trees are not cached: they are big).

        The file is checked again (it may have changed since the load): its size before it is
        read, the line's length and the tree's caps by parse_tree.
        """
        path = split_paths(self.folder)[split]
        check_split_size(path)
        with open(path, encoding="utf-8") as handle:
            for n, line in enumerate(handle):
                if n == index:
                    return parse_tree(line, str(path), n + 1)
        raise IndexError(f"{split} has no sentence {index}")

    def examples(self, scheme: LabelScheme | int, split: str, phrases: bool = False) -> list[Example]:
        """Examples of one split under a label scheme; phrase level applies to train only."""
        scheme = scheme if isinstance(scheme, LabelScheme) else label_scheme(scheme)
        if phrases and split == "train":
            rows = self.phrases
        else:
            rows = [(tokens, fine) for tokens, fine, _ in self.sentences[split]]
        out = []
        for tokens, fine in rows:
            cls = scheme.map(fine)
            if cls is not None and tokens:
                out.append(Example(tokens, cls))
        return out

    def build_vocab(self, min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """The vocabulary of the training sentences only (phrases add no new words)."""
        return Vocab.build((tokens for tokens, _, _ in self.sentences["train"]), min_freq, max_size)


def tokenize_trees(scanned: dict[str, list], tokenizer: Tokenizer):
    """Tokenized sentences of every split, and the distinct phrases of train as token spans.

    `scanned` is treebank.scan_treebank's output. A phrase is a contiguous run of its sentence's
    leaves, so its tokens are a slice of the sentence's tokens: phrases are stored as a flat
    list of (sentence index, token start, token end, label) quadruples.
    """
    words_of = {split: [[unescape_ptb(w) for w in leaves] for _, leaves, _ in rows] for split, rows in scanned.items()}
    tokenizer.prepare(w for split_words in words_of.values() for words in split_words for w in words)
    split_word = tokenizer.split_word
    sentences, leaf_offsets = {}, {}
    for split, rows in scanned.items():
        out, offsets = [], []
        for (label, _, _), words in zip(rows, words_of[split]):
            tokens, starts = tokens_and_leaf_starts(words, split_word)
            out.append((tuple(tokens), label, " ".join(words)))
            offsets.append(starts)
        sentences[split], leaf_offsets[split] = out, offsets
    spans, seen = [], set()
    for index, (_, _, node_spans) in enumerate(scanned["train"]):
        tokens, starts = sentences["train"][index][0], leaf_offsets["train"][index]
        for leaf_start, leaf_end, label in reversed(node_spans):  # root first
            start, end = starts[leaf_start], starts[leaf_end]
            key = tokens[start:end]
            if key and key not in seen:  # distinct by token sequence; the first label wins
                seen.add(key)
                spans.extend((index, start, end, label))
    return sentences, spans


def tokens_and_leaf_starts(words: list[str], split_word) -> tuple[list[str], list[int]]:
    """A sentence's tokens, and where each leaf's tokens start (one more entry: the end)."""
    tokens, starts = [], []
    for word in words:
        starts.append(len(tokens))
        tokens.extend(split_word(word))
    starts.append(len(tokens))
    return tokens, starts


def tree_phrases(folder: Path, split: str, tokenizer: Tokenizer | None = None) -> list[list[tuple[int, int, int]]]:
    """For every sentence of a split, each node of its tree as (token start, token end, fine label).

    Root first; the token positions index the sentence's tokens as the corpus holds them
    (a leaf such as "doesn't" may be several tokens). Nodes without tokens are left out.
    """
    tokenizer = tokenizer or Tokenizer()
    out = []
    for _, leaves, node_spans in scan_tree_file(split_paths(folder)[split]):
        _, starts = tokens_and_leaf_starts([unescape_ptb(w) for w in leaves], tokenizer.split_word)
        nodes = [(starts[a], starts[b], label) for a, b, label in reversed(node_spans)]
        out.append([node for node in nodes if node[1] > node[0]])
    return out


def load_corpus(data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                use_cache: bool = True, download: bool = False, progress=None) -> Corpus:
    """Find the treebank, then read the tokenized corpus from the cache or build it."""
    folder = find_treebank(data_dir, download=download, progress=progress)
    checksum = treebank_checksum(folder)
    cache_path = Path(cache_dir or default_cache_dir()) / f"corpus-{checksum[:16]}-{TOKENIZER_VERSION}.json"
    if use_cache and cache_path.is_file():
        cached = _read_cache(cache_path, checksum)
        if cached is not None:
            sentences, spans = cached
            mark("data")
            return Corpus(folder, checksum, sentences, spans)
    sentences, spans = tokenize_trees(scan_treebank(folder), Tokenizer())
    if use_cache:
        _write_cache(cache_path, checksum, sentences, spans)
    mark("data")
    return Corpus(folder, checksum, sentences, spans)


def _read_cache(path: Path, checksum: str):
    try:
        data = json.loads(read_bytes_bounded(path, MAX_CACHE_BYTES))
        if data.get("format") != CACHE_FORMAT or data.get("checksum") != checksum:
            return None
        sentences = {s: [(tuple(tokens.split(" ")) if tokens else (), label, text)
                         for tokens, label, text in data["sentences"][s]] for s in SPLITS}
        spans = array("i")
        spans.frombytes(base64.b64decode(data["spans"]))
        return sentences, spans
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):  # FileRefused is a ValueError
        return None  # a damaged cache is rebuilt, never trusted


def _write_cache(path: Path, checksum: str, sentences, spans) -> None:
    # tokens never hold spaces (spaCy splits on them), so a space-joined string is lossless
    data = {"format": CACHE_FORMAT, "checksum": checksum, "tokenizer": TOKENIZER_VERSION,
            "sentences": {s: [(" ".join(t), label, text) for t, label, text in rows] for s, rows in sentences.items()},
            # ~157k phrase spans as packed int32: parsing them as JSON numbers was most of a warm load
            "spans": base64.b64encode(array("i", spans).tobytes()).decode("ascii")}
    try:
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    except OSError:
        pass  # a read-only data folder only costs speed
