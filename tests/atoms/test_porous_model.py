"""The shipped porous graphene models (docs/porous.md): metadata, species, extensivity, and accuracy on
fresh GFN1-xTB labels of porous sheets, where the sheets model it started from is far off.
``porous-fast`` is the same network averaging fewer images per tile (docs/scale.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ednn

pytest.importorskip("ase")
from ednn.data import sheets  # noqa: E402

# docs/porous.md: held-out MAE of the shipped model (meV/atom) on the 240-site porous test cells (the
# first entry of ednn.test_mae)
DOCUMENTED_MAE = float(next(iter(json.loads(ednn.Model(ednn.models.path("porous")).metadata["ednn.test_mae"]).values())))


@pytest.fixture(scope="module", params=["porous", "porous-fast"])
def model(request) -> ednn.Model:
    assert request.param in ednn.models.available()
    return ednn.Model(ednn.models.path(request.param))


def test_metadata(model):
    assert model.units == "eV" and model.outputs == ("energy",)
    assert model.metadata["ednn.species"] == "6" and "porous" in model.metadata["ednn.domain"]
    assert model.metadata["ednn.positions"] == "flattened" and model.metadata["ednn.gamma"] == "0.2"
    # the sheets model's grid: a model of either kind images a sheet the same way
    np.testing.assert_allclose(model.spacing, ednn.Model(ednn.models.path("sheets")).spacing, rtol=1e-12)
    assert model.batch_tiles is not None


def test_other_elements_are_refused(model):
    rng = np.random.default_rng(1)
    a = sheets.porous_graphene(rng, cells=(6, 10), pores=(1, 3))
    a.numbers[[3, 17]] = (5, 7)
    with pytest.raises(ednn.InputError, match=r"numbers: expected elements the model was trained on \(Z in \[6\], "
                                                r"ednn.species\), got Z = 5 at atom 3 \(unknown here: 5, 7\)"):
        ednn.atoms.predict(model, a)


def test_extensive_over_supercells(model):
    rng = np.random.default_rng(3)
    cell = sheets.porous_graphene(rng, cells=(6, 10), pores=(1, 3))
    cell.rattle(0.03, seed=2)
    e1 = ednn.atoms.predict(model, cell)
    # float32 tile outputs, float64 sums; totals of ~ -12 000 n^2 eV
    assert ednn.atoms.predict(model, cell.repeat((2, 2, 1))) == pytest.approx(4 * e1, rel=1e-6)


def test_accuracy_on_fresh_porous_labels(tmp_path):
    """Fresh porous cells (new seed, rattled), labelled here: the porous model's error is of the
    documented size, and far below that of the sheets model, which never saw a pore."""
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    from ednn.data.atoms_h5 import label_dataset, load

    path = tmp_path / "fresh.h5"
    cfg = sheets.PorousConfig(cells=(6, 10), pores=(1, 3), thermal="rattle", snapshots=2)
    label_dataset(path, cfg, 4, seed=979, workers=0, progress=False)
    ds = load(path)

    def mae(name):
        m = ednn.models.path(name)
        return float(np.mean([abs(ednn.atoms.predict(m, ds[i]) - ds.energy[i]) / ds.natoms[i] * 1e3
                              for i in range(len(ds))]))

    porous, flat, fast = mae("porous"), mae("sheets"), mae("porous-fast")
    # 4 cells, rattled (same energy scale as the MD snapshots, docs/sheets.md): 3x the documented MAE
    # over the held-out cells for the small sample; the sheets model is off by tens of meV/atom here
    assert porous < 3 * DOCUMENTED_MAE, (porous, flat)
    assert porous < flat / 2, (porous, flat)
    # the same weights with mirror averaging only: its moves change a sheet by ~2 meV/atom at worst
    # (docs/porous.md), so its error is the porous model's within that
    assert abs(fast - porous) < 2.0, (porous, fast)


def test_pores_of_other_shapes_cut_by_hand():
    """data/outside_porous.extxyz.gz (examples/outside_porous.py: ASE-built cells turned by 90 degrees,
    hexagonal, triangular and slot pores, ASE rattles, GFN1-xTB labels): the documented errors."""
    import sys
    from pathlib import Path

    from ase.io import read

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "examples"))
    try:
        from outside_porous import SHAPES, sheet
    finally:
        sys.path.pop(0)
    from ednn.atoms.bonds import bonds

    rng = np.random.default_rng(0)
    for shape in SHAPES:
        a, removed = sheet(shape, rng, 0.0)
        assert removed == 240 - len(a) and 0 < removed <= 120
        i, j, _ = bonds(a.positions, a.cell.array, 1.75)  # each pair once
        assert np.bincount(np.concatenate([i, j]), minlength=len(a)).min() >= 2, shape  # no dangling atoms left
        fit = ednn.atoms.cells.fit_model(ednn.models.path("porous"), a)
        # zigzag along x as built: the model sees the cell turned by 90 degrees, no copy, no strain
        assert fit.multiplicity == 1 and fit.strain == (0.0, 0.0)
        np.testing.assert_allclose(fit.cell.diagonal()[:2], a.cell.lengths()[[1, 0]], rtol=1e-12)
    frames = read(root / "data" / "outside_porous.extxyz.gz", index=":")
    assert len(frames) == 48 and {f.info["family"] for f in frames} == set(SHAPES)

    def mae(name, frames=frames):
        return float(np.mean([abs(ednn.atoms.predict(name, f, threads=1) - f.get_potential_energy()) / len(f) * 1e3
                              for f in frames]))

    # fixed files on both sides: docs/porous.md's 7.9 and 7.7 meV/atom, with room for float rounding
    # across machines only; the sheets model, which never saw a pore, is off by 49 (every fourth cell
    # here: each shape is 17-85 meV/atom off, all too high)
    assert mae("porous") < 8.0 and mae("porous-fast") < 7.8
    assert mae("sheets", frames[::4]) > 30
