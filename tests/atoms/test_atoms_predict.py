"""ednn.atoms.predict (streamed windows) and ednn.atoms.calculator.EDNNCalculator, with hand-built linear ONNX models.

A linear network ``y = W . tile`` makes every check exact: with W = 1 on the focus and 0 on the
context the prediction is the sum of the whole image; with random W it must equal ednn.predict on the
fully rasterized grid, tile by tile, whatever the window blocking.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import ednn
from ednn import atoms as eatoms
from ednn.model import metadata_dict

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

# Tolerances, each with its reason:
# a float64 total of float32 tile contributions (the ONNX graph runs in float32): ~1e-7 relative
# rounding per term, a few thousand terms of one sign -> below 2e-6 of the total
F32_SUM_RTOL = 2e-6
# windowed vs whole-grid images, or images vs hand sums: every pixel is a float32 sum of Gaussians
# (~1e-6 of its value), and random-sign weights can cancel most of a total -> 1e-5 of the largest
# term (the atol scales with it)
F32_IMAGE_RTOL = 1e-5
# the same float32 graph on the same tiles in another order or grouping (streaming, supercells,
# translations by whole pixels): only the float64 summation order and float32 tile values differ
SAME_TILES_RTOL = 1e-6
# float64 arithmetic only (a unit conversion of one number)
EXACT_RTOL = 1e-12
# a constant quoted to 8 significant digits in the test
QUOTED_RTOL = 1e-6
# two different answers must be told apart well beyond float32 noise
DIFFERENT_RTOL = 1e-9
# flattening is an iterative least-squares solve stopped at ~1e-8 Å; a 48 x 40 image moves by
# ~1e-5 of its peak (atol) and a total of ~1e3 by ~1e-4 (abs)
FLATTEN_ATOL = 1e-5
FLATTEN_ABS = 1e-4


def linear_model(path: Path, weights: np.ndarray, focus, context, channels: int = 1, **meta: str) -> Path:
    """Per-tile network ``(N, C, t...) -> (N, K)``: ``y[:, k] = sum(tile * weights[..., k])``.

    ``weights`` ``(t..., K)`` for one channel, ``(C, t..., K)`` for ``channels = C > 1``.
    """
    t = weights.shape[:-1] if channels == 1 else weights.shape[1:-1]
    k = weights.shape[-1]
    n = math.prod(weights.shape[:-1])
    inits = [
        numpy_helper.from_array(np.array([-1, n], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(weights.reshape(n, k).astype(np.float32), "w"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, *t])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", k])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    outputs = ["energy"] if k == 1 else ["energy"] + [f"q{i}" for i in range(1, k)]
    props = metadata_dict(focus=focus, context=context, ndim=len(t), channels=channels, outputs=outputs)
    props.update(meta)
    helper.set_model_props(model, props)
    onnx.save_model(model, str(path))
    return path


def focus_mask(focus, context) -> np.ndarray:
    t = tuple(f + 2 * c for f, c in zip(focus, context))
    w = np.zeros(t + (1,))
    w[tuple(slice(c, c + f) for f, c in zip(focus, context))] = 1.0
    return w


def random_atoms(rng, n, lengths, d=3):
    pos = rng.uniform(0, 1, (n, 3)) * np.r_[lengths, [20.0] * (3 - len(lengths))]
    z = rng.choice([5, 6, 7], n).astype(float)
    return pos, z


SPACING = (0.25, 0.2)


@pytest.fixture
def sum_model(tmp_path):
    """Sums its focus region: the prediction is the sum of the whole image."""
    return linear_model(tmp_path / "sum.onnx", focus_mask((8, 8), (4, 4)), (8, 8), (4, 4),
                        **{"ednn.spacing": "0.25", "ednn.gamma": "0.3", "ednn.units": "eV"})


def test_focus_sum_equals_image_sum(sum_model, rng):
    lengths = (8 * 0.25 * 5, 8 * 0.25 * 3)  # 40 x 24 grid points
    pos, z = random_atoms(rng, 30, lengths)
    full = ednn.rasterize(pos, z, lengths, (40, 24), gamma=0.3, dtype=np.float64)
    want = full.sum()
    for max_window in (None, 16 * 16, 20 * 24, 1):  # one block, one tile per block, mixed blocks
        # random points, not a structure: some closer than a bond (min_distance=None lets them be)
        got = eatoms.predict(sum_model, pos, z, lengths, max_window=max_window, min_distance=None)
        assert got == pytest.approx(want, rel=F32_SUM_RTOL), max_window
    assert want > 1.0


@pytest.mark.parametrize("ndim", [2, 3])
def test_random_linear_equals_full_grid_predict(tmp_path, rng, ndim):
    focus = (4, 6) if ndim == 2 else (4, 2, 3)
    context = (3, 2) if ndim == 2 else (2, 1, 2)
    t = tuple(f + 2 * c for f, c in zip(focus, context))
    w = rng.normal(size=t + (2,))
    spacing = (0.3, 0.25) if ndim == 2 else (0.3, 0.25, 0.4)
    path = linear_model(tmp_path / "lin.onnx", w, focus, context, **{"ednn.gamma": "0.2"})
    tiles_per_axis = (5, 3) if ndim == 2 else (3, 4, 2)
    grid = tuple(n * f for n, f in zip(tiles_per_axis, focus))
    lengths = tuple(g * h for g, h in zip(grid, spacing))
    pos, z = random_atoms(rng, 25, lengths[:2] if ndim == 2 else lengths)
    pos[:3] += np.r_[lengths, [0.0] * (3 - ndim)] * 1.5  # atoms outside the cell are wrapped
    cell = np.diag(np.r_[lengths, [20.0] * (3 - ndim)])
    got = eatoms.predict(path, pos, z, cell, spacing=spacing, max_window=100)
    image = ednn.rasterize(pos, z, cell, grid, gamma=0.2, dtype=np.float64)
    want = ednn.predict(path, image)
    np.testing.assert_allclose(got, want, rtol=F32_IMAGE_RTOL, atol=F32_IMAGE_RTOL * np.abs(want).max())
    # and with one window for everything
    np.testing.assert_allclose(eatoms.predict(path, pos, z, cell, spacing=spacing), want, rtol=F32_IMAGE_RTOL,
                               atol=F32_IMAGE_RTOL * np.abs(want).max())


def test_context_larger_than_cell(tmp_path, rng):
    """A tile wider than the cell wraps around it more than once."""
    w = rng.normal(size=(2 + 2 * 5, 2 + 2 * 5, 1))
    path = linear_model(tmp_path / "wide.onnx", w, 2, 5, **{"ednn.spacing": "0.5", "ednn.gamma": "0.4"})
    lengths = (2.0, 3.0)  # 4 x 6 grid, context 5
    pos, z = random_atoms(rng, 4, lengths)
    got = eatoms.predict(path, pos, z, lengths, max_window=40)
    want = ednn.predict(path, ednn.rasterize(pos, z, lengths, (4, 6), gamma=0.4, dtype=np.float64))
    assert got == pytest.approx(want, rel=F32_IMAGE_RTOL, abs=F32_IMAGE_RTOL)


def test_input_output_scaling(tmp_path, rng):
    meta = {"ednn.spacing": "0.25", "ednn.gamma": "0.3", "ednn.input_scale": "0.5", "ednn.input_offset": "1.0",
            "ednn.output_scale": "2.0", "ednn.output_offset": "-3.0"}
    path = linear_model(tmp_path / "s.onnx", focus_mask((8, 8), (4, 4)), (8, 8), (4, 4), **meta)
    lengths = (4.0, 6.0)  # 16 x 24 grid: 6 tiles
    pos, z = random_atoms(rng, 10, lengths)
    image = ednn.rasterize(pos, z, lengths, (16, 24), gamma=0.3, dtype=np.float64)
    want = 2.0 * (0.5 * image.sum() + 16 * 24) - 3.0 * 6
    assert eatoms.predict(path, pos, z, lengths) == pytest.approx(want, rel=F32_SUM_RTOL)
    assert eatoms.predict(path, pos, z, lengths) == pytest.approx(ednn.predict(path, image), rel=F32_SUM_RTOL)


def test_translation_by_whole_tiles_and_supercell(sum_model, rng):
    lengths = (4.0, 4.0)  # 16 x 16
    pos, z = random_atoms(rng, 12, lengths)
    e = eatoms.predict(sum_model, pos, z, lengths)
    shifted = pos + [8 * 0.25, 0.0, 0.0]
    assert eatoms.predict(sum_model, shifted, z, lengths) == pytest.approx(e, rel=SAME_TILES_RTOL)
    big = np.concatenate([pos + [i * 4.0, j * 4.0, 0] for i in range(3) for j in range(2)])
    assert eatoms.predict(sum_model, big, np.tile(z, 6), (12.0, 8.0), max_window=500) == pytest.approx(6 * e, rel=SAME_TILES_RTOL)


def test_refuses_cells_off_the_grid_or_focus(sum_model, rng):
    pos, z = random_atoms(rng, 5, (4.0, 4.0))
    # 4.1 = 2.05 focus lengths: no repeat up to 16 makes it whole (predict fits what a repeat makes
    # whole, and cells with an orthogonal supercell: tests/atoms/test_cells.py)
    with pytest.raises(ednn.InputError, match=r"atoms.cell: edge length 4.1 on axis 0 is 16.4.* grid spacings"):
        eatoms.predict(sum_model, pos, z, (4.1, 4.0))
    with pytest.raises(ednn.InputError, match=r"grid of 20 points on axis 1 .* not a multiple of the model's focus 8; "
                                              r"expected an edge length that is a multiple of 2"):
        eatoms.image(sum_model, pos, z, (4.0, 5.0), min_distance=None)
    with pytest.raises(ednn.InputError, match="non-orthogonal"):
        eatoms.image(sum_model, pos, z, [[4.0, 0, 0], [1.0, 4.0, 0], [0, 0, 20]], min_distance=None)
    with pytest.raises(ednn.InputError, match="expected in-plane vectors with an orthogonal supercell"):
        eatoms.predict(sum_model, pos, z, [[4.0, 0, 0], [1.0 / 3**0.5, 4.0, 0], [0, 0, 20]])
    with pytest.raises(ednn.InputError, match=r"numbers: expected shape \(5,\)"):
        eatoms.predict(sum_model, pos, z[:3], (4.0, 4.0))
    with pytest.raises(ednn.InputError, match="spacing or shape, got both"):
        eatoms.predict(sum_model, pos, z, (4.0, 4.0), spacing=0.25, shape=(16, 16))
    with pytest.raises(ednn.InputError, match="max_window: expected a positive int"):
        eatoms.predict(sum_model, pos, z, (4.0, 4.0), max_window=0)


def test_refuses_non_integer_shapes(sum_model, rng):
    """shape=(16.5, 16) was truncated to (16, 16) without a word."""
    pos, z = random_atoms(rng, 5, (4.0, 4.0))
    for shape in [(16.5, 16), (16, 16.0), (np.float64(16), 16)]:
        with pytest.raises(ednn.InputError, match=r"shape: expected integers, got \S*16\.[05]\)? on axis [01]"):
            eatoms.predict(sum_model, pos, z, (4.0, 4.0), shape=shape)
        with pytest.raises(ednn.InputError, match="shape: expected integers"):
            eatoms.ImageRecipe.from_model(ednn.Model(sum_model)).image(pos, z, (4.0, 4.0), shape)
    with pytest.raises(ednn.InputError, match="shape: expected 2 ints, got 16"):
        eatoms.predict(sum_model, pos, z, (4.0, 4.0), shape=16)
    want = eatoms.predict(sum_model, pos, z, (4.0, 4.0))
    assert eatoms.predict(sum_model, pos, z, (4.0, 4.0), shape=(16, np.int64(16))) == want


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_refuses_non_finite_numbers_with_the_flattening_model(rng, bad):
    """With the shipped sheets model (flattened sheets), nan in Z once gave -3513.44 eV without an error."""
    model = ednn.models.path("sheets")
    m = ednn.Model(model)
    assert m.metadata.get("ednn.positions") == "flattened"
    lengths = [round(32 * s, 10) for s in m.spacing]  # one focus block: 32 x 32 grid points
    pos, z = random_atoms(rng, 6, lengths)
    z[2] = bad
    with pytest.raises(ednn.InputError, match=f"numbers: expected finite values, got {bad!r} for atom 2"):
        eatoms.predict(model, pos, z, lengths + [20.0])
    with pytest.raises(ednn.InputError, match=f"numbers: expected finite values, got {bad!r} for atom 2"):
        eatoms.image(model, pos, z, lengths + [20.0])


def test_missing_metadata_is_named(tmp_path, rng):
    path = linear_model(tmp_path / "bare.onnx", focus_mask((2, 2), (1, 1)), 2, 1)
    pos, z = random_atoms(rng, 3, (2.0, 2.0))
    with pytest.raises(ednn.InputError, match="no ednn.spacing metadata; pass spacing="):
        eatoms.predict(path, pos, z, (2.0, 2.0), gamma=0.2)
    with pytest.raises(ednn.InputError, match="no ednn.gamma metadata; pass gamma="):
        eatoms.predict(path, pos, z, (2.0, 2.0), spacing=0.5)
    got = eatoms.predict(path, pos, z, (2.0, 2.0), shape=(4, 4), gamma=0.2)
    assert got == pytest.approx(ednn.rasterize(pos, z, (2.0, 2.0), (4, 4), gamma=0.2, dtype=np.float64).sum(), rel=F32_SUM_RTOL)


def test_ase_atoms_and_calculator(sum_model, rng):
    ase = pytest.importorskip("ase")
    from ase.calculators.calculator import PropertyNotImplementedError
    from ednn.atoms.calculator import EDNNCalculator

    pos, z = random_atoms(rng, 20, (6.0, 4.0))
    atoms = ase.Atoms(numbers=z.astype(int), positions=pos, cell=[6.0, 4.0, 20.0], pbc=[True, True, False])
    want = ednn.rasterize(pos, z, (6.0, 4.0), (24, 16), gamma=0.3, dtype=np.float64).sum()
    assert eatoms.predict(sum_model, atoms) == pytest.approx(want, rel=F32_SUM_RTOL)
    atoms.calc = EDNNCalculator(sum_model)
    assert atoms.get_potential_energy() == pytest.approx(want, rel=F32_SUM_RTOL)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(want, rel=F32_SUM_RTOL)
    atoms.positions[0, 0] += 0.37  # moving an atom changes the energy and the calculator notices
    assert atoms.get_potential_energy() != pytest.approx(want, rel=DIFFERENT_RTOL)
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_forces()
    # units: a model in meV gives eV
    calc = EDNNCalculator(sum_model, units="meV")
    atoms.calc = calc
    e = atoms.get_potential_energy()
    assert e == pytest.approx(1e-3 * eatoms.predict(sum_model, atoms), rel=EXACT_RTOL)
    # a non-periodic Atoms is refused
    atoms.pbc = [True, False, False]
    with pytest.raises(ednn.InputError, match=r"atoms.pbc: expected periodic x, y"):
        eatoms.predict(sum_model, atoms)


def test_calculator_checks_units_and_outputs(tmp_path):
    pytest.importorskip("ase")
    from ednn.atoms.calculator import EDNNCalculator

    bare = linear_model(tmp_path / "bare.onnx", focus_mask((2, 2), (1, 1)), 2, 1,
                        **{"ednn.spacing": "0.5", "ednn.gamma": "0.2"})
    with pytest.raises(ednn.InputError, match="no ednn.units metadata; pass units="):
        EDNNCalculator(bare)
    with pytest.raises(ednn.InputError, match="units: expected one of eV, meV"):
        EDNNCalculator(bare, units="furlongs")
    two = linear_model(tmp_path / "two.onnx", np.ones((4, 4, 2)), 2, 1,
                       **{"ednn.spacing": "0.5", "ednn.gamma": "0.2", "ednn.units": "Hartree"})
    calc = EDNNCalculator(two)
    assert calc.output_index == 0 and calc.to_ev == pytest.approx(27.211386, rel=QUOTED_RTOL)
    with pytest.raises(ednn.InputError, match="output: expected one of energy, q1"):
        EDNNCalculator(two, output="nope")


def test_sheet_multiples_stream_like_the_whole_grid(tmp_path, rng):
    """The paper's geometry: 256 x 256 per 60-site cell, focus 64, context 32, a 4x4 supercell."""
    pytest.importorskip("ase")
    from ednn.data import sheets

    w = np.zeros((128, 128, 1), dtype=np.float32)
    w[32:96, 32:96, 0] = 1.0
    w[::7, ::5, 0] += 0.5  # context too, so that misplaced windows show
    path = linear_model(tmp_path / "paper.onnx", w, 64, 32, **{"ednn.gamma": "0.2", "ednn.units": "eV"})
    sheet = sheets.hexagonal_sheet("hetero", rng, repeat=4, vacancies=2)
    sheet.rattle(0.05, seed=1)
    grid = (1024, 1024)
    got = eatoms.predict(path, sheet, spacing=sheets.BASE_SPACING, max_window=300 * 300)
    want = ednn.predict(path, ednn.rasterize(sheet, shape=grid, gamma=0.2))
    assert got == pytest.approx(want, rel=F32_IMAGE_RTOL)


