"""The Stanford Sentiment Treebank: find it, download it, parse its trees.

The treebank ships as `trainDevTestTrees_PTB.zip` holding `trees/{train,dev,test}.txt`,
one sentence per line as a labelled binary parse tree in Penn Treebank notation:
`(3 (2 (2 A) (2 film)) (4 ...))`. Every node carries a sentiment label 0-4.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Optional

from sentiment_core.settings import default_sst_dir

SST_URL = "http://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"  # the URL torchtext used
SST_DIR_ENV = "SST_DIR"
SPLITS = ("train", "dev", "test")
SPLIT_FILES = {split: f"{split}.txt" for split in SPLITS}

PTB_UNESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}

ProgressCallback = Callable[[int, Optional[int]], None]  # (bytes_done, bytes_total or None)


class TreebankError(Exception):
    """Base class of every treebank problem the user can act on."""


class TreebankNotFound(TreebankError):
    pass


class TreebankFormatError(TreebankError):
    """A tree line that does not parse; names the file and the line."""

    def __init__(self, message: str, source: str = "<string>", line_no: int | None = None):
        where = f"{source}, line {line_no}" if line_no is not None else source
        super().__init__(f"{where}: {message}")
        self.source, self.line_no = source, line_no


class TreebankDownloadError(TreebankError):
    pass


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

    @property
    def is_leaf(self) -> bool:
        return self.word is not None

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
                fail(f"label {tokens[i + 1]!r} is not a sentiment label 0-4")
            if i + 2 < n and tokens[i + 2] not in "()":  # a leaf: (label word)
                if i + 3 >= n or tokens[i + 3] != ")":
                    fail("unbalanced parentheses: a leaf is not closed")
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
            fail(f"unexpected word {tok!r} outside a leaf")
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
    parse_tree for the error message).
    """
    leaves: list[str] = []
    spans: list[tuple[int, int, int]] = []
    stack: list[tuple[int, int]] = []  # (label, leaf_start) of open inner nodes
    closed_root = False
    for leaf_label, word, open_label, close, junk in _SCAN.findall(line):
        if closed_root or junk:
            break
        if word:
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
    return [scan_tree(line, source, n) for n, line in _numbered_lines(Path(path), source)]


def _numbered_lines(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    source = source or str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise TreebankFormatError(f"not UTF-8 text (byte {err.start})", source) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise TreebankFormatError("the file holds no trees", source)
    return lines


def read_tree_file(path: Path) -> list[Tree]:
    """Every tree of one split file; clear errors for non-UTF-8, empty or malformed files."""
    return [parse_tree(line, str(path), n) for n, line in _numbered_lines(Path(path))]


def split_paths(directory: Path) -> dict[str, Path]:
    return {split: Path(directory) / name for split, name in SPLIT_FILES.items()}


def has_treebank(directory: Path | None) -> bool:
    """True when the folder (or its `trees/` sub-folder) holds the three split files."""
    return directory is not None and _tree_folder(Path(directory)) is not None


def _tree_folder(directory: Path) -> Path | None:
    for candidate in (directory, directory / "trees"):
        if all(p.is_file() for p in split_paths(candidate).values()):
            return candidate
    return None


def not_found_message(default_dir: Path | None = None) -> str:
    default_dir = default_dir or default_sst_dir()
    return (
        "The Stanford Sentiment Treebank was not found and could not be downloaded. "
        f"Download {SST_URL}, then either unzip it and set the environment variable "
        f"{SST_DIR_ENV} to the folder holding train.txt, dev.txt and test.txt (or its trees/ folder), "
        f"or put those files in {default_dir}."
    )


def locate_treebank(data_dir: str | Path | None = None, env: dict | None = None,
                    default_dir: Path | None = None) -> Path | None:
    """The folder holding the split files, searched in order: explicit folder, $SST_DIR, data/sst.

    An explicit folder or variable that does not hold the treebank is an error (the user
    asked for it), not a reason to look elsewhere.
    """
    env = os.environ if env is None else env
    default_dir = default_dir or default_sst_dir(env)
    for origin, candidate in (("folder", data_dir), (f"${SST_DIR_ENV}", env.get(SST_DIR_ENV))):
        if candidate:
            folder = _tree_folder(Path(candidate))
            if folder is None:
                raise TreebankNotFound(
                    f"The {origin} {candidate} does not hold the treebank: expected "
                    f"train.txt, dev.txt and test.txt in it or in its trees/ folder.")
            return folder
    return _tree_folder(Path(default_dir))


def find_treebank(data_dir: str | Path | None = None, env: dict | None = None,
                  default_dir: Path | None = None, download: bool = True,
                  url: str = SST_URL, progress: ProgressCallback | None = None) -> Path:
    """Locate the treebank, downloading it into `default_dir` as the last resort."""
    default_dir = default_dir or default_sst_dir(env)
    folder = locate_treebank(data_dir, env, default_dir)
    if folder is not None:
        return folder
    if not download:
        raise TreebankNotFound(not_found_message(default_dir))
    try:
        return download_treebank(default_dir, url=url, progress=progress)
    except TreebankDownloadError as err:
        raise TreebankNotFound(f"{err} {not_found_message(default_dir)}") from None


def download_treebank(target_dir: Path, url: str = SST_URL, progress: ProgressCallback | None = None,
                      timeout: float = 30.0) -> Path:
    """Download the zip to a temporary file, then install it; a failure leaves nothing behind."""
    target_dir = Path(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".zip", prefix=".sst-download-", dir=target_dir.parent)
    tmp_zip = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out, progress, timeout)
        return install_treebank_zip(tmp_zip, target_dir)
    finally:
        tmp_zip.unlink(missing_ok=True)


