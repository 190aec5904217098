"""Cells a 2-D atoms model can take: the same periodic sheet in a rectangular cell of whole focus lengths.

An atoms model tiles an axis-aligned rectangular grid (:func:`ednn.atoms.predict`), so each in-plane
edge must be a whole number of the model's *focus lengths* (``ednn.focus`` x ``ednn.spacing`` per
axis). Users' cells often are not: graphene's primitive cell is hexagonal (120 degrees), and a
rectangular edge of 24.6 Angstrom is 7.7 focus lengths of the shipped sheets model. :func:`fit_cell`
builds the same periodic structure in a cell that fits:

1. an orthogonal supercell: two orthogonal integer combinations of the input's in-plane vectors
   (entries up to :data:`MAX_INDEX`), rotated in-plane so that they lie along +x and +y; z (the
   vacuum, not periodic) is kept as given;
2. repeated ``kx x ky`` times (``k`` up to :data:`MAX_REPEAT`) until each edge is a whole number of
   focus lengths within the recipe's grid tolerance (:data:`ednn.atoms.recipe.GRID_RTOL`): exact;
3. only when asked (``strain=``, the largest relative change of an edge accepted), edges that no
   such supercell makes whole are rescaled, positions with them, to the nearest whole number of
   focus lengths: an approximation, whose cost docs/cells.md measures.

Among the candidates (every orthogonal supercell in both orientations, 0 and 90 degrees) the fit
without strain wins, then the one with the fewest copies, the least strain, the smallest rotation;
a strained fit of an axis-aligned rectangular cell keeps its orientation (the user chose it), while
an exact fit may turn it by 90 degrees.
A lattice commensurate with the model's own (graphene at ``a = 2.46`` Angstrom with the armchair
direction along x and the zigzag direction along y, :mod:`ednn.data.sheets`) fits exactly only in
that orientation (its two edges differ by the irrational factor sqrt(3)), so the model sees the
orientation it was trained on.

The fitted cell holds :attr:`CellFit.multiplicity` copies of the input cell, so an extensive
quantity of the input is ``E(fit) / multiplicity`` (exactly, in float64, without strain).
:func:`needs_fit` tells whether a cell can go to the model as it is (then nothing is copied).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import RECTANGULAR_RTOL, axis_ints, check_int, is_ase_atoms, real_array
from ..errors import InputError
from ..model import Model, load_model
from .recipe import GRID_RTOL, ImageRecipe

__all__ = [
    "MAX_INDEX",
    "MAX_REPEAT",
    "ORTHO_RTOL",
    "CellFit",
    "check_strain",
    "fit_cell",
    "fit_model",
    "needs_fit",
    "orthogonal_supercells",
    "unpack_atoms",
]

#: Largest integer coefficient (in absolute value) of the input's in-plane vectors searched for an
#: orthogonal supercell: enough for hexagonal cells of up to about 8 x 8 primitive cells of unequal sides.
MAX_INDEX = 8
#: Largest repeat of the orthogonal supercell along one axis tried to make an edge a whole number of
#: focus lengths (the cost of a prediction grows with the copies).
MAX_REPEAT = 16
#: Two vectors count as orthogonal when ``|p . q| <= ORTHO_RTOL |p| |q|``: the rule by which
#: :func:`ednn._checks.cell_lengths` calls a cell rectangular (1e-9: atoms move by < 1e-9 of the edge
#: when the cell is taken as exactly rectangular, far below a grid spacing).
ORTHO_RTOL = RECTANGULAR_RTOL


@dataclass(frozen=True)
class CellFit:
    """The input sheet in a cell that fits the model (see the module docstring).

    ``positions`` ``(n * multiplicity, 3)`` (or ``(.., 2)`` as given), float64, in the fitted cell,
    wrapped into it; ``numbers`` ``(n * multiplicity,)``; ``cell`` the rectangular cell, in the form
    it was given (``(3, 3)`` or ``(2, 2)`` matrix, or edge lengths ``(2,)`` / ``(3,)``); ``multiplicity``
    the number of input cells it holds; ``source`` ``(n * multiplicity,)`` the input atom each atom
    copies (copy-major: the first ``n`` atoms are the input's, in its order); ``supercell`` ``(2, 2)``
    int64, rows the fitted x and y edges as integer combinations of the input's in-plane vectors
    (repeats included); ``rotation`` ``(2, 2)`` the in-plane rotation applied (``xy_fit = rotation @
    xy_input`` before wrapping and strain); ``strain`` the relative change of the x and y edges (0.0
    when exact).
    """

    positions: np.ndarray
    numbers: np.ndarray
    cell: np.ndarray
    multiplicity: int
    source: np.ndarray
    supercell: np.ndarray
    rotation: np.ndarray
    strain: tuple[float, float]

    @property
    def exact(self) -> bool:
        """Whether the fitted cell holds the input's structure unchanged (no strain)."""
        return self.strain == (0.0, 0.0)

    def atoms(self) -> Any:
        """The fit as an ``ase.Atoms`` (periodic in x and y), e.g. to write it out or to label it."""
        from ase import Atoms

        c = self.cell if self.cell.ndim == 1 else np.diag(self.cell)
        cell = np.diag([c[0], c[1], c[2] if len(c) == 3 else 0.0])
        if self.cell.shape == (3, 3):
            cell = self.cell
        pos = self.positions if self.positions.shape[1] == 3 else np.column_stack(
            [self.positions, np.zeros(len(self.positions))])
        return Atoms(numbers=self.numbers, positions=pos, cell=cell, pbc=[True, True, False])


def unpack_atoms(atoms: Any, numbers: Any, cell: Any, d: int) -> tuple[Any, Any, Any]:
    """``(positions, numbers, cell)`` of an ``ase.Atoms`` (periodic along the model's ``d`` axes) or of
    the arrays given; refuses a mix of both, or positions without a cell."""
    if is_ase_atoms(atoms):
        for name, value in (("numbers", numbers), ("cell", cell)):
            if value is not None:
                raise InputError(f"{name}: expected None when atoms is an ase.Atoms (taken from it), got {value!r}")
        pbc = np.asarray(atoms.pbc, dtype=bool)
        if not pbc[:d].all():
            axes = "x, y" if d == 2 else "x, y, z"
            raise InputError(f"atoms.pbc: expected periodic {axes} for a {d}-D model (the image is periodic), "
                             f"got {pbc.tolist()}")
        return atoms.get_positions(), atoms.numbers, atoms.cell.array
    if cell is None:
        raise InputError("cell: expected the cell (edge lengths or a 3x3 matrix) with a positions array, got None")
    return atoms, numbers, cell


def check_strain(strain: Any) -> float | None:
    """``strain`` as a float in [0, 0.5], or None; refuses anything else."""
    if strain is None:
        return None
    if isinstance(strain, bool) or not isinstance(strain, (int, float, np.integer, np.floating)):
        raise InputError(f"strain: expected None or the largest relative change of an edge (e.g. 0.01), got {strain!r}")
    # a rescale by half an edge or more is no longer the same structure (nor a useful approximation)
    if not (math.isfinite(strain) and 0 <= strain < 0.5):
        raise InputError(f"strain: expected a relative change in [0, 0.5) (e.g. 0.01 for 1 %), got {strain!r}")
    return float(strain)


def _grid_fits(length: np.ndarray, h: float, f: int) -> np.ndarray:
    """Whether each ``length`` is a whole number of grid spacings ``h`` (the rule of
    :meth:`ImageRecipe.grid_shape`) and that number a positive multiple of ``f``."""
    v = np.asarray(length, dtype=np.float64) / h
    n = np.rint(v)
    return (n >= f) & (np.abs(v - n) <= GRID_RTOL * np.maximum(1.0, v)) & (np.mod(n, f) == 0)


def _in_plane(cell: Any) -> tuple[np.ndarray, np.ndarray]:
    """The cell's in-plane vectors ``(2, 2)`` (rows) and the cell as a float64 array; refuses cells
    that are not 2 or 3 lengths, a 2x2 or a 3x3 matrix with finite entries and independent vectors."""
    c = real_array("cell", getattr(cell, "array", cell))
    if c.ndim == 1 and c.shape[0] in (2, 3):
        a = np.diag(c[:2])
    elif c.ndim == 2 and c.shape in ((2, 2), (3, 3)):
        a = c[:2, :2].copy()
    else:
        raise InputError(f"cell: expected 2 or 3 edge lengths or a 2x2 / 3x3 matrix, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise InputError(f"cell: expected finite numbers, got {c.tolist()}")
    scale = float(np.max(np.abs(a)))
    if c.shape == (3, 3) and not np.all(np.abs(c[:2, 2]) <= RECTANGULAR_RTOL * scale):
        k = int(np.argmax(np.abs(c[:2, 2])))
        raise InputError(f"cell: expected in-plane vectors without a z component (a sheet in the x-y plane), got "
                         f"cell[{k}][2] = {float(c[k, 2])!r}")
    area = float(a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0])
    if not abs(area) > RECTANGULAR_RTOL * scale * scale:
        raise InputError(f"cell: expected two independent in-plane vectors, got {a.tolist()} (area {area!r})")
    return a, c


def needs_fit(cell: Any, spacing: Sequence[float], focus: Sequence[int]) -> bool:
    """Whether a valid 2-D ``cell`` must go through :func:`fit_cell`: its in-plane block is not
    axis-aligned rectangular, or an edge is not a whole number of focus lengths (``focus[k] *
    spacing[k]``). False for a cell that fits, and for anything that is not a finite 2-D cell (the
    caller's own checks name what is wrong)."""
    try:
        a, _ = _in_plane(cell)
    except InputError:
        return False
    off = abs(a[0, 1]) + abs(a[1, 0])
    if not off <= RECTANGULAR_RTOL * max(abs(a[0, 0]), abs(a[1, 1])):
        return True
    if a[0, 0] <= 0 or a[1, 1] <= 0:  # a rectangular cell with an edge <= 0: refused as before
        return False
    return not all(bool(_grid_fits(a[k, k], spacing[k], focus[k])) for k in range(2))


def orthogonal_supercells(cell: Any, *, max_index: int = MAX_INDEX) -> np.ndarray:
    """Every integer matrix ``M`` ``(m, 2, 2)`` (entries in ``[-max_index, max_index]``) whose rows
    ``p = M[0] @ A``, ``q = M[1] @ A`` (``A`` the in-plane vectors, rows) are orthogonal (within
    :data:`ORTHO_RTOL`) and right-handed (``p x q > 0``), each row primitive (its two entries without
    a common factor: the shortest lattice vector of its direction), fewest input cells ``|det M|``
    first; ``(0, 2, 2)`` when there is none."""
    check_int("max_index", max_index, 1)
    a, _ = _in_plane(cell)
    r = np.arange(-max_index, max_index + 1)
    ij = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
    ij = ij[np.gcd(ij[:, 0], ij[:, 1]) == 1]  # primitive: the shortest vector of its direction (longer: max_repeat)
    v = ij.astype(np.float64) @ a
    norm = np.hypot(v[:, 0], v[:, 1])
    dot = v @ v.T
    cross = v[:, None, 0] * v[None, :, 1] - v[:, None, 1] * v[None, :, 0]
    ok = (np.abs(dot) <= ORTHO_RTOL * norm[:, None] * norm[None, :]) & (cross > 0)
    i, j = np.nonzero(ok)
    m = np.stack([ij[i], ij[j]], axis=1).astype(np.int64)
    det = np.abs(m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0])
    return m[np.argsort(det, kind="stable")]


