"""g(r) of sheets and the blur masks of the context study."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ase")
import ednn  # noqa: E402
from ednn.data.sheets import BOND, honeycomb  # noqa: E402
from ednn.evaluate.blur import masks  # noqa: E402
from ednn.evaluate.structure import peaks, rdf  # noqa: E402


def test_rdf_of_ideal_graphene_counts_neighbours():
    a = honeycomb((6, 10))
    L = a.cell.lengths()[:2]
    r, g = rdf([(a.positions, L)], r_max=3.0, dr=0.01)
    rho = len(a) / (L[0] * L[1])
    shells = np.cumsum(g * rho * np.pi * ((r + 0.005) ** 2 - (r - 0.005) ** 2))
    # coordination: 3 first neighbours at a / sqrt(3), 6 second at a, 3 third at 2 a / sqrt(3)
    assert shells[np.searchsorted(r, 1.6)] == pytest.approx(3.0)
    assert shells[np.searchsorted(r, 2.6)] == pytest.approx(9.0)
    assert shells[np.searchsorted(r, 2.9)] == pytest.approx(12.0)
    first = peaks(r, g, smooth=0)[0]
    assert first[0] == pytest.approx(BOND, abs=0.01)
    with pytest.raises(ednn.InputError, match="r_max: expected at most half"):
        rdf([(a.positions, L)], r_max=20.0)


def test_peaks_refine_a_parabola():
    r = np.linspace(0, 4, 401)
    g = 1 + 3 * np.exp(-((r - 1.234) ** 2) / 0.01) + 2 * np.exp(-((r - 2.5) ** 2) / 0.02)
    (p1, h1), (p2, h2) = peaks(r, g, 2, smooth=0)
    assert p1 == pytest.approx(1.234, abs=2e-3) and h1 == pytest.approx(4.0, abs=0.01)
    assert p2 == pytest.approx(2.5, abs=2e-3) and h2 == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize("width", [1, 5, 16, 32])
def test_blur_masks(width):
    band, centre = masks(64, width)
    assert band.sum() == 64 * 64 - max(0, 64 - 2 * width) ** 2
    assert abs(int(centre.sum()) - int(band.sum())) <= 2 * int(np.sqrt(band.sum())) + 1  # nearest square
    assert band[0].all() and band[:, -1].all() and (width == 32 or not band[32, 32])
    assert centre[32, 32] and (width == 32 or not centre[0, 0])
