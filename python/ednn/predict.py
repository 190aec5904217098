"""Streaming EDNN inference: tile batches flow through ONNX Runtime, contributions are summed in float64."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _ednn
from ._checks import check_divisible, check_optional_positive_int, check_threads
from .errors import InputError
from .inference import batch_tiles, run_tiles
from .model import Model, load_model

__all__ = ["predict", "prepare_grid", "FLOAT32_OVERFLOW"]

#: Magnitude from which a float64 becomes inf in float32: 2^128 - 2^103, float32's largest value
#: plus half an ulp (round-to-nearest-even goes up there); below it values round to at most that.
FLOAT32_OVERFLOW = 2.0**128 - 2.0**103


def prepare_grid(model: Model, grid: Any) -> tuple[np.ndarray, bool]:
    """Check ``grid`` against ``model`` and return it as ``(B, C, S_1..S_d)`` plus whether it was batched.

    Raises :class:`~ednn.errors.InputError` for a wrong rank or channel count, sizes that the focus
    does not divide, or values that are not finite or beyond float32's range, which the network
    would see as inf (naming the first bad index).
    """
    g = np.asarray(grid)
    if g.dtype.kind not in "biuf":
        raise InputError(f"grid: expected a real numeric or boolean array, got dtype {g.dtype}")
    d, C = model.ndim, model.channels
    single = d if C == 1 else d + 1
    layout = "(S_1..S_d)" if C == 1 else f"({C}, S_1..S_d)"
    if g.ndim == single:
        batched = False
        g = g[None]
    elif g.ndim == single + 1:
        batched = True
    else:
        raise InputError(
            f"grid: expected {single} axes {layout} or {single + 1} with a leading batch axis for a model with "
            f"ndim={d} and {C} channel(s), got shape {g.shape}"
        )
    if C == 1:
        g = g[:, None]
    elif g.shape[1] != C:
        raise InputError(f"grid: expected {C} channels on axis {0 if not batched else 1}, got {g.shape[1]} (shape {g.shape})")
    check_divisible(g.shape[2:], model.focus)
    if g.dtype.kind == "f" and g.size:
        # |x| below FLOAT32_OVERFLOW rounds to a finite float32; nan, inf and larger values do not
        if g.dtype.itemsize > 4:
            fits = g < FLOAT32_OVERFLOW  # boolean masks only: no float copy of a large grid
            fits &= g > -FLOAT32_OVERFLOW
        else:
            fits = np.isfinite(g)
        if not fits.all():
            bad = np.unravel_index(int(np.argmin(fits.reshape(-1))), g.shape)
            idx = bad[1:] if C > 1 else bad[2:]
            idx = ((bad[0],) + idx) if batched else idx
            what = ("values within float32's range (|x| <= 3.4028235e+38)" if np.isfinite(g[bad])
                    else "finite values")
            raise InputError(f"grid: expected {what}, got {g[bad]} at index {tuple(int(i) for i in idx)}")
    return g, batched


def predict(
    model: str | os.PathLike[str] | Model,
    grid: Any,
    *,
    batch_size: int | None = None,
    providers: Sequence[Any] | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> float | np.ndarray:
    """Extensive quantities of periodic grids from an EDNN model file.

    Parameters
    ----------
    model
        Path of an EDNN ONNX file, or an :class:`ednn.Model` (sessions are cached).
    grid
        ``(S_1..S_d)`` for a one-channel model, else ``(C, S_1..S_d)``; one more leading axis makes a
        batch ``(B, ...)``. Every ``S_k`` must be a multiple of the model's focus. Any real dtype.
    batch_size
        Tiles per ONNX Runtime call; default: about 8 MiB of float32 tiles, at most
        :data:`~ednn.inference.DEFAULT_BATCH_TILES` (the network's activations grow with the batch).
    providers
        ONNX Runtime execution providers; default CUDA when onnxruntime-gpu sees a GPU, else CPU.
    threads
        ONNX Runtime intra-op threads, at most ``ednn_max_threads()`` (4 per core); default: ONNX
        Runtime's default. Tiles are cut on one background thread, one batch ahead of the network.
    progress
        Show a progress bar over tiles on stderr.

    Returns
    -------
    A float for one grid and a one-output model; otherwise an array ``(K,)`` or, for a batch,
    ``(B, K)``, in float64. Tiles stream through the network, cut from the grid as given and
    converted to float32 one batch at a time, so memory stays at the grid plus two batches of tiles
    (a broadcast or memory-mapped grid is never copied); contributions are accumulated in float64.
    """
    check_optional_positive_int("batch_size", batch_size)
    check_threads(threads)
    m = load_model(model)
    g, batched = prepare_grid(m, grid)
    B = g.shape[0]
    spatial = g.shape[2:]
    n_tiles = int(np.prod([s // f for s, f in zip(spatial, m.focus)], dtype=np.int64))
    K = m.n_outputs
    if B == 0:
        return np.zeros((0, K), dtype=np.float64)
    batch_size = batch_tiles(m, batch_size, n_tiles)
    jobs = ((b, first, min(batch_size, n_tiles - first)) for b in range(B) for first in range(0, n_tiles, batch_size))
    # tiles are cut from the grid as it is and converted to float32 (and scaled) one batch at a time:
    # memory stays at two batches whatever the size or dtype of the grid (a broadcast view included)
    buffers = [np.empty((batch_size, m.channels) + m.tile, dtype=np.float32) for _ in range(2)]
    raw = None if g.dtype == np.float32 else [np.empty(buf.shape, dtype=g.dtype) for buf in buffers]

    def make_tiles(job: tuple[int, int, int], slot: int) -> tuple[int, np.ndarray]:
        b, first, count = job
        buf = buffers[slot][:count]
        if raw is None:
            _ednn.tile_host(g[b], buf, m.ndim, m.focus, m.context, first, count, 1)
        else:
            cut = raw[slot][:count]
            _ednn.tile_host(g[b], cut, m.ndim, m.focus, m.context, first, count, 1)
            np.copyto(buf, cut, casting="unsafe")
        if m.scales_input:
            m.scale_input(buf.swapaxes(0, 1))  # (C, count, t...): per channel
        return b, buf

    totals = run_tiles(m, jobs, make_tiles, groups=B, total=B * n_tiles, batch_size=batch_size, providers=providers,
                       threads=threads, progress=progress, desc="ednn predict")
    if not batched:
        return float(totals[0, 0]) if K == 1 else totals[0]
    return totals
