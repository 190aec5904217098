"""ednn.atoms.bonds: bond lists (against the brute-force oracle) and the bond-height input channel."""

from __future__ import annotations

import numpy as np
import pytest

import ednn
from ednn.atoms import ImageRecipe
from ednn.atoms import bonds as eb
from ednn import reference


def _as_dict(i, j, d):
    out = {}
    for a, b, v in zip(i, j, d):
        out.setdefault((int(a), int(b)), []).append(v)
    return out


def _same_bonds(got, want):
    assert got.keys() == want.keys()
    for key, vs in want.items():
        assert len(got[key]) == len(vs) == 1, key  # cells of at least 2 cutoffs: one image per bond
        np.testing.assert_allclose(got[key][0], vs[0], atol=1e-9)


def _random_sheet(rng, n, lengths, z_spread=0.6):
    """Random points with a minimum spacing-free density close to a sheet's (bonds of every length)."""
    pos = np.c_[rng.uniform(0, 1, (n, 2)) * lengths, 10.0 + rng.normal(0.0, z_spread, n)]
    return pos


# sizes chosen to run each path: all pairs (few atoms / narrow cells) and cell lists (many atoms)
@pytest.mark.parametrize("n, lengths", [(0, (4.0, 5.0)), (1, (4.0, 5.0)), (40, (4.0, 5.0)), (60, (3.8, 12.0)),
                                        (300, (12.0, 9.0)), (700, (20.0, 16.0)), (400, (5.0, 40.0))])
def test_bonds_equal_oracle(rng, n, lengths):
    pos = _random_sheet(rng, n, np.array(lengths))
    pos[: n // 5, :2] += np.array(lengths) * rng.integers(-1, 2, (n // 5, 2))  # outside the cell: wrapped
    i, j, d = eb.bonds(pos, lengths, 1.85)
    assert np.all(i < j)
    # the oracle sees the raw positions (shifts up to 3 cells cover them); the vectors must agree
    want = reference.bonds(pos, lengths, 1.85)
    _same_bonds(_as_dict(i, j, d), want)
    if n >= 300:
        assert len(want) > n  # the test exercises many bonds


def test_bonds_of_graphene_and_ase(rng):
    ase = pytest.importorskip("ase")
    from ase.neighborlist import neighbor_list

    from ednn.data.sheets import honeycomb

    a = honeycomb((6, 10))  # 240 sites, 360 bonds
    i, j, d = eb.bonds(a.positions, a.cell.array)
    assert len(i) == 360
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.42028, atol=1e-4)
    a.positions[:, 2] += rng.normal(0, 0.3, len(a))
    a.pbc = [True, True, False]
    I, J, D = neighbor_list("ijD", a, 1.85)
    keep = I < J
    _same_bonds(_as_dict(*eb.bonds(a.positions, a.cell.array)), _as_dict(I[keep], J[keep], D[keep]))
    assert isinstance(a, ase.Atoms)


def test_bond_heights_are_height_differences(rng):
    from_cell = np.array([12.0, 9.0])
    pos = _random_sheet(rng, 200, from_cell)
    pts, w = eb.bond_height_sources(pos, from_cell)
    i, j, d = eb.bonds(pos, from_cell)
    np.testing.assert_allclose(w, (d[:, 2] / eb.BOND_HEIGHT_UNIT) ** 2)
    np.testing.assert_allclose(pts, pos[i] + d / 2)
    # invariant under a rigid shift along z and a whole-cell translation in x-y
    shifted = pos + np.array([2 * from_cell[0], -from_cell[1], 7.5])
    pts2, w2 = eb.bond_height_sources(shifted, from_cell)
    np.testing.assert_allclose(np.sort(w2), np.sort(w))
    flat = pos.copy()
    flat[:, 2] = 3.0
    assert not eb.bond_height_sources(flat, from_cell)[1].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_images_channels_against_reference(rng, dtype):
    lengths = np.array([6.0, 4.5])
    pos = _random_sheet(rng, 30, lengths)
    z = rng.choice([5.0, 6.0, 7.0], 30)
    shape = (24, 18)
    img = ImageRecipe(lengths / shape, 0.3, channels=("V", "bond_dz2")).image(pos, z, lengths, shape, dtype=dtype)
    assert img.shape == (2,) + shape and img.dtype == dtype
    pts, w = eb.bond_height_sources(pos, lengths)
    # the rasterizer drops terms below 1e-7 of a weight (its documented cutoff): 1e-6 of the peak
    tol = 1e-6
    for k, (p, q) in enumerate([(pos, z), (pts, w)]):
        want = reference.rasterize(p, q, lengths, shape, gamma=0.3)
        np.testing.assert_allclose(img[k], want, rtol=0, atol=tol * np.abs(want).max())
    only_v = ImageRecipe(lengths / shape, 0.3).image(pos, z, lengths, shape, dtype=dtype)
    np.testing.assert_array_equal(only_v[0], img[0])


