"""The compiled rasterizer (Eq. 2) against the brute-force NumPy oracle, its physics and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ednn
from ednn import reference
from ednn.rasterize import CUTOFF_GAMMAS

RTOL = 1e-6  # relative to max |V|


def _system(rng, n, cell, spread=(0.0, 1.0), zdim=3):
    cell = np.asarray(cell, dtype=float)
    lo, hi = spread
    pos = rng.uniform(lo, hi, (n, zdim)) * np.r_[cell, [7.0] * (zdim - len(cell))][:zdim]
    numbers = rng.integers(1, 9, n)
    return pos, numbers


def _close(got, want, rtol=RTOL):
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-300)
    err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) / scale
    assert err <= rtol, f"max error {err:.3g} of max |V| {scale:.3g}"


CASES = [
    # (cell, shape, gamma, atoms): a sheet, anisotropic and odd grids, 3-D boxes
    ((5.1, 4.3), (40, 36), 0.2, 30),
    ((3.7, 6.2), (17, 53), 0.35, 11),
    ((3.0, 2.5, 2.8), (20, 16, 18), 0.3, 12),
    ((2.2, 3.1, 1.9), (9, 13, 7), 0.25, 7),
    # cells smaller than the cutoff (r_c = 5.68 gamma): the stencil wraps several times
    ((0.5, 0.7), (5, 7), 0.2, 3),
    ((0.6, 0.9, 0.5), (4, 6, 3), 0.2, 4),
    ((0.3, 2.0), (1, 16), 0.2, 2),
    # a grid coarser than gamma: stencils of one or two points
    ((6.0, 5.0), (8, 7), 0.1, 9),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell,shape,gamma,n", CASES)
def test_matches_reference(rng, dtype, cell, shape, gamma, n):
    pos, numbers = _system(rng, n, cell)
    got = ednn.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=dtype)
    assert got.dtype == dtype and got.shape == shape and got.flags.c_contiguous
    want = reference.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=np.float64)
    assert np.abs(want).max() > 0
    _close(got, want)


@pytest.mark.parametrize("cell,shape", [((4.0, 3.0), (32, 24)), ((2.0, 2.4, 1.6), (10, 12, 8))])
def test_atoms_on_faces_and_outside(cell, shape):
    L = np.array(cell)
    d = len(cell)
    rows = [np.zeros(d), L.copy(), np.r_[L[0], np.zeros(d - 1)]]  # corners (the same point, periodically)
    rows += [np.where(np.arange(d) == k, L[k], 0.37 * L) for k in range(d)]  # on each upper face
    rows += [np.where(np.arange(d) == k, 0.0, 0.61 * L) for k in range(d)]  # on each lower face
    rows += [-0.5 * L, 3.25 * L, -7.0 * L + 0.1, L * 1e-17, -L * 1e-17]  # outside, just around 0
    pos = np.array(rows)
    numbers = np.arange(1, len(pos) + 1)
    got = ednn.rasterize(pos, numbers, cell, shape, dtype=np.float64)
    want = reference.rasterize(pos, numbers, cell, shape, dtype=np.float64)
    _close(got, want)
    # wrapping: atoms moved by whole cell vectors give the same image
    shifts = np.random.default_rng(3).integers(-3, 4, pos.shape) * L
    moved = ednn.rasterize(pos + shifts, numbers, cell, shape, dtype=np.float64)
    np.testing.assert_allclose(moved, got, rtol=0, atol=1e-12 * np.abs(got).max())


def test_sheet_positions_ignore_z(rng):
    cell = (5.0, 4.0)
    pos, numbers = _system(rng, 10, cell)
    flat = pos.copy()
    flat[:, 2] = 0.0
    a = ednn.rasterize(pos, numbers, cell, (25, 20))
    np.testing.assert_array_equal(a, ednn.rasterize(flat, numbers, cell, (25, 20)))
    np.testing.assert_array_equal(a, ednn.rasterize(pos[:, :2], numbers, cell, (25, 20)))


def test_grid_convention_and_peak():
    """Grid point (i, j) sits at (i Lx / Nx, j Ly / Ny); an atom there gives Z at it."""
    cell, shape, gamma = (8.0, 6.0), (32, 24), 0.3
    h = (cell[0] / shape[0], cell[1] / shape[1])
    pos = np.array([[5 * h[0], 7 * h[1], 1.0]])
    V = ednn.rasterize(pos, [6], cell, shape, gamma=gamma, dtype=np.float64)
    assert np.unravel_index(np.argmax(V), V.shape) == (5, 7)
    assert V[5, 7] == pytest.approx(6.0, rel=1e-14)
    assert V[6, 7] == pytest.approx(6.0 * math.exp(-h[0] ** 2 / (2 * gamma**2)), rel=1e-14)
    assert V[5, 9] == pytest.approx(6.0 * math.exp(-((2 * h[1]) ** 2) / (2 * gamma**2)), rel=1e-14)


def test_cutoff_is_documented_box():
    """Terms are kept out to r_c = 5.678 gamma along each axis and dropped beyond (< 1e-7 Z)."""
    assert CUTOFF_GAMMAS == pytest.approx(math.sqrt(2 * math.log(1e7)))
    assert ednn._ednn.rasterize_cutoff(0.2) == pytest.approx(0.2 * CUTOFF_GAMMAS, rel=1e-15)
    gamma, h = 0.2, 0.01
    cell, shape = (400 * h, 400 * h), (400, 400)
    V = ednn.rasterize([[0.0, 0.0]], [1.0], cell, shape, gamma=gamma, dtype=np.float64)
    x = np.arange(400) * h
    x = np.minimum(x, cell[0] - x)
    row = V[:, 0]
    kept = x <= gamma * CUTOFF_GAMMAS
    np.testing.assert_allclose(row[kept], np.exp(-x[kept] ** 2 / (2 * gamma**2)), rtol=1e-13)
    assert np.all(row[~kept] == 0)
    assert row[kept].min() >= 1e-7 * (1 - 1e-9)


@pytest.mark.parametrize("d", [2, 3])
def test_sum_rule(rng, d):
    """On a fine grid, the integral of V is sum Z (2 pi gamma^2)^(d/2)."""
    gamma = 0.3
    cell = (3.0, 2.7, 3.3)[:d]
    shape = (60, 54, 66)[:d] if d == 2 else (30, 27, 33)
    pos, numbers = _system(rng, 7, cell, spread=(-1, 2))
    V = ednn.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=np.float64)
    want = numbers.sum() * (2 * math.pi * gamma**2) ** (d / 2)
    cell_volume = math.prod(c / s for c, s in zip(cell, shape))
    assert V.sum() * cell_volume == pytest.approx(want, rel=1e-6)
    V_ref = reference.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=np.float64)
    assert V_ref.sum() * cell_volume == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_stencil_nearly_the_period(threads):
    """Stencils a little shorter than the period: two images of one atom land in one block of rows."""
    gamma = 0.2
    rc = gamma * CUTOFF_GAMMAS
    rng = np.random.default_rng(7)
    for n_points in range(6, 40):
        for gap in (0.4, 1.3, 2.6):
            h = 2 * rc / (n_points - gap)
            cell = (n_points * h, 7 * h)
            pos = rng.uniform(0, 1, (4, 2)) * cell
            got = ednn.rasterize(pos, [1, 2, 3, 4], cell, (n_points, 7), gamma=gamma, dtype=np.float64,
                                 threads=threads)
            _close(got, reference.rasterize(pos, [1, 2, 3, 4], cell, (n_points, 7), gamma=gamma, dtype=np.float64))


WINDOWS = [
    ((40, 36), (5, 7), (10, 9)),
    ((40, 36), (-3, 30), (12, 15)),  # negative origin and one past the end: wraps
    ((40, 36), (123, -77), (40, 36)),  # the whole grid, rolled
    ((5, 7), (2, 3), (13, 16)),  # window larger than the periodic grid: it repeats
    ((40, 36), (0, 0), (1, 36)),
    ((20, 16, 18), (15, -2, 4), (9, 7, 20)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,origin,window", WINDOWS)
def test_window_is_slice_of_full_grid(rng, dtype, shape, origin, window):
    d = len(shape)
    cell = (5.1, 4.3) if d == 2 else (3.0, 2.5, 2.8)
    if shape == (5, 7):
        cell = (0.5, 0.7)  # smaller than the cutoff as well
    pos, numbers = _system(rng, 12, cell, spread=(-0.2, 1.2))
    full = ednn.rasterize(pos, numbers, cell, shape, dtype=dtype)
    idx = np.ix_(*[(o + np.arange(w)) % n for o, w, n in zip(origin, window, shape)])
    got = ednn.rasterize(pos, numbers, cell, shape, origin=origin, window_shape=window, dtype=dtype)
    assert got.shape == window
    np.testing.assert_array_equal(got, full[idx])
    want = reference.rasterize(pos, numbers, cell, shape, origin=origin, window_shape=window, dtype=np.float64)
    _close(got, want)


def test_window_defaults():
    pos, numbers, cell, shape = [[1.0, 2.0, 0.0]], [6], (4.0, 4.0), (16, 16)
    full = ednn.rasterize(pos, numbers, cell, shape)
    np.testing.assert_array_equal(ednn.rasterize(pos, numbers, cell, shape, origin=3), np.roll(full, (-3, -3), (0, 1)))
    np.testing.assert_array_equal(ednn.rasterize(pos, numbers, cell, shape, window_shape=(4, 5)), full[:4, :5])
    assert ednn.rasterize(pos, numbers, cell, shape, window_shape=(0, 5)).shape == (0, 5)


def test_64_bit_indices():
    """A window deep inside a grid of 2^45 points along x (never built), exact binary coordinates."""
    h = 0.125
    shape = (2**45, 16)
    cell = (shape[0] * h, shape[1] * h)
    origin = (2**40 + 5, 3)
    base = (2**40 + 5) * h
    pos = np.array([[base + 0.5, 1.0], [base - 0.25, 0.375], [base + 1.75, 1.5]])
    got = ednn.rasterize(pos, [6, 7, 5], cell, shape, origin=origin, window_shape=(24, 16), dtype=np.float64)
    want = reference.rasterize(pos, [6, 7, 5], cell, shape, origin=origin, window_shape=(24, 16), dtype=np.float64)
    assert np.abs(want).max() > 1
    _close(got, want, rtol=1e-12)
    # same system translated near the origin of a small cell
    small = ednn.rasterize(pos - [base - 8 * h, 0], [6, 7, 5], (8.0, cell[1]), (64, 16), origin=(8, 3),
                           window_shape=(24, 16), dtype=np.float64)
    np.testing.assert_allclose(got, small, rtol=0, atol=1e-12 * np.abs(small).max())


@pytest.mark.parametrize("shape", [(8, 6), (4, 5, 6)])
def test_empty_system_gives_zeros(shape):
    d = len(shape)
    cell = (2.0,) * d
    out = np.full(shape, np.nan, dtype=np.float32)
    assert ednn.rasterize(np.empty((0, 3)), [], cell, shape, out=out) is out
    np.testing.assert_array_equal(out, 0)
    np.testing.assert_array_equal(ednn.rasterize([], [], cell, shape, dtype=np.float64), np.zeros(shape))
    np.testing.assert_array_equal(reference.rasterize([], [], cell, shape), np.zeros(shape, np.float32))
    # zero atomic numbers, or atoms that miss a small window, contribute nothing
    np.testing.assert_array_equal(ednn.rasterize([[1.0] * 3], [0], cell, shape), 0)


def test_out_is_overwritten(rng):
    pos, numbers = _system(rng, 5, (3.0, 3.0))
    want = ednn.rasterize(pos, numbers, (3.0, 3.0), (12, 12), dtype=np.float64)
    out = np.full((12, 12), 1e9)
    assert ednn.rasterize(pos, numbers, (3.0, 3.0), (12, 12), out=out) is out
    np.testing.assert_array_equal(out, want)


def test_float32_is_rounded_float64(rng):
    pos, numbers = _system(rng, 20, (4.0, 3.0, 3.5))
    v64 = ednn.rasterize(pos, numbers, (4.0, 3.0, 3.5), (16, 12, 14), dtype=np.float64)
    v32 = ednn.rasterize(pos, numbers, (4.0, 3.0, 3.5), (16, 12, 14))
    assert v32.dtype == np.float32
    np.testing.assert_array_equal(v32, v64.astype(np.float32))


@pytest.mark.parametrize(
    "n,cell,shape,gamma",
    [
        (600, (25.0, 25.0), (512, 512), 0.2),  # enough work for a team of threads
        (200, (6.0, 6.0, 6.0), (64, 64, 64), 0.25),
        (9000, (60.0, 60.0), (1024, 1024), 0.05),  # parallel per-atom set-up as well
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_agree_bitwise(rng, n, cell, shape, gamma, dtype):
    pos, numbers = _system(rng, n, cell, spread=(-0.1, 1.1))
    one = ednn.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=dtype, threads=1)
    assert np.abs(one).max() > 0
    for t in (2, 3):
        np.testing.assert_array_equal(ednn.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=dtype, threads=t), one)


@settings(max_examples=40, deadline=None)
@given(
    d=st.sampled_from([2, 3]),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 6),
    gamma=st.floats(0.05, 0.6),
    sizes=st.lists(st.integers(1, 12), min_size=3, max_size=3),
    lengths=st.lists(st.floats(0.2, 3.0), min_size=3, max_size=3),
    origin=st.lists(st.integers(-30, 30), min_size=3, max_size=3),
    window=st.lists(st.integers(0, 14), min_size=3, max_size=3),
)
def test_random_windows_match_reference(d, seed, n, gamma, sizes, lengths, origin, window):
    rng = np.random.default_rng(seed)
    cell = tuple(lengths[:d])
    pos, _ = _system(rng, n, cell, spread=(-1.5, 2.5))
    numbers = rng.uniform(-3, 9, n)
    kw = dict(gamma=gamma, origin=origin[:d], window_shape=window[:d], dtype=np.float64)
    got = ednn.rasterize(pos, numbers, cell, sizes[:d], **kw)
    want = reference.rasterize(pos, numbers, cell, sizes[:d], **kw)
    assert got.shape == tuple(window[:d])
    if want.size:
        np.testing.assert_allclose(got, want, rtol=0, atol=RTOL * max(np.abs(want).max(), 1e-300))


def test_ase_atoms():
    ase = pytest.importorskip("ase")
    atoms = ase.Atoms("C2BN", positions=[[0.1, 0.2, 5.0], [1.3, 0.9, 5.1], [2.9, 2.2, 4.9], [-0.4, 3.5, 5.0]],
                      cell=[3.1, 2.8, 10.0], pbc=[True, True, False])
    got = ednn.rasterize(atoms, shape=(31, 28))
    want = ednn.rasterize(atoms.positions, atoms.numbers, [3.1, 2.8], (31, 28))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(reference.rasterize(atoms, shape=(31, 28)), reference.rasterize(
        atoms.positions, atoms.numbers, [3.1, 2.8], (31, 28)))
    got3 = ednn.rasterize(atoms, shape=(12, 11, 40), dtype=np.float64)
    _close(got3, reference.rasterize(atoms, shape=(12, 11, 40), dtype=np.float64))
    with pytest.raises(ednn.InputError, match="numbers: expected None"):
        ednn.rasterize(atoms, [6, 6, 5, 7], shape=(31, 28))
    with pytest.raises(ednn.InputError, match="shape: expected the grid shape"):
        ednn.rasterize(atoms)
    atoms.set_cell([[3.1, 0.0, 0.0], [1.0, 2.8, 0.0], [0.0, 0.0, 10.0]])
    with pytest.raises(ednn.InputError, match=r"cell: expected a rectangular cell .*cell\[1\]\[0\] = 1\.0"):
        ednn.rasterize(atoms, shape=(31, 28))


def test_cell_forms():
    pos, numbers, shape = [[0.3, 0.4, 0.5]], [6], (10, 12)
    want = ednn.rasterize(pos, numbers, (2.0, 2.4), shape)
    for cell in ([2.0, 2.4, 0.0], np.diag([2.0, 2.4]), np.diag([2.0, 2.4, 9.0]),
                 [[2.0, 0, 0.3], [0, 2.4, 0.1], [5.0, 1.0, 9.0]]):  # z vector and z components ignored in 2-D
        np.testing.assert_array_equal(ednn.rasterize(pos, numbers, cell, shape), want)
    # rounding noise off the diagonal is tolerated
    np.testing.assert_array_equal(ednn.rasterize(pos, numbers, [[2.0, 1e-16], [-1e-16, 2.4]], shape), want)


BAD = [
    # (kwargs overrides, message fragment)
    (dict(cell=[[2.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]), r"cell: expected a rectangular cell"),
    (dict(cell=[[2.0, 0.0], [0.1, 2.0]]), r"cell: expected a rectangular cell .*cell\[1\]\[0\]"),
    (dict(cell=[[2.0, 0, 0], [0, 2.0, 0], [0, 0.2, 2.0]], shape=(4, 4, 4)), r"cell\[2\]\[1\]"),
    (dict(cell=[2.0, 0.0]), r"cell: expected a finite edge length > 0 on axis 1, got 0.0"),
    (dict(cell=[2.0, -1.0]), r"cell: expected a finite edge length > 0"),
    (dict(cell=[2.0, np.inf]), r"cell: expected a finite edge length"),
    (dict(cell=[2.0]), r"cell: expected 2 edge lengths"),
    (dict(cell=[2.0, 2.0], shape=(4, 4, 4)), r"cell: expected 3 edge lengths"),
    (dict(cell=None), r"cell: expected"),
    (dict(gamma=0.0), r"gamma: expected a finite value > 0, got 0.0"),
    (dict(gamma=-0.2), r"gamma: expected a finite value > 0"),
    (dict(gamma=float("nan")), r"gamma: expected a finite value > 0"),
    (dict(gamma="0.2"), r"gamma: expected a real number"),
    (dict(gamma=1e12), r"gamma: the cutoff .* spans more than 2\^40 grid spacings"),
    (dict(numbers=[6, 6]), r"numbers: expected shape \(3,\), one per atom in positions, got \(2,\)"),
    (dict(numbers=[[6, 6, 6]]), r"numbers: expected shape \(3,\)"),
    (dict(numbers=None), r"numbers: expected 3 atomic numbers"),
    (dict(numbers=[6, np.nan, 6]), r"numbers: expected finite values, got nan for atom 1"),
    (dict(numbers=["C", "C", "C"]), r"numbers: expected real numbers"),
    (dict(positions=[[0, 0, 0], [1, np.nan, 0], [0, 0, 0]]), r"positions: expected finite coordinates.*atom 1"),
    (dict(positions=[[0, 0, 0], [1, 1, 0], [np.inf, 0, 0]]), r"positions: expected finite coordinates.*atom 2"),
    (dict(positions=[[0, 0, 0, 0]] * 3), r"positions: expected shape \(n, 2\) or \(n, 3\) for a 2-D grid, got \(3, 4\)"),
    (dict(positions=[[0, 0]] * 3, shape=(4, 4, 4), cell=(2, 2, 2)), r"positions: expected shape \(n, 3\) for a 3-D grid"),
    (dict(positions=[0.0, 1.0, 2.0]), r"positions: expected shape"),
    (dict(positions=[[1j, 0, 0]] * 3), r"positions: expected real numbers"),
    (dict(positions=None), r"positions: expected"),
    (dict(shape=(4,)), r"shape: expected 2 \(x, y\) or 3 \(x, y, z\) axes, got 1"),
    (dict(shape=(4, 4, 4, 4)), r"shape: expected 2 .* got 4"),
    (dict(shape=(4, 0)), r"shape: expected >= 1 on axis 1, got 0"),
    (dict(shape=(4, -2)), r"shape: expected >= 1 on axis 1"),
    (dict(shape=(4, 2.5)), r"shape: expected integers"),
    (dict(shape=None), r"shape: expected the grid shape"),
    (dict(shape=7), r"shape: expected a sequence"),
    (dict(origin=(1, 2, 3)), r"origin: expected 2 values"),
    (dict(origin=(1, 0.5)), r"origin: expected integers"),
    (dict(origin=(2**64, 0)), r"origin: expected a 64-bit integer"),
    (dict(window_shape=(3, -1)), r"window_shape: expected >= 0 on axis 1, got -1"),
    (dict(window_shape=(2**62, 2**62)), r"window_shape: expected fewer than 2\^63 points"),
    (dict(dtype=np.int32), r"dtype: expected float32 or float64, got int32"),
    (dict(dtype=np.float16), r"dtype: expected float32 or float64"),
    (dict(threads=0), r"threads: expected a positive int"),
    (dict(device="tpu"), r"device: expected 'cpu', 'cuda' or None"),
]


@pytest.mark.parametrize("override,match", BAD)
def test_errors(override, match):
    kw = dict(positions=[[0.1, 0.2, 0.3], [1.0, 1.5, 0.0], [1.9, 0.4, 2.0]], numbers=[6, 7, 5], cell=(2.0, 2.0),
              shape=(8, 8))
    kw.update(override)
    with pytest.raises(ednn.InputError, match=match) as info:
        ednn.rasterize(**kw)
    assert isinstance(info.value, ValueError)
    if "threads" not in override and "device" not in override:
        with pytest.raises(ednn.InputError, match=match):
            reference.rasterize(**kw)


@pytest.mark.parametrize(
    "out,match",
    [
        (np.zeros((8, 7), np.float32), r"out: expected a NumPy array of shape \(8, 8\)"),
        (np.zeros((8, 8), np.int32), r"out: expected a float32 or float64 array, got int32"),
        (np.zeros((8, 16), np.float32)[:, ::2], r"out: expected a writeable C-contiguous array"),
        ([[0.0] * 8] * 8, r"out: expected a NumPy array of shape \(8, 8\), got list"),
    ],
)
def test_out_errors(out, match):
    with pytest.raises(ednn.InputError, match=match):
        ednn.rasterize([[0.1, 0.2, 0.3]], [6], (2.0, 2.0), (8, 8), out=out)


def test_out_dtype_conflict():
    with pytest.raises(ednn.InputError, match="dtype: float64 differs from out's dtype float32"):
        ednn.rasterize([[0.1, 0.2, 0.3]], [6], (2.0, 2.0), (8, 8), out=np.zeros((8, 8), np.float32),
                       dtype=np.float64)


def test_errors_come_before_any_work():
    out = np.full((8, 8), 7.0)
    with pytest.raises(ednn.InputError):
        ednn.rasterize([[0.1, 0.2, 0.3], [0.5, np.nan, 0.0]], [6, 6], (2.0, 2.0), (8, 8), out=out)
    np.testing.assert_array_equal(out, 7.0)
    with pytest.raises(ednn.InputError, match="positions: expected finite"):  # the compiled check itself
        ednn._ednn.rasterize_host(np.array([[0.0, np.nan]]), np.array([6.0]), [2.0, 2.0], [8, 8], [0, 0],
                                  [8, 8], 0.2, out)
    np.testing.assert_array_equal(out, 7.0)


def test_compiled_checks():
    out = np.zeros((8, 8))
    args = (np.zeros((1, 2)), np.array([6.0]), [2.0, 2.0], [8, 8], [0, 0], [8, 8])
    with pytest.raises(ednn.InputError, match="gamma: expected a finite value > 0"):
        ednn._ednn.rasterize_host(*args, -1.0, out)
    with pytest.raises(ednn.InputError, match="out: expected the window's shape"):
        ednn._ednn.rasterize_host(*args[:5], [8, 4], 0.2, out)
    with pytest.raises(ednn.InputError, match="positions: expected shape"):
        ednn._ednn.rasterize_host(np.zeros((2, 2)), *args[1:], 0.2, out)
    with pytest.raises(ednn.InputError, match="shape: expected 2 or 3 axes"):
        ednn._ednn.rasterize_host(args[0], args[1], [2.0], [8], [0], [8], 0.2, out)


def test_without_cuda_or_gpu_says_so():
    if ednn.build_info()["cuda_devices"]:
        pytest.skip("a CUDA device is visible")
    with pytest.raises(RuntimeError, match="CUDA"):
        ednn.rasterize([[0.1, 0.2, 0.3]], [6], (2.0, 2.0), (8, 8), device="cuda")


# ---------------------------------------------------------------- CUDA (where a GPU is visible)

needs_gpu = pytest.mark.skipif(ednn.build_info()["cuda_devices"] == 0, reason="no CUDA device visible")


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell,shape,gamma,n", CASES)
def test_cuda_matches_reference(rng, dtype, cell, shape, gamma, n):
    pos, numbers = _system(rng, n, cell, spread=(-0.5, 1.5))
    got = ednn.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=dtype, device="cuda")
    assert isinstance(got, ednn.DeviceArray) and got.dtype == dtype
    _close(got.get(), reference.rasterize(pos, numbers, cell, shape, gamma=gamma, dtype=np.float64))


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("shape,origin,window", WINDOWS)
def test_cuda_windows(rng, shape, origin, window):
    d = len(shape)
    cell = (0.5, 0.7) if shape == (5, 7) else (5.1, 4.3) if d == 2 else (3.0, 2.5, 2.8)
    pos, numbers = _system(rng, 12, cell, spread=(-0.2, 1.2))
    kw = dict(origin=origin, window_shape=window, dtype=np.float64)
    got = ednn.rasterize(pos, numbers, cell, shape, device="cuda", **kw).get()
    np.testing.assert_allclose(got, ednn.rasterize(pos, numbers, cell, shape, **kw), rtol=1e-12, atol=1e-14)
    empty = ednn.rasterize([], [], cell, shape, device="cuda", **kw).get()
    np.testing.assert_array_equal(empty, 0)


@needs_gpu
@pytest.mark.gpu
def test_cuda_into_device_out(rng):
    pos, numbers = _system(rng, 1500, (63.9, 61.5))
    out = ednn.DeviceArray((1024, 1024), np.float32)
    assert ednn.rasterize(pos, numbers, (63.9, 61.5), (1024, 1024), out=out) is out
    want = ednn.rasterize(pos, numbers, (63.9, 61.5), (1024, 1024))
    np.testing.assert_allclose(out.get(), want, rtol=0, atol=1e-6 * np.abs(want).max())
