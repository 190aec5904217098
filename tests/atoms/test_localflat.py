"""ednn.atoms.localflat: flattening in windows (O(N)) against the one global solve it stands in for."""

from __future__ import annotations

import numpy as np
import pytest

import ednn
from ednn.atoms import bonds as eb
from ednn.atoms import localflat as lf

pytest.importorskip("ase")


def _rippled(cells=(24, 40), seed=0):
    """A graphene sheet ``(n, 3)`` with four random long ripples (0.3-0.8 A) and 0.05 A noise, and its
    edges ``(2,)``: 3 840 atoms, 102 x 98 A (3 x 3 windows of the defaults)."""
    from ednn.data.sheets import honeycomb

    rng = np.random.default_rng(seed)
    a = honeycomb(cells)
    L = np.diag(a.cell.array)[:2]
    pos = a.positions.copy()
    x, y = pos[:, 0] / L[0], pos[:, 1] / L[1]
    for kx, ky, amp in [(1, 1, 0.8), (2, 1, 0.5), (1, 3, 0.4), (3, 2, 0.3)]:
        ph = rng.uniform(0, 2 * np.pi, 2)
        pos[:, 2] += amp * np.sin(2 * np.pi * kx * x + ph[0]) * np.cos(2 * np.pi * ky * y + ph[1])
    pos += rng.normal(0.0, 0.05, pos.shape)
    return pos, L


def _pair_lengths(pos, L, i, j):
    r = pos[j, :2] - pos[i, :2]
    r -= L * np.round(r / L)
    return np.linalg.norm(r, axis=1)


@pytest.fixture(scope="module")
def sheet():
    pos, L = _rippled()
    return pos, L, eb.flatten(pos, L)


def test_windows_match_the_global_solve(sheet):
    pos, L, g = sheet
    i, j, _ = eb.bonds(pos, L, eb.FLATTEN_CUTOFF)
    want = _pair_lengths(g, L, i, j)
    local = lf.flatten_windows(pos, L, threads=2)
    # windows on threads: each writes only its own atoms, the coarse sums are added in window order
    np.testing.assert_array_equal(lf.flatten_windows(pos, L, threads=1), local)
    np.testing.assert_array_equal(local[:, 2], pos[:, 2])
    np.testing.assert_allclose((local - pos)[:, :2].mean(axis=0), 0.0, atol=1e-12)
    err = np.sqrt(np.mean((_pair_lengths(local, L, i, j) - want) ** 2))
    proj = np.sqrt(np.mean((_pair_lengths(pos, L, i, j) - want) ** 2))
    # in-plane pair lengths (what the image shows) within 1e-3 A rms of the global solve (measured
    # 1.5e-4 A), where the projection is 4.8e-3 A off: a hundredth of a grid spacing
    assert err < 1e-3 and err < proj / 4, (err, proj)
    # without its coarse pass a window only sees its halo, held at the projection: the long part of
    # the solution is missing (measured 15x the error)
    no_coarse = lf.flatten_windows(pos, L, coarse_iterations=0, sweeps=1)
    assert np.sqrt(np.mean((_pair_lengths(no_coarse, L, i, j) - want) ** 2)) > 5 * err
    # flatten_sheet dispatches: local when asked, global below GLOBAL_MAX_ATOMS atoms by default
    np.testing.assert_array_equal(lf.flatten_sheet(pos, L, method="local"), local)
    np.testing.assert_array_equal(lf.flatten_sheet(pos, L), g)
    old = lf.GLOBAL_MAX_ATOMS
    try:
        lf.GLOBAL_MAX_ATOMS = len(pos) - 1
        np.testing.assert_array_equal(lf.flatten_sheet(pos, L), local)
    finally:
        lf.GLOBAL_MAX_ATOMS = old


def test_energy_of_the_window_solution(sheet):
    """The porous model (flattened positions) gives the same energy per atom on both solutions."""
    pos, L, g = sheet
    cell = np.array([L[0], L[1], 20.0])
    z = np.full(len(pos), 6)
    p = pos + np.array([0.0, 0.0, 10.0])
    e_global = ednn.atoms.predict("porous-fast", p, z, cell, flatten="global") / len(p)
    e_local = ednn.atoms.predict("porous-fast", p, z, cell, flatten="local") / len(p)
    e_none = ednn.atoms.predict("porous-fast", p, z, cell, flatten="none") / len(p)
    # flatten="none": positions used as given; the global solution given that way is flatten="global"
    gp = g + np.array([0.0, 0.0, 10.0])
    # (z moved by 10 A: the same 3-D distances to rounding)
    assert ednn.atoms.predict("porous-fast", gp, z, cell, flatten="none") / len(p) == pytest.approx(e_global, abs=1e-9)
    # measured 0.004 meV/atom apart (the projection: 0.4); docs/scale.md has thermal MD sheets
    assert abs(e_local - e_global) < 0.05e-3 < abs(e_none - e_global) / 4