@pytest.mark.parametrize("bad", [[], ["bond_dz2"], ["V", "V"], ["V", "height"], "V,z", 3])
def test_channel_names_are_checked(bad):
    with pytest.raises(ValueError, match="channels"):
        eb.check_channels(bad)


def test_bad_input_is_named():
    with pytest.raises(ednn.InputError, match=r"cell: expected x and y edges of at least 3\.7"):
        eb.bonds(np.zeros((2, 3)), (3.0, 10.0))
    with pytest.raises(ednn.InputError, match=r"positions: expected shape \(n, 3\)"):
        eb.bonds(np.zeros((2, 2)), (5.0, 5.0))
    with pytest.raises(ednn.InputError, match="cutoff"):
        eb.bonds(np.zeros((2, 3)), (5.0, 5.0), cutoff=-1.0)


# ----------------------------------------------------------------------------------------- flatten
def _rippled_honeycomb(rng, cells=(3, 5), amplitude=0.5, noise=0.05):
    from ednn.data.sheets import honeycomb

    pytest.importorskip("ase")
    a = honeycomb(cells)
    L = np.diag(a.cell.array)[:2]
    pos = a.positions.copy()
    pos[:, 2] += amplitude * np.sin(2 * np.pi * pos[:, 0] / L[0]) * np.cos(2 * np.pi * pos[:, 1] / L[1])
    pos += rng.normal(0.0, noise, pos.shape)
    return pos, L


def _gauge_free(p, L):
    """In-plane positions relative to atom 0 (minimum image): the comparison ignores the translation gauge."""
    d = p[:, :2] - p[0, :2]
    return d - L * np.round(d / L)


def _misfit(pos, L, cutoff):
    i, j, d = eb.bonds(pos, L, cutoff)
    return i, j, np.linalg.norm(d, axis=1)


@pytest.mark.parametrize("cells, amplitude", [((3, 5), 0.5), ((3, 5), 0.0), ((6, 5), 0.9)])
def test_flatten_equals_dense_oracle(rng, cells, amplitude):
    pos, L = _rippled_honeycomb(rng, cells, amplitude)
    got = eb.flatten(pos, L, iterations=40, tol=1e-10)
    want = reference.flatten(pos, L, eb.FLATTEN_CUTOFF, iterations=10)
    # flatten stops once a step gains < 1e-9 of F: ~1e-5 A from the oracle's minimum, 1e-4 of a grid spacing
    np.testing.assert_allclose(_gauge_free(got, L), _gauge_free(want, L), atol=5e-5)
    # the default (fast) settings: within 2e-3 A of the converged fit, far below a grid spacing
    np.testing.assert_allclose(_gauge_free(eb.flatten(pos, L), L), _gauge_free(want, L), atol=2e-3)
    np.testing.assert_array_equal(got[:, 2], pos[:, 2])
    np.testing.assert_allclose(got[:, :2].mean(axis=0), pos[:, :2].mean(axis=0), atol=1e-9)


