"""Writing files so that a reader never sees half of one; reading one whose size and nesting may be hostile."""
from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from pathlib import Path
from stat import S_ISREG
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def atomic_write(path: Path, write: Callable[[Path], T], *, create_parents: bool = True, suffix: str = "") -> T:
    """`write(temporary)` fills a temporary file in the same folder, which is then renamed over `path`:
    readers never see half a file. Returns what `write` returns; the temporary file is removed on failure.

    The one routine for it: text (atomic_write_text), checkpoints (torch.save) and the compiled
    library (the compiler's output) all go through here. `create_parents=False` refuses
    (FileNotFoundError) when the folder is gone: the run store uses it so that a run folder deleted
    under a running trainer is not brought back. `suffix`: for writers that look at the name.
    """
    path = Path(path)
    if create_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        result = write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result


def atomic_write_text(path: Path, text: str, *, create_parents: bool = True) -> None:
    """`text` written as UTF-8 through atomic_write."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), create_parents=create_parents)


# ---------------------------------------------------------------------------------------------
# Reading a file that may be hostile: its size and its JSON nesting bounded before the work


class FileRefused(ValueError):
    """A file refused before it is parsed; the message is the reason, for a caller to put after the file's name."""


def read_bytes_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, refused (FileRefused) when it holds more than `max_bytes`.

    The size is checked before anything is read, so a huge (or sparse) file costs nothing; then at
    most one byte past the cap is read, so a file that grew meanwhile is still bounded. Opened
    without blocking and refused unless it is a regular file: a FIFO or a device (/dev/zero) never
    hangs or floods the reader.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        stat = os.fstat(fd)
        if not S_ISREG(stat.st_mode):
            raise FileRefused("is not a regular file")
        if stat.st_size > max_bytes:
            raise FileRefused(f"is {size_text(stat.st_size)}, more than the limit of {size_text(max_bytes)}")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(f"is more than the limit of {size_text(max_bytes)}")
    return data


def size_text(size: int) -> str:
    """A byte count for a sentence: "512 bytes", "64 KB", "16 MB", "2 GB"."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.0f} {unit}"
    return f"{size} bytes"


def json_depth(data: bytes) -> int:
    """How deep arrays and objects nest in the UTF-8 JSON text `data` (brackets inside strings do not count).

    Linear, vectorised: escaped backslashes, then escaped quotes, are dropped first (left to right,
    pairing backslashes as JSON does), so every quote left opens or closes a string; a byte after
    an odd number of quotes is inside one. The depth is the highest running sum of +1 per opening
    bracket and -1 per closing one outside strings.
    """
    import numpy as np  # here: most files have too few brackets to need this (loads_bounded)

    codes = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    inside_string = np.cumsum(codes == ord('"'), dtype=np.int32) % 2 == 1
    steps = np.zeros(256, dtype=np.int8)
    steps[[ord("["), ord("{")]], steps[[ord("]"), ord("}")]] = 1, -1
    return int(np.cumsum(np.where(inside_string, 0, steps[codes]), dtype=np.int32).max(initial=0))


def _refuse_constant(name: str):
    raise ValueError(f"it holds {name}, which is not a number JSON allows")


def loads_bounded(data: bytes, max_depth: int, allow_nan: bool = False) -> Any:
    """json.loads, after checking that arrays and objects nest at most `max_depth` deep.

    json.loads recurses once per level: 100,000 nested brackets raise RecursionError, and a
    structure just under the interpreter's limit would break whatever walks it next. `allow_nan`:
    NaN and Infinity are read (metrics.jsonl may log a diverged loss); otherwise they are refused,
    as json.dumps(allow_nan=False) never writes them. Raises FileRefused with the reason.
    """
    try:  # UTF-8 only (what this program writes): the scan below reads ASCII bytes, as UTF-8 keeps them
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FileRefused(f"is not UTF-8 text (byte {err.start})") from None
    # Depth is at most the number of opening brackets: most files have a few, and skip the scan.
    if data.count(b"[") + data.count(b"{") > max_depth and json_depth(data) > max_depth:
        raise FileRefused(f"nests deeper than the limit of {max_depth} levels")
    try:
        return json.loads(text, parse_constant=None if allow_nan else _refuse_constant)
    except ValueError as err:  # json.JSONDecodeError, or a refused constant
        raise FileRefused(f"is not valid JSON ({err})") from None
    except RecursionError:  # only if the interpreter's limit is far below max_depth
        raise FileRefused("nests deeper than this program can read") from None


def read_json_bounded(path: Path, max_bytes: int, max_depth: int) -> Any:
    """The JSON value of a file, its size and nesting checked first (FileRefused with the reason)."""
    return loads_bounded(read_bytes_bounded(path, max_bytes), max_depth)


# A page lists every run several times per rerun (the run picker, the queue, the live panel's
# poll), and a server may keep hundreds of runs, a local one thousands: reading and parsing each
# run's small files every time cost 0.3 s per list at 2,000 runs, for files that rarely change.
# So what was read from a file is kept while one os.stat says the file is the same (modification
# time, size and inode). A file changed less than FRESH_SECONDS ago is read again each time, as git
# does with "racily clean" entries: the file system's clock is coarse, and a rewrite within one of
# its ticks can keep all three.
FRESH_SECONDS = 2.0
CACHED_READS = 8192  # results kept: 2,000 runs' status, config and job records take 6,000 (about 10 MB)


def cached_read(reader: Callable[[Path], Any], run_dir: Path, filename: str) -> Any:
    """`reader(run_dir)`, reused while run_dir/filename stays as it was at an earlier call.

    `reader` must depend on that file alone, and its result is shared: never change it.
    Errors are never kept (the next call reads again).
    """
    try:
        stat = os.stat(os.path.join(run_dir, filename))
    except OSError:
        return reader(Path(run_dir))  # missing or unreadable: the reader says so
    if time.time() - stat.st_mtime < FRESH_SECONDS:
        return reader(Path(run_dir))
    return _read_version(reader, str(run_dir), filename, (stat.st_mtime_ns, stat.st_size, stat.st_ino))


@functools.lru_cache(maxsize=CACHED_READS)
def _read_version(reader: Callable[[Path], Any], run_dir: str, filename: str, version: tuple) -> Any:
    return reader(Path(run_dir))
