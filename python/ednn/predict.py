"""Streaming EDNN inference: tile batches flow through ONNX Runtime, contributions are summed in float64.

With a Dask client, :func:`predict` cuts each grid into slabs of whole rows of focus along its
first axis; a task receives its slab with the periodic halo of context cells it reads (cut here,
never the whole grid), runs the same loop (:func:`_run_grids`) and returns a float64 partial sum
(:mod:`ednn.distributed` adds them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import _ednn
from ._checks import check_divisible, check_optional_positive_int, check_threads
from .errors import InputError
from .inference import batch_tiles, run_tiles
from .model import Model, load_model

__all__ = [
    "BLOCKS_PER_WORKER",
    "DEFAULT_BLOCK_BYTES",
    "FLOAT32_OVERFLOW",
    "default_block_rows",
    "predict",
    "prepare_grid",
]

#: Magnitude from which a float64 becomes inf in float32: 2^128 - 2^103, float32's largest value
#: plus half an ulp (round-to-nearest-even goes up there); below it values round to at most that.
FLOAT32_OVERFLOW = 2.0**128 - 2.0**103

#: Default most bytes of grid one Dask task receives (its slab and halo): far below Dask's 10 MB
#: large-graph warning and a worker's memory, yet ~10^6 cells, seconds of work per task ...
DEFAULT_BLOCK_BYTES = 4 << 20
#: ... and at least this many slabs per worker when the grid is smaller (load balance: a slow or
#: lost worker delays the end by one small task).
BLOCKS_PER_WORKER = 8
#: Slabs larger than this (a big ``block_rows``, or one row of focus of a huge 3-D grid) are sent
#: with Dask's large-graph warning raised above them: they are sent on purpose.
_DASK_WARN_BYTES = 8 << 20


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
    client: Any = None,
    block_rows: int | None = None,
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
        :data:`~ednn.inference.DEFAULT_BATCH_TILES` and the model's ``ednn.batch_tiles`` (the
        network's activations grow with the batch; :func:`ednn.inference.default_batch_size`).
    providers
        ONNX Runtime execution providers; default CUDA when onnxruntime-gpu sees a GPU, else CPU.
    threads
        ONNX Runtime intra-op threads, at most ``ednn_max_threads()`` (4 per core); default: ONNX
        Runtime's default. Tiles are cut on one background thread, one batch ahead of the network.
    progress
        Show a progress bar over tiles on stderr.
    client
        A ``dask.distributed.Client`` (extra ``dist``): each grid is cut into slabs of ``block_rows``
        rows of focus along its first axis, and each slab, with the periodic halo of context cells
        its tiles read, is one task on the client's workers (never the whole grid); the partial sums
        come back in float64 and are added here, so the answer is the one-process answer up to the
        order of the float64 additions (~1e-15 relative). ``threads`` is then per task (default 1,
        one per Dask worker thread). The workers read the model from its path, so it must exist
        there too (any path on a local cluster; a shared file system on a real one). Tasks lost
        with a worker run again. Memory here: the grid plus a few slabs per worker in flight.
    block_rows
        Rows of focus per task (along the first axis); default :func:`default_block_rows`: at most
        :data:`DEFAULT_BLOCK_BYTES` of grid per task and at least :data:`BLOCKS_PER_WORKER` tasks
        per worker when the grid allows. Only with ``client``.

    Returns
    -------
    A float for one grid and a one-output model; otherwise an array ``(K,)`` or, for a batch,
    ``(B, K)``, in float64. Tiles stream through the network, cut from the grid as given and
    converted to float32 one batch at a time, so memory stays at the grid plus two batches of tiles
    (a broadcast or memory-mapped grid is never copied); contributions are accumulated in float64.
    """
    check_optional_positive_int("batch_size", batch_size)
    check_optional_positive_int("block_rows", block_rows)
    check_threads(threads)
    if client is None and block_rows is not None:
        raise InputError("block_rows: expected None without a client (it sets the rows of focus per Dask task)")
    if client is not None and not callable(getattr(client, "submit", None)):
        raise InputError(f"client: expected a dask.distributed.Client, got {type(client).__name__}")
    m = load_model(model)
    g, batched = prepare_grid(m, grid)
    B = g.shape[0]
    spatial = g.shape[2:]
    n_tiles = int(np.prod([s // f for s, f in zip(spatial, m.focus)], dtype=np.int64))
    K = m.n_outputs
    if B == 0:
        return np.zeros((0, K), dtype=np.float64)
    if client is None:
        batch_size = batch_tiles(m, batch_size, n_tiles)
        totals = _run_grids(m, g, n_tiles, batch_size, providers=providers, threads=threads, progress=progress)
    else:
        totals = _predict_dask(m, g, client, block_rows, batch_size, providers=providers, threads=threads,
                               progress=progress)
    if not batched:
        return float(totals[0, 0]) if K == 1 else totals[0]
    return totals


def _run_grids(m: Model, g: np.ndarray, n_tiles: int, batch_size: int, *, providers: Sequence[Any] | None,
               threads: int | None, progress: bool = False, scaled: bool = True) -> np.ndarray:
    """The totals ``(B, K)`` of the first ``n_tiles`` tiles of every grid of ``g`` ``(B, C, S...)``
    (all of them in one process; the rows of one slab on a Dask worker)."""
    B = g.shape[0]
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

    return run_tiles(m, jobs, make_tiles, groups=B, total=B * n_tiles, batch_size=batch_size, providers=providers,
                     threads=threads, progress=progress, desc="ednn predict", scaled=scaled)


def default_block_rows(model: Model, grid_shape: Sequence[int], itemsize: int, workers: int) -> int:
    """Rows of focus per Dask task for grids ``(B, C, S...)`` of ``itemsize``-byte cells on
    ``workers`` workers: at most :data:`DEFAULT_BLOCK_BYTES` per slab (at least one row) and, when
    the grids are smaller, enough slabs for :data:`BLOCKS_PER_WORKER` per worker."""
    B, C, spatial = grid_shape[0], grid_shape[1], grid_shape[2:]
    f0 = model.focus[0]
    rows = spatial[0] // f0
    row_bytes = f0 * C * math.prod(spatial[1:]) * itemsize
    by_memory = max(1, DEFAULT_BLOCK_BYTES // row_bytes)
    by_balance = -(-rows // -(-BLOCKS_PER_WORKER * max(1, workers) // B))
    return max(1, min(rows, by_memory, by_balance))


def _slab(m: Model, grid: np.ndarray, start: int, rows: int, dtype: np.dtype) -> np.ndarray:
    """Rows ``start .. start+rows`` of focus of one grid ``(C, S...)`` along the first axis with the
    context cells their tiles read, as ``(C, L, S_2..)``: the rows and the context after them, unused
    padding to a multiple of the focus, then the context before them, so that the periodic cut of
    :func:`ednn._ednn.tile_host` reads exactly the grid's tiles from the slab's first ``rows`` rows.
    Only these cells are read from ``grid`` (a memory-mapped grid stays on disk)."""
    f0, c0, S0 = m.focus[0], m.context[0], grid.shape[1]
    body = np.arange(start * f0, (start + rows) * f0 + c0) % S0
    halo = np.arange(start * f0 - c0, start * f0) % S0
    L = -(-(rows * f0 + 2 * c0) // f0) * f0
    out = np.zeros((grid.shape[0], L) + grid.shape[2:], dtype=dtype)
    out[:, :len(body)] = grid[:, body]
    if c0:
        out[:, L - c0:] = grid[:, halo]
    return out


def _slab_total(model_path: str, slab: np.ndarray, rows: int, batch_size: int, providers: Sequence[Any] | None,
                threads: int | None) -> tuple[np.ndarray, int]:
    """On a Dask worker: the raw float64 sum ``(K,)`` of the network over the first ``rows`` rows of
    tiles of ``slab`` (:func:`_slab`), and their number."""
    m = load_model(model_path)  # cached per worker process
    n = rows * math.prod(s // f for s, f in zip(slab.shape[2:], m.focus[1:]))
    return _run_grids(m, slab[None], n, min(batch_size, n), providers=providers, threads=threads, scaled=False)[0], n


def _predict_dask(m: Model, g: np.ndarray, client: Any, block_rows: int | None, batch_size: int | None, *,
                  providers: Sequence[Any] | None, threads: int | None, progress: bool) -> np.ndarray:
    """The totals ``(B, K)`` of :func:`predict` from slabs run as tasks on ``client``'s workers."""
    from .distributed import sum_tasks, workers_of

    B, spatial = g.shape[0], g.shape[2:]
    f0 = m.focus[0]
    n_rows = spatial[0] // f0
    per_row = math.prod(s // f for s, f in zip(spatial[1:], m.focus[1:]))
    # float64 cells become float32 on the workers anyway (exactly as here): send them as float32
    dtype = np.dtype(np.float32) if g.dtype.kind == "f" and g.dtype.itemsize > 4 else g.dtype
    rows = min(block_rows or default_block_rows(m, g.shape, dtype.itemsize, workers_of(client)), n_rows)
    batch_size = batch_tiles(m, batch_size, rows * per_row)  # checked here, before any task
    slab_bytes = g.shape[1] * (rows * f0 + 3 * m.context[0]) * math.prod(spatial[1:]) * dtype.itemsize
    path = str(m.path)

    def tasks() -> Iterator[tuple[int, tuple[Any, ...]]]:
        for b in range(B):
            for start in range(0, n_rows, rows):
                r = min(rows, n_rows - start)
                yield b, (path, _slab(m, g[b], start, r, dtype), r, batch_size, providers, threads or 1)

    def run() -> np.ndarray:
        return sum_tasks(client, _slab_total, tasks(), path, groups=B, total=B * n_rows * per_row, progress=progress,
                         desc="ednn predict (dask)")

    if slab_bytes <= _DASK_WARN_BYTES:
        return run()
    import dask

    with dask.config.set({"distributed.admin.large-graph-warning-threshold": f"{2 * slab_bytes}B"}):
        return run()
