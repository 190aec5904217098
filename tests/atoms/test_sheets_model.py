"""The shipped sheets model (docs/sheets.md): metadata, extensivity, and accuracy on fresh GFN1-xTB labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ednn

pytest.importorskip("ase")
from ednn.data import sheets  # noqa: E402

# docs/sheets.md: held-out 60-site MAE of the shipped model (meV/atom), measured on 600 cells (the
# first entry of ednn.test_mae)
DOCUMENTED_MAE = float(next(iter(json.loads(ednn.Model(ednn.models.path("sheets")).metadata["ednn.test_mae"]).values())))


@pytest.fixture(scope="module")
def model() -> ednn.Model:
    assert "sheets" in ednn.models.available()
    return ednn.Model(ednn.models.path("sheets"))


def test_metadata(model):
    assert model.units == "eV" and model.outputs == ("energy",)
    assert model.metadata["ednn.gamma"] == "0.2"
    assert model.metadata["ednn.species"] == "5,6,7"
    assert model.metadata["ednn.positions"] == "flattened" and ednn.atoms.ImageRecipe.from_model(model).flatten
    assert "GFN1-xTB" in model.metadata["ednn.label_method"]
    np.testing.assert_allclose(model.spacing, 2 * np.asarray(sheets.BASE_SPACING), rtol=1e-12)
    mu = json.loads(model.metadata["ednn.species_energies"])
    assert sorted(mu) == ["5", "6", "7"] and all(-100 < v < -30 for v in mu.values())


def test_extensive_over_supercells(model):
    """A periodic supercell of a cell has exactly n^2 times its energy (the model is a sum over tiles)."""
    rng = np.random.default_rng(3)
    cell = sheets.hexagonal_sheet("hetero", rng, vacancies=2)
    cell.rattle(0.04, seed=2)
    e1 = ednn.atoms.predict(model, cell)
    for n in (2, 3):
        # float32 tile outputs, float64 sums; totals of ~ -3500 n^2 eV
        assert ednn.atoms.predict(model, cell.repeat((n, n, 1))) == pytest.approx(n * n * e1, rel=1e-6)


def test_image_and_atoms_paths_agree(model):
    rng = np.random.default_rng(4)
    cell = sheets.hexagonal_sheet("hbn", rng, repeat=2, vacancies=1)
    cell.positions[:, 2] += 0.3 * np.sin(2 * np.pi * cell.positions[:, 0] / cell.cell[0, 0])  # a ripple
    image = ednn.atoms.image(model, cell)  # (C, 256, 256) at 0.1 A, the model's spacing
    flat = cell.copy()
    flat.positions = ednn.atoms.bonds.flatten(cell.positions, cell.cell.array)
    v = ednn.rasterize(flat, shape=(256, 256), gamma=0.2)
    np.testing.assert_array_equal(image if image.ndim == 2 else image[0], v)
    assert float(np.asarray(ednn.predict(model, image)).ravel()[0]) == pytest.approx(ednn.atoms.predict(model, cell), rel=1e-6)


def test_large_tiles_give_the_same_energies(model):
    """sheets-large: the same network with a focus of one 60-site cell (128 pixels): the same sum of
    one per-pixel density, so the same energy as sheets on every sheet both accept, and batches
    sized by the network's activations (ednn.batch_tiles) in both."""
    large = ednn.Model(ednn.models.path("sheets-large"))
    assert large.focus == (128, 128) and large.context == model.context
    assert {k: v for k, v in large.metadata.items() if k not in ("ednn.focus", "ednn.output_offset", "ednn.batch_tiles",
                                                                  "ednn.description")} == \
        {k: v for k, v in model.metadata.items() if k not in ("ednn.focus", "ednn.output_offset", "ednn.batch_tiles",
                                                              "ednn.description")}
    assert model.batch_tiles is not None and large.batch_tiles is not None and large.batch_tiles < model.batch_tiles
    rng = np.random.default_rng(5)
    for kind, repeat in (("graphene", 1), ("hetero", 2)):
        cell = sheets.hexagonal_sheet(kind, rng, repeat=repeat, vacancies=1)
        cell.rattle(0.03, seed=3)
        # each tile's output is float32: one of ~ -3400 eV per 60-site cell rounds to ~2e-4 eV (6e-8
        # relative, 0.003 meV/atom), 16 of ~ -210 eV to less; 2.6e-8 relative measured, 3e-7 allowed
        assert ednn.atoms.predict(large, cell) == pytest.approx(ednn.atoms.predict(model, cell), rel=3e-7)


def test_accuracy_on_fresh_labels(tmp_path):
    """Fresh thermal 60-site cells (new seed), labelled here: the error is of the documented size."""
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    from ednn.data.atoms_h5 import label_dataset, load

    path = tmp_path / "fresh.h5"
    label_dataset(path, sheets.SheetsConfig(thermal="rattle", snapshots=2), 12, seed=977, workers=0, progress=False)
    ds = load(path)
    m = ednn.models.path("sheets")
    err = [abs(ednn.atoms.predict(m, ds[i]) - ds.energy[i]) / ds.natoms[i] * 1e3 for i in range(len(ds))]
    # 12 cells, rattled rather than MD snapshots (same energy scale, docs/sheets.md): allow 3x the
    # documented MAE over 600 cells for the small sample; the label spread is ~2000 meV/atom
    assert np.mean(err) < 3 * DOCUMENTED_MAE
