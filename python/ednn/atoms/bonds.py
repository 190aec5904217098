"""Sheets seen from their bonds: flattened (intrinsic) positions and the bond-height channel.

**Flattening** (:func:`flatten`). The Eq. 2 image of a sheet is its projection on the x-y plane, and
a bond tilted out of the plane looks shorter there (``d_xy^2 = d^2 - dz^2``). Thermal sheets ripple,
and the larger the cell the more (longer flexural waves fit in it), so a network trained on the
projections of small cells reads the tilts of a large cell as in-plane compression, which is
expensive, while bending is cheap. :func:`flatten` moves the atoms within the plane so that the
in-plane distances of all pairs closer than ``FLATTEN_CUTOFF`` in 3-D (first and second neighbours:
bond lengths and, through the second neighbours, angles) match their 3-D distances as well as the
fixed periodic cell allows (least squares, Levenberg-Marquardt from the projection). The image of
the flattened sheet shows the sheet's own in-plane geometry whatever its ripples; what cannot be
flattened (curvature, and the mean stretch of a rippled sheet in a fixed cell) stays as the misfit.
Models trained on flattened sheets carry ``ednn.positions = flattened``; :func:`ednn.atoms.predict`
then flattens before imaging.

**Bond-height channel** (:func:`channel_sources`, imaged by :class:`ednn.atoms.ImageRecipe`; an
alternative that keeps the projection and adds what it hides): a second input channel with a
Gaussian of width gamma at each bond's midpoint, weighted by ``(dz / BOND_HEIGHT_UNIT)^2``::

    B(r) = sum_bonds (dz_ij / u)^2 exp(-|r - m_ij|^2 / (2 gamma^2)),   m_ij = (r_i + r_j) / 2

A bond is a pair of atoms closer than ``BOND_CUTOFF`` in 3-D (periodic in x and y, z not wrapped).
The channel depends only on height differences: it does not change when the sheet moves along z.
(docs/sheets.md: on the sheets data it transfers worse than flattening; the shipped model does not
use it.)

Channel names (``ednn.channel_names`` in a model's metadata, ``channels`` in a training config):
``"V"`` (Eq. 2, :func:`ednn.rasterize`) and ``"bond_dz2"`` (this module); ``"V"`` comes first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _ednn
from .._checks import cell_lengths
from ..errors import InputError

__all__ = [
    "FLATTEN_CUTOFF",
    "flatten",
    "BOND_CUTOFF",
    "BOND_HEIGHT_UNIT",
    "CHANNEL_NAMES",
    "bonds",
    "bond_height_sources",
    "channel_sources",
    "check_channels",
]

#: Largest 3-D distance (Angstrom) counted as a bond: C-C, B-N, B-C, C-N bonds are 1.40-1.60 Å,
#: second neighbours 2.4 Å, so thermal bonds stretched by 15 % still count and nothing else does.
BOND_CUTOFF = 1.85
#: Pairs (3-D distance, Angstrom) whose in-plane distance :func:`flatten` fits: first (1.42-1.45 Å) and
#: second (2.46-2.50 Å) neighbours of a hexagonal sheet, not third (2.84-2.90 Å).
FLATTEN_CUTOFF = 2.7
# Smallest Levenberg-Marquardt damping (units of the normal matrix, whose diagonal is ~9 per atom):
# it holds still the floppy directions of atoms with few neighbours (vacancies) and barely slows the
# slowest physical mode (a ripple across a 50 Å cell, eigenvalue ~0.3).
_DAMPING = 1e-3
_MAX_STEP = 1.0  # Angstrom
#: Height difference (Angstrom) that gives a bond a weight of 1 in the bond-height channel.
BOND_HEIGHT_UNIT = 0.2
#: Input channels an atoms model may take, in the order they must appear.
CHANNEL_NAMES = ("V", "bond_dz2")


def check_channels(channels: Any, name: str = "channels") -> tuple[str, ...]:
    """``channels`` as a tuple of known names starting with ``"V"``; raises :class:`InputError`."""
    if channels is None:
        return ("V",)
    if isinstance(channels, str):
        channels = [c.strip() for c in channels.split(",")]
    try:
        names = tuple(str(c) for c in channels)
    except TypeError:
        raise InputError(f"{name}: expected a list of channel names ({', '.join(CHANNEL_NAMES)}), got {channels!r}") from None
    if not names or names[0] != "V" or len(set(names)) != len(names) or not set(names) <= set(CHANNEL_NAMES):
        raise InputError(
            f"{name}: expected 'V' first, then optionally 'bond_dz2' (known: {', '.join(CHANNEL_NAMES)}), got {list(names)}"
        )
    return names


def _periodic_lengths(cell: Any, cutoff: float) -> np.ndarray:
    """x and y edges, each at least ``2 * cutoff`` so that a pair has one minimum image."""
    L = _xy_lengths(cell)
    if np.any(L < 2 * cutoff):
        raise InputError(f"cell: expected x and y edges of at least {2 * cutoff:g} (twice the bond cutoff), got {L.tolist()}")
    return L


def _xy_lengths(cell: Any) -> np.ndarray:
    """x and y edge lengths of a rectangular cell, checked as :func:`ednn.rasterize` checks cells."""
    return np.asarray(cell_lengths(cell, 2))


def bonds(positions: Any, cell: Any, cutoff: float = BOND_CUTOFF) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of atoms closer than ``cutoff`` in 3-D, periodic in x and y (rectangular cell).

    Parameters
    ----------
    positions
        ``(n, 3)`` Cartesian positions.
    cell
        Edge lengths (2 or 3 values) or a 3x3 rectangular cell matrix; only x and y are used (z is
        not periodic). Each of x, y must be at least ``2 * cutoff`` so that a bond has one image.

    Returns
    -------
    ``i`` ``(m,)``, ``j`` ``(m,)`` with ``i < j`` (each bond once), and ``d`` ``(m, 3)`` = the
    minimum-image vector from atom ``i`` to atom ``j``. Cost O(n) (cell lists) for large cells.
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise InputError(f"positions: expected shape (n, 3), got {pos.shape}")
    if not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and cutoff > 0):
        raise InputError(f"cutoff: expected a positive number, got {cutoff!r}")
    L = _periodic_lengths(cell, cutoff)
    n = pos.shape[0]
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)))
    if n < 2:
        return empty
    xy = np.mod(pos[:, :2], L)
    nb = np.floor(L / cutoff).astype(np.int64)
    if np.any(nb < 3) or n <= 256:
        # all pairs in chunks (few atoms, or a cell too narrow for three bins)
        out_i, out_j, out_d = [], [], []
        for s in range(0, n, 256):
            i = np.arange(s, min(n, s + 256))
            d = pos[None, :, :] - pos[i, None, :]
            d[..., :2] -= L * np.round(d[..., :2] / L)
            ii, jj = np.nonzero((np.einsum("abk,abk->ab", d, d) < cutoff * cutoff) & (np.arange(n)[None, :] > i[:, None]))
            out_i.append(i[ii]), out_j.append(jj), out_d.append(d[ii, jj])
        return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)
    # cell lists: bins of at least cutoff; each atom against the 3 x 3 bins around its own
    b = np.minimum((xy / (L / nb)).astype(np.int64), nb - 1)
    key = b[:, 0] * nb[1] + b[:, 1]
    order = np.argsort(key, kind="stable")
    counts = np.bincount(key, minlength=int(nb[0] * nb[1]))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out_i, out_j = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            nk = np.mod(b[:, 0] + dx, nb[0]) * nb[1] + np.mod(b[:, 1] + dy, nb[1])
            c = counts[nk]
            i = np.repeat(np.arange(n), c)
            first = np.repeat(starts[nk], c)
            within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
            j = order[first + within]
            keep = j > i
            out_i.append(i[keep]), out_j.append(j[keep])
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    d = pos[j] - pos[i]
    d[:, :2] -= L * np.round(d[:, :2] / L)
    keep = np.einsum("ak,ak->a", d, d) < cutoff * cutoff
    return i[keep], j[keep], d[keep]


def bond_height_sources(positions: Any, cell: Any, cutoff: float = BOND_CUTOFF) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of the bond-height channel: midpoints ``(m, 3)`` and ``(dz / u)^2`` ``(m,)``."""
    pos = np.asarray(positions, dtype=np.float64)
    i, _, d = bonds(pos, cell, cutoff)
    return pos[i] + 0.5 * d, (d[:, 2] / BOND_HEIGHT_UNIT) ** 2