def _fetch(url: str, out, progress: ProgressCallback | None, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            done = 0
            if progress:
                progress(done, total)
            while chunk := response.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
            if total is not None and done != total:
                raise TreebankDownloadError(f"The download of {url} stopped after {done} of {total} bytes.")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise TreebankDownloadError(f"Could not download {url}: {reason}.") from None


def install_treebank_zip(zip_path: Path, target_dir: Path) -> Path:
    """Validate a `trainDevTestTrees_PTB.zip` and install its three split files into `target_dir`.

    Members are checked (no path may leave the folder), extracted into a temporary folder
    next to the target, each split parsed, and only then renamed into place.
    """
    target_dir = Path(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sst-staging-", dir=target_dir.parent))
    try:
        members = _extract_splits(Path(zip_path), staging)
        for split, path in split_paths(staging).items():
            # validates: UTF-8, not empty, every tree parses; errors name the zip and member
            scan_tree_file(path, f"{zip_path}:{members[SPLIT_FILES[split]]}")
        _replace_folder(staging, target_dir)
        return target_dir
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install_treebank_folder(source_dir: Path, target_dir: Path) -> Path:
    """Copy an extracted treebank folder (or its trees/ folder) into `target_dir`, validated."""
    source = _tree_folder(Path(source_dir))
    if source is None:
        raise TreebankNotFound(f"{source_dir} does not hold train.txt, dev.txt and test.txt.")
    target_dir = Path(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sst-staging-", dir=target_dir.parent))
    try:
        for split, path in split_paths(source).items():
            scan_tree_file(path)  # validates before anything is copied
            shutil.copyfile(path, staging / SPLIT_FILES[split])
        _replace_folder(staging, target_dir)
        return target_dir
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_splits(zip_path: Path, staging: Path) -> dict[str, str]:
    """Extract the three split files flat into `staging`; returns file name -> member name."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = {}
            for info in archive.infolist():
                name = info.filename
                parts = Path(name).parts
                if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise TreebankFormatError(f"refused: the member {name!r} would leave the target folder",
                                              str(zip_path))
                if not info.is_dir() and parts and parts[-1] in SPLIT_FILES.values():
                    members.setdefault(parts[-1], info)
            missing = [n for n in SPLIT_FILES.values() if n not in members]
            if missing:
                raise TreebankFormatError(f"the zip lacks {', '.join(missing)}", str(zip_path))
            for name, info in members.items():
                # read and write ourselves rather than archive.extract: the output name is ours
                with archive.open(info) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            return {name: info.filename for name, info in members.items()}
    except zipfile.BadZipFile as err:
        raise TreebankFormatError(f"not a valid zip file ({err}); download it again", str(zip_path)) from None
    except (EOFError, zipfile.LargeZipFile, OSError) as err:
        if isinstance(err, TreebankError):
            raise
        raise TreebankFormatError(f"the zip is truncated or corrupt ({err}); download it again",
                                  str(zip_path)) from None


def _replace_folder(staging: Path, target_dir: Path) -> None:
    """Move a complete staging folder into place; an old folder is swapped out, not merged."""
    if target_dir.exists():
        old = target_dir.with_name(f".{target_dir.name}-old-{os.getpid()}")
        target_dir.rename(old)
        staging.rename(target_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target_dir)


def treebank_checksum(folder: Path) -> str:
    """SHA-256 over the three split files, so a cache can tell a changed input."""
    digest = hashlib.sha256()
    for split, path in split_paths(folder).items():
        digest.update(split.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def scan_treebank(folder: Path) -> dict[str, list]:
    return {split: scan_tree_file(path) for split, path in split_paths(folder).items()}


def load_trees(folder: Path) -> dict[str, list[Tree]]:
    return {split: read_tree_file(path) for split, path in split_paths(folder).items()}
