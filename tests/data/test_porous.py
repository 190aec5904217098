"""Huge porous sheets in O(N): the neighbour table, pruning, pore statistics, files."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ase")
pytest.importorskip("h5py")
import ednn  # noqa: E402
from ednn.atoms.bonds import bonds  # noqa: E402
from ednn.data.porous import _degree, cells_for_area, porous_sheet, read_h5, write_extxyz, write_h5  # noqa: E402
from ednn.data.sheets import BOND, honeycomb, porous_graphene  # noqa: E402


def test_lattice_and_neighbour_table_match_the_honeycomb():
    pos, z, cell = porous_sheet((6, 10), seed=0, pores=(0, 0))
    ref = honeycomb((6, 10))
    np.testing.assert_allclose(np.sort(pos[:, :2], axis=0), np.sort(ref.positions[:, :2], axis=0), atol=1e-12)
    np.testing.assert_allclose(cell[:2], ref.cell.lengths()[:2])
    assert np.all(_degree(np.ones((6, 10, 4), bool)) == 3) and np.all(z == 6)


@pytest.mark.parametrize("seed", range(4))
def test_pruned_sheets_have_no_dangling_atoms(seed):
    pos, _, cell = porous_sheet((16, 28), seed=seed)
    i, j, _ = bonds(pos, cell[:2], 1.2 * BOND)
    deg = np.bincount(np.concatenate([i, j]), minlength=len(pos))
    assert deg.min() >= 2 and len(pos) < 16 * 28 * 4


def test_pore_statistics_match_the_training_generator():
    # 400 cells of each: removed fraction 10.9 % with a standard error of 0.3 % each
    ours = [1 - len(porous_sheet((8, 14), seed=s)[0]) / 448 for s in range(400)]
    theirs = [1 - len(porous_graphene(np.random.default_rng(s))) / 448 for s in range(400)]
    assert np.mean(ours) == pytest.approx(np.mean(theirs), abs=0.012)
    assert 0.08 < np.mean(ours) < 0.14


def test_files_round_trip(tmp_path):
    pos, z, cell = porous_sheet(cells_for_area(2500.0), seed=1)
    write_h5(tmp_path / "s.h5", pos, z, cell, seed=1)
    p2, z2, c2, attrs = read_h5(tmp_path / "s.h5")
    np.testing.assert_array_equal(p2, pos)
    np.testing.assert_array_equal(z2, z)
    assert attrs["seed"] == 1 and np.allclose(c2, cell)
    from ase.io import read

    write_extxyz(tmp_path / "s.extxyz", pos, z, cell)
    a = read(tmp_path / "s.extxyz")
    np.testing.assert_allclose(a.positions, pos, atol=1e-8)
    assert list(a.pbc) == [True, True, False] and np.allclose(a.cell.lengths(), cell)
    import h5py

    with h5py.File(tmp_path / "x.h5", "w") as h5:
        h5.attrs["format"] = "other"
    with pytest.raises(ednn.InputError, match="expected an ednn-structure-1 file"):
        read_h5(tmp_path / "x.h5")


def test_bad_arguments():
    with pytest.raises(ednn.InputError, match="radius: expected 0 < min <= max"):
        porous_sheet((4, 4), radius=(3.0, 1.0))
    with pytest.raises(ednn.InputError, match="area: expected a positive area"):
        cells_for_area(-1.0)
