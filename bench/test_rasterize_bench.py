"""Compiled rasterizer (Eq. 2) vs the brute-force NumPy reference and vs a NumPy per-atom stencil.

Systems: the paper's 60-atom sheet (3 x 5 rectangular graphene cells, a = 2.46 A, 12.7824 A x
12.30 A) at 256 x 256, and its 5 x 5 supercell (1500 atoms, 63.912 A x 61.5 A) at 1024 x 1024;
random B/C/N species, 0.05 A displacements, gamma = 0.2 A, float32 output.
Targets: >= 50x the NumPy reference on both, and < 1 ms for the 60-atom 256^2 image.
Run: python -m pytest bench/test_rasterize_bench.py --benchmark-enable -s
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import MEDIANS, ratio

import ednn
from ednn import reference
from ednn.rasterize import CUTOFF_GAMMAS

A = 2.46  # graphene lattice constant, Angstrom
GAMMA = 0.2
CASES = {"60-256": (1, 256), "1500-1024": (5, 1024)}  # supercell repeat per axis, grid points per axis
TARGET_VS_REFERENCE = 50.0
TARGET_SMALL_SECONDS = 1e-3


def sheet(repeat: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Graphene-like sheet of (3 repeat) x (5 repeat) rectangular cells (4 atoms each), displaced."""
    d = A / math.sqrt(3)  # bond length
    basis = np.array([[0.0, 0.0], [d, 0.0], [1.5 * d, A / 2], [2.5 * d, A / 2]])
    nx, ny = 3 * repeat, 5 * repeat
    cells = np.array([[i * 3 * d, j * A] for i in range(nx) for j in range(ny)])
    xy = (cells[:, None, :] + basis[None, :, :]).reshape(-1, 2)
    rng = np.random.default_rng(seed)
    pos = np.column_stack([xy, np.full(len(xy), 5.0)]) + rng.normal(scale=0.05, size=(len(xy), 3))
    numbers = rng.choice([5, 6, 7], len(xy))
    return pos, numbers, (nx * 3 * d, ny * A)


def numpy_stencil(pos: np.ndarray, numbers: np.ndarray, cell: tuple[float, float], shape: tuple[int, int]) -> np.ndarray:
    """A vectorised NumPy per-atom box stencil (separable factors, wrapped indices): a fair baseline."""
    L, N = np.asarray(cell), np.asarray(shape)
    h = L / N
    rc = GAMMA * CUTOFF_GAMMAS
    V = np.zeros(shape)
    for p, z in zip(pos[:, :2], numbers):
        a = np.ceil((p - rc) / h).astype(np.int64)
        b = np.floor((p + rc) / h).astype(np.int64)
        ix, iy = np.arange(a[0], b[0] + 1), np.arange(a[1], b[1] + 1)
        gx = np.exp(-((ix * h[0] - p[0]) ** 2) / (2 * GAMMA**2))
        gy = np.exp(-((iy * h[1] - p[1]) ** 2) / (2 * GAMMA**2))
        np.add.at(V, np.ix_(ix % N[0], iy % N[1]), z * np.outer(gx, gy))
    return V.astype(np.float32)


@pytest.fixture(scope="module")
def systems():
    out = {}
    for case, (repeat, n) in CASES.items():
        pos, numbers, cell = sheet(repeat)
        dst = np.zeros((n, n), dtype=np.float32)
        out[case] = (pos, numbers, cell, (n, n), dst)
    return out


@pytest.mark.parametrize("case", CASES)
def test_reference(record, systems, case):
    pos, numbers, cell, shape, _ = systems[case]
    big = case.startswith("1500")
    V = record(f"{case}:reference", reference.rasterize, pos, numbers, cell, shape, gamma=GAMMA,
               rounds=1 if big else 3, warmup=0 if big else 1)
    V_ednn = ednn.rasterize(pos, numbers, cell, shape, gamma=GAMMA)
    assert np.abs(V_ednn - V).max() <= 1e-6 * np.abs(V).max()


@pytest.mark.parametrize("case", CASES)
def test_numpy_stencil(record, systems, case):
    pos, numbers, cell, shape, _ = systems[case]
    V = record(f"{case}:numpy-stencil", numpy_stencil, pos, numbers, cell, shape, rounds=3)
    V_ednn = ednn.rasterize(pos, numbers, cell, shape, gamma=GAMMA)
    assert np.abs(V_ednn - V).max() <= 1e-6 * np.abs(V).max()


@pytest.mark.parametrize("case", CASES)
def test_ednn(record, systems, case):
    pos, numbers, cell, shape, dst = systems[case]
    record(f"{case}:ednn", ednn.rasterize, pos, numbers, cell, shape, gamma=GAMMA, out=dst, rounds=200, warmup=10)


@pytest.mark.parametrize("case", CASES)
def test_ednn_one_thread(record, systems, case):
    pos, numbers, cell, shape, dst = systems[case]
    record(f"{case}:ednn-1thread", ednn.rasterize, pos, numbers, cell, shape, gamma=GAMMA, out=dst, threads=1,
           rounds=200, warmup=10)


@pytest.mark.parametrize("case", CASES)
def test_targets(case):
    vs_reference = ratio(f"{case}:reference", f"{case}:ednn")
    vs_stencil = ratio(f"{case}:numpy-stencil", f"{case}:ednn")
    print(
        f"\n{case}: ednn {vs_reference:.0f}x the NumPy reference, {vs_stencil:.1f}x a NumPy stencil; medians "
        + ", ".join(f"{k.split(':')[1]} {1e3 * v:.3f} ms" for k, v in MEDIANS.items() if k.startswith(case + ":"))
    )
    assert vs_reference >= TARGET_VS_REFERENCE
    if case == "60-256":
        assert MEDIANS[f"{case}:ednn"] < TARGET_SMALL_SECONDS
