"""Folders a command creates for its output, taken away again when the command fails before it has
anything worth keeping: a failed start leaves nothing behind (not even the parents it made).

Only what this process still owns is taken away: a folder another process has claimed meanwhile
(`hold` refuses) is kept, and a parent it made is removed only while empty (another process may
have put its own folder there)."""
from __future__ import annotations

import os
import shutil
import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterator


def first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` (itself included) that does not exist yet; None when it exists."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


@contextmanager
def removed_on_failure(path: str | Path | None, keep: Callable[[Path], bool] = lambda path: False,
                       create: bool = False,
                       hold: Callable[[Path], AbstractContextManager] | None = None) -> Iterator[None]:
    """Inside: `path` (and any missing parents) may be created; an exception that ends the block
    removes what did not exist before, unless `keep(path)` says the work got far enough to keep.

    `create`: make the folder at once, so a destination that cannot be written fails before any
    slow work (a path under a regular file, on a read-only or virtual file system...).
    `hold(path)`: a context manager that holds `path` for this process while it is judged and
    removed (store.claim_run for a run folder); when it refuses (OSError or ValueError), another
    process works in the folder now, and it is kept.
    """
    fresh = None if path is None else first_missing(Path(path))
    try:
        if create and fresh is not None:
            Path(path).mkdir(parents=True)
        yield
    except BaseException:
        if fresh is not None:
            remove_unless_kept(Path(path), keep, hold or (lambda path: nullcontext()))
            remove_empty_folders(Path(path).parent, up_to=fresh)
        raise


def remove_unless_kept(path: Path, keep: Callable[[Path], bool],
                       hold: Callable[[Path], AbstractContextManager]) -> None:
    """Remove `path` while holding it, unless another process holds it or `keep(path)`."""
    if not os.path.exists(path):  # never made (its name refused...): os.path's test never raises
        return
    try:
        with hold(path):
            if keep(path):
                return
            # Hidden first (as store.delete_run does): a half-removed folder is never listed as a run.
            doomed = path.with_name(f".removing-{path.name}-{os.getpid()}-{time.time_ns()}")
            os.replace(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
    except (OSError, ValueError):
        return  # held by another process (or gone): not ours to remove


def remove_empty_folders(folder: Path, up_to: Path) -> None:
    """`folder` and its parents up to `up_to` (included), each only while empty: another process's files stay."""
    if folder != up_to and up_to not in folder.parents:
        return  # `folder` is above what this process made
    for each in (folder, *folder.parents):
        try:
            each.rmdir()
        except OSError:  # not empty (or gone): what is above it is not ours either
            return
        if each == up_to:
            return
