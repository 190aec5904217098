"""Flattening a rippled sheet: windows (ednn.atoms.localflat, O(N)) vs the one global solve.

Targets: the windows' time grows at most as N^1.1 from 15 360 to 61 440 atoms (a ratio <= 4.6 for 4x
the atoms), and at 61 440 atoms the windows are at least 1.3x faster than the one solve (whose
conjugate-gradient iterations grow with the sheet's edge). docs/scale.md has thermal MD sheets to
7 x 10^5 atoms (examples/flatten_scale.py).
Run: python -m pytest bench/test_flatten_bench.py --benchmark-enable -s
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ratio

pytest.importorskip("ase")

from ednn.atoms.bonds import flatten  # noqa: E402
from ednn.atoms.localflat import flatten_windows  # noqa: E402

SIZES = {"small": (48, 80), "large": (96, 160)}  # rectangular 4-atom cells: 15 360 and 61 440 atoms


def _rippled(cells):
    from ednn.data.sheets import honeycomb

    rng = np.random.default_rng(0)
    a = honeycomb(cells)
    L = np.diag(a.cell.array)[:2]
    pos = a.positions.copy()
    x, y = pos[:, 0] / L[0], pos[:, 1] / L[1]
    for kx, ky, amp in [(1, 1, 1.5), (2, 1, 0.8), (3, 4, 0.4), (7, 5, 0.2)]:  # long and shorter ripples
        ph = rng.uniform(0, 2 * np.pi, 2)
        pos[:, 2] += amp * np.sin(2 * np.pi * kx * x + ph[0]) * np.cos(2 * np.pi * ky * y + ph[1])
    pos += rng.normal(0.0, 0.04, pos.shape)  # thermal noise
    return pos, L


@pytest.fixture(scope="module")
def sheets():
    return {k: _rippled(v) for k, v in SIZES.items()}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("method", ["windows", "global"])
def test_flatten(record, sheets, size, method):
    pos, L = sheets[size]
    fn = (lambda: flatten_windows(pos, L, threads=2)) if method == "windows" else (lambda: flatten(pos, L))
    record(f"flatten:{method}:{size}", fn, rounds=3)


def test_targets():
    growth = ratio("flatten:windows:large", "flatten:windows:small")
    gain = ratio("flatten:global:large", "flatten:windows:large")
    print(f"\nwindows, 4x the atoms: {growth:.2f}x the time (target <= 4.6); one solve / windows at 61 440 atoms: "
          f"{gain:.2f}x (target >= 1.3)")
    assert growth <= 4.6
    assert gain >= 1.3
