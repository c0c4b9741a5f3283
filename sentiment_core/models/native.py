"""Optional compiled recurrences: the tanh RNN, LSTM and GRU loops in C (recurrences.c).

`kernels()` gives a `Kernels` object, or None where the compiled path cannot be used (no
compiler, no OpenBLAS, a failed build, SENTIMENT_NATIVE=0); the models then take their
pure-torch path, which computes the same thing (tests/test_native.py holds both to autograd).
How the library is built and why it can be trusted: native_build.py.

The C functions trust their arguments, so every `Kernels` method checks them first: float32,
on the CPU, contiguous, of the shapes the packed layout implies, and step sizes that never
grow. Anything else raises NativeArgumentError before C sees a pointer. Scratch space is
allocated here (torch tensors on the heap), never sized by a setting on the C stack.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import threading
from functools import lru_cache

import torch

from sentiment_core.models import native_build
from sentiment_core.settings import NATIVE_ENV, SettingError, default_cache_dir, read
BLAS_INT_MAX = 2 ** 31 - 1  # OpenBLAS's CBLAS takes 32-bit integers
_lock = threading.Lock()


class NativeArgumentError(ValueError):
    """A tensor the compiled recurrences cannot take (wrong dtype, device, layout or shape)."""


def enabled(env=None) -> bool:
    """SENTIMENT_NATIVE (on when unset); an unreadable value keeps it on, and `health` names the value."""
    try:
        return read(NATIVE_ENV, env)
    except SettingError:
        return True


def suits(*tensors: torch.Tensor) -> bool:
    """Whether the compiled path can take these tensors (else the caller takes the torch path)."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors)


def _check(name: str, tensor, shape: tuple[int, ...]) -> int:
    if not isinstance(tensor, torch.Tensor):
        raise NativeArgumentError(f"{name} must be a tensor, not {type(tensor).__name__}")
    if tensor.device.type != "cpu" or tensor.dtype != torch.float32:
        raise NativeArgumentError(f"{name} must be a float32 CPU tensor, not {tensor.dtype} on {tensor.device}")
    if not tensor.is_contiguous():
        raise NativeArgumentError(f"{name} must be contiguous (call .contiguous() first)")
    if tuple(tensor.shape) != shape:
        raise NativeArgumentError(f"{name} must have shape {shape}, not {tuple(tensor.shape)}")
    return tensor.data_ptr()


def _layout(w_hh, sizes, gates: int):
    """(H, steps, C array of sizes, packed rows N) for a (gates*H, H) w_hh and step sizes that never grow."""
    if not isinstance(w_hh, torch.Tensor) or w_hh.dim() != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        shape = tuple(w_hh.shape) if isinstance(w_hh, torch.Tensor) else type(w_hh).__name__
        raise NativeArgumentError(f"w_hh must be a ({gates}H, H) matrix, not {shape}")
    H = int(w_hh.shape[1])
    sizes = [int(s) for s in sizes]
    if not sizes or sizes[0] < 1 or any(b < 1 or b > a for a, b in zip(sizes, sizes[1:])):
        raise NativeArgumentError(f"step sizes must be positive and never grow (a length-sorted batch), not {sizes}")
    if H < 1 or gates * H > BLAS_INT_MAX or sizes[0] > BLAS_INT_MAX:
        raise NativeArgumentError(f"hidden size {H} with batch {sizes[0]} is beyond the compiled path")
    return H, len(sizes), (ctypes.c_int64 * len(sizes))(*sizes), sum(sizes)


