"""The compiled recurrences (sentiment_core/models/recurrences.c): against autograd, their checks, their build.

Tolerance: the C loops use their own polynomial exp (as vector math libraries do), so in float32
they agree with torch to rounding: outputs within atol 1e-5 / rtol 1e-4, gradients within
atol 1e-4 / rtol 1e-4 (about 100x float32's epsilon).
"""
from __future__ import annotations

import os
import shutil
import stat
import sys

import pytest
import torch

from sentiment_core.models import RecurrentEncoder, native, native_build, packed_layout, recurrences_torch, run_packed
from sentiment_core.models.native import NativeArgumentError

LENGTHS = (9, 4, 9, 1, 6, 2, 12)  # ties, a one-word sentence, sorted nowhere
TORCH_LOOPS = ("rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward")


@pytest.fixture
def fresh_native(tmp_path, monkeypatch):
    """A private cache folder and a forgotten library before and after: each test's environment decides."""
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(native.NATIVE_ENV, raising=False)
    native._load.cache_clear()
    yield tmp_path / "cache" / f"native-{os.getuid()}"
    native._load.cache_clear()


@pytest.fixture(scope="module")
def built_native(tmp_path_factory):
    """One build shared by the numeric tests of this module (a build takes about a second; the
    tests of the build itself use fresh_native)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path_factory.mktemp("native-cache")))
        patch.delenv(native.NATIVE_ENV, raising=False)
        native._load.cache_clear()
        yield
    native._load.cache_clear()


def require_kernels() -> native.Kernels:
    """Where the machine has a C compiler and OpenBLAS the kernels must build; elsewhere skip with the reason."""
    kernels = native.kernels()
    if kernels is None and (shutil.which("cc") is None and shutil.which("gcc") is None
                            or "OpenBLAS not found" in native.status()):
        pytest.skip(f"compiled recurrences: {native.status()}")
    assert kernels is not None, native.status()
    return kernels


def forbid_torch_loops(monkeypatch):
    """Make sure the compiled path is the one measured: the torch loops fail if called."""
    def refuse(*args, **kwargs):
        raise AssertionError("the torch loop ran where the compiled one should have")
    for name in TORCH_LOOPS:
        monkeypatch.setattr(recurrences_torch, name, refuse)


# ---------------------------------------------------------------- plain autograd, written here

def reference(cell: str, encoder: RecurrentEncoder, x: torch.Tensor, lengths, bptt):
    """One direction, one step at a time with autograd, from each cell's textbook equations.

    x: (B, T, D) padded, original order -> (B, T, H) states (zero after each sentence's end).
    """
    if cell == "scratch":
        layer = encoder.cells[0]
        w_ih, w_hh, b_ih, b_hh = layer.fc_xh.weight, layer.fc_hh.weight, None, layer.fc_hh.bias
    else:
        rnn = encoder.rnn
        w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    B, T, _ = x.shape
    H = w_hh.shape[1]
    h, c = x.new_zeros(B, H), x.new_zeros(B, H)
    states = []
    for t in range(T):
        if bptt and t > 0 and t % bptt == 0:
            h, c = h.detach(), c.detach()
        gi = x[:, t] @ w_ih.t() + (b_ih if b_ih is not None else 0.0)
        gh = h @ w_hh.t() + b_hh
        if cell in ("scratch", "rnn"):
            new_h, new_c = torch.tanh(gi + gh), c
        elif cell == "lstm":
            i, f, g, o = (gi + gh).chunk(4, 1)
            new_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            new_h = torch.sigmoid(o) * torch.tanh(new_c)
        else:
            (ir, iz, i_n), (hr, hz, h_n) = gi.chunk(3, 1), gh.chunk(3, 1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            n = torch.tanh(i_n + r * h_n)
            new_h, new_c = (1 - z) * n + z * h, c
        running = (t < torch.tensor(lengths)).unsqueeze(1)
        h, c = torch.where(running, new_h, h), torch.where(running, new_c, c)
        states.append(torch.where(running, h, torch.zeros_like(h)))
    return torch.stack(states, 1)


@pytest.mark.parametrize("cell", ["scratch", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("bptt", [None, 3])
@pytest.mark.parametrize("hidden", [16, 37])  # 37: loop tails that fill no whole vector register
def test_compiled_recurrence_matches_plain_autograd(cell, bptt, hidden, monkeypatch, built_native):
    require_kernels()
    forbid_torch_loops(monkeypatch)
    assert_matches_plain_autograd(cell, bptt, hidden, LENGTHS)


@pytest.mark.parametrize("cell", ["scratch", "lstm", "gru"])
def test_products_and_activations_split_over_two_threads_match_autograd(cell, monkeypatch, built_native):
    """Big enough for recurrences.c to split each step's product by columns and its activations by rows."""
    require_kernels()
    forbid_torch_loops(monkeypatch)
    lengths = sorted((5 + (7 * i) % 11 for i in range(70)), reverse=True)  # 70 sentences, 5 to 15 steps
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert_matches_plain_autograd(cell, 3, 72, lengths)
    finally:
        torch.set_num_threads(threads)


def assert_matches_plain_autograd(cell: str, bptt, hidden: int, lengths: list[int]) -> None:
    torch.manual_seed(0)
    encoder = RecurrentEncoder(cell, 10, hidden)
    layout = packed_layout(torch.tensor(lengths))
    padded = torch.randn(len(lengths), max(lengths), 10, requires_grad=True)  # (B, T, D)
    upstream = torch.randn(len(lengths), max(lengths), hidden)
    params = [padded, *encoder.parameters()]

    packed = padded[layout.sentence_of, layout.time_of]                          # (N, D)
    fast = run_packed(cell, encoder.weights(0, 0), packed, layout, bptt)       # (N, H)
    fast_grid = torch.zeros(len(lengths), max(lengths), hidden).index_put(
        (layout.sentence_of, layout.time_of), fast)                              # (B, T, H)
    plain = reference(cell, encoder, padded, lengths, bptt)

    torch.testing.assert_close(fast_grid, plain, atol=1e-5, rtol=1e-4)
    fast_grads = torch.autograd.grad((fast_grid * upstream).sum(), params)
    plain_grads = torch.autograd.grad((plain * upstream).sum(), params)
    names = ["x", *(name for name, _ in encoder.named_parameters())]
    for name, a, b in zip(names, fast_grads, plain_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=lambda m: f"{cell} d/d{name}: {m}")


@pytest.mark.parametrize("cell", ["scratch", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("bptt", [None, 3])
def test_compiled_recurrence_matches_the_torch_path(cell, bptt, monkeypatch, built_native):
    require_kernels()
    torch.manual_seed(0)
    encoder = RecurrentEncoder(cell, 10, 16)
    layout = packed_layout(torch.tensor(LENGTHS))
    x = torch.randn(sum(layout.batch_sizes), 10, requires_grad=True)
    upstream = torch.randn(x.shape[0], 16)
    params = [x, *encoder.parameters()]
    results = []
    for setting in ("1", "0"):
        monkeypatch.setenv(native.NATIVE_ENV, setting)
        out = run_packed(cell, encoder.weights(0, 0), x, layout, bptt)
        results.append((out, torch.autograd.grad((out * upstream).sum(), params)))
    (compiled, compiled_grads), (plain, plain_grads) = results
    torch.testing.assert_close(compiled, plain, atol=1e-5, rtol=1e-4)
    for a, b in zip(compiled_grads, plain_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", ["scratch", "lstm", "gru"])
def test_nan_and_huge_values_pass_through_the_compiled_activations(cell, built_native):
    """A diverging run must still show NaN (the trainer stops on it); huge inputs saturate."""
    require_kernels()
    encoder = RecurrentEncoder(cell, 4, 8)
    layout = packed_layout(torch.tensor([3, 2]))
    with torch.no_grad():
        x = torch.full((5, 4), float("nan"))
        assert run_packed(cell, encoder.weights(0, 0), x, layout).isnan().all()
        out = run_packed(cell, encoder.weights(0, 0), torch.full((5, 4), 1e30), layout)
        assert out.isfinite().all() and out.abs().max() <= 1.0


# ---------------------------------------------------------------- every call checks its arguments

def test_wrong_tensors_are_refused_before_c_sees_them(built_native):
    kernels = require_kernels()
    H, sizes = 4, (3, 2, 2)
    out, w_hh = torch.zeros(7, H), torch.zeros(H, H)
    kernels.rnn_forward(out, w_hh, sizes)  # the right ones pass
    cases = [
        ("float32 CPU tensor", lambda: kernels.rnn_forward(out.double(), w_hh, sizes)),
        ("float32 CPU tensor", lambda: kernels.rnn_forward(out.to("meta"), w_hh, sizes)),
        ("contiguous", lambda: kernels.rnn_forward(torch.zeros(H, 7).t(), w_hh, sizes)),
        ("must have shape \\(7, 4\\)", lambda: kernels.rnn_forward(torch.zeros(6, H), w_hh, sizes)),
        ("never grow", lambda: kernels.rnn_forward(out, w_hh, (2, 3, 2))),
        ("never grow", lambda: kernels.rnn_forward(out, w_hh, ())),
        ("w_hh must be a \\(4H, H\\) matrix", lambda: kernels.lstm_forward(
            torch.zeros(7, 16), out, out, out, w_hh, sizes)),
        ("must be a tensor", lambda: kernels.rnn_backward([0.0] * 28, out, w_hh, sizes, 0)),
        ("b_hn must have shape \\(4,\\)", lambda: kernels.gru_forward(
            torch.zeros(7, 12), torch.zeros(12, H), torch.zeros(5), sizes, torch.zeros(7, 8), out, out, out)),
    ]
    for message, call in cases:
        with pytest.raises(NativeArgumentError, match=message):
            call()
    assert issubclass(NativeArgumentError, ValueError)


# ---------------------------------------------------------------- the trusted build

def plant(library, content: bytes) -> None:
    """Replace the file by a new one (writing into the loaded library in place would crash this process)."""
    fake = library.with_name("planted")
    fake.write_bytes(content)
    os.replace(fake, library)


def built_files(folder):
    return sorted(p.name for p in folder.iterdir())


def reload() -> native.Kernels | None:
    native._load.cache_clear()
    return native.kernels()


def test_the_library_is_built_once_into_a_private_folder(fresh_native):
    folder = fresh_native
    require_kernels()
    names = built_files(folder)
    assert len(names) == 2 and names[0].startswith("recurrences-") and names[0].endswith(".so")
    assert names[1] == names[0] + ".sha256"  # no temporary files left behind
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    library = folder / names[0]
    assert (folder / names[1]).read_text().strip() == native_build.sha256_of(library)
    stamp = library.stat().st_mtime_ns
    assert reload() is not None and library.stat().st_mtime_ns == stamp  # verified and reused
    assert native.describe() == {"in_use": True, "detail": native.describe()["detail"]}
    assert "OpenBLAS" in native.describe()["detail"]


def test_a_library_that_does_not_match_its_hash_is_rebuilt_not_loaded(fresh_native):
    folder = fresh_native
    require_kernels()
    library = next(folder.glob("*.so"))
    planted = b"\x7fELF planted, not built here"
    plant(library, planted)
    assert reload() is not None  # a planted file would not load at all: this one was rebuilt
    assert library.read_bytes() != planted
    assert native_build.verified(library)
    assert "did not match its recorded sha256" in native.describe()["detail"]


def test_a_folder_others_can_write_to_is_not_trusted(fresh_native):
    folder = fresh_native
    require_kernels()
    library = next(folder.glob("*.so"))
    planted = b"\x7fELF planted with a matching record"
    plant(library, planted)
    native_build.record_of(library).write_text(native_build.sha256_of(library) + "\n")
    os.chmod(folder, 0o777)
    assert reload() is not None
    assert library.read_bytes() != planted  # its hash matched, but the folder was open: rebuilt
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert "writable by other users" in native.describe()["detail"]


def test_a_cache_folder_that_is_a_link_is_not_used(fresh_native, tmp_path):
    folder = fresh_native
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.parent.mkdir(parents=True)
    folder.symlink_to(elsewhere)
    require_kernels()  # built in a private temporary folder for this process instead
    assert list(elsewhere.iterdir()) == []
    detail = native.describe()["detail"]
    assert "is not a folder of this user's own" in detail and "private temporary folder" in detail


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="making a folder of another user needs root")
def test_a_cache_folder_of_another_user_is_not_used(fresh_native):
    folder = fresh_native
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, 54321, 54321)
    require_kernels()
    assert list(folder.iterdir()) == []
    assert "is not a folder of this user's own" in native.describe()["detail"]


# ---------------------------------------------------------------- when the compiled path is not used

def test_without_a_compiler_or_when_switched_off_the_torch_path_runs(fresh_native, monkeypatch):
    folder = fresh_native
    monkeypatch.setenv("CC", "/bin/false")
    assert native.kernels() is None
    assert native.status().startswith("unavailable: build failed: /bin/false")
    assert not native.describe()["in_use"] and "the torch path runs" in native.describe()["detail"]
    assert not folder.exists() or built_files(folder) == []  # nothing half-built
    layout = packed_layout(torch.tensor([3, 1]))
    for cell in ("scratch", "lstm", "gru"):
        out = run_packed(cell, RecurrentEncoder(cell, 4, 8).weights(0, 0), torch.randn(4, 4), layout)
        assert out.shape == (4, 8) and out.isfinite().all()
    monkeypatch.setenv(native.NATIVE_ENV, "0")
    assert native.kernels() is None and native.status() == f"off ({native.NATIVE_ENV}=0)"
    assert native.describe() == {"in_use": False, "detail": "switched off by SENTIMENT_NATIVE=0; the torch path runs"}


def test_without_openblas_the_reason_names_the_package(fresh_native, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy_openblas32", None)  # import fails as if not installed
    assert native.kernels() is None
    assert native.status() == ("unavailable: OpenBLAS not found: install scipy-openblas32 "
                               "(pip install -r requirements.txt)")


def test_the_x86_only_flag_is_given_on_x86_only():
    x86 = native_build.compiler_flags("x86_64")
    assert x86 == ("-O3", "-march=native", "-mprefer-vector-width=512", "-fPIC", "-shared", "-fno-math-errno",
                   "-fno-trapping-math", "-fopenmp")  # unchanged on x86: the library name's key stays the same
    assert native_build.compiler_flags("AMD64") == x86
    arm = native_build.compiler_flags("aarch64")
    assert "-mprefer-vector-width=512" not in arm and arm == tuple(f for f in x86 if f != "-mprefer-vector-width=512")