def test_flatten_fits_3d_distances_and_ignores_rigid_shifts(rng):
    pos, L = _rippled_honeycomb(rng, (6, 10), amplitude=0.8)
    i, j, target = _misfit(pos, L, eb.FLATTEN_CUTOFF)

    def inplane(p):
        r = p[j, :2] - p[i, :2]
        r -= L * np.round(r / L)
        return np.linalg.norm(r, axis=1)

    flat = eb.flatten(pos, L)
    before, after = inplane(pos) - target, inplane(flat) - target
    # the projection shortens tilted pairs (all misfits <= 0); flattening spreads what is left evenly
    # (a rippled sheet in a fixed cell keeps a mean stretch: the mean misfit cannot vanish)
    assert before.max() <= 1e-9
    # (this sheet: spread 0.0115 -> 0.0063 A; the rest is curvature from the 0.05 A noise)
    assert after.std() < 0.7 * before.std() and np.sqrt(np.mean(after**2)) < np.sqrt(np.mean(before**2))
    # least squares: the gradient of sum(misfit^2) vanishes at every atom
    r = flat[j, :2] - flat[i, :2]
    r -= L * np.round(r / L)
    g = (after / np.linalg.norm(r, axis=1))[:, None] * r
    grad = np.zeros((len(pos), 2))
    np.add.at(grad, j, g)
    np.add.at(grad, i, -g)
    assert np.abs(grad).max() < 1e-5
    shifted = eb.flatten(pos + np.array([L[0], -2 * L[1], 4.0]), L)
    np.testing.assert_allclose(_gauge_free(shifted, L), _gauge_free(flat, L), atol=1e-6)
    # a flat sheet is its own flattening
    pos[:, 2] = 1.0
    np.testing.assert_allclose(eb.flatten(pos, L), pos, atol=1e-9)


def test_flatten_of_a_supercell_repeats_the_cell(rng):
    pos, L = _rippled_honeycomb(rng, (3, 5), amplitude=0.6)
    flat = eb.flatten(pos, L)
    big = np.concatenate([pos + np.array([a * L[0], b * L[1], 0.0]) for a in range(2) for b in range(2)])
    big_flat = eb.flatten(big, 2 * L)
    n = len(pos)
    for k, (a, b) in enumerate([(a, b) for a in range(2) for b in range(2)]):
        part = big_flat[k * n:(k + 1) * n]
        np.testing.assert_allclose(_gauge_free(part, L), _gauge_free(flat, L), atol=1e-5)


def test_flatten_bad_input():
    with pytest.raises(ednn.InputError, match="iterations: expected a positive int, got 0"):
        eb.flatten(np.zeros((2, 3)), (10.0, 10.0), iterations=0)
    with pytest.raises(ednn.InputError, match=r"tol: expected a number in \[1e-12, 1\), got 0"):
        eb.flatten(np.zeros((2, 3)), (10.0, 10.0), tol=0)
    with pytest.raises(ednn.InputError, match=r"cell: expected x and y edges of at least 5\.4"):
        eb.flatten(np.zeros((2, 3)), (5.0, 10.0))
    np.testing.assert_array_equal(eb.flatten(np.zeros((0, 3)), (10.0, 10.0)), np.zeros((0, 3)))


def test_flat_sheet_is_its_own_flattening():
    from ednn.data.sheets import honeycomb

    a = honeycomb((6, 10))
    rng = np.random.default_rng(3)
    a.positions[:, :2] += rng.normal(0.0, 0.05, (len(a), 2))  # in-plane disorder, every atom at one height
    np.testing.assert_array_equal(eb.flatten(a.positions, a.cell.array), a.positions)
    rippled = a.positions.copy()
    rippled[:, 2] += rng.normal(0.0, 0.05, len(a))
    assert np.abs(eb.flatten(rippled, a.cell.array)[:, :2] - rippled[:, :2]).max() > 1e-3
    with pytest.raises(ednn.InputError, match=r"cell: expected x and y edges of at least 5\.4"):
        eb.flatten(a.positions, (4.0, 4.0))
