"""Compiled tiler vs the NumPy tiler and vs np.copyto of the same number of bytes.

Targets on a 2-core machine: >= 3x the NumPy tiler at 4096^2 f=64 c=32, >= 5x at 2048^2 f=1 c=1,
and >= 70 % of memcpy bandwidth for the bytes written.
Run: python -m pytest bench/test_tiling_bench.py --benchmark-enable
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MEDIANS, ratio

import ednn
from ednn import reference

CASES = {"4096-f64-c32": (4096, 64, 32), "2048-f1-c1": (2048, 1, 1)}
TARGET_VS_NUMPY = {"4096-f64-c32": 3.0, "2048-f1-c1": 5.0}
TARGET_VS_MEMCPY = 0.70


@pytest.fixture(scope="module")
def arrays():
    out = {}
    for key, (L, f, c) in CASES.items():
        g = np.random.default_rng(0).normal(size=(L, L)).astype(np.float32)
        dst = np.empty(ednn.tile_shape(g.shape, f, c), dtype=np.float32)
        dst.fill(0)  # fault the pages in once: every variant below writes to resident memory
        src = np.ones(dst.size, dtype=np.float32)
        flat = np.zeros_like(src)
        out[key] = (g, f, c, dst, src, flat)
    return out


@pytest.mark.parametrize("case", CASES)
def test_numpy_tiler(record, arrays, case):
    g, f, c, *_ = arrays[case]
    record(f"{case}:numpy", reference.tile, g, f, c, rounds=5)


@pytest.mark.parametrize("case", CASES)
def test_memcpy(record, arrays, case):
    *_, src, flat = arrays[case]
    record(f"{case}:copyto", np.copyto, flat, src)


@pytest.mark.parametrize("case", CASES)
def test_ednn_tile_into(record, arrays, case):
    g, f, c, dst, *_ = arrays[case]
    record(f"{case}:ednn-out", ednn.tile, g, f, c, out=dst)
    np.testing.assert_array_equal(dst[1, 2], reference.tile(g[: 4 * f, : 4 * f], f, c)[1, 2])


@pytest.mark.parametrize("case", CASES)
def test_ednn_tile_alloc(record, arrays, case):
    g, f, c, *_ = arrays[case]
    record(f"{case}:ednn-alloc", ednn.tile, g, f, c)


@pytest.mark.parametrize("case", CASES)
def test_targets(case):
    vs_numpy = ratio(f"{case}:numpy", f"{case}:ednn-out")
    vs_numpy_alloc = ratio(f"{case}:numpy", f"{case}:ednn-alloc")
    of_memcpy = ratio(f"{case}:copyto", f"{case}:ednn-out")
    print(
        f"\n{case}: ednn (into out) {vs_numpy:.2f}x NumPy tiler, with allocation {vs_numpy_alloc:.2f}x; "
        f"{100 * of_memcpy:.0f} % of np.copyto bandwidth; medians "
        + ", ".join(f"{k.split(':')[1]} {1e3 * v:.1f} ms" for k, v in MEDIANS.items() if k.startswith(case))
    )
    assert vs_numpy >= TARGET_VS_NUMPY[case]
    assert of_memcpy >= TARGET_VS_MEMCPY