class Kernels:
    """Checked entry points to the compiled recurrences; buffers are filled in place as documented in C."""

    def __init__(self, library: ctypes.CDLL):
        self._c = library
        self._threads = 0

    def _use_torch_threads(self) -> None:
        """Split the large matrix products over as many threads as torch uses (`--threads 1`: one)."""
        threads = torch.get_num_threads()
        if threads != self._threads:
            self._c.set_threads(threads)
            self._threads = threads

    def rnn_forward(self, out, w_hh, sizes) -> None:
        """out (N, H): W_xh x_t + biases in, h_t out; w_hh (H, H)."""
        self._use_torch_threads()
        H, steps, c_sizes, N = _layout(w_hh, sizes, 1)
        self._c.rnn_forward(steps, c_sizes, H, _check("out", out, (N, H)), _check("w_hh", w_hh, (H, H)))

    def rnn_backward(self, dz, out, w_hh, sizes, cut: int) -> None:
        """dz (N, H): dLoss/dh_t in, dLoss/d(pre-activation) out; out (N, H) h_t."""
        self._use_torch_threads()
        H, steps, c_sizes, N = _layout(w_hh, sizes, 1)
        self._c.rnn_backward(steps, c_sizes, H, int(cut), _check("dz", dz, (N, H)), _check("out", out, (N, H)),
                             _check("w_hh", w_hh, (H, H)))

    def lstm_forward(self, gates, cells, tanh_cells, out, w_hh, sizes) -> None:
        """gates (N, 4H): pre-activations in, activated i, f, g, o out; cells, tanh_cells, out (N, H)."""
        self._use_torch_threads()
        H, steps, c_sizes, N = _layout(w_hh, sizes, 4)
        zeros = torch.zeros(H)
        self._c.lstm_forward(steps, c_sizes, H, _check("gates", gates, (N, 4 * H)), _check("cells", cells, (N, H)),
                             _check("tanh_cells", tanh_cells, (N, H)), _check("out", out, (N, H)),
                             _check("w_hh", w_hh, (4 * H, H)), zeros.data_ptr())

    def lstm_backward(self, dh, gates, cells, tanh_cells, w_hh, sizes, cut: int) -> torch.Tensor:
        """dh (N, H) dLoss/dh_t (used as scratch) -> dLoss/d(pre-activations) (N, 4H)."""
        self._use_torch_threads()
        H, steps, c_sizes, N = _layout(w_hh, sizes, 4)
        dz, carry, zeros = torch.empty(N, 4 * H), torch.empty(c_sizes[0], H), torch.zeros(H)
        self._c.lstm_backward(steps, c_sizes, H, int(cut), _check("dh", dh, (N, H)),
                              _check("gates", gates, (N, 4 * H)), _check("cells", cells, (N, H)),
                              _check("tanh_cells", tanh_cells, (N, H)), dz.data_ptr(), carry.data_ptr(),
                              _check("w_hh", w_hh, (4 * H, H)), zeros.data_ptr())
        return dz

    def gru_forward(self, xp, w_hh, b_hn, sizes, rz, hn, new, out) -> None:
        """xp (N, 3H) in; rz (N, 2H), hn, new, out (N, H) out (see gru_forward in C)."""
        self._use_torch_threads()
        H, steps, c_sizes, N = _layout(w_hh, sizes, 3)
        scratch, zeros = torch.empty(c_sizes[0], 3 * H), torch.zeros(H)
        self._c.gru_forward(steps, c_sizes, H, _check("xp", xp, (N, 3 * H)), _check("w_hh", w_hh, (3 * H, H)),
                            _check("b_hn", b_hn, (H,)), _check("rz", rz, (N, 2 * H)), _check("hn", hn, (N, H)),
                            _check("new", new, (N, H)), _check("out", out, (N, H)), scratch.data_ptr(),
                            zeros.data_ptr())

    def gru_backward(self, dh, rz, hn, new, h_prev, w_hh, sizes, cut: int, dx, dhp) -> None:
        """dh (N, H) dLoss/dh_t (used as scratch); h_prev (N, H) packed h_{t-1}; fills dx and dhp (N, 3H)."""
        self._use_torch_threads()
        H, steps, c_sizes, N = _layout(w_hh, sizes, 3)
        self._c.gru_backward(steps, c_sizes, H, int(cut), _check("dh", dh, (N, H)), _check("rz", rz, (N, 2 * H)),
                             _check("hn", hn, (N, H)), _check("new", new, (N, H)), _check("h_prev", h_prev, (N, H)),
                             _check("dx", dx, (N, 3 * H)), _check("dhp", dhp, (N, 3 * H)),
                             _check("w_hh", w_hh, (3 * H, H)))


def _bind(library: ctypes.CDLL) -> ctypes.CDLL:
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    signatures = {
        "rnn_forward": [i64, ptr, i64, ptr, ptr],
        "rnn_backward": [i64, ptr, i64, i64, ptr, ptr, ptr],
        "lstm_forward": [i64, ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr],
        "lstm_backward": [i64, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr],
        "gru_forward": [i64, ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr],
        "gru_backward": [i64, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr],
    }
    for name, argtypes in signatures.items():
        function = getattr(library, name)
        function.argtypes, function.restype = argtypes, None
    library.set_threads.argtypes, library.set_threads.restype = [ctypes.c_int], None
    return library


def _single_threaded_blas(tools: native_build.Toolchain) -> None:
    # A step's product is small (64 x 128 by 128 x 512): OpenBLAS's own threads cost more in
    # hand-offs than they gain (2-3x slower, measured with `bench`). recurrences.c splits the
    # larger products and activations over torch's thread count itself (set_threads).
    ctypes.CDLL(tools.blas_file).scipy_openblas_set_num_threads(1)


@lru_cache(maxsize=1)
def _load() -> tuple[Kernels | None, str]:
    """(kernels or None, a sentence: where they came from, or why there are none)."""
    try:
        with _lock:
            tools = native_build.find_toolchain(os.environ)
            built = native_build.trusted_library(default_cache_dir(), tools)
            try:
                library = _bind(ctypes.CDLL(str(built.path)))
                _single_threaded_blas(tools)
            finally:
                if built.temporary:  # a loaded library stays mapped after its file is gone
                    shutil.rmtree(built.path.parent, ignore_errors=True)
    except native_build.BuildError as error:
        return None, str(error)
    except (OSError, AttributeError) as error:
        return None, f"the built library could not be loaded ({error})"
    detail = f"{built.path.name} with OpenBLAS {tools.blas_version} ({native_build.BLAS_PACKAGE})"
    return Kernels(library), detail + (f"; {built.note}" if built.note else "")


def kernels() -> Kernels | None:
    """The compiled recurrences, or None (then the pure-torch path is used)."""
    return _load()[0] if enabled() else None


def status() -> str:
    """One line for a report: "on", "off (SENTIMENT_NATIVE=0)" or "unavailable: <why>"."""
    if not enabled():
        return f"off ({NATIVE_ENV}=0)"
    found, detail = _load()
    return "on" if found is not None else f"unavailable: {detail}"


def describe() -> dict:
    """{"in_use": bool, "detail": sentence} for `health`: what runs, and why."""
    if not enabled():
        return {"in_use": False, "detail": f"switched off by {NATIVE_ENV}=0; the torch path runs"}
    found, detail = _load()
    if found is None:
        return {"in_use": False, "detail": f"not in use: {detail}; the torch path runs (slower)"}
    return {"in_use": True, "detail": f"in use: {detail}"}
