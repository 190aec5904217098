"""Metamorphic test of every shipped atoms model: moves that cannot change a sheet's energy must not.

Rigid in-plane translations by any vector, the mirrors x -> -x and y -> -y, the 180° turn, the order
of the atoms and the periodic image of each atom, on sheets of every family, pristine and with
vacancies, ideal and rattled, 60 to 960 atoms (ednn.evaluate.invariance); porous graphene for the
carbon-only porous model. Targets of the sheets
issue: median spread (max - min energy per atom over the moves of one sheet) below 1 meV/atom, the
worst below 5 meV/atom.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ase")

import ednn  # noqa: E402
from ednn.evaluate.invariance import MOVES, invariance_spread, moved, probe_family, probe_porous, probe_sheets  # noqa: E402

WORST_MEV = 5.0
MEDIAN_MEV = 1.0
ATOMS_MODELS = [name for name in ednn.models.available() if ednn.Model(ednn.models.path(name)).metadata.get("ednn.species")]


def test_there_is_an_atoms_model():
    assert ATOMS_MODELS  # the test below must not pass by having nothing to check


@pytest.mark.parametrize("name", ATOMS_MODELS)
def test_moves_that_keep_the_physics_keep_the_energy(name):
    # every family, pristine and with vacancies, ideal and rattled at 60 sites; three 240-site and one
    # 960-site sheet (the full protocol, 18 sheets with 4 draws each, is docs/sheets.md's and takes
    # minutes: examples/sheets_report.py)
    # (a carbon-only model, the porous one: three 240-site porous sheets and one of 960 sites)
    if probe_family(ednn.models.path(name)) == "porous":
        sheets = probe_porous(seed=7, cells=((6, 10), (6, 10), (6, 10), (12, 20)))
    else:
        sheets = (probe_sheets(seed=7, repeats=(1,)) + probe_sheets(seed=7, repeats=(2,))[::2]
                  + probe_sheets(seed=7, repeats=(4,))[3:4])
    r = invariance_spread(ednn.models.path(name), sheets, draws=2, seed=11, threads=2)
    assert len(r["spread"]) == len(sheets) >= 4 and r["natoms"].max() > 800
    detail = f"median {r['median']:.3f}, worst {r['worst']:.3f} meV/atom; largest change per move {r['by_move']}"
    assert r["median"] < MEDIAN_MEV, detail
    assert r["worst"] < WORST_MEV, detail


def test_moves_are_the_same_sheet():
    a = probe_sheets(seed=1, repeats=(1,), sigmas=(0.03,))[4]
    rng = np.random.default_rng(0)
    lengths = np.diag(a.cell.array)[:2]

    def pair_distances(x):
        d = x.get_positions()[:, None, :2] - x.get_positions()[None, :, :2]
        d -= np.round(d / lengths) * lengths  # minimum image in x and y
        return np.sort(np.hypot(d[..., 0], d[..., 1]).ravel())

    ref = pair_distances(a)
    for mv in MOVES:
        b = moved(a, mv, rng)
        np.testing.assert_allclose(pair_distances(b), ref, atol=1e-9)
        assert sorted(b.numbers) == sorted(a.numbers)
    t = moved(a, "translate", rng)
    assert np.abs(t.get_positions() - a.get_positions()).max() > 0.1  # it did move
    with pytest.raises(ednn.InputError, match="move: expected one of translate"):
        moved(a, "rotate_90", rng)
