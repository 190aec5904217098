"""Exact speed-up of EDNN training on discrete grids: sum over *distinct* tiles, weighted by counts.

For grids whose cells take few values (Ising spins), a data set holds far fewer distinct tiles than
tiles: 8x8 lattices with f = c = 1 have 64 tiles each but at most 2^9 = 512 distinct ones. Since the
EDNN output is a sum of the network over tiles,

    E(x) = sum_i net(tile_i(x)) = sum_u count_u(x) net(u),

evaluating ``net`` once per distinct tile ``u`` and contracting with the per-example counts gives the
same outputs, losses and gradients (up to float rounding) at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tiling import tile

__all__ = ["UniqueTiles"]


class UniqueTiles:
    """Distinct tiles of a set of grids and each grid's tile counts.

    ``grids`` ``(N, C, S_1..S_d)``; ``tiles`` ``(U, C, t_1..t_d)`` (same dtype as ``grids``);
    ``counts`` ``(N, U)`` uint16: how often tile ``u`` occurs in grid ``n``.
    """

    def __init__(self, tiles: np.ndarray, counts: np.ndarray, n_tiles: int) -> None:
        self.tiles = tiles
        self.counts = counts
        self.n_tiles = n_tiles

    @classmethod
    def build(
        cls,
        grids: np.ndarray,
        focus: int | Sequence[int],
        context: int | Sequence[int],
        ndim: int,
        max_unique: int = 1 << 16,
    ) -> "UniqueTiles | None":
        """Count distinct tiles; None when there are more than ``max_unique`` (no speed-up then)."""
        g = np.ascontiguousarray(grids)
        N = g.shape[0]
        t = tile(g, focus, context, ndim=ndim)  # (n_1..n_d, N, C, t...)
        n_tiles = int(np.prod(t.shape[:ndim]))
        per = t.reshape((n_tiles, N) + t.shape[ndim + 1 :])
        shape = per.shape[2:]
        rows = np.ascontiguousarray(np.swapaxes(per, 0, 1)).reshape(N * n_tiles, -1)
        keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).reshape(-1)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if len(uniq) > max_unique or n_tiles >= 1 << 16:
            return None
        U = len(uniq)
        example = np.repeat(np.arange(N, dtype=np.int64), n_tiles)
        counts = np.bincount(example * U + inverse.reshape(-1), minlength=N * U).reshape(N, U).astype(np.uint16)
        return cls(rows[first].reshape((U,) + shape), counts, n_tiles)

    def __len__(self) -> int:
        return int(self.tiles.shape[0])

    def forward(self, net: Any, counts: Any, tiles: Any) -> Any:
        """``counts`` ``(B, U)`` float tensor, ``tiles`` ``(U, C, t...)`` float tensor -> ``(B, K)``."""
        return counts @ net(tiles)
