"""EDNN inference on a Dask cluster (extra ``dist``): the sum over tiles, sharded by blocks of tiles.

The tiles of a system are summed independently, so a large sheet is cut into the blocks of tiles
that :func:`ednn.atoms.predict` visits anyway; each block becomes one task that receives only the
points near its window (the block's atoms plus the rasterizer's reach, never the whole sheet), cuts
its tiles, runs the model and returns its float64 total. The client keeps a bounded number of tasks
in flight, so its memory stays at the system plus a few blocks, and adds the block totals with
compensated summation. Dask runs the tasks of a worker that dies again elsewhere; the answer does
not change. The same code runs on a :class:`distributed.LocalCluster` (:func:`local_client`) and
on a real cluster by its scheduler's address.

>>> from ednn.distributed import local_client            # doctest: +SKIP
>>> with local_client(2) as client:                       # doctest: +SKIP
...     e = ednn.atoms.predict("sheets", atoms, client=client)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .atoms.blocks import block_tiles
from .errors import require_extra
from .inference import Accumulator, run_tiles
from .model import load_model
from .progress import progress_bar

__all__ = ["map_blocks", "local_client", "connect"]


def _block_total(model_path: str, geometry: Any, start: tuple[int, ...], data: tuple[np.ndarray, ...],
                 batch_size: int, providers: Sequence[Any] | None) -> tuple[np.ndarray, int]:
    """On a worker: the output-scaled total ``(K,)`` of one block and its number of tiles."""
    m = load_model(model_path)  # cached per worker process
    tiles = block_tiles(m, geometry, start, *data)
    total = run_tiles(m, [0], lambda _, slot: (0, tiles), groups=1, total=len(tiles), batch_size=batch_size,
                      providers=providers, threads=geometry.threads)[0]
    return total, len(tiles)


def _after_result(done: int) -> None:
    """Called after every block total arrives (a hook for tests that stop a worker mid-run)."""


def map_blocks(client: Any, model_path: str, geometry: Any, blocks: Iterable[tuple[tuple[int, ...], Any]],
               total_tiles: int, *, batch_size: int, providers: Sequence[Any] | None = None,
               progress: bool = False, in_flight: int | None = None) -> np.ndarray:
    """Run every ``(start, (points, weights, channel))`` block on ``client``'s workers; the summed
    totals ``(K,)`` in float64, output scale and offset applied (as :func:`ednn.inference.run_tiles`).

    At most ``in_flight`` tasks (default 4 per worker) are submitted at once.
    """
    require_extra("dist", "ednn distributed runs", "distributed")
    from distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    limit = in_flight or 4 * workers
    it = iter(blocks)
    acc: Accumulator | None = None
    done = 0

    def submit() -> Any:
        item = next(it, None)
        if item is None:
            return None
        start, data = item
        return client.submit(_block_total, model_path, geometry, start, data, batch_size, providers, pure=False)

    pending = as_completed([f for f in (submit() for _ in range(limit)) if f is not None])
    with progress_bar(total_tiles, "ednn atoms (dask)", "tiles", enable=progress) as bar:
        for fut in pending:
            total, count = fut.result()
            if acc is None:
                acc = Accumulator(len(total))
            acc.add_sum(total, count)
            done += 1
            bar.update(count)
            _after_result(done)
            nxt = submit()
            if nxt is not None:
                pending.add(nxt)
    if acc is None or acc.count != total_tiles:  # pragma: no cover - a bookkeeping error
        raise RuntimeError(f"ednn distributed run summed {0 if acc is None else acc.count} tiles, expected {total_tiles}")
    return acc.total


def local_client(workers: int, threads_per_worker: int = 1) -> Any:
    """A ``distributed.Client`` of a new local cluster of ``workers`` processes; closing the client
    (or leaving its ``with`` block) closes the cluster too."""
    require_extra("dist", "ednn distributed runs", "distributed")
    from distributed import Client

    return Client(n_workers=workers, threads_per_worker=threads_per_worker, processes=True, dashboard_address=None)


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the running Dask scheduler at ``address`` (e.g. ``tcp://10.0.0.1:8786``)."""
    require_extra("dist", "ednn distributed runs", "distributed")
    from distributed import Client

    return Client(address)
