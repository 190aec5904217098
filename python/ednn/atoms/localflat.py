"""Flattening in windows: O(N) time, memory per window, for sheets too large for one solve.

:func:`ednn.atoms.bonds.flatten` solves one least-squares problem over the whole sheet: conjugate
gradients whose iterations grow with the sheet's edge (slow flexural modes), so its cost grows
faster than the number of atoms, and its pair arrays with it. :func:`flatten_windows` gets close to
the same answer in two passes over rectangular windows of the sheet, each holding only one window's
atoms and pairs at a time:

1. **Coarse.** The misfits of all pairs, linearised at the projection, are summed per cell of a
   coarse periodic grid (``coarse`` Å) as a quadratic form in the displacement gradient; the
   displacement of the grid's nodes (bilinear between them) that minimises their sum is found by
   conjugate gradients on the coarse grid (a few numbers per coarse cell, ``coarse_iterations``
   steps at most: CG lowers the strain error first, which is what an image shows). This carries
   the long, slow part of the solution — a rippled sheet in a fixed cell is compressed as a whole —
   which no window could see.
2. **Fine.** Each window (about ``window`` Å a side) with the atoms within ``halo`` of it is taken
   out of the periodic sheet; atoms in the outer ``cutoff`` of the halo are held where the coarse
   pass put them, the rest move (Levenberg-Marquardt on the full, non-linear misfits, as for the
   whole sheet), and only the window's own atoms keep their solution.

Each window costs the same whatever the sheet, so both passes are O(N) (the coarse solve is O(N)
per step with a step count set by ``coarse_iterations``). docs/scale.md states how far the result
is from the one global solve, in positions and in energy per atom, on thermal sheets where both run.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .._checks import check_threads
from ..errors import InputError
from .bonds import FLATTEN_CUTOFF, _xy_lengths, bonds, fit_patch, flatten

__all__ = ["flatten_sheet", "flatten_windows", "LOCAL_WINDOW", "LOCAL_HALO", "LOCAL_COARSE", "GLOBAL_MAX_ATOMS"]

#: Default window edge (Angstrom): about 340 atoms of graphene per window, 800 with its halo.
LOCAL_WINDOW = 30.0
#: Default halo (Angstrom) around each window; its outer ``cutoff`` is held where the coarse pass put it.
LOCAL_HALO = 8.0
#: Default coarse grid spacing (Angstrom).
LOCAL_COARSE = 5.0
#: ``flatten_sheet(method="auto")`` solves sheets of at most this many atoms at once, larger ones in windows.
GLOBAL_MAX_ATOMS = 50_000


def flatten_sheet(positions: Any, cell: Any, *, cutoff: float = FLATTEN_CUTOFF, method: str = "auto",
                  threads: int | None = None, progress: bool = False) -> np.ndarray:
    """Flattened positions ``(n, 3)`` by ``method``: ``global`` (:func:`ednn.atoms.bonds.flatten`, one
    solve: what the sheets models were trained with), ``local`` (:func:`flatten_windows`: O(N),
    memory per window) or ``auto``: global up to :data:`GLOBAL_MAX_ATOMS` atoms and for cells too
    small for a window and its halo, local beyond. A flat sheet is its own flattening either way."""
    if method not in ("auto", "global", "local"):
        raise InputError(f"method: expected 'auto', 'global' or 'local', got {method!r}")
    pos = np.asarray(positions, dtype=np.float64)
    if method == "auto":
        L = _xy_lengths(cell)
        _, w = _window_edges(L, LOCAL_WINDOW)
        wide = bool(np.all(w + 2 * LOCAL_HALO + cutoff <= L))
        method = "local" if wide and pos.ndim == 2 and len(pos) > GLOBAL_MAX_ATOMS else "global"
    flat = pos.ndim == 2 and pos.shape[1:] == (3,) and len(pos) and np.ptp(pos[:, 2]) == 0
    if method == "global" or flat:
        return flatten(pos, cell, cutoff=cutoff)
    return flatten_windows(pos, cell, cutoff=cutoff, threads=threads, progress=progress)


def _ordered(fn: Callable[[Any], Any], items: Iterable[Any], threads: int) -> Iterator[Any]:
    """``fn(item)`` for every item, in order, ``threads`` at a time (at most ``2 * threads`` items
    held at once: memory does not grow with the number of items)."""
    if threads <= 1:
        for item in items:
            yield fn(item)
        return
    with ThreadPoolExecutor(threads) as ex:
        queue: deque[Any] = deque()
        for item in items:
            queue.append(ex.submit(fn, item))
            if len(queue) >= 2 * threads:
                yield queue.popleft().result()
        while queue:
            yield queue.popleft().result()


def _window_edges(L: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Windows per axis (``round(L / window)``, at least 1) and their edges ``(2,)``."""
    nw = np.maximum(1, np.round(L / window)).astype(np.int64)
    return nw, L / nw


