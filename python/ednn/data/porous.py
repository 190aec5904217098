"""Huge porous graphene sheets (paper sections 3.2.2-3.3: 35.2 million atoms on 1.0 µm²) in O(N).

:func:`porous_sheet` builds a rectangular periodic graphene sheet of any size with the pore
statistics of the training cells of :class:`ednn.data.sheets.PorousConfig`: pores as a Poisson
process of the same density (on average ``(pores_min + pores_max) / 2`` per 448-site porous cell of
34.09 × 34.44 Å), radii uniform in the same range, holes wrapping periodically and free to overlap,
then atoms left with fewer than two neighbours removed until none is left — as the training
generator does, without an O(N²) step: the lattice is regular, so neighbours are found by index
arithmetic on a boolean mask (one byte per site), and each pore visits only the sites of its own
bounding box. :func:`write_h5` / :func:`read_h5` store the result (positions, numbers, cell) in a
small HDF5 layout that ``ednn atoms predict`` reads; :func:`write_extxyz` writes what ASE reads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import two_ints
from .._io import atomic_path, atomic_write
from ..errors import InputError
from .sheets import BASE_CELLS, CELL_Z, POROUS_CELLS, RECT_CELL, pore_ranges

__all__ = ["porous_sheet", "cells_for_area", "write_h5", "read_h5", "write_extxyz", "STRUCTURE_FORMAT"]

#: ``format`` attribute of the HDF5 files of :func:`write_h5`.
STRUCTURE_FORMAT = "ednn-structure-1"
_C = 6
_BASIS = np.array([[0.0, 0.0], [1 / 3, 0.0], [1 / 2, 1 / 2], [5 / 6, 1 / 2]])  # fractions of (a sqrt3, a)
_SHIFT = np.array([1 / 12, 1 / 4])
# neighbours of basis site b: (basis, cell offset x, cell offset y), from the honeycomb geometry
_NEIGHBOURS = {
    0: ((1, 0, 0), (3, -1, 0), (3, -1, -1)),
    1: ((0, 0, 0), (2, 0, 0), (2, 0, -1)),
    2: ((1, 0, 0), (1, 0, 1), (3, 0, 0)),
    3: ((2, 0, 0), (0, 1, 0), (0, 1, 1)),
}


def cells_for_area(area: float, multiple: Sequence[int] = BASE_CELLS) -> tuple[int, int]:
    """Rectangular 4-atom cells ``(nx, ny)`` of a nearly square sheet of ``area`` Å² (1 µm² = 1e8 Å²),
    whole multiples of ``multiple`` (default the 60-site cell, 3 x 5, whose image grid every shipped
    sheets model divides)."""
    if not (math.isfinite(area) and area > 0):
        raise InputError(f"area: expected a positive area in Angstrom^2, got {area!r}")
    mx, my = two_ints("multiple", multiple, 1)
    side = math.sqrt(area)
    return (mx * max(1, round(side / (mx * RECT_CELL[0]))), my * max(1, round(side / (my * RECT_CELL[1]))))


def porous_sheet(
    cells: Sequence[int],
    seed: int = 0,
    *,
    pores: Sequence[int] = (1, 6),
    radius: Sequence[float] = (1.5, 5.0),
    batch: int = 20_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A porous graphene sheet of ``cells = (nx, ny)`` rectangular 4-atom cells.

    ``pores``: (min, max) pores per 448-site porous training cell, whose mean sets the pore density;
    ``radius``: (min, max) pore radius in Å. Returns ``positions`` ``(n, 3)`` float64 (z =
    :data:`~ednn.data.sheets.CELL_Z` / 2), ``numbers`` ``(n,)`` uint8 (carbon) and ``cell``
    ``(3,)`` edge lengths (Å). Memory: the result plus one byte per lattice site.
    """
    nx, ny = two_ints("cells", cells, 1)
    (lo, hi), (rmin, rmax) = pore_ranges(pores, radius)
    ax, ay = RECT_CELL
    L = np.array([nx * ax, ny * ay])
    rng = np.random.default_rng([int(seed), 35_200_000])
    density = 0.5 * (lo + hi) / (POROUS_CELLS[0] * ax * POROUS_CELLS[1] * ay)
    n_pores = int(rng.poisson(density * L[0] * L[1]))
    keep = np.ones((nx, ny, 4), dtype=bool)
    # every lattice site a pore of radius <= rmax can reach lies in a box of bx x by cells around it
    bx, by = int(math.ceil(2 * rmax / ax)) + 2, int(math.ceil(2 * rmax / ay)) + 2
    ox, oy = np.meshgrid(np.arange(bx), np.arange(by), indexing="ij")
    for start in range(0, n_pores, batch):
        m = min(batch, n_pores - start)
        centre = rng.uniform(0.0, 1.0, (m, 2)) * L
        r = rng.uniform(rmin, rmax, m)
        cx = np.floor((centre[:, 0] - rmax) / ax).astype(np.int64) - 1  # first cell of each pore's box
        cy = np.floor((centre[:, 1] - rmax) / ay).astype(np.int64) - 1
        ix = cx[:, None, None, None] + ox[None, :, :, None]  # (m, bx, by, 1)
        iy = cy[:, None, None, None] + oy[None, :, :, None]
        px = (ix + _BASIS[:, 0] + _SHIFT[0]) * ax - centre[:, None, None, None, 0]
        py = (iy + _BASIS[:, 1] + _SHIFT[1]) * ay - centre[:, None, None, None, 1]
        inside = px * px + py * py < (r * r)[:, None, None, None]  # (m, bx, by, 4); boxes never wrap twice
        w, a, b, k = np.nonzero(inside)
        keep[np.mod(ix[w, a, b, 0], nx), np.mod(iy[w, a, b, 0], ny), k] = False
    del ox, oy
    _prune(keep)
    ii, jj, kk = np.nonzero(keep)
    n = len(ii)
    positions = np.empty((n, 3), dtype=np.float64)
    positions[:, 0] = (ii + _BASIS[kk, 0] + _SHIFT[0]) * ax
    positions[:, 1] = (jj + _BASIS[kk, 1] + _SHIFT[1]) * ay
    positions[:, 2] = CELL_Z / 2
    del ii, jj, kk
    return positions, np.full(n, _C, dtype=np.uint8), np.array([L[0], L[1], CELL_Z])


