"""The Stanford Sentiment Treebank: find it, download it, install it (the trees themselves: ptb.py).

The treebank ships as `trainDevTestTrees_PTB.zip` holding `trees/{train,dev,test}.txt`.
Whatever the source (a download, an upload, a folder), nothing is installed before every
split parses, and every input is bounded before the work on it (settings.py holds the caps).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Optional

from sentiment_core.data.ptb import (Tree, TreebankError, TreebankFormatError, check_split_size,  # noqa: F401
                                     excerpt, parse_tree, read_tree_file, scan_tree, scan_tree_file, unescape_ptb)
from sentiment_core.settings import (MAX_TREEBANK_FILE_BYTES, MAX_ZIP_BYTES, MAX_ZIP_MEMBER_BYTES, MAX_ZIP_MEMBERS,
                                     MAX_ZIP_TOTAL_BYTES, SST_DIR_ENV, default_sst_dir, read)

SST_URL = "http://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"  # the URL torchtext used
SPLITS = ("train", "dev", "test")
SPLIT_FILES = {split: f"{split}.txt" for split in SPLITS}

ProgressCallback = Callable[[int, Optional[int]], None]  # (bytes_done, bytes_total or None)


class TreebankNotFound(TreebankError):
    pass


class TreebankDownloadError(TreebankError):
    pass


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
    default_dir = default_dir or default_sst_dir(env)
    for origin, candidate in (("folder", data_dir), (f"${SST_DIR_ENV}", read(SST_DIR_ENV, env))):
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
        return install_treebank_zip(tmp_zip, target_dir, display_name=url.rsplit("/", 1)[-1] or "download.zip")
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
                if done > MAX_ZIP_BYTES:  # a server that sends more than any treebank zip is not the treebank
                    raise TreebankDownloadError(f"The download of {url} passed {MAX_ZIP_BYTES // 2**20} MB; "
                                                "the treebank's zip is under 1 MB.")
                if progress:
                    progress(done, total)
            if total is not None and done != total:
                raise TreebankDownloadError(f"The download of {url} stopped after {done} of {total} bytes.")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise TreebankDownloadError(f"Could not download {url}: {reason}.") from None


def install_treebank_zip(zip_path: Path, target_dir: Path, display_name: str | None = None) -> Path:
    """Validate a `trainDevTestTrees_PTB.zip` and install its three split files into `target_dir`.

    Members are checked (no path may leave the folder), extracted into a temporary folder
    next to the target, each split parsed, and only then renamed into place. Errors name the
    zip as `display_name` (an upload's own file name) or else its path.
    """
    target_dir = Path(target_dir)
    source = display_name or str(zip_path)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sst-staging-", dir=target_dir.parent))
    try:
        members = _extract_splits(Path(zip_path), staging, source)
        for split, path in split_paths(staging).items():
            # validates: UTF-8, not empty, every tree parses; errors name the zip and member
            scan_tree_file(path, f"{source}:{members[SPLIT_FILES[split]]}")
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


def _extract_splits(zip_path: Path, staging: Path, source: str) -> dict[str, str]:
    """Extract the three split files flat into `staging`; returns file name -> member name.

    Bounded before and during the work: the zip's own size, its member count, and the bytes
    each split really inflates to, counted while streaming (a header's sizes can lie).
    """
    size = zip_path.stat().st_size
    if size > MAX_ZIP_BYTES:
        raise TreebankFormatError(f"the zip is {size / 2**20:.0f} MB; the treebank's is under 1 MB and the limit is "
                                  f"{MAX_ZIP_BYTES // 2**20} MB", source)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = _split_members(archive.infolist(), source)
            budget = MAX_ZIP_TOTAL_BYTES
            for name, info in members.items():
                with archive.open(info) as src, open(staging / name, "wb") as dst:
                    budget -= _copy_bounded(src, dst, min(MAX_ZIP_MEMBER_BYTES, budget), f"{source}:{info.filename}")
            return {name: info.filename for name, info in members.items()}
    except TreebankError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError):
        # one message for every way a zip can be broken (truncated, corrupt deflate stream,
        # unsupported compression, encrypted member...): the library's own words help nobody
        raise TreebankFormatError("not a valid zip file, or a damaged one; download trainDevTestTrees_PTB.zip "
                                  "again", source) from None


def _split_members(infos: list[zipfile.ZipInfo], source: str) -> dict[str, zipfile.ZipInfo]:
    """The members holding train.txt, dev.txt and test.txt; refuses unsafe names and crowded zips."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise TreebankFormatError(f"the zip holds {len(infos):,} files; the treebank's holds 4 and the limit is "
                                  f"{MAX_ZIP_MEMBERS}", source)
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise TreebankFormatError(f"refused: the member {excerpt(name)} would leave the target folder", source)
        if not info.is_dir() and parts and parts[-1] in SPLIT_FILES.values():
            members.setdefault(parts[-1], info)
    missing = [n for n in SPLIT_FILES.values() if n not in members]
    if missing:
        raise TreebankFormatError(f"the zip lacks {', '.join(missing)}", source)
    return members


def _copy_bounded(src, dst, limit: int, source: str) -> int:
    """Copy at most `limit` bytes; more is an error, found after reading one chunk past the limit."""
    copied = 0
    while chunk := src.read(min(1 << 16, limit - copied + 1)):
        copied += len(chunk)
        if copied > limit:
            raise TreebankFormatError(f"a member inflates past {limit / 2**20:.0f} MB; a treebank split is about "
                                      "2 MB, so this is not the treebank", source)
        dst.write(chunk)
    return copied


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
    """SHA-256 over the three split files, so a cache can tell a changed input.

    It is the first thing a load does with a folder ($SST_DIR, --data-dir), so every file's size is
    checked before any is read, and each is hashed in chunks: a huge file is refused at no cost,
    and a valid one never sits whole in memory. (A chunk loop, not hashlib.file_digest: one
    digest runs over all three files, and Python 3.10 has no file_digest.)
    """
    paths = split_paths(folder)
    for path in paths.values():
        check_split_size(path)
    digest = hashlib.sha256()
    for split, path in paths.items():
        digest.update(split.encode())
        with open(path, "rb") as handle:
            read = 0
            while chunk := handle.read(1 << 20):
                read += len(chunk)
                if read > MAX_TREEBANK_FILE_BYTES:  # it grew since its size was checked
                    raise TreebankFormatError(f"the file grew past a treebank split's limit of "
                                              f"{MAX_TREEBANK_FILE_BYTES // 2**20} MB while it was read", str(path))
                digest.update(chunk)
    return digest.hexdigest()


def scan_treebank(folder: Path) -> dict[str, list]:
    return {split: scan_tree_file(path) for split, path in split_paths(folder).items()}


def load_trees(folder: Path) -> dict[str, list[Tree]]:
    return {split: read_tree_file(path) for split, path in split_paths(folder).items()}