def channel_sources(channels: Sequence[str], positions: Any, numbers: Any, cell: Any,
                    cutoff: float = BOND_CUTOFF) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(points (m, 3), weights (m,))`` for each channel, to be rasterized with :func:`ednn.rasterize`."""
    names = check_channels(channels)
    pos = np.asarray(positions, dtype=np.float64)
    out = []
    for name in names:
        if name == "V":
            out.append((pos, np.asarray(numbers, dtype=np.float64)))
        else:
            out.append(bond_height_sources(pos, cell, cutoff))
    return out


def flatten(positions: Any, cell: Any, *, cutoff: float = FLATTEN_CUTOFF, iterations: int = 12,
            tol: float = 1e-4) -> np.ndarray:
    """Intrinsic in-plane positions of a sheet: x, y moved so in-plane distances match 3-D ones.

    Minimises ``F = sum_pairs (|r_ij| - d_ij)^2`` over the in-plane positions, ``r_ij`` the in-plane
    (minimum-image) vector and ``d_ij`` the 3-D distance of each pair closer than ``cutoff`` in 3-D,
    starting from the projection, in the fixed periodic cell. Levenberg-Marquardt: each step is a
    damped linear least-squares solve (conjugate gradients), kept only if it lowers ``F`` (else the
    damping grows); so the result is a local minimum next to the projection, the same for equal
    inputs, and a supercell of a periodic sheet gets the repeated flattening of its cell.

    Parameters
    ----------
    positions
        ``(n, 3)`` Cartesian positions of a sheet in a rectangular cell periodic in x and y.
    cell
        Edge lengths or a 3x3 rectangular cell matrix (x, y used; each at least ``2 * cutoff``).
    cutoff
        Pairs closer than this in 3-D are fitted (default :data:`FLATTEN_CUTOFF`, first and second
        neighbours).
    iterations, tol
        At most ``iterations`` Levenberg-Marquardt steps (fewer once a step moves no atom by 1e-4 Å
        or lowers ``F`` by less than 1e-9 of it), each solved by conjugate gradients to relative
        tolerance ``tol``. Atoms end within ~1e-3 Å of the minimum (grid spacings: 0.05-0.1 Å).

    Returns
    -------
    ``(n, 3)`` float64: x, y replaced by the flattened positions (the mean displacement is zero; the
    cell is unchanged), z as given. Cost: O(pairs) per conjugate-gradient step; the steps grow with
    the cell's edge in bond lengths (long-wavelength ripples). For large sheets,
    :func:`ednn.atoms.localflat.flatten_windows` gets close to the same answer in O(N).
    """
    pos = np.asarray(positions, dtype=np.float64)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputError(f"iterations: expected a positive int, got {iterations!r}")
    if not (isinstance(tol, (int, float)) and 1e-12 <= tol < 1):
        raise InputError(f"tol: expected a number in [1e-12, 1), got {tol!r}")
    if pos.ndim == 2 and pos.shape[1] == 3 and len(pos) and np.ptp(pos[:, 2]) == 0:
        # a flat sheet: its in-plane distances are its 3-D distances, so it is its own flattening
        # (the solve below would return it unchanged; this skips its O(pairs) memory)
        _periodic_lengths(cell, cutoff)
        return pos.copy()
    i, j, d = bonds(pos, cell, cutoff)
    out = pos.copy()
    if len(i) == 0:
        return out
    L = _xy_lengths(cell)
    target = np.sqrt(np.einsum("kc,kc->k", d, d))
    out[:, :2] = fit_patch(pos[:, :2], i, j, L, target, iterations, tol)
    return out


def fit_patch(xy: np.ndarray, i: np.ndarray, j: np.ndarray, box: Any, target: np.ndarray, iterations: int = 12,
              tol: float = 1e-4, movable: np.ndarray | None = None) -> np.ndarray:
    """The compiled Levenberg-Marquardt fit (``ednn/flatten.hpp``; oracle:
    :func:`ednn.reference.flatten_patch`) of in-plane positions ``xy`` ``(n, 2)`` to the pair lengths
    ``target`` ``(m,)`` of pairs ``i``, ``j`` (minimum images in ``box``); ``movable`` ``(n,)`` bool or
    None (all move). Returns new positions ``(n, 2)``; releases the GIL while it runs."""
    out, _ = _ednn.flatten_patch(np.ascontiguousarray(xy, dtype=np.float64), movable,
                                 np.ascontiguousarray(i, dtype=np.int64), np.ascontiguousarray(j, dtype=np.int64),
                                 np.ascontiguousarray(target, dtype=np.float64), [float(v) for v in box],
                                 iterations, float(tol), _DAMPING, _MAX_STEP)
    return out
