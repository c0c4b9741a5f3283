"""What the dataset explorer shows, as plain data: rows, search, label shares, tree layouts, hard cases.

Rows follow `Corpus.examples` exactly (same filtering of dropped labels and empty phrases),
so a count on the explorer page is the count `python -m sentiment_core data` prints.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple, Sequence

import re2  # google-re2: linear-time matching, so no visitor pattern can run for minutes (see compile_search)

from sentiment_core.data.corpus import Corpus
from sentiment_core.data.treebank import SPLITS, Tree, unescape_ptb
from sentiment_core.data.text import LabelScheme, label_scheme
from sentiment_core.settings import MAX_PATTERN_CHARS, MAX_PATTERN_MEMORY

# Words that flip or weaken what follows them, and words that turn a sentence around.
NEGATION_WORDS = ("not", "n't", "neither", "nor", "never")
CONTRAST_WORDS = ("but", "although", "however")

# The tutorial's motivating review (it is not in the treebank).
TUTORIAL_EXAMPLE = "This movie was actually neither that funny, nor super witty."
TUTORIAL_EXAMPLE_NOTE = (
    "Its words of praise (funny, super, witty) are all positive, yet 'neither ... nor' negates them, "
    "so the review is negative: a model has to remember the 'neither' it read several words earlier, "
    "which a bag of words cannot do and a recurrent network's state can.")

FINE_LABEL_NAMES = label_scheme(5).class_names  # the treebank's own 0-4 labels

SEARCH_MODES = ("words", "regex")


class SearchError(ValueError):
    """A search the user typed that cannot run (a regular expression that does not compile)."""


class Row(NamedTuple):
    """One sentence (or training phrase) as the explorer lists it (a tuple: 160k are built at once)."""

    split: str
    index: int                 # the sentence's line in its split file (for a phrase: its sentence's)
    text: str                  # for display: PTB escapes undone (phrases: their tokens joined)
    tokens: tuple[str, ...]
    label: int                 # class id under the chosen label scheme

    @property
    def length(self) -> int:
        return len(self.tokens)


def example_rows(corpus: Corpus, scheme: LabelScheme | int, splits: Iterable[str] = SPLITS,
                 phrases: bool = False) -> list[Row]:
    """The rows of the chosen splits, keeping exactly what `corpus.examples` keeps.

    Phrase level exists for the training split only (as in `Corpus.examples`); dev and test
    rows stay sentences.
    """
    scheme = scheme if isinstance(scheme, LabelScheme) else label_scheme(scheme)
    rows: list[Row] = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
        if phrases and split == "train":
            # phrase_spans is flat (sentence index, start, end, label) * n: every 4th is the sentence
            for index, (tokens, fine) in zip(corpus.phrase_spans[0::4], corpus.phrases):
                cls = scheme.map(fine)
                if cls is not None and tokens:
                    rows.append(Row(split, index, " ".join(tokens), tokens, cls))
            continue
        for index, (tokens, fine, text) in enumerate(corpus.sentences[split]):
            cls = scheme.map(fine)
            if cls is not None and tokens:
                rows.append(Row(split, index, text, tokens, cls))
    return rows


def compile_search(query: str, mode: str = "words") -> Callable[[Row], bool] | None:
    """A row predicate for a search box; None when the query is blank (everything matches).

    `words`: every whitespace-separated word must be one of the row's tokens (case ignored).
    `regex`: a regular expression searched in the row's text (case ignored), see compile_pattern.
    """
    if mode not in SEARCH_MODES:
        raise ValueError(f"search mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
    query = query.strip()
    if not query:
        return None
    if mode == "words":
        words = frozenset(query.lower().split())
        return lambda row: words.issubset(row.tokens)
    pattern = compile_pattern(query)
    return lambda row: pattern.search(row.text) is not None


def compile_pattern(query: str, max_chars: int = MAX_PATTERN_CHARS, max_memory: int = MAX_PATTERN_MEMORY):
    """A visitor's regular expression compiled with RE2 (case ignored), bounded before it is compiled.

    Python's `re` backtracks: a pattern such as `(.+)+#` takes exponential time on a row without a
    match, inside the page's thread and holding the interpreter lock, so the whole server stopped
    answering. RE2 matches in time linear in the text whatever the pattern, and refuses what it
    cannot do in linear time (backreferences, lookarounds) with an error, shown as a sentence here.
    Its compiled program is capped at `max_memory` bytes, and the pattern at `max_chars`.
    """
    if len(query) > max_chars:
        raise SearchError(f"The regular expression is {len(query):,} characters long; the limit is "
                          f"{max_chars:,}. Shorten it, or switch the search to words.")
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = max_memory
    options.log_errors = False  # a bad pattern is the visitor's, not the server log's
    try:
        return re2.compile(query, options)
    except re2.error as err:
        reason = err.args[0].decode("utf-8", "replace") if err.args and isinstance(err.args[0], bytes) \
            else str(err)
        raise SearchError(f"The regular expression {query!r} does not compile ({reason}). Fix it (backreferences "
                          "and lookarounds are not supported), or switch the search to words.") from None


def filter_rows(rows: Sequence[Row], matches: Callable[[Row], bool] | None = None,
                labels: Iterable[int] | None = None,
                length_range: tuple[int, int] | None = None) -> list[Row]:
    """The rows passing every given filter (None: no filter of that kind)."""
    wanted = None if labels is None else frozenset(labels)
    low, high = length_range if length_range is not None else (0, float("inf"))
    return [row for row in rows
            if (wanted is None or row.label in wanted)
            and low <= len(row.tokens) <= high
            and (matches is None or matches(row))]


def label_counts(rows: Iterable[Row], num_classes: int) -> list[int]:
    counts = Counter(row.label for row in rows)
    return [counts.get(c, 0) for c in range(num_classes)]


def split_label_counts(corpus: Corpus, scheme: LabelScheme | int, phrases: bool = False) -> dict[str, dict[str, int]]:
    """{split: {class name: examples}}: the label counts of `stats.data_summary`, without its other work."""
    scheme = scheme if isinstance(scheme, LabelScheme) else label_scheme(scheme)
    out = {}
    for split in SPLITS:
        counts = Counter(e.label for e in corpus.examples(scheme, split, phrases))
        out[split] = {name: counts.get(cls, 0) for cls, name in enumerate(scheme.class_names)}
    return out


def phrase_lengths_and_labels(corpus: Corpus, scheme: LabelScheme | int) -> list[tuple[int, int]]:
    """(length in tokens, class id) of every training phrase `corpus.examples(scheme, "train", True)` keeps.

    Read from the phrase spans without building the 157k token tuples (about 8x faster in CPU time).
    """
    scheme = scheme if isinstance(scheme, LabelScheme) else label_scheme(scheme)
    spans = corpus.phrase_spans  # flat: (sentence index, token start, token end, fine label) * n
    out = []
    for start, end, fine in zip(spans[1::4], spans[2::4], spans[3::4]):
        cls = scheme.map(fine)
        if cls is not None and end > start:
            out.append((end - start, cls))
    return out


def label_share_by_length(lengths_and_labels: Iterable[tuple[int, int]], num_classes: int, cap: int = 30) -> dict:
    """For each length 1..cap (longer ones pooled into cap), how many examples and each label's share.

    Takes (length, class id) pairs; on training phrases it shows that short phrases are mostly neutral.
    """
    counts = [[0] * num_classes for _ in range(cap + 1)]
    for length, label in lengths_and_labels:
        counts[min(length, cap)][label] += 1
    lengths = [n for n in range(1, cap + 1) if sum(counts[n])]
    totals = [sum(counts[n]) for n in lengths]
    shares = [[counts[n][c] / total for n, total in zip(lengths, totals)] for c in range(num_classes)]
    return {"lengths": lengths, "totals": totals, "shares": shares, "cap": cap}


@dataclass
class TreeLayout:
    """Node positions for drawing a parse tree: leaves left to right on one row, parents above.

    A node's height is one more than its tallest child's (leaves are 0), so short phrases sit
    low and the sentence at the top; a parent is centred over its children.
    """

    x: list[float]
    y: list[int]                   # height above the leaves: 0 for a leaf, the root highest
    labels: list[int]              # the treebank's fine label 0-4 of every node
    texts: list[str]               # the phrase under every node, escapes undone
    words: list[str | None]        # the word of a leaf, None for an inner node
    edges: list[tuple[int, int]]   # (parent node, child node)


def tree_layout(tree: Tree) -> TreeLayout:
    """Positions of every node of `tree`, in pre-order (node 0 is the root)."""
    layout = TreeLayout([], [], [], [], [], [])
    next_leaf = [0]

    def place(node: Tree) -> int:
        slot = len(layout.x)
        layout.x.append(0.0)
        layout.y.append(0)
        layout.labels.append(node.label)
        layout.texts.append(node.text)
        layout.words.append(unescape_ptb(node.word) if node.word is not None else None)
        if node.word is not None:
            layout.x[slot] = float(next_leaf[0])
            next_leaf[0] += 1
        else:
            children = [place(child) for child in node.children]
            layout.edges.extend((slot, child) for child in children)
            layout.x[slot] = sum(layout.x[c] for c in children) / len(children)
            layout.y[slot] = 1 + max(layout.y[c] for c in children)
        return slot

    place(tree)
    return layout


def hard_case_kind(tokens: Iterable[str]) -> tuple[bool, bool]:
    """(has a negation word, has a contrast word)."""
    present = set(tokens)
    return (not present.isdisjoint(NEGATION_WORDS), not present.isdisjoint(CONTRAST_WORDS))


HARD_CASE_GROUPS = ("negation", "contrast", "other")  # other: no negation or contrast word


def hard_case_groups(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows with a negation word, with a contrast word (a row may be in both), and the rest."""
    groups: dict[str, list[Row]] = {name: [] for name in HARD_CASE_GROUPS}
    for row in rows:
        negation, contrast = hard_case_kind(row.tokens)
        if negation:
            groups["negation"].append(row)
        if contrast:
            groups["contrast"].append(row)
        if not negation and not contrast:
            groups["other"].append(row)
    return groups


def hard_case_summary(rows: Iterable[Row], num_classes: int) -> dict[str, dict]:
    """Per group: the number of rows, label counts and label shares."""
    summary = {}
    for name, members in hard_case_groups(rows).items():
        counts = label_counts(members, num_classes)
        total = sum(counts)
        summary[name] = {"rows": total, "counts": counts,
                         "shares": [c / total if total else 0.0 for c in counts]}
    return summary
