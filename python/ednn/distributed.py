"""EDNN inference on a Dask cluster (extra ``dist``): the sum over tiles, sharded by blocks of tiles.

The tiles of a system are summed independently, so a system is cut into blocks of tiles and each
block becomes one task that receives only what its tiles read, never the whole system:

* a grid (:func:`ednn.predict`): a slab of whole rows of focus along the first axis plus the
  periodic halo of context cells on either side, cut on the client as a small array;
* an atomic system (:func:`ednn.atoms.predict`): the blocks of tiles it visits anyway, each with
  the points near its window (the block's atoms plus the rasterizer's reach).

A task cuts its tiles, runs the model with the one-process loop (:func:`ednn.inference.run_tiles`)
and returns the float64 sum of the network's outputs; the client (:func:`sum_tasks`) keeps a
bounded number of tasks in flight, so its memory stays at the system plus a few blocks, adds the
sums with compensated summation and applies the output scale and offset once, as one process does.
Dask runs the tasks of a worker that dies again elsewhere; the answer does not change. The same code
runs on a :class:`distributed.LocalCluster` (:func:`local_client`) and on a real cluster by its
scheduler's address (:func:`connect`); :func:`add_cluster_options` and :func:`cluster_client` are
the ``--workers N | --scheduler ADDRESS`` options of the commands.

>>> from ednn.distributed import local_client            # doctest: +SKIP
>>> with local_client(2) as client:                       # doctest: +SKIP
...     e = ednn.predict(ednn.models.path("ising"), spins, client=client)
...     e = ednn.atoms.predict("sheets", atoms, client=client)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .errors import InputError, require_extra
from .inference import Accumulator, run_tiles, scale_totals
from .model import load_model
from .progress import progress_bar

__all__ = [
    "TASKS_PER_WORKER",
    "add_cluster_options",
    "check_cluster_args",
    "cluster_client",
    "connect",
    "local_client",
    "map_blocks",
    "sum_tasks",
    "workers_of",
]

#: Tasks submitted at once per worker: enough to keep every worker busy while results come back,
#: few enough that the client holds only a few blocks' data at a time.
TASKS_PER_WORKER = 4


def _block_total(model_path: str, geometry: Any, start: tuple[int, ...], data: tuple[np.ndarray, ...],
                 batch_size: int, providers: Sequence[Any] | None) -> tuple[np.ndarray, int]:
    """On a worker: the raw sum ``(K,)`` of the network over one block of an atomic system, and its tile count."""
    from .atoms.blocks import block_tiles

    m = load_model(model_path)  # cached per worker process
    tiles = block_tiles(m, geometry, start, *data)
    threads = geometry.threads or _worker_threads()
    total = run_tiles(m, [0], lambda _, slot: (0, tiles), groups=1, total=len(tiles), batch_size=batch_size,
                      providers=providers, threads=threads, scaled=False)[0]
    return total, len(tiles)


def _worker_threads() -> int:
    """The threads of the Dask worker this runs on (its share of the machine: a LocalCluster of n
    single-thread workers on n cores gives each 1), so that ONNX Runtime does not start a thread per
    core in every worker; 1 outside a worker."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def _after_result(done: int) -> None:
    """Called after every block total arrives (a hook for tests that stop a worker mid-run)."""