def _axis_fit(length: np.ndarray, h: float, f: int, max_repeat: int, strain: float | None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per edge ``length`` ``(m,)``: the repeat ``k`` (0: none fits) and the relative strain of the
    smallest repeat that is exact, else (with ``strain``) of the smallest within ``strain``."""
    k = np.arange(1, max_repeat + 1, dtype=np.float64)
    kl = length[:, None] * k[None, :]
    exact = _grid_fits(kl, h, f)
    unit = f * h
    target = np.maximum(1.0, np.rint(kl / unit)) * unit
    s = target / kl - 1.0
    reps = np.zeros(len(length), dtype=np.int64)
    out = np.zeros(len(length))
    has = exact.any(axis=1)
    reps[has] = np.argmax(exact[has], axis=1) + 1
    if strain is not None:
        near = (np.abs(s) <= strain) & ~has[:, None]
        take = near.any(axis=1)
        first = np.argmax(near[take], axis=1)
        reps[take] = first + 1
        out[take] = s[take, first]
    return reps, out


def fit_cell(positions: Any, numbers: Any, cell: Any, *, spacing: float | Sequence[float], focus: Sequence[int],
             strain: float | None = None, max_index: int = MAX_INDEX, max_repeat: int = MAX_REPEAT) -> CellFit:
    """The structure ``positions`` ``(n, 3)`` (or ``(n, 2)``), ``numbers`` ``(n,)`` in ``cell`` (2 or 3
    edge lengths, a 2x2 or 3x3 matrix, rows the cell vectors; x and y periodic) as a :class:`CellFit`
    whose cell is axis-aligned rectangular and a whole number of focus lengths ``focus[k] *
    spacing[k]`` per axis (``spacing`` one number or one per axis; see the module docstring).

    ``strain`` (None: exact only) the largest relative change of an edge accepted when no supercell
    fits exactly. Refuses, with one :class:`~ednn.InputError` naming the edge, the nearest lengths that
    fit and the ``strain`` that reaches them, what does not fit within ``max_index`` and ``max_repeat``.
    """
    strain = check_strain(strain)
    max_index, max_repeat = check_int("max_index", max_index, 1), check_int("max_repeat", max_repeat, 1)
    h = [float(v) for v in np.atleast_1d(real_array("spacing", spacing))]
    h = h * 2 if len(h) == 1 else h
    if len(h) != 2 or not all(math.isfinite(v) and v > 0 for v in h):
        raise InputError(f"spacing: expected 1 or 2 positive numbers (a 2-D model), got {spacing!r}")
    f = list(axis_ints("focus", focus, 2, 1))
    a, c = _in_plane(cell)
    pos = real_array("positions", positions)
    if pos.ndim != 2 or pos.shape[1] not in (2, 3) or not np.all(np.isfinite(pos)):
        raise InputError(f"positions: expected finite numbers of shape (n, 3) or (n, 2), got shape {pos.shape}")
    z = np.asarray(numbers)
    if z.shape != (len(pos),):
        raise InputError(f"numbers: expected shape ({len(pos)},) (one per position), got {z.shape}")

    cands = orthogonal_supercells(c, max_index=max_index)
    if len(cands) == 0:
        ang = math.degrees(math.atan2(a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0], float(a[0] @ a[1])))
        raise InputError(
            f"cell: expected in-plane vectors with an orthogonal supercell (e.g. rectangular, or hexagonal at 60 or "
            f"120 degrees), got {a.tolist()} at {ang:.6g} degrees: no two orthogonal integer combinations with "
            f"coefficients up to {max_index} (max_index)"
        )
    p = cands[:, 0].astype(np.float64) @ a
    q = cands[:, 1].astype(np.float64) @ a
    lx, ly = np.hypot(p[:, 0], p[:, 1]), np.hypot(q[:, 0], q[:, 1])
    kx, sx = _axis_fit(lx, h[0], f[0], max_repeat, strain)
    ky, sy = _axis_fit(ly, h[1], f[1], max_repeat, strain)
    det = np.abs(cands[:, 0, 0] * cands[:, 1, 1] - cands[:, 0, 1] * cands[:, 1, 0])
    theta = -np.arctan2(p[:, 1], p[:, 0])  # rotation that takes p to +x
    ok = (kx > 0) & (ky > 0)
    strained = (sx != 0) | (sy != 0)
    as_given = (det == 1) & (np.abs(theta) <= 1e-9)
    if as_given.any():  # an axis-aligned rectangle keeps its orientation when strained (the user's choice)
        ok &= ~strained | as_given
    ok = np.flatnonzero(ok)
    if len(ok) == 0:
        keep = as_given if as_given.any() else np.ones(len(det), dtype=bool)  # what a strain would fit
        raise InputError(_refusal(lx[keep], ly[keep], kx[keep], ky[keep], det[keep], theta[keep], h, f, max_repeat,
                                  strain))
    # no strain, then fewest copies, least strain, smallest rotation (counter-clockwise on a tie), fewest
    # input cells in the orthogonal supercell itself; angles rounded to 1e-9 rad so that rounding never decides
    angle = np.round(theta[ok], 9)
    key = (det[ok], angle < 0, np.abs(angle), np.maximum(np.abs(sx[ok]), np.abs(sy[ok])),
           det[ok] * kx[ok] * ky[ok], strained[ok])
    best = int(ok[np.lexsort(key)[0]])  # np.lexsort sorts by the last key first
    return _build(pos, z, a, c, cands[best], int(kx[best]), int(ky[best]), (float(sx[best]), float(sy[best])))


def _build(pos: np.ndarray, z: np.ndarray, a: np.ndarray, c: np.ndarray, m: np.ndarray, kx: int, ky: int,
           strain: tuple[float, float]) -> CellFit:
    """The :class:`CellFit` of supercell ``m`` of ``a`` repeated ``kx x ky`` and strained."""
    det = int(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])
    sign = 1 if det > 0 else -1
    adj = np.array([[m[1, 1], -m[0, 1]], [-m[1, 0], m[0, 0]]], dtype=np.int64)
    corners = np.array([[0, 0], m[0], m[1], m[0] + m[1]])
    r0 = np.arange(corners[:, 0].min(), corners[:, 0].max() + 1)
    r1 = np.arange(corners[:, 1].min(), corners[:, 1].max() + 1)
    t = np.stack(np.meshgrid(r0, r1, indexing="ij"), -1).reshape(-1, 2)
    w = sign * (t @ adj)  # |det| x the coordinates of t in the supercell's basis: integers, exact
    t = t[np.all((w >= 0) & (w < abs(det)), axis=1)]
    t = t[np.lexsort((t[:, 1], t[:, 0], np.abs(t).sum(axis=1)))]  # (0, 0) first: copy 0 is the input
    assert len(t) == abs(det)
    s = m.astype(np.float64) @ a  # rows p, q
    lengths = np.hypot(s[:, 0], s[:, 1])
    rotation = s / lengths[:, None]
    inv = np.linalg.inv(s)
    n = len(pos)
    xy = (pos[None, :, :2] + (t.astype(np.float64) @ a)[:, None, :]).reshape(-1, 2)
    frac = np.mod(xy @ inv, 1.0)
    tiles = np.stack(np.meshgrid(np.arange(kx), np.arange(ky), indexing="ij"), -1).reshape(-1, 2)
    rect = (frac[None, :, :] + tiles[:, None, :]).reshape(-1, 2) * lengths
    scale = np.array([1.0 + strain[0], 1.0 + strain[1]])
    edges = lengths * [kx, ky] * scale
    copies = abs(det) * kx * ky
    out = np.empty((n * copies, pos.shape[1]))
    out[:, :2] = rect * scale
    if pos.shape[1] == 3:
        out[:, 2] = np.tile(pos[:, 2], copies)
    if c.ndim == 1:
        new_cell = np.concatenate([edges, c[2:]])
    else:
        new_cell = np.zeros_like(c)
        new_cell[0, 0], new_cell[1, 1] = edges
        if c.shape == (3, 3):
            new_cell[2, :2] = rotation @ c[2, :2]
            new_cell[2, 2] = c[2, 2]
    return CellFit(positions=out, numbers=np.tile(z, copies), cell=new_cell, multiplicity=copies,
                   source=np.tile(np.arange(n), copies), supercell=m * np.array([[kx], [ky]]), rotation=rotation,
                   strain=strain)


def _refusal(lx: np.ndarray, ly: np.ndarray, kx: np.ndarray, ky: np.ndarray, det: np.ndarray, theta: np.ndarray,
             h: list[float], f: list[int], max_repeat: int, strain: float | None) -> str:
    """The one message for a cell that nothing fits: the edges that no repeat makes whole, of the
    rectangle of the fewest input cells (then the least strain at one copy, the smallest rotation), the nearest lengths that fit and the ``strain`` that reaches them."""
    need = []
    for k, (length, reps) in enumerate(((lx, kx), (ly, ky))):
        unit = f[k] * h[k]
        target = np.maximum(1.0, np.rint(length / unit)) * unit
        need.append(np.where(reps > 0, 0.0, np.abs(target / length - 1.0)))  # a repeat fixes the others exactly
    worst = np.maximum(need[0], need[1])
    best = int(np.lexsort((np.round(np.abs(theta), 9), worst, det))[0])
    parts = []
    for k, (length, reps) in enumerate(((lx, kx), (ly, ky))):
        if reps[best] > 0:
            continue
        unit, v = f[k] * h[k], float(length[best])
        below, above = math.floor(v / unit) * unit, math.ceil(v / unit) * unit
        near = f"{below:.10g} or {above:.10g}" if below > 0 else f"{above:.10g}"
        parts.append(f"edge length {v:.10g} on axis {k} is {v / h[k]:.6f} grid spacings of {h[k]:.10g}, "
                     f"{v / unit:.6f} focus lengths of {unit:.10g} (focus {f[k]} x spacing); the nearest lengths "
                     f"that fit are {near}")
    where = ("" if det[best] == 1 and abs(theta[best]) < 1e-9 else
             f"in the rectangular supercell of {int(det[best])} input cells, rotated by "
             f"{math.degrees(float(theta[best])):.6g} degrees, ")
    fix = math.ceil(float(worst[best]) * 1e4) / 1e4  # rounded up: that strain reaches the nearest lengths
    tried = f" (strain={strain} does not reach them)" if strain is not None else ""
    return (f"atoms.cell: {where}{'; '.join(parts)}; no repeat of up to {max_repeat} per axis (max_repeat) is a whole "
            f"number of focus lengths{tried}; expected edges that are. Pass strain={fix:.4g} to "
            f"ednn.atoms.predict (or EDNNCalculator, or `ednn atoms predict --strain`) to rescale the in-plane cell "
            f"and positions to the nearest lengths that fit (approximate: docs/cells.md), or see that cell with "
            f"ednn.atoms.cells.fit_model(model, atoms, strain={fix:.4g})")


def fit_model(model: str | os.PathLike[str] | Model, atoms: Any, numbers: Any = None, cell: Any = None, *,
              spacing: float | Sequence[float] | None = None, strain: float | None = None,
              max_index: int = MAX_INDEX, max_repeat: int = MAX_REPEAT) -> CellFit:
    """:func:`fit_cell` at a 2-D model's focus and spacing (``ednn.spacing``, or ``spacing``) for an
    ``ase.Atoms`` or positions with ``numbers`` and ``cell``. A cell that fits already comes back
    with multiplicity 1 and no rotation (positions wrapped into it).
    """
    m = load_model(model)
    if m.ndim != 2:
        raise InputError(f"model: expected a 2-D model (ednn.ndim 2) for sheets, got ednn.ndim={m.ndim}")
    recipe = ImageRecipe.from_model(m, spacing)
    pos, z, c = unpack_atoms(atoms, numbers, cell, 2)
    return fit_cell(pos, z, c, spacing=recipe.spacing, focus=m.focus, strain=strain, max_index=max_index,
                    max_repeat=max_repeat)
