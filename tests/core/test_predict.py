"""ednn.predict: exact Ising model, metamorphic relations, streaming, errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_spins

import ednn
from ednn.reference import ising_energy


def test_exact_ising_128(ising_model_path, rng):
    for _ in range(5):
        s = random_spins(rng, (128, 128))
        assert ednn.predict(ising_model_path, s) == ising_energy(s)


def test_ordered_and_checkerboard(ising_model_path):
    L = 64
    assert ednn.predict(ising_model_path, np.ones((L, L))) == -2 * L * L
    chk = np.where((np.add.outer(np.arange(L), np.arange(L)) % 2) == 0, 1, -1)
    assert ednn.predict(ising_model_path, chk) == 2 * L * L


def test_empty_batch(ising_model_path):
    out = ednn.predict(ising_model_path, np.zeros((0, 8, 8), dtype=np.int8))
    assert out.shape == (0, 1)


def test_batch_and_dtypes(ising_model_path, rng):
    s = random_spins(rng, (4, 32, 48))
    want = ising_energy(s)
    for dtype in (np.int8, np.int32, np.float32, np.float64):
        got = ednn.predict(ising_model_path, s.astype(dtype))
        assert got.shape == (4, 1)
        np.testing.assert_array_equal(got[:, 0], want)


@pytest.mark.parametrize("batch_size", [1, 7, 100, 10_000])
def test_batch_size_does_not_change_result(ising_model_path, rng, batch_size):
    s = random_spins(rng, (40, 40))
    assert ednn.predict(ising_model_path, s, batch_size=batch_size) == ising_energy(s)


def test_tiled_copy_is_extensive(ising_model_path, rng):
    for _ in range(3):
        g = rng.normal(size=(24, 24))  # real-valued input: contributions are not integers
        e1 = ednn.predict(ising_model_path, g)
        e4 = ednn.predict(ising_model_path, np.tile(g, (2, 2)))
        # 1e-12 relative: both sums are float64 over float32 contributions; only summation order differs
        assert e4 == pytest.approx(4 * e1, rel=1e-12)


def test_shift_by_focus_multiple_changes_nothing(ising_model_path, rng):
    g = rng.normal(size=(16, 16)).astype(np.float32)
    e = ednn.predict(ising_model_path, g)
    for shift in [(1, 0), (0, 5), (3, 7)]:
        assert ednn.predict(ising_model_path, np.roll(g, shift, axis=(0, 1))) == pytest.approx(e, rel=1e-12)


def test_threads_and_providers(ising_model_path, rng):
    s = random_spins(rng, (32, 32))
    a = ednn.predict(ising_model_path, s, threads=1)
    b = ednn.predict(ising_model_path, s, threads=2, providers=["CPUExecutionProvider"])
    assert a == b == ising_energy(s)


def test_progress_bar(ising_model_path, rng, capsys):
    s = random_spins(rng, (16, 16))
    ednn.predict(ising_model_path, s, progress=True, batch_size=64)
    assert "256" in capsys.readouterr().err


def test_model_object_and_path(ising_model_path, rng):
    s = random_spins(rng, (8, 8))
    m = ednn.Model(ising_model_path)
    assert ednn.predict(m, s) == ednn.predict(str(ising_model_path), s)


@pytest.mark.parametrize(
    "grid,match",
    [
        (np.zeros(8), r"grid: expected 2 axes \(S_1..S_d\) or 3 with a leading batch axis .* got shape \(8,\)"),
        (np.zeros((2, 2, 8, 8)), r"got shape \(2, 2, 8, 8\)"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), r"expected finite values, got nan at index \(0, 1\)"),
        (np.array([[[1.0, 1], [0, 1]], [[1.0, 1], [np.inf, 1]]]), r"got inf at index \(1, 1, 0\)"),
        (np.zeros((3, 3), dtype=complex), r"expected a real numeric or boolean array"),
    ],
)
def test_grid_errors(ising_model_path, grid, match):
    with pytest.raises(ednn.InputError, match=match):
        ednn.predict(ising_model_path, grid)


def test_other_errors(ising_model_path, tmp_path):
    g = np.ones((4, 4))
    with pytest.raises(ednn.InputError, match="batch_size: expected a positive int"):
        ednn.predict(ising_model_path, g, batch_size=0)
    with pytest.raises(ednn.InputError, match="threads: expected a positive int"):
        ednn.predict(ising_model_path, g, threads=-2)
    with pytest.raises(ednn.InputError, match="no such file"):
        ednn.predict(tmp_path / "missing.onnx", g)
    with pytest.raises(ednn.InputError, match="model: expected a path"):
        ednn.predict(42, g)  # type: ignore[arg-type]


def test_grid_is_converted_per_batch_not_whole(ising_model_path):
    import tracemalloc

    import numpy as np

    import ednn

    spins = np.broadcast_to(np.int8(1), (4096, 4096))  # 16 Mi spins, no memory of their own
    tracemalloc.start()
    try:
        e = ednn.predict(ising_model_path, spins)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e == -2.0 * 4096 * 4096
    # a float32 copy of the grid would be 64 MiB; two batches of 16 384 3x3 tiles are 1.2 MiB
    assert peak < 16 << 20, peak
