"""Does the network ignore its context? The context-blur study of the paper (Fig. 6).

A Gaussian blur is applied to part of every tile and the change of the tile's contribution is
measured: in a band of growing width at the tile's outer edge (the context first), or in a square
of the same number of pixels at the centre of the focus. A network that uses its context only to
see the neighbourhood of the focus barely reacts to the first and reacts strongly to the second.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..atoms.recipe import ImageRecipe
from ..errors import InputError, require_extra
from ..inference import default_batch_size, run_tiles
from ..model import Model, load_model
from ..tiling import tile

__all__ = ["masks", "context_blur"]


def masks(t: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean ``(t, t)`` masks: the band of ``width`` pixels along the tile's edge, and a centred
    square with (as nearly as a square allows) the same number of pixels."""
    i = np.arange(t)
    edge_dist = np.minimum(i, t - 1 - i)
    band = np.minimum.outer(edge_dist, edge_dist) < width
    side = int(round(np.sqrt(band.sum())))
    lo = (t - side) // 2
    centre = np.zeros((t, t), dtype=bool)
    centre[lo:lo + side, lo:lo + side] = True
    return band, centre


def context_blur(model: str | os.PathLike[str] | Model, structures: Sequence[Any], widths: Sequence[int], *,
                 sigma: float = 2.0, threads: int | None = None) -> dict[str, Any]:
    """Mean |ΔE| per tile when a band at the edge, or a square at the centre, is blurred.

    ``structures``: ``ase.Atoms`` the model can image (held-out cells); ``widths`` in pixels;
    ``sigma``: the blur's standard deviation in pixels. Returns ``widths``, ``pixels`` (per mask),
    ``edge`` and ``centre`` (mean |ΔE| per tile, in the model's units), ``tiles`` (how many) and
    ``mean_abs_tile`` (the mean |contribution| of a tile, for scale).
    """
    require_extra("atoms", "ednn.evaluate.blur", "scipy")
    from scipy.ndimage import gaussian_filter

    m = load_model(model)
    if m.ndim != 2 or m.channels != 1 or m.tile[0] != m.tile[1]:
        raise InputError(f"model: expected a one-channel 2-D model with square tiles, got tile {m.tile}")
    recipe = ImageRecipe.from_model(m)
    t = m.tile[0]
    if not widths or any(int(w) < 1 or 2 * int(w) > t for w in widths):
        raise InputError(f"widths: expected pixel widths in 1..{t // 2} (half the tile), got {list(widths)!r}")
    tiles = []
    for a in structures:
        grid = recipe.image(a.get_positions(), a.numbers, a.cell.array, focus=m.focus)[0]
        tiles.append(tile(grid, m.focus, m.context).reshape(-1, t, t))
    x = np.concatenate(tiles).astype(np.float32)
    blurred = np.stack([gaussian_filter(v, sigma, mode="nearest") for v in x]).astype(np.float32)

    def values(batch: np.ndarray) -> np.ndarray:
        v = np.ascontiguousarray(batch[:, None])
        m.scale_input(v.reshape(1, -1))  # one channel: one scale and offset for every pixel
        out = np.empty((len(v), 1))
        run_tiles(m, [0], lambda _, slot: (0, v, np.arange(len(v))), groups=1, total=len(v),
                  batch_size=default_batch_size(m, len(v)), threads=threads, per_tile=out)
        return out[:, 0]

    base = values(x)
    res: dict[str, Any] = {"widths": [int(w) for w in widths], "pixels": [], "edge": [], "centre": [],
                           "tiles": len(x), "mean_abs_tile": float(np.mean(np.abs(base)))}
    for w in widths:
        band, centre = masks(t, int(w))
        res["pixels"].append([int(band.sum()), int(centre.sum())])
        for key, mask in (("edge", band), ("centre", centre)):
            y = np.where(mask, blurred, x)
            res[key].append(float(np.mean(np.abs(values(y) - base))))
    return res
