"""The compiled recurrences (sentiment_core/recurrences.c) against the pure-torch path."""
from __future__ import annotations

import shutil

import pytest
import torch

from sentiment_core.models import native
from sentiment_core.models import RecurrentEncoder, packed_layout, run_packed


@pytest.fixture
def fresh_native():
    """Forget the loaded library before and after, so a test's environment decides."""
    native._load.cache_clear()
    yield
    native._load.cache_clear()


def require_kernels():
    """Where the machine has a C compiler the kernels must build; elsewhere the test is skipped."""
    kernels = native.recurrence_kernels()
    if kernels is None and shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip(f"compiled recurrences: {native.status()}")
    assert kernels is not None, native.status()


def run_both(cell, monkeypatch, bptt, hidden=16, lengths=(9, 4, 9, 1, 6, 2, 12)):
    """Outputs and gradients (input, weights) of one direction, compiled and with torch ops."""
    torch.manual_seed(0)
    encoder = RecurrentEncoder(cell, 10, hidden)
    weights = encoder.weights(0, 0)
    layout = packed_layout(torch.tensor(lengths))
    x = torch.randn(sum(layout.batch_sizes), 10, requires_grad=True)
    upstream = torch.randn(x.shape[0], hidden)
    params = [x, *encoder.parameters()]
    results = []
    for setting in ("1", "0"):
        monkeypatch.setenv(native.NATIVE_ENV, setting)
        out = run_packed(cell, weights, x, layout, bptt)
        results.append((out, torch.autograd.grad((out * upstream).sum(), params)))
    return results


@pytest.mark.parametrize("cell", ["scratch", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("bptt", [None, 3])
def test_compiled_recurrence_matches_the_torch_path(cell, bptt, monkeypatch, fresh_native):
    require_kernels()
    (compiled, compiled_grads), (plain, plain_grads) = run_both(cell, monkeypatch, bptt)
    torch.testing.assert_close(compiled, plain, atol=1e-5, rtol=1e-4)
    for a, b in zip(compiled_grads, plain_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", ["scratch", "lstm", "gru"])
def test_nan_and_huge_values_pass_through_the_compiled_activations(cell, fresh_native):
    """A diverging run must still show NaN (the trainer stops on it); huge inputs saturate."""
    require_kernels()
    encoder = RecurrentEncoder(cell, 4, 8)
    layout = packed_layout(torch.tensor([3, 2]))
    with torch.no_grad():
        x = torch.full((5, 4), float("nan"))
        assert run_packed(cell, encoder.weights(0, 0), x, layout).isnan().all()
        out = run_packed(cell, encoder.weights(0, 0), torch.full((5, 4), 1e30), layout)
        assert out.isfinite().all() and out.abs().max() <= 1.0


def test_the_library_is_built_once_into_the_cache_folder(tmp_path, monkeypatch, fresh_native):
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path))
    require_kernels()
    built = sorted((tmp_path / "native").iterdir())
    assert [p.suffix for p in built] == [".so"] and built[0].name.startswith("recurrences-")  # no temp files
    stamp = built[0].stat().st_mtime_ns
    native._load.cache_clear()
    assert native.recurrence_kernels() is not None and built[0].stat().st_mtime_ns == stamp  # reused


def test_without_a_compiler_or_when_switched_off_the_torch_path_runs(tmp_path, monkeypatch, fresh_native):
    monkeypatch.setenv("SENTIMENT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "/bin/false")
    assert native.recurrence_kernels() is None
    assert native.status().startswith("unavailable: /bin/false failed")
    assert not (tmp_path / "native").exists() or not any((tmp_path / "native").iterdir())  # nothing half-built
    layout = packed_layout(torch.tensor([3, 1]))
    for cell in ("scratch", "lstm", "gru"):
        out = run_packed(cell, RecurrentEncoder(cell, 4, 8).weights(0, 0), torch.randn(4, 4), layout)
        assert out.shape == (4, 8) and out.isfinite().all()
    monkeypatch.setenv(native.NATIVE_ENV, "0")
    assert native.recurrence_kernels() is None and native.status() == f"off ({native.NATIVE_ENV}=0)"