def workers_of(client: Any) -> int:
    """The number of workers ``client``'s scheduler knows now (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


def sum_tasks(client: Any, fn: Callable[..., tuple[np.ndarray, int]], tasks: Iterable[tuple[int, tuple[Any, ...]]],
              model_path: str, *, groups: int, total: int, progress: bool = False, desc: str = "ednn (dask)",
              in_flight: int | None = None) -> np.ndarray:
    """Run ``fn(*args)`` for every ``(group, args)`` of ``tasks`` on ``client``'s workers and return
    the totals ``(groups, K)`` in float64.

    Each task returns the raw float64 sum ``(K,)`` of the network's outputs over its tiles and its
    tile count; the sums of a group are added with compensated summation (:class:`Accumulator`) and
    the model's output scale and offset are applied once, as :func:`ednn.inference.run_tiles` does
    in one process. At most ``in_flight`` tasks (default :data:`TASKS_PER_WORKER` per worker) are
    submitted at once, so ``tasks`` is consumed lazily. A task lost with its worker runs again.
    """
    require_extra("dist", "ednn distributed runs", "distributed")
    from distributed import as_completed

    limit = in_flight or TASKS_PER_WORKER * workers_of(client)
    it = iter(tasks)
    accs: list[Accumulator] | None = None
    group_of: dict[Any, int] = {}
    done = 0

    def submit() -> Any:
        item = next(it, None)
        if item is None:
            return None
        group, args = item
        fut = client.submit(fn, *args, pure=False)
        group_of[fut.key] = group
        return fut

    pending = as_completed([f for f in (submit() for _ in range(limit)) if f is not None])
    with progress_bar(total, desc, "tiles", enable=progress) as bar:
        for fut in pending:
            part, count = fut.result()
            if accs is None:
                accs = [Accumulator(len(part)) for _ in range(groups)]
            accs[group_of.pop(fut.key)].add_sum(part, count)
            done += 1
            bar.update(count)
            _after_result(done)
            nxt = submit()
            if nxt is not None:
                pending.add(nxt)
    visited = 0 if accs is None else sum(a.count for a in accs)
    if accs is None or visited != total:  # pragma: no cover - a bookkeeping error
        raise RuntimeError(f"ednn distributed run summed {visited} tiles, expected {total}")
    sums = np.stack([a.total for a in accs])
    return scale_totals(load_model(model_path), sums, [a.count for a in accs])


def map_blocks(client: Any, model_path: str, geometry: Any, blocks: Iterable[tuple[tuple[int, ...], Any]],
               total_tiles: int, *, batch_size: int, providers: Sequence[Any] | None = None,
               progress: bool = False, in_flight: int | None = None) -> np.ndarray:
    """Run every ``(start, (points, weights, channel))`` block of an atomic system on ``client``'s
    workers; the summed totals ``(K,)`` in float64, output scale and offset applied (as
    :func:`ednn.inference.run_tiles`)."""
    tasks = ((0, (model_path, geometry, start, data, batch_size, providers)) for start, data in blocks)
    return sum_tasks(client, _block_total, tasks, model_path, groups=1, total=total_tiles, progress=progress,
                     desc="ednn atoms (dask)", in_flight=in_flight)[0]


def local_client(workers: int, threads_per_worker: int = 1) -> Any:
    """A ``distributed.Client`` of a new local cluster of ``workers`` processes; closing the client
    (or leaving its ``with`` block) closes the cluster too. No dashboard; the scheduler's HTTP
    server takes a free local port (not 8787, which another cluster may hold)."""
    require_extra("dist", "ednn distributed runs", "distributed")
    from distributed import Client

    return Client(n_workers=workers, threads_per_worker=threads_per_worker, processes=True, dashboard_address=None,
                  scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the running Dask scheduler at ``address`` (e.g. ``tcp://10.0.0.1:8786``)."""
    require_extra("dist", "ednn distributed runs", "distributed")
    from distributed import Client

    return Client(address)


def add_cluster_options(parser: argparse.ArgumentParser, what: str) -> None:
    """The mutually exclusive ``--workers N`` and ``--scheduler ADDRESS`` options of a command that
    runs ``what`` (e.g. "the blocks of tiles") as Dask tasks; see :func:`cluster_client`."""
    dist = parser.add_mutually_exclusive_group()
    dist.add_argument("--workers", type=int, default=None, metavar="N",
                      help=f"run {what} on a local Dask cluster of N worker processes (extra dist)")
    dist.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="run them on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://host:8786 "
                           "(extra dist)")


def check_cluster_args(workers: int | None, scheduler: str | None) -> bool:
    """Check ``--workers``/``--scheduler`` before any work: whether a cluster is asked for.

    Raises :class:`~ednn.InputError` for a worker count below 1 and
    :class:`~ednn.errors.MissingExtraError` (one line, naming the ``dist`` extra) without Dask.
    """
    if workers is None and not scheduler:
        return False
    if workers is not None and workers < 1:
        raise InputError(f"--workers: expected a positive number of worker processes, got {workers}")
    require_extra("dist", "ednn distributed runs", "distributed")
    return True


@contextmanager
def cluster_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """``None`` when neither is given; else a client of a new local cluster of ``workers`` processes
    (:func:`local_client`) or of the scheduler at ``scheduler`` (:func:`connect`), closed on exit
    (with its local cluster). Arguments are checked first (:func:`check_cluster_args`)."""
    if not check_cluster_args(workers, scheduler):
        yield None
        return
    client = local_client(workers) if workers is not None else connect(scheduler or "")
    try:
        yield client
    finally:
        client.close()
