"""Pure-NumPy oracles of the compiled kernels, written the way a user would write them.

They are the tests' reference and the benchmarks' baseline; they favour clarity over speed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._params import check_divisible, per_axis, resolve_ndim
from .errors import InputError

__all__ = ["tile", "ising_energy", "ising_tile_energy"]


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