@pytest.mark.parametrize("cells, amplitude, held, periodic", [
    ((3, 5), 0.5, False, True), ((6, 10), 0.8, False, True), ((6, 10), 0.8, True, False), ((12, 20), 0.3, True, True),
    ((3, 5), 0.0, False, True),
])
def test_compiled_fit_equals_the_numpy_oracle(cells, amplitude, held, periodic):
    """ednn/flatten.hpp (float64, CPU, one thread per patch) against ednn.reference.flatten_patch."""
    from ednn import reference
    from ednn.data.sheets import honeycomb

    a = honeycomb(cells)
    L = np.diag(a.cell.array)[:2]
    rng = np.random.default_rng(cells[0])
    pos = a.positions.copy()
    pos[:, 2] += amplitude * np.sin(2 * np.pi * pos[:, 0] / L[0]) * np.cos(2 * np.pi * pos[:, 1] / L[1])
    pos += rng.normal(0.0, 0.05, pos.shape)
    i, j, d = eb.bonds(pos, L, eb.FLATTEN_CUTOFF)
    target = np.linalg.norm(d, axis=1)
    xy = pos[:, :2].copy()
    box = L
    if not periodic:  # a patch cut out of the sheet: its pairs never wrap in a box twice its size
        xy = xy - L * np.round((xy - xy[0]) / L)  # unwrapped around atom 0
        box = 4 * L
        keep = np.all(np.abs((xy[j] - xy[i])) < L / 2, axis=1)
        i, j, target = i[keep], j[keep], target[keep]
    movable = None
    if held:  # hold a band on one side, as a window's halo edge is held
        movable = xy[:, 0] > np.quantile(xy[:, 0], 0.2)
    got = eb.fit_patch(xy, i, j, box, target, 12, 1e-6, movable)
    want, kept = reference.flatten_patch(xy, movable, i, j, target, box, 12, 1e-6)
    # the same float64 steps in another summation order: equal to ~1e-12 A (rounding, amplified by
    # the CG's own rounding over its iterations)
    np.testing.assert_allclose(got, want, atol=1e-8)
    if movable is not None:
        np.testing.assert_array_equal(got[~movable], xy[~movable])
    assert kept > 0  # the z noise alone leaves misfits to fit
    _, steps = ednn._ednn.flatten_patch(xy, movable, i, j, target, list(box), 12, 1e-6)
    assert steps == kept


def test_a_flat_sheet_is_its_own_flattening():
    from ednn.data.sheets import honeycomb

    a = honeycomb((24, 40))
    pos = a.positions.copy()
    pos[:, :2] += np.random.default_rng(2).normal(0.0, 0.05, (len(pos), 2))
    L = np.diag(a.cell.array)[:2]
    np.testing.assert_allclose(lf.flatten_windows(pos, L), pos, atol=1e-12)


def test_coarse_gradient_and_its_adjoint():
    grid = lf._Coarse(np.array([30.0, 20.0]), 4.0)
    rng = np.random.default_rng(1)
    U = rng.normal(size=(2,) + tuple(grid.n))
    S = rng.normal(size=tuple(grid.n) + (4,))
    # <grad U, S> = <U, grad^T S>, to rounding
    assert np.sum(grid._grad(U) * S) == pytest.approx(np.sum(U * grid._grad_t(S)), rel=1e-12)
    # a uniform strain: every cell has the same gradient (periodic wrap aside: interior cells only)
    n0, n1 = grid.n
    X, Y = np.meshgrid(np.arange(n0) * grid.h[0], np.arange(n1) * grid.h[1], indexing="ij")
    G = grid._grad(np.stack([0.01 * X + 0.02 * Y, -0.03 * X]))
    np.testing.assert_allclose(G[:-1, :-1], np.broadcast_to([0.01, 0.02, -0.03, 0.0], G[:-1, :-1].shape), atol=1e-12)
    # bilinear interpolation reproduces the nodes and is linear between them
    pts = np.array([[0.0, 0.0], [grid.h[0], 0.0], [0.5 * grid.h[0], 0.5 * grid.h[1]]])
    V = rng.normal(size=(2,) + tuple(grid.n))
    at = grid.at(V, pts)
    np.testing.assert_allclose(at[0], V[:, 0, 0], atol=1e-14)
    np.testing.assert_allclose(at[1], V[:, 1, 0], atol=1e-14)
    np.testing.assert_allclose(at[2], V[:, :2, :2].mean(axis=(1, 2)), atol=1e-14)


def test_bad_input_is_named():
    pos, L = _rippled((6, 10))
    with pytest.raises(ednn.InputError, match=r"cell: expected x and y edges of at least window \+ 2 halo \+ cutoff"):
        lf.flatten_windows(pos, L)
    with pytest.raises(ednn.InputError, match=r"halo: expected a number \(Angstrom\) above 2\.7, got 2"):
        lf.flatten_windows(pos, L, halo=2)
    with pytest.raises(ValueError, match=r"pairs: expected two different points in \[0, 2\), got \(0, 2\) at pair 0"):
        eb.fit_patch(np.zeros((2, 2)), np.array([0]), np.array([2]), (10.0, 10.0), np.array([1.0]))
    with pytest.raises(ValueError, match=r"movable: expected None or shape \(2,\)"):
        eb.fit_patch(np.zeros((2, 2)), np.array([0]), np.array([1]), (10.0, 10.0), np.array([1.0]), movable=np.ones(3, bool))
    with pytest.raises(ednn.InputError, match=r"sweeps: expected an int >= 1, got 0"):
        lf.flatten_windows(pos, L, sweeps=0)
    with pytest.raises(ednn.InputError, match=r"method: expected 'auto', 'global' or 'local', got 'fast'"):
        lf.flatten_sheet(pos, L, method="fast")
    with pytest.raises(ednn.InputError, match=r"flatten: expected one of auto, global, local, none, got 'yes'"):
        ednn.atoms.predict("porous-fast", pos, np.full(len(pos), 6), [L[0], L[1], 20.0], flatten="yes")
    from ednn.atoms.calculator import EDNNCalculator

    with pytest.raises(ednn.InputError, match=r"flatten: expected one of auto, global, local, none, got 'x'"):
        EDNNCalculator("porous-fast", flatten="x")