def test_cli_predict(sum_model, tmp_path, rng, capsys):
    ase_io = pytest.importorskip("ase.io")
    import ase

    from ednn.cli import main

    frames = []
    for _ in range(2):
        pos, z = random_atoms(rng, 6, (4.0, 6.0))
        frames.append(ase.Atoms(numbers=z.astype(int), positions=pos, cell=[4.0, 6.0, 20.0], pbc=[True, True, False]))
    path = tmp_path / "two.extxyz"
    ase_io.write(path, frames)
    assert main(["atoms", "predict", str(sum_model), str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["atoms"] for r in rows] == [6, 6]
    for r, a in zip(rows, frames):
        assert r["energy"] == pytest.approx(eatoms.predict(sum_model, a), rel=SAME_TILES_RTOL)
    assert main(["atoms", "predict", str(sum_model), str(path), "--spacing", "0.125,0.25", "--gamma", "0.2"]) == 0
    out = capsys.readouterr().out
    assert out.count("6 atoms") == 2 and "eV" in out
    want = eatoms.predict(sum_model, frames[0], spacing=(0.125, 0.25), gamma=0.2)
    first = float(out.split("E = ")[1].split()[0])
    assert first == pytest.approx(want, rel=SAME_TILES_RTOL)  # the file holds positions to ~1e-8
    # 6 / 0.41 = 14.63 spacings: no repeat up to 16 makes it a whole number (6 / 0.5 would: two copies)
    assert main(["atoms", "predict", str(sum_model), str(path), "--spacing", "0.5,0.41"]) == 2
    assert "edge length 6 on axis 1 is 14.634146 grid spacings of 0.41" in capsys.readouterr().err


def _rippled_sheet(rng, lengths):
    """A rippled honeycomb-like point set: many bonds with height differences."""
    from ednn.data.sheets import honeycomb

    pytest.importorskip("ase")
    a = honeycomb((3, 5))
    pos = a.positions.copy()
    pos[:, 2] += 0.4 * np.sin(2 * np.pi * pos[:, 0] / a.cell[0, 0]) + rng.normal(0, 0.1, len(a))
    return pos, np.where(rng.random(len(a)) < 0.5, 5.0, 7.0), a.cell.array


def test_bond_height_channel_streams_like_the_whole_grid(tmp_path, rng):
    """A two-channel model (V, bond_dz2): streamed windows equal ednn.predict on the whole two-channel grid."""
    pos, z, cell = _rippled_sheet(rng, None)
    focus, context = (8, 8), (4, 6)
    w = rng.normal(size=(2, 16, 20, 1))
    spacing = (cell[0, 0] / 48, cell[1, 1] / 40)  # 48 x 40 grid: 6 x 5 tiles
    path = linear_model(tmp_path / "two.onnx", w, focus, context, channels=2,
                        **{"ednn.gamma": "0.2", "ednn.spacing": f"{float(spacing[0])!r},{float(spacing[1])!r}",
                           "ednn.channel_names": "V,bond_dz2"})
    grid = ednn.atoms.ImageRecipe(spacing, 0.2, channels=("V", "bond_dz2")).image(pos, z, cell, (48, 40), dtype=np.float64)
    assert grid[1].max() > 1.0  # the bond channel is not empty
    want = ednn.predict(path, grid)
    assert eatoms.image(path, pos, z, cell).shape == (2, 48, 40)
    np.testing.assert_allclose(eatoms.image(path, pos, z, cell), grid, rtol=0, atol=F32_IMAGE_RTOL * np.abs(grid).max())
    for max_window in (None, 16 * 20, 500):
        got = eatoms.predict(path, pos, z, cell, max_window=max_window)
        assert got == pytest.approx(want, rel=F32_IMAGE_RTOL, abs=F32_IMAGE_RTOL * np.abs(w).sum()), max_window
    # the second channel matters: the V-only part of the model differs
    w_v = w.copy()
    w_v[1] = 0.0
    only_v = linear_model(tmp_path / "v.onnx", w_v, focus, context, channels=2,
                          **{"ednn.gamma": "0.2", "ednn.spacing": f"{float(spacing[0])!r},{float(spacing[1])!r}",
                             "ednn.channel_names": "V,bond_dz2"})
    assert abs(eatoms.predict(only_v, pos, z, cell) - want) > 1e-3 * abs(want)


def test_channel_metadata_is_checked(tmp_path, rng):
    pos, z, cell = _rippled_sheet(rng, None)
    w = np.ones((2, 16, 16, 1))
    meta = {"ednn.gamma": "0.2", "ednn.spacing": f"{float(cell[0, 0]) / 32!r},{float(cell[1, 1]) / 32!r}"}
    unnamed = linear_model(tmp_path / "a.onnx", w, (8, 8), (4, 4), channels=2, **meta)
    with pytest.raises(ednn.InputError, match="ednn.channel_names"):
        eatoms.predict(unnamed, pos, z, cell)
    wrong = linear_model(tmp_path / "b.onnx", w, (8, 8), (4, 4), channels=2, **meta, **{"ednn.channel_names": "V"})
    with pytest.raises(ednn.InputError, match="expected 2 names"):
        eatoms.predict(wrong, pos, z, cell)
    unknown = linear_model(tmp_path / "c.onnx", w, (8, 8), (4, 4), channels=2, **meta, **{"ednn.channel_names": "V,z"})
    with pytest.raises(ednn.InputError, match="channel_names"):
        eatoms.image(unknown, pos, z, cell)


@pytest.mark.parametrize("key,text", [
    ("ednn.flatten_cutoff", "nan"), ("ednn.flatten_cutoff", "1_0"), ("ednn.flatten_cutoff", "-1"),
    ("ednn.bond_cutoff", "abc"), ("ednn.bond_cutoff", "inf"), ("ednn.bond_height_unit", "nan"),
])
def test_recipe_lengths_in_metadata_are_checked(tmp_path, key, text):
    """These were read with float(): "abc" escaped as a bare ValueError, and a nan unit passed the check."""
    meta = {"ednn.gamma": "0.2", "ednn.spacing": "0.25", "ednn.channel_names": "V,bond_dz2", key: text}
    path = linear_model(tmp_path / "m.onnx", np.ones((2, 16, 16, 1)), (8, 8), (4, 4), channels=2, **meta)
    with pytest.raises(ednn.InputError, match=f"metadata {key}: expected 1 or 1 (comma-separated|positive) numbers"):
        eatoms.ImageRecipe.from_model(ednn.Model(path))


def test_flattened_positions_model(tmp_path, rng):
    """ednn.positions = flattened: the atoms are flattened (ednn.atoms.bonds.flatten) before imaging, in
    ednn.atoms.predict and ednn.atoms.image alike; it changes the result of a rippled sheet."""
    pos, z, cell = _rippled_sheet(rng, None)
    focus, context = (8, 8), (4, 6)
    w = rng.normal(size=(16, 20, 1))
    spacing = (float(cell[0, 0]) / 48, float(cell[1, 1]) / 40)
    meta = {"ednn.gamma": "0.2", "ednn.spacing": f"{spacing[0]!r},{spacing[1]!r}"}
    flat_model = linear_model(tmp_path / "flat.onnx", w, focus, context, **meta, **{"ednn.positions": "flattened"})
    plain = linear_model(tmp_path / "plain.onnx", w, focus, context, **meta, **{"ednn.positions": "cartesian"})
    flat_pos = ednn.atoms.bonds.flatten(pos, cell)
    want = ednn.predict(flat_model, ednn.rasterize(flat_pos, z, cell, (48, 40), gamma=0.2, dtype=np.float64))
    for max_window in (None, 300):
        assert eatoms.predict(flat_model, pos, z, cell, max_window=max_window) == pytest.approx(want, rel=F32_IMAGE_RTOL, abs=FLATTEN_ABS)
    np.testing.assert_allclose(eatoms.image(flat_model, pos, z, cell),
                               ednn.rasterize(flat_pos, z, cell, (48, 40), gamma=0.2), rtol=0, atol=FLATTEN_ATOL)
    assert eatoms.ImageRecipe.from_model(ednn.Model(flat_model)).flatten
    assert not eatoms.ImageRecipe.from_model(ednn.Model(plain)).flatten
    assert abs(eatoms.predict(plain, pos, z, cell) - want) > 1e-4 * abs(want)
    bad = linear_model(tmp_path / "bad.onnx", w, focus, context, **meta, **{"ednn.positions": "unrolled"})
    with pytest.raises(ednn.InputError, match="metadata ednn.positions: expected 'cartesian' or 'flattened', got 'unrolled'"):
        eatoms.predict(bad, pos, z, cell)
    with pytest.raises(ednn.InputError, match=r"positions: expected shape \(n, 3\)"):
        eatoms.predict(flat_model, pos[:, :2], z, cell)