def _degree(keep: np.ndarray) -> np.ndarray:
    """Kept neighbours of every site, ``(nx, ny, 4)`` uint8 (periodic)."""
    deg = np.zeros(keep.shape, dtype=np.uint8)
    for b, neighbours in _NEIGHBOURS.items():
        for nb, dx, dy in neighbours:
            deg[:, :, b] += np.roll(keep[:, :, nb], (-dx, -dy), axis=(0, 1))
    return deg


def _prune(keep: np.ndarray) -> None:
    """Remove kept sites with fewer than two kept neighbours, until none is left (in place)."""
    while True:
        drop = keep & (_degree(keep) < 2)
        if not drop.any():
            return
        keep &= ~drop


def write_h5(path: str | os.PathLike[str], positions: np.ndarray, numbers: np.ndarray, cell: Sequence[float],
             **attrs: Any) -> Path:
    """Write a structure (``positions`` ``(n, 3)``, ``numbers`` ``(n,)``, ``cell`` edge lengths) to HDF5.

    Written to a temporary file beside ``path`` and renamed into place. Extra ``attrs`` (numbers,
    strings) are stored as root attributes.
    """
    import h5py

    p = Path(path)
    with atomic_path(p, name="path") as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["format"] = STRUCTURE_FORMAT
        h5.attrs["cell"] = np.asarray(cell, dtype=np.float64)
        h5.attrs["pbc"] = np.array([True, True, False])
        for k, v in attrs.items():
            h5.attrs[k] = v
        n = max(1, len(numbers))
        h5.create_dataset("positions", data=np.asarray(positions, dtype=np.float64), chunks=(min(n, 1 << 16), 3))
        h5.create_dataset("numbers", data=np.asarray(numbers, dtype=np.uint8), chunks=(min(n, 1 << 18),))
    return p


def read_h5(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """``positions``, ``numbers``, ``cell`` and the root attributes of a :func:`write_h5` file."""
    import h5py

    with h5py.File(path, "r") as h5:
        if h5.attrs.get("format") != STRUCTURE_FORMAT:
            raise InputError(f"path: expected an {STRUCTURE_FORMAT} file, got {str(path)!r} with format "
                             f"{h5.attrs.get('format')!r}")
        attrs = {k: v for k, v in h5.attrs.items()}
        return h5["positions"][:], h5["numbers"][:].astype(np.int64), np.asarray(attrs.pop("cell")), attrs


def write_extxyz(path: str | os.PathLike[str], positions: np.ndarray, numbers: np.ndarray, cell: Sequence[float],
                 chunk: int = 1 << 20) -> Path:
    """Write an extended-XYZ file (what ``ase.io.read`` reads) in chunks, without building an ``ase.Atoms``."""
    p = Path(path)
    symbols = {5: "B", 6: "C", 7: "N"}
    c = [float(v) for v in cell]
    with atomic_write(p, "w", name="path") as fh:
        fh.write(f"{len(positions)}\n")
        fh.write(f'Lattice="{c[0]!r} 0.0 0.0 0.0 {c[1]!r} 0.0 0.0 0.0 {c[2]!r}" Properties=species:S:1:pos:R:3 '
                 'pbc="T T F"\n')
        for s in range(0, len(positions), chunk):
            z = np.asarray(numbers[s:s + chunk])
            sym = np.array([symbols.get(int(v), "X") for v in np.unique(z)])[np.searchsorted(np.unique(z), z)]
            block = np.column_stack([sym, np.char.mod("%.8f", positions[s:s + chunk])])
            fh.write("\n".join(" ".join(row) for row in block) + "\n")
    return p
