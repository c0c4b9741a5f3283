"""Optional compiled recurrences: the tanh RNN, LSTM and GRU loops in C (see recurrences.c).

The C file is compiled once per machine with the system's C compiler (`cc`, or $CC) into the
cache folder, keyed by the source, the compiler and the CPU, and loaded with ctypes: no Python
headers, no build step at install time. Its matrix products call the BLAS inside torch (MKL's
`sgemm_64_`, exported by torch's CPU library), so they run exactly as fast as torch's own.

Where there is no compiler, or it fails, or torch's library does not export that routine (a
build without MKL), or SENTIMENT_NATIVE=0 is set, `recurrence_kernels()` returns None and the
models use their pure-torch path, which computes the same thing (tests hold the two together).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

from sentiment_core.settings import default_cache_dir

SOURCE = Path(__file__).with_name("recurrences.c")
NATIVE_ENV = "SENTIMENT_NATIVE"
# -O3 vectorises the loops; -march=native because the library is built on the machine that runs it.
FLAGS = ("-O3", "-march=native", "-mprefer-vector-width=512", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math")
COMPILE_SECONDS = 120
_lock = threading.Lock()
_last_error: list[str] = []


def enabled() -> bool:
    return os.environ.get(NATIVE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def _cpu_signature() -> str:
    """The CPU's feature flags (what -march=native compiles for)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _library_path(compiler: str) -> Path:
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    key = hashlib.sha256("\n".join([SOURCE.read_text(), compiler, version, " ".join(FLAGS),
                                    platform.machine(), _cpu_signature()]).encode()).hexdigest()[:16]
    return default_cache_dir() / "native" / f"recurrences-{key}.so"


def _compile(compiler: str, target: Path) -> None:
    """Compile into a temporary file beside the target, then rename: never a half-written library."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(handle)
    try:
        result = subprocess.run([compiler, *FLAGS, "-o", temporary, str(SOURCE)], capture_output=True,
                                text=True, timeout=COMPILE_SECONDS)
        if result.returncode != 0:
            raise RuntimeError(f"{compiler} failed: {result.stderr.strip()[-500:]}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


SGEMM_NAMES = ("sgemm_64_", "sgemm_64", "SGEMM_64")  # Fortran sgemm with 64-bit integers


def _torch_sgemm() -> int:
    """Address of the single-precision matrix product inside torch's CPU library."""
    import torch

    library = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
    for name in SGEMM_NAMES:
        try:
            return ctypes.cast(getattr(library, name), ctypes.c_void_p).value
        except AttributeError:
            continue
    raise RuntimeError("torch's CPU library exports no 64-bit sgemm (a build without MKL)")


def _bind(library: ctypes.CDLL) -> ctypes.CDLL:
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    signatures = {
        "set_sgemm": [ptr],
        "rnn_forward": [i64, ptr, i64, ptr, ptr],
        "rnn_backward": [i64, ptr, i64, i64, ptr, ptr, ptr],
        "lstm_forward": [i64, ptr, i64, ptr, ptr, ptr, ptr, ptr],
        "lstm_backward": [i64, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr],
        "gru_forward": [i64, ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr],
        "gru_backward": [i64, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr],
    }
    for name, argtypes in signatures.items():
        function = getattr(library, name)
        function.argtypes, function.restype = argtypes, None
    library.set_sgemm(_torch_sgemm())
    return library


@lru_cache(maxsize=1)
def _load() -> ctypes.CDLL | None:
    compiler = _compiler()
    if compiler is None:
        _last_error.append("no C compiler found (install gcc, or set CC)")
        return None
    try:
        with _lock:
            target = _library_path(compiler)
            if not target.exists():
                _compile(compiler, target)
            return _bind(ctypes.CDLL(str(target)))
    except (OSError, RuntimeError, subprocess.SubprocessError, AttributeError) as error:
        _last_error.append(str(error))
        return None


def recurrence_kernels() -> ctypes.CDLL | None:
    """The compiled recurrences, or None (then the pure-torch path is used)."""
    if not enabled():
        return None
    return _load()


def status() -> str:
    """One line for a report: whether the compiled kernels are in use, and why not."""
    if not enabled():
        return f"off ({NATIVE_ENV}=0)"
    if recurrence_kernels() is not None:
        return "on"
    return "unavailable: " + (_last_error[-1] if _last_error else "unknown error")
