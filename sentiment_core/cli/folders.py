"""Folders a command creates for its output, taken away again when the command fails before it has
anything worth keeping: a failed start leaves nothing behind (not even the parents it made)."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
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
                       create: bool = False) -> Iterator[None]:
    """Inside: `path` (and any missing parents) may be created; an exception that ends the block
    removes what did not exist before, unless `keep(path)` says the work got far enough to keep.

    `create`: make the folder at once, so a destination that cannot be written fails before any
    slow work (a path under a regular file, on a read-only or virtual file system...).
    """
    fresh = None if path is None else first_missing(Path(path))
    try:
        if create and fresh is not None:
            Path(path).mkdir(parents=True)
        yield
    except BaseException:
        if fresh is not None and fresh.exists() and not keep(Path(path)):
            shutil.rmtree(fresh, ignore_errors=True)
        raise
