"""One block of tiles of an atomic system: its window rasterized from the points near it, cut into tiles.

:func:`ednn.atoms.predict` visits a system block by block (in one process, or as Dask tasks through
:mod:`ednn.distributed`); both cut a block with :func:`block_tiles` from a small
:class:`BlockGeometry` and the block's own points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..rasterize import rasterize

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["BlockGeometry", "block_tiles"]


class BlockGeometry(NamedTuple):
    """What cutting one block of tiles needs besides its points (small; sent to Dask workers)."""

    grid: tuple[int, ...]
    lengths: tuple[float, ...]
    gamma: float
    focus: tuple[int, ...]
    context: tuple[int, ...]
    tile: tuple[int, ...]
    block: tuple[int, ...]
    n_tiles: tuple[int, ...]
    channels: int
    threads: int | None


def block_tiles(m: Model, geo: BlockGeometry, start: tuple[int, ...], points: np.ndarray, weights: np.ndarray,
                 chan: np.ndarray) -> np.ndarray:
    """The tiles ``(n, C, t...)`` of the block starting at tile ``start``, rasterized from the points
    near its window (``points`` ``(m, d)``, ``weights`` ``(m,)``, ``chan`` ``(m,)``), input-scaled."""
    d, f, c, t, C = len(geo.grid), geo.focus, geo.context, geo.tile, geo.channels
    counts = [min(geo.block[k], geo.n_tiles[k] - start[k]) for k in range(d)]
    origin = [start[k] * f[k] - c[k] for k in range(d)]
    window = [counts[k] * f[k] + 2 * c[k] for k in range(d)]
    w = np.empty((C,) + tuple(window), dtype=np.float32)
    for k in range(C):
        sel = chan == k
        rasterize(points[sel], weights[sel], geo.lengths, geo.grid, gamma=geo.gamma, origin=origin,
                  window_shape=window, threads=geo.threads, out=w[k])
    m.scale_input(w)
    view = np.lib.stride_tricks.sliding_window_view(w, (C,) + tuple(t))[(0,) + tuple(slice(None, None, fk) for fk in f)]
    # (n_1..n_d, C, t_1..t_d) -> (tiles, C, t...)
    return np.ascontiguousarray(view.reshape((-1, C) + tuple(t)))
