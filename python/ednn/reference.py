"""Pure-NumPy oracles of the compiled kernels, written the way a user would write them.

They are the tests' reference and the benchmarks' baseline; they favour clarity over speed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_divisible, per_axis, resolve_ndim
from .errors import InputError

__all__ = ["tile", "ising_energy", "ising_tile_energy", "rasterize", "bonds", "flatten", "flatten_patch"]


def tile(
    grid: np.ndarray, focus: int | Sequence[int], context: int | Sequence[int], ndim: int | None = None
) -> np.ndarray:
    """Reference tiler: wrap-pad once, take a strided window view, copy.

    ``grid`` ``(*lead, S_1..S_d)`` -> ``(n_1..n_d, *lead, t_1..t_d)``, same contract as
    :func:`ednn.tile`.
    """
    grid = np.asarray(grid)
    d = resolve_ndim(ndim, grid.ndim)
    f = per_axis("focus", focus, d, 1)
    c = per_axis("context", context, d, 0)
    lead = grid.ndim - d
    check_divisible(grid.shape[lead:], f)
    padded = np.pad(grid, [(0, 0)] * lead + [(ck, ck) for ck in c], mode="wrap")
    t = tuple(fk + 2 * ck for fk, ck in zip(f, c))
    axes = tuple(range(lead, grid.ndim))
    windows = sliding_window_view(padded, t, axis=axes)  # (*lead, W_1..W_d, t_1..t_d)
    windows = windows[(Ellipsis,) + tuple(slice(None, None, fk) for fk in f) + (slice(None),) * d]
    # (*lead, n_1..n_d, t...) -> (n_1..n_d, *lead, t...)
    order = tuple(range(lead, lead + d)) + tuple(range(lead)) + tuple(range(lead + d, lead + 2 * d))
    return np.ascontiguousarray(windows.transpose(order))


def ising_energy(spins: np.ndarray, J: float = 1.0) -> np.ndarray | float:
    """Nearest-neighbour Ising energy ``-J sum_<ij> s_i s_j`` on a periodic 2-D lattice.

    ``spins`` ``(..., L1, L2)`` of +-1; each bond counted once. Returns a float64 per lattice.
    """
    s = np.asarray(spins, dtype=np.float64)
    if s.ndim < 2:
        raise InputError(f"spins: expected at least 2 axes (..., L1, L2), got shape {s.shape}")
    e = -J * (s * np.roll(s, -1, axis=-1) + s * np.roll(s, -1, axis=-2)).sum(axis=(-1, -2))
    return float(e) if np.ndim(e) == 0 else e


def ising_tile_energy(tiles: np.ndarray) -> np.ndarray:
    """Exact per-tile Ising contribution for f = c = 1: ``-s[1,1] (s[1,2] + s[2,1])``.

    ``tiles`` ``(N, 1, 3, 3)`` -> ``(N, 1)`` float64.
    """
    t = np.asarray(tiles, dtype=np.float64)
    return (-t[:, 0, 1, 1] * (t[:, 0, 1, 2] + t[:, 0, 2, 1]))[:, None]


def rasterize(
    positions: Any,
    numbers: Any = None,
    cell: Any = None,
    shape: Sequence[int] | None = None,
    *,
    gamma: float = 0.2,
    out: np.ndarray | None = None,
    origin: int | Sequence[int] | None = None,
    window_shape: int | Sequence[int] | None = None,
    dtype: Any = None,
) -> np.ndarray:
    """Reference rasterizer: every atom image against every window point, by brute force.

    Same contract as :func:`ednn.rasterize` (CPU only). For every image shift ``n`` (per axis, every
    integer whose image can come within ``r_c`` of the window) and every atom,
    ``Z_i exp(-|x - r_i - n L|^2 / (2 gamma^2))`` is evaluated on the whole window and kept where
    every axis has ``|x_k - r_ik - n_k L_k| <= r_c`` (the documented cutoff). Atoms are not wrapped:
    the image sum reaches them wherever they are.
    """
    from .rasterize import CUTOFF_GAMMAS, _out_dtype, prepare

    s = prepare(positions, numbers, cell, shape, gamma, origin, window_shape)
    dt = _out_dtype(dtype, out)
    d = len(s.shape)
    L = np.array(s.cell)
    rc = s.gamma * CUTOFF_GAMMAS
    # coordinates of the window's points along each axis (grid index o + j at (o + j) L / N)
    coords = [((s.origin[k] % s.shape[k]) + np.arange(s.window[k])) * (s.cell[k] / s.shape[k]) for k in range(d)]
    V = np.zeros(s.window)
    if V.size and len(s.numbers):
        lo = np.array([c[0] for c in coords])
        hi = np.array([c[-1] for c in coords])
        n_lo = np.floor((lo - rc - s.positions.max(axis=0)) / L).astype(np.int64)
        n_hi = np.ceil((hi + rc - s.positions.min(axis=0)) / L).astype(np.int64)
        chunk = max(1, (1 << 21) // V.size)
        for n in itertools.product(*(range(a, b + 1) for a, b in zip(n_lo, n_hi))):
            images = s.positions + np.array(n) * L
            near = np.all((images + rc >= lo) & (images - rc <= hi), axis=1)
            p_near, z_near = images[near], s.numbers[near]
            for start in range(0, len(p_near), chunk):
                p, z = p_near[start : start + chunk], z_near[start : start + chunk]
                d2: Any = 0.0
                for k in range(d):
                    dk = coords[k][None, :] - p[:, k : k + 1]  # (atoms, W_k)
                    dk = np.where(np.abs(dk) <= rc, dk, np.inf)  # beyond the cutoff: a zero term
                    d2 = d2 + dk.reshape((len(p),) + (1,) * k + (-1,) + (1,) * (d - k - 1)) ** 2
                d2 *= -1.0 / (2.0 * s.gamma**2)  # |r - r_i|^2 on every (atom, point) pair
                V += np.tensordot(z, np.exp(d2, out=d2), axes=1)
    if out is None:
        return V.astype(dt)
    if not isinstance(out, np.ndarray) or out.shape != s.window or out.dtype != dt:
        raise InputError(f"out: expected a NumPy array of shape {s.window} and dtype {dt}")
    out[...] = V
    return out


def bonds(positions: Any, lengths: Sequence[float], cutoff: float, images: int = 3) -> dict[tuple[int, int], list[np.ndarray]]:
    """Oracle of :func:`ednn.atoms.bonds.bonds`: for every pair ``i < j``, the vectors from ``i`` to the
    images of ``j`` (x-y shifts of -images..images cells) shorter than ``cutoff`` in 3-D."""
    pos = np.asarray(positions, dtype=np.float64)
    L = np.asarray(lengths, dtype=np.float64)[:2]
    found: dict[tuple[int, int], list[np.ndarray]] = {}
    n = pos.shape[0]
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    for sx, sy in itertools.product(range(-images, images + 1), repeat=2):
        d = pos[None, :, :] - pos[:, None, :] + np.array([sx * L[0], sy * L[1], 0.0])  # d[i, j] = r_j + shift - r_i
        for i, j in zip(*np.nonzero(upper & (np.sqrt((d * d).sum(axis=-1)) < cutoff))):
            found.setdefault((int(i), int(j)), []).append(d[i, j])
    return found


def flatten(positions: Any, lengths: Sequence[float], cutoff: float, iterations: int = 6) -> np.ndarray:
    """Oracle of :func:`ednn.atoms.bonds.flatten` for small sheets: Gauss-Newton with dense least squares.

    Pairs from :func:`bonds`; each step solves ``min sum_k (e_k . (u_j - u_i) - (|d_k| - |r_k|))^2``
    with ``np.linalg.lstsq`` (minimum norm), ``r_k`` the in-plane minimum-image vector, ``e_k`` its
    direction and ``|d_k|`` the 3-D distance; the mean displacement is removed."""
    pos = np.asarray(positions, dtype=np.float64)
    L = np.asarray(lengths, dtype=np.float64)[:2]
    pairs = [(i, j, d) for (i, j), ds in bonds(pos, L, cutoff).items() for d in ds]
    p = pos[:, :2].copy()
    n = pos.shape[0]
    for _ in range(iterations):
        A = np.zeros((len(pairs), 2 * n))
        b = np.zeros(len(pairs))
        for k, (i, j, d) in enumerate(pairs):
            r = p[j] - p[i]
            r -= L * np.round(r / L)
            e = r / np.linalg.norm(r)
            A[k, 2 * j : 2 * j + 2] = e
            A[k, 2 * i : 2 * i + 2] = -e
            b[k] = np.linalg.norm(d) - np.linalg.norm(r)
        u = np.linalg.lstsq(A, b, rcond=None)[0].reshape(n, 2)
        p += u - u.mean(axis=0)
    out = pos.copy()
    out[:, :2] = p
    return out


def flatten_patch(xy: Any, movable: Any, i: Any, j: Any, target: Any, box: Sequence[float], iterations: int = 12,
                  tol: float = 1e-4, damping_min: float = 1e-3, max_step: float = 1.0) -> tuple[np.ndarray, int]:
    """Oracle of the compiled ``flatten_patch`` (``ednn/flatten.hpp``): the same Levenberg-Marquardt
    steps in NumPy. ``xy`` ``(n, 2)``, ``movable`` ``(n,)`` bool or None, pairs ``i``, ``j`` ``(m,)``
    with ``target`` lengths, minimum images in ``box`` ``(2,)``. Returns (positions ``(n, 2)``,
    steps kept)."""
    p = np.array(xy, dtype=np.float64)
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    target = np.asarray(target, dtype=np.float64)
    L = np.asarray(box, dtype=np.float64)
    free = None if movable is None else np.asarray(movable, dtype=bool)
    n = p.shape[0]
    if n == 0 or len(i) == 0:
        return p, 0

    def misfit(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = q[j] - q[i]
        r -= L * np.round(r / L)
        return r, np.sqrt(np.einsum("kc,kc->k", r, r)) - target

    def at_mul(e: np.ndarray, r: np.ndarray) -> np.ndarray:
        out = np.zeros((n, 2))
        np.add.at(out, j, r[:, None] * e)
        np.add.at(out, i, -r[:, None] * e)
        if free is not None:
            out[~free] = 0.0
        return out

    def cgls(e: np.ndarray, b: np.ndarray, damping: float) -> np.ndarray:
        u = np.zeros((n, 2))
        r = b.copy()
        s = at_mul(e, r)
        p_ = s.copy()
        gamma = gamma0 = float(np.sum(s * s))
        for _ in range(4 * n + 200):
            if gamma <= tol * tol * gamma0 or gamma == 0:
                break
            q = np.einsum("kc,kc->k", e, p_[j] - p_[i])
            delta = float(q @ q) + damping * float(np.sum(p_ * p_))
            if not 0 < delta < np.inf:
                break
            alpha = gamma / delta
            u_new = u + alpha * p_
            r = r - alpha * q
            s = at_mul(e, r) - damping * u_new
            g_new = float(np.sum(s * s))
            if not g_new < 1e8 * gamma0:
                break
            u = u_new
            p_ = s + (g_new / gamma) * p_
            gamma = g_new
        return u

    r, res = misfit(p)
    f = float(res @ res)
    damping, kept = damping_min, 0
    for _ in range(iterations):
        e = r / np.maximum(res + target, 1e-12)[:, None]
        u = cgls(e, -res, damping)
        if free is None:
            u -= u.mean(axis=0)
        step = float(np.abs(u).max())
        if step > max_step:
            u *= max_step / step
        r_new, res_new = misfit(p + u)
        f_new = float(res_new @ res_new)
        if f_new < f:
            p += u
            gain, f, r, res = f - f_new, f_new, r_new, res_new
            damping = max(damping_min, damping / 10.0)
            kept += 1
            if step < 1e-4 or gain < 1e-9 * f:
                break
        else:
            damping *= 10.0
    return p, kept
