"""The one inference loop: tile batches stream through ONNX Runtime, contributions are summed in float64.

:func:`run_tiles` is shared by :func:`ednn.predict` (grids) and :func:`ednn.atoms.predict` (atoms,
imaged window by window): the caller says how to make each batch of tiles, the loop makes the next
batch on a background thread while the network runs the current one, accumulates every batch per
group with :class:`Accumulator` and applies the model's output scale and offset once at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._checks import MAX_BATCH_ELEMENTS
from .errors import InputError
from .progress import progress_bar

if TYPE_CHECKING:
    from .model import Model

__all__ = ["DEFAULT_BATCH_BYTES", "DEFAULT_BATCH_TILES", "Accumulator", "batch_tiles", "default_batch_size",
           "run_tiles", "scale_totals"]

#: Default size of one tile batch handed to ONNX Runtime (bytes of float32 tiles) ...
DEFAULT_BATCH_BYTES = 8 << 20
#: ... and at most this many tiles: the activations of a layer grow with the batch, not with the
#: tile (the paper's Ising MLP has 288 hidden units on a 3 x 3 tile: 8 MiB of its tiles would make
#: 256 MiB per layer; 16 384 tiles make 18 MiB).
DEFAULT_BATCH_TILES = 16_384

T = TypeVar("T")


class Accumulator:
    """Running sum of ``(N, K)`` contribution batches, per column, in float64.

    Each batch is summed pairwise in float64 (NumPy's ``sum`` with ``dtype=float64``), and the batch
    sums are added with Neumaier's compensated summation, so the error stays at a few ulp of the
    total however many batches arrive.
    """

    def __init__(self, k: int) -> None:
        self._sum = np.zeros(k, dtype=np.float64)
        self._comp = np.zeros(k, dtype=np.float64)
        self.count = 0

    def add(self, values: np.ndarray) -> None:
        """Add a batch of contributions, ``values`` ``(N, K)`` (any float dtype)."""
        v = np.asarray(values)
        if v.ndim != 2 or v.shape[1] != self._sum.shape[0]:
            raise ValueError(f"values: expected shape (N, {self._sum.shape[0]}), got {v.shape}")
        self.add_sum(v.sum(axis=0, dtype=np.float64), v.shape[0])

    def add_sum(self, batch_sum: np.ndarray, count: int = 0) -> None:
        """Add an already reduced float64 batch sum ``(K,)``."""
        x = np.asarray(batch_sum, dtype=np.float64)
        t = self._sum + x
        big = np.abs(self._sum) >= np.abs(x)
        self._comp += np.where(big, (self._sum - t) + x, (x - t) + self._sum)
        self._sum = t
        self.count += count

    @property
    def total(self) -> np.ndarray:
        """The float64 sum ``(K,)``."""
        return self._sum + self._comp


def default_batch_size(model: Model, n_tiles: int) -> int:
    """Tiles per ONNX Runtime call: about :data:`DEFAULT_BATCH_BYTES` of float32 input, at most
    :data:`DEFAULT_BATCH_TILES`, the model's ``ednn.batch_tiles`` (sized by its exporter from the
    network's largest activation) and ``n_tiles``."""
    tile_elems = model.channels * int(np.prod(model.tile))
    hint = model.batch_tiles or DEFAULT_BATCH_TILES
    return max(1, min(n_tiles, DEFAULT_BATCH_TILES, hint, DEFAULT_BATCH_BYTES // (4 * tile_elems)))


def batch_tiles(model: Model, batch_size: int | None, n_tiles: int) -> int:
    """Tiles per ONNX Runtime call: ``batch_size`` (default :func:`default_batch_size`), at most
    ``n_tiles``. Raises :class:`~ednn.InputError` before any allocation when one batch would hold
    more than :data:`~ednn._checks.MAX_BATCH_ELEMENTS` elements (as the C API does)."""
    tile_elems = model.channels * math.prod(model.tile)
    bs = max(1, min(batch_size or default_batch_size(model, n_tiles), n_tiles))
    most = max(1, MAX_BATCH_ELEMENTS // tile_elems)
    if bs > most:
        raise InputError(f"batch_size: expected at most {most} tiles of {tile_elems} elements "
                         f"({MAX_BATCH_ELEMENTS} elements per batch), got {bs}")
    return bs


def scale_totals(model: Model, sums: np.ndarray, counts: Any) -> np.ndarray:
    """The model's output scaling of raw per-group sums ``(G, K)`` over ``counts`` ``(G,)`` tiles:
    ``sums * output_scale + output_offset * counts`` (the scale multiplies the sum, the offset is
    added once per tile)."""
    totals = np.asarray(sums, dtype=np.float64)
    if model.output_scale is not None:
        totals = totals * model.output_scale
    if model.output_offset is not None:
        totals = totals + model.output_offset * np.asarray(counts, dtype=np.float64).reshape(-1, 1)
    return totals


def run_tiles(
    model: Model,
    tasks: Iterable[T],
    make: Callable[[T, int], tuple[int, np.ndarray]],
    *,
    groups: int,
    total: int,
    batch_size: int,
    providers: Sequence[Any] | None = None,
    threads: int | None = None,
    progress: bool = False,
    desc: str = "ednn predict",
    per_tile: np.ndarray | None = None,
    scaled: bool = True,
    on_task: Callable[[int, int, np.ndarray], None] | None = None,
    initial: int = 0,
) -> np.ndarray:
    """Run ``model`` on every tile that ``make`` cuts and return the totals per group.

    Parameters
    ----------
    tasks
        What to tile, one item per batch (or per window of tiles).
    make
        ``make(task, slot) -> (group, tiles)``: ``tiles`` ``(n, C, t_1..t_d)`` float32, C-contiguous,
        with the model's input scaling applied. It runs on one background thread, one task ahead of
        the network; ``slot`` (0 or 1) alternates, so that ``make`` may fill two reusable buffers.
    groups
        Number of independent totals (grids of a batch); ``group`` indexes them.
    total
        Tiles expected over all tasks (for the progress bar and a final check).
    batch_size
        Largest number of tiles per ONNX Runtime call; larger ``tiles`` are split.
    per_tile
        Optional ``(N, K)`` float64 array that receives every tile's own contribution,
        ``y * output_scale + output_offset``: ``make`` then returns ``(group, tiles, rows)`` with
        ``rows`` ``(n,)`` the rows of ``per_tile`` its tiles go to (local re-evaluation keeps them).
    scaled
        ``False``: return the raw sums of the network's outputs, for a caller that adds partial sums
        and applies :func:`scale_totals` once (:mod:`ednn.distributed`).
    on_task
        Called as ``on_task(group, tiles, raw_sums)`` after each task's tiles have all been run, with
        its group's count and raw float64 sums ``(K,)`` so far (:mod:`ednn.journal` records a block
        per group).
    initial
        Tiles already done before this call (a resumed run): the progress bar starts there, ``total``
        still counts only this call's tiles.

    Returns
    -------
    ``(groups, K)`` float64: the summed contributions, with ``ednn.output_scale`` applied to the sum
    and ``ednn.output_offset`` once per tile of the group.
    """
    sess = model.session(providers, threads)
    out_name = sess.get_outputs()[0].name
    K = model.n_outputs
    accs = [Accumulator(K) for _ in range(groups)]
    with progress_bar(total + initial, desc, "tiles", enable=progress, initial=initial) as bar, \
            ThreadPoolExecutor(1) as pool:
        it = iter(tasks)
        task = next(it, None)
        fut = pool.submit(make, task, 0) if task is not None else None
        slot = 0
        while fut is not None:
            group, tiles, *rows = fut.result()
            nxt = next(it, None)
            slot = 1 - slot
            fut = pool.submit(make, nxt, slot) if nxt is not None else None  # cut ahead while the network runs
            for i in range(0, tiles.shape[0], batch_size):
                chunk = tiles[i:i + batch_size]
                y = sess.run([out_name], {model.input_name: chunk})[0]
                if y.shape != (chunk.shape[0], K):
                    raise InputError(f"model output: expected shape ({chunk.shape[0]}, {K}), got {y.shape}")
                accs[group].add(y)
                if per_tile is not None:
                    v = y.astype(np.float64)
                    if model.output_scale is not None:
                        v *= model.output_scale
                    if model.output_offset is not None:
                        v += model.output_offset
                    per_tile[rows[0][i:i + batch_size]] = v
                bar.update(chunk.shape[0])
            if on_task is not None:
                on_task(group, accs[group].count, accs[group].total)
    visited = sum(a.count for a in accs)
    if visited != total:  # pragma: no cover - a bookkeeping error, not an input error
        raise RuntimeError(f"ednn visited {visited} tiles, expected {total}")
    totals = np.stack([a.total for a in accs]) if accs else np.zeros((0, K))
    return scale_totals(model, totals, [a.count for a in accs]) if scaled else totals
