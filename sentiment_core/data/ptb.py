"""Penn Treebank notation: the labelled parse trees of SST, read and checked.

One sentence per line as a labelled binary tree, `(3 (2 (2 A) (2 film)) (4 ...))`; every node
carries a sentiment label 0-4. `scan_tree` is the fast path the corpus uses; `parse_tree`
builds `Tree` objects for display and gives the precise error.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from sentiment_core.fileio import FileRefused, read_bytes_bounded
from sentiment_core.settings import (MAX_TREE_DEPTH, MAX_TREE_LINE_CHARS, MAX_TREE_SYMBOL_CHARS, MAX_TREE_WORD_CHARS,
                                     MAX_TREEBANK_FILE_BYTES)

PTB_UNESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}


class TreebankError(Exception):
    """Base class of every treebank problem the user can act on."""


class TreebankFormatError(TreebankError):
    """A tree line that does not parse; names the file and the line."""

    def __init__(self, message: str, source: str = "<string>", line_no: int | None = None):
        where = f"{source}, line {line_no}" if line_no is not None else source
        super().__init__(f"{where}: {message}")
        self.source, self.line_no = source, line_no


def unescape_ptb(word: str) -> str:
    """Undo the PTB escapes of a leaf: -LRB- to (, -RRB- to ), \\/ to /."""
    if "\\" not in word and not word.startswith("-"):
        return word  # the common case, checked first: this runs for every leaf
    word = PTB_UNESCAPES.get(word, word)
    return word.replace("\\/", "/").replace("\\*", "*")


class Tree:
    """A labelled binary parse tree. A leaf has a `word` and no children.

    A plain class with slots rather than a dataclass: the treebank has ~230,000 nodes
    and building them is most of a cold load.
    """

    __slots__ = ("label", "children", "word")

    def __init__(self, label: int, children: tuple["Tree", ...] = (), word: str | None = None):
        self.label, self.children, self.word = label, children, word

    def __repr__(self) -> str:
        return f"Tree({self.to_ptb()!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Tree) and self.to_ptb() == other.to_ptb()

    def leaves(self) -> list[str]:
        """The raw words under this node, left to right (PTB escapes kept)."""
        if self.word is not None:
            return [self.word]
        words: list[str] = []
        for child in self.children:
            words.extend(child.leaves())
        return words

    @property
    def text(self) -> str:
        """The phrase for display, escapes undone."""
        return " ".join(unescape_ptb(w) for w in self.leaves())

    def subtrees(self) -> Iterator["Tree"]:
        """Every node (phrase) of the tree, root first, in pre-order."""
        yield self
        for child in self.children:
            yield from child.subtrees()

    def spans(self) -> list[tuple[int, int, int]]:
        """(start, end, label) of every node over the leaf positions, in pre-order."""
        out: list[tuple[int, int, int]] = []

        def walk(node: "Tree", start: int) -> int:
            slot = len(out)
            out.append((start, start, node.label))
            end = start + 1 if node.word is not None else start
            for child in node.children:
                end = walk(child, end)
            out[slot] = (start, end, node.label)
            return end

        walk(self, 0)
        return out

    def to_ptb(self) -> str:
        if self.word is not None:
            return f"({self.label} {self.word})"
        return f"({self.label} " + " ".join(c.to_ptb() for c in self.children) + ")"


# ASCII whitespace only: a few leaves hold a non-breaking space ("2\xa01\\/2") that is part of the word
_PTB_TOKEN = re.compile(r"[()]|[^ \t\r\n()]+")
_LABELS = {str(n): n for n in range(5)}


def parse_tree(line: str, source: str = "<string>", line_no: int | None = None) -> Tree:
    """Parse one PTB tree line; raise TreebankFormatError naming source and line."""

    def fail(message: str):
        raise TreebankFormatError(message, source, line_no)

    if len(line) > MAX_TREE_LINE_CHARS:  # a line from anywhere, not only a checked file (Corpus.tree)
        fail(line_too_long(line))
    tokens = _PTB_TOKEN.findall(line)
    if not tokens:
        fail("empty line where a tree was expected")
    # An explicit stack instead of recursion: fast, and no recursion limit on deep trees.
    stack: list[tuple[int, list]] = []  # (label, children so far)
    root = None
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if tok == "(":
            if root is not None:
                fail("unbalanced parentheses: text after the tree closed")
            if i + 1 >= n or tokens[i + 1] in "()":
                fail("a node is missing its label")
            label = _LABELS.get(tokens[i + 1])
            if label is None:
                fail(f"label {excerpt(tokens[i + 1])} is not a sentiment label 0-4")
            if len(stack) >= MAX_TREE_DEPTH:  # this node would be one level too deep
                fail(too_deep())
            if i + 2 < n and tokens[i + 2] not in "()":  # a leaf: (label word)
                if i + 3 >= n or tokens[i + 3] != ")":
                    fail("unbalanced parentheses: a leaf is not closed")
                if len(tokens[i + 2]) > MAX_TREE_WORD_CHARS:
                    fail(word_too_long(tokens[i + 2]))
                node = Tree(label, (), tokens[i + 2])
                i += 4
                if stack:
                    stack[-1][1].append(node)
                else:
                    root = node
                continue
            stack.append((label, []))
            i += 2
        elif tok == ")":
            if not stack:
                fail("unbalanced parentheses: ')' without a matching '('")
            label, children = stack.pop()
            if not children:
                fail("a node has neither a word nor children")
            node = Tree(label, tuple(children))
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
            i += 1
        else:
            fail(f"unexpected word {excerpt(tok)} outside a leaf")
    if stack or root is None:
        fail("unbalanced parentheses: the tree ends inside a node")
    return root


# One match per leaf "(2 word)", per opening "(2 " of an inner node, per ")"; anything else
# is caught by the last group and sends the line to parse_tree for a precise error.
_SCAN = re.compile(r"\(([0-4]) ([^ \t\r\n()]+)\)|\(([0-4]) |(\))|([^ \t\r\n])")


def scan_tree(line: str, source: str = "<string>", line_no: int | None = None):
    """A fast pass over one tree line without building nodes.

    Returns (root label, raw leaves, spans) where spans lists (leaf_start, leaf_end, label)
    for every node. About 5x faster than parse_tree; same validation (it defers to
    parse_tree for the error message), caps included: a line, a word or a nesting past
    settings.MAX_TREE_LINE_CHARS, MAX_TREE_WORD_CHARS, MAX_TREE_DEPTH is refused, so what is
    installed is bounded for the tokenizer (spaCy's rules are quadratic in a word's length) and
    for any recursion over a tree.
    """
    leaves: list[str] = []
    spans: list[tuple[int, int, int]] = []
    stack: list[tuple[int, int]] = []  # (label, leaf_start) of open inner nodes
    closed_root = False
    if len(line) > MAX_TREE_LINE_CHARS:
        parse_tree(line, source, line_no)  # raises the precise error
    for leaf_label, word, open_label, close, junk in _SCAN.findall(line):
        if closed_root or junk:
            break
        if word:
            # A word too long, or one level too deep (the deepest node of a tree is a leaf, so
            # checking leaves is enough): parse_tree says which
            if len(word) > MAX_TREE_WORD_CHARS or len(stack) >= MAX_TREE_DEPTH:
                break
            spans.append((len(leaves), len(leaves) + 1, int(leaf_label)))
            leaves.append(word)
            closed_root = not stack
        elif open_label:
            stack.append((int(open_label), len(leaves)))
        elif close and stack:
            label, start = stack.pop()
            if start == len(leaves):
                break  # an empty node
            spans.append((start, len(leaves), label))
            closed_root = not stack
        else:
            break
    else:
        if closed_root and not stack:
            return spans[-1][2], leaves, spans
    parse_tree(line, source, line_no)  # raises the precise error
    raise TreebankFormatError("malformed tree", source, line_no)


def scan_tree_file(path: Path, source: str | None = None) -> list[tuple[int, list[str], list[tuple[int, int, int]]]]:
    """scan_tree over every line of a split file, with the same checks as read_tree_file.

    `source` names the file in error messages (e.g. "download.zip:trees/dev.txt").
    """
    source = source or str(path)
    scanned = [scan_tree(line, source, n) for n, line in _numbered_lines(Path(path), source)]
    check_symbol_characters({word for _, leaves, _ in scanned for word in leaves}, source)
    return scanned


def check_symbol_characters(words: set[str], source: str) -> None:
    """Refuse a split whose distinct words hold more punctuation and symbols than the tokenizer can take.

    spaCy splits prefixes, suffixes and infixes one rule at a time, so its cost grows with the
    non-alphanumeric characters of each distinct word (about 5 s per million): a split of distinct
    punctuation words under every other cap still took minutes to tokenize. The real treebank's
    splits hold at most 2,198 such characters; settings.MAX_TREE_SYMBOL_CHARS allows 20 times that.
    """
    symbols = sum(1 for word in words for char in word if not char.isalnum())
    if symbols > MAX_TREE_SYMBOL_CHARS:
        raise TreebankFormatError(f"its distinct words hold {symbols:,} punctuation or symbol characters, more "
                                  f"than the limit of {MAX_TREE_SYMBOL_CHARS:,} (the real treebank's splits hold "
                                  "under 2,200); this is not the Stanford Sentiment Treebank", source)


def _numbered_lines(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """The non-blank lines of a split file, refused before parsing when the file or a line is too long.

    The caps (settings.MAX_TREEBANK_FILE_BYTES, MAX_TREE_LINE_CHARS) sit far above the real
    treebank's (2.2 MB, 687 characters) and far below what would tie up memory or time.
    """
    source = source or str(path)
    check_split_size(path, source)
    try:
        text = read_bytes_bounded(path, MAX_TREEBANK_FILE_BYTES).decode("utf-8")
    except FileRefused as err:  # grew past the cap since the check, or is not a regular file
        raise TreebankFormatError(f"the file {err}", source) from None
    except UnicodeDecodeError as err:
        raise TreebankFormatError(f"not UTF-8 text (byte {err.start})", source) from None
    lines = []
    for n, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_TREE_LINE_CHARS:
            raise TreebankFormatError(line_too_long(line), source, n)
        if line.strip():
            lines.append((n, line))
    if not lines:
        raise TreebankFormatError("the file holds no trees", source)
    return lines


def check_split_size(path: Path, source: str | None = None) -> None:
    """Refuse a split file past settings.MAX_TREEBANK_FILE_BYTES from its size alone: nothing is read."""
    size = Path(path).stat().st_size
    if size > MAX_TREEBANK_FILE_BYTES:
        raise TreebankFormatError(f"the file is {size / 2**20:.0f} MB, more than a treebank split's limit of "
                                  f"{MAX_TREEBANK_FILE_BYTES // 2**20} MB", source or str(path))


def line_too_long(line: str) -> str:
    return f"the line holds {len(line):,} characters, more than the limit of {MAX_TREE_LINE_CHARS:,} for one tree"


def word_too_long(word: str) -> str:
    return (f"the word {excerpt(word)} is longer than the limit of {MAX_TREE_WORD_CHARS} characters for one "
            "word (the treebank's longest has 38)")


def too_deep() -> str:
    return f"the tree nests deeper than the limit of {MAX_TREE_DEPTH} levels (the treebank's deepest has 30)"


def read_tree_file(path: Path) -> list[Tree]:
    """Every tree of one split file; clear errors for non-UTF-8, empty or malformed files."""
    return [parse_tree(line, str(path), n) for n, line in _numbered_lines(Path(path))]


def excerpt(text: str, limit: int = 40) -> str:
    """`text` quoted for an error message, cut to `limit` characters: a message never repeats a huge input."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"