def _check_length(name: str, v: Any, lo: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= lo:
        raise InputError(f"{name}: expected a number (Angstrom) above {lo:g}, got {v!r}")
    return float(v)


class _Windows:
    """Rectangular windows of a periodic sheet and, window by window, its atoms within ``halo``."""

    def __init__(self, xy: np.ndarray, L: np.ndarray, window: float, halo: float, cutoff: float,
                 offset: float = 0.0) -> None:
        self.L, self.halo = L, halo
        self.nw, self.w = _window_edges(L, window)
        if np.any(self.w + 2 * halo + cutoff > L):
            raise InputError(f"cell: expected x and y edges of at least window + 2 halo + cutoff "
                             f"({float(np.max(self.w)) + 2 * halo + cutoff:.4g} Angstrom) for flattening in windows, "
                             f"got {L.tolist()} (a sheet this small is flattened in one solve)")
        self.shift = offset * self.w  # windows start this far from the origin
        self.xy = np.mod(xy - self.shift, L)
        b = np.minimum((self.xy / self.w).astype(np.int64), self.nw - 1)
        self.key = b[:, 0] * self.nw[1] + b[:, 1]
        self.order = np.argsort(self.key, kind="stable")
        self.first = np.concatenate([[0], np.cumsum(np.bincount(self.key, minlength=int(self.nw.prod())))])
        self.reach = [int(math.ceil(halo / self.w[k])) for k in range(2)]
        self.span = self.w + 2 * halo
        self.box = 2.0 * (self.span + cutoff)  # a patch spans less than half of it: its pairs never wrap

    def __len__(self) -> int:
        return int(self.nw.prod())

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(atom indices, their positions in the patch ``(m, 2)``, which of them are the window's own)."""
        nw = [int(v) for v in self.nw]
        for wx, wy in itertools.product(range(nw[0]), range(nw[1])):
            near = itertools.product(*({(c + o) % nw[k] for o in range(-self.reach[k], self.reach[k] + 1)}
                                       for k, c in enumerate((wx, wy))))
            idx = np.concatenate([self.order[self.first[q]:self.first[q + 1]] for q in (a * nw[1] + c for a, c in near)])
            origin = np.array([wx, wy]) * self.w - self.halo
            local = np.mod(self.xy[idx] - origin, self.L)  # unwrapped around the window
            inside = np.all(local < self.span, axis=1)
            idx, local = idx[inside], local[inside]
            yield idx, local, self.key[idx] == wx * nw[1] + wy


class _Coarse:
    """A periodic grid of ``n`` nodes per axis (spacing ``h``) carrying a displacement, bilinear
    between nodes; the pairs' linearised misfits summed per grid cell as a quadratic form in the
    cell's displacement gradient ``G = [dux/dx, dux/dy, duy/dx, duy/dy]`` (taken at its centre)."""

    def __init__(self, L: np.ndarray, spacing: float) -> None:
        self.n = np.maximum(2, np.round(L / spacing)).astype(np.int64)
        self.h = L / self.n
        shape = (int(self.n[0]), int(self.n[1]))
        self.M = np.zeros(shape + (4, 4))  # sum over the cell's pairs of q q^T
        self.b = np.zeros(shape + (4,))  # sum of q * misfit

    def add(self, mid: np.ndarray, e: np.ndarray, p: np.ndarray, r: np.ndarray) -> None:
        """Pairs at midpoints ``mid`` ``(m, 2)`` (wrapped), unit vectors ``e``, vectors ``p``, misfits ``r``."""
        c = np.minimum((mid / self.h).astype(np.int64), self.n - 1)
        cells, key = np.unique(c[:, 0] * self.n[1] + c[:, 1], return_inverse=True)  # the few cells touched
        size = int(self.n.prod())
        # e . (G p) = sum_ab e_a p_b G_ab: the pair's row in the four gradient components
        q = np.stack([e[:, 0] * p[:, 0], e[:, 0] * p[:, 1], e[:, 1] * p[:, 0], e[:, 1] * p[:, 1]], axis=1)
        M, b = self.M.reshape(size, 4, 4), self.b.reshape(size, 4)
        m = len(cells)
        for a in range(4):
            b[cells, a] += np.bincount(key, q[:, a] * r, minlength=m)
            for k in range(a, 4):
                v = np.bincount(key, q[:, a] * q[:, k], minlength=m)
                M[cells, a, k] += v
                if k != a:
                    M[cells, k, a] += v

    def _grad(self, U: np.ndarray) -> np.ndarray:
        """Cell-centre gradients ``(n0, n1, 4)`` of the node displacements ``U`` ``(2, n0, n1)``."""
        hx, hy = self.h
        out = []
        for c in range(2):
            u = U[c]
            u10, u01 = np.roll(u, -1, 0), np.roll(u, -1, 1)
            u11 = np.roll(u10, -1, 1)
            out += [(u10 - u + u11 - u01) / (2 * hx), (u01 - u + u11 - u10) / (2 * hy)]
        return np.stack(out, axis=-1)

    def _grad_t(self, S: np.ndarray) -> np.ndarray:
        """The adjoint of :meth:`_grad`: cell values ``(n0, n1, 4)`` -> node values ``(2, n0, n1)``."""
        hx, hy = self.h
        out = np.empty((2,) + S.shape[:2])
        for c in range(2):
            sx, sy = S[..., 2 * c] / (2 * hx), S[..., 2 * c + 1] / (2 * hy)
            # cell (i, j) touches nodes (i, j) (-x -y), (i+1, j) (+x -y), (i, j+1) (-x +y), (i+1, j+1) (+x +y)
            out[c] = (-sx - sy) + np.roll(sx - sy, 1, 0) + np.roll(-sx + sy, 1, 1) + np.roll(np.roll(sx + sy, 1, 0), 1, 1)
        return out

    def solve(self, iterations: int, damping: float = 1e-6) -> np.ndarray:
        """Node displacements ``(2, n0, n1)`` minimising ``sum_cells (G^T M G - 2 b^T G)`` (plus a
        small damping that holds the rigid translation), by at most ``iterations`` CG steps."""
        scale = float(np.einsum("ijaa->", self.M)) / max(int(self.n.prod()), 1) / float(np.min(self.h)) ** 2
        lam = damping * max(scale, 1e-300)

        def apply(U: np.ndarray) -> np.ndarray:
            return self._grad_t(np.einsum("ijab,ijb->ija", self.M, self._grad(U))) + lam * U

        U = np.zeros((2,) + tuple(int(v) for v in self.n))
        r = self._grad_t(self.b)
        p = r.copy()
        rr = rr0 = float(np.sum(r * r))
        for _ in range(iterations):
            if rr <= 1e-20 * rr0 or rr == 0:
                break
            Ap = apply(p)
            alpha = rr / float(np.sum(p * Ap))
            U += alpha * p
            r -= alpha * Ap
            rr_new = float(np.sum(r * r))
            p = r + (rr_new / rr) * p
            rr = rr_new
        return U - U.mean(axis=(1, 2), keepdims=True)

    def at(self, U: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """The bilinear displacement ``(m, 2)`` at wrapped points ``xy``."""
        x = xy / self.h
        c0 = np.minimum(np.floor(x).astype(np.int64), self.n - 1)
        t = x - c0
        out = np.zeros_like(xy)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            w = (t[:, 0] if dx else 1 - t[:, 0]) * (t[:, 1] if dy else 1 - t[:, 1])
            i0, i1 = (c0[:, 0] + dx) % self.n[0], (c0[:, 1] + dy) % self.n[1]
            out[:, 0] += w * U[0, i0, i1]
            out[:, 1] += w * U[1, i0, i1]
        return out


def flatten_windows(positions: Any, cell: Any, *, cutoff: float = FLATTEN_CUTOFF, window: float = LOCAL_WINDOW,
                    halo: float = LOCAL_HALO, coarse: float = LOCAL_COARSE, coarse_iterations: int = 400,
                    sweeps: int = 2, iterations: int = 12, tol: float = 1e-4, threads: int | None = None,
                    progress: bool = False) -> np.ndarray:
    """Flattened in-plane positions (as :func:`ednn.atoms.bonds.flatten`), in two passes over windows.

    Parameters
    ----------
    positions
        ``(n, 3)`` Cartesian positions of a sheet in a rectangular cell periodic in x and y.
    cell
        Edge lengths or a 3x3 rectangular cell matrix; each of x, y must hold a window and its halo
        on both sides plus ``cutoff`` (so that a window never meets its own periodic image).
    cutoff, iterations, tol
        As for :func:`~ednn.atoms.bonds.flatten` (the fine pass).
    window
        Target window edge (Å); each axis is cut into ``round(L / window)`` (at least 1) equal windows.
    halo
        Atoms this close to a window (Å) join its fine solve; the outer ``cutoff`` of them are held
        where the coarse pass put them. Must exceed ``cutoff``.
    coarse, coarse_iterations
        Spacing (Å) of the coarse grid and the most conjugate-gradient steps of its solve.
    sweeps
        Coarse and fine passes, each pair linearised at the previous pass's result; the windows of
        every second sweep are moved by half a window, so that no window edge stays where it was.
    threads
        Windows solved at once on this many threads (default: one per core; the result does not
        depend on it).
    progress
        A progress bar over the windows (both passes) on stderr.

    Returns
    -------
    ``(n, 3)`` float64: x, y moved (mean displacement zero, cell unchanged), z as given.
    """
    from ..progress import progress_bar

    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise InputError(f"positions: expected shape (n, 3), got {pos.shape}")
    cutoff = _check_length("cutoff", cutoff, 0.0)
    window = _check_length("window", window, 0.0)
    halo = _check_length("halo", halo, cutoff)
    coarse = _check_length("coarse", coarse, 0.0)
    for name, v, lo in (("coarse_iterations", coarse_iterations, 0), ("sweeps", sweeps, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise InputError(f"{name}: expected an int >= {lo}, got {v!r}")
    check_threads(threads)
    threads = threads or os.cpu_count() or 1
    L = _xy_lengths(cell)
    xy = np.mod(pos[:, :2], L)
    wins = _Windows(xy, L, window, halo, cutoff)
    out = pos.copy()
    if len(pos) == 0:
        return out
    box = np.array(wins.box)
    shifted = _Windows(xy, L, window, halo, cutoff, offset=0.5) if sweeps > 1 else wins
    D = np.zeros_like(xy)  # displacement from the projection

    def misfits(item: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
        """The window's pairs (each pair once over all windows: in the window of its lower-numbered
        atom) linearised at the current positions: midpoints, unit vectors, vectors, misfits."""
        idx, local, own = item
        i, j, d = bonds(np.column_stack([local, pos[idx, 2]]), box, cutoff)
        keep = own[np.where(idx[i] < idx[j], i, j)]
        i, j, d = i[keep], j[keep], d[keep]
        here = local + D[idx]
        p = here[j] - here[i]
        length = np.sqrt(np.einsum("kc,kc->k", p, p))
        e = p / np.maximum(length, 1e-12)[:, None]
        mid = np.mod(xy[idx[i]] + 0.5 * (local[j] - local[i]), L)
        return mid, e, p, np.sqrt(np.einsum("kc,kc->k", d, d)) - length

    def solve(item: tuple[np.ndarray, np.ndarray, np.ndarray], span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The window's own atoms and their displacements after its non-linear solve, the halo's
        edge held where the coarse pass put it."""
        idx, local, own = item
        p0 = local + D[idx]
        i, j, d = bonds(np.column_stack([local, pos[idx, 2]]), box, cutoff)
        if len(i):
            free = np.all((local >= cutoff) & (local < span - cutoff), axis=1)
            target = np.sqrt(np.einsum("kc,kc->k", d, d))
            p0 = fit_patch(p0, i, j, box, target, iterations, tol, free)
        return idx[own], p0[own] - local[own]

    bar = progress_bar(2 * sweeps * len(wins), "ednn flatten", "windows", enable=progress)
    try:
        for sweep in range(sweeps):
            ws = shifted if sweep % 2 else wins  # odd sweeps: windows moved by half a window
            grid = _Coarse(L, coarse)
            for parts in _ordered(misfits, ws, threads):  # summed here, in window order: deterministic
                grid.add(*parts)
                bar.update(1)
            D += grid.at(grid.solve(coarse_iterations), xy)
            del grid
            new = D.copy()
            for own, disp in _ordered(lambda item: solve(item, ws.span), ws, threads):
                new[own] = disp
                bar.update(1)
            D = new
    finally:
        bar.close()
    out[:, :2] += D
    out[:, :2] -= (out[:, :2] - pos[:, :2]).mean(axis=0)
    return out
