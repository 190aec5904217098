"""``ednn info``, ``ednn predict`` and ``ednn build-info``: inference commands (numpy + onnxruntime only)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..distributed import add_cluster_options, check_cluster_args, cluster_client
from ..errors import InputError

__all__ = ["MODEL_HELP", "add_build_info", "add_info", "add_models", "add_predict"]

#: Help text of every command argument that takes a model.
MODEL_HELP = "EDNN .onnx file, or the name of a shipped model (see `ednn models`)"


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show an EDNN model file's metadata")
    p.add_argument("model", help=MODEL_HELP)

    def run(a: argparse.Namespace) -> int:
        from ..model import load_model
        from ..models import resolve

        print(load_model(resolve(a.model)).summary())
        return 0

    p.set_defaults(func=run)


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict the extensive quantities of a grid stored as .npy")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("grid", help=".npy file: (S...) or (C, S...), with an optional leading batch axis")
    p.add_argument("--batch-size", type=int, default=None, help="tiles per ONNX Runtime call")
    p.add_argument("--threads", type=int, default=None,
                   help="ONNX Runtime / tiler threads (per Dask task with --workers or --scheduler, default 1)")
    p.add_argument("--providers", default=None, help="comma-separated ONNX Runtime execution providers")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_cluster_options(p, "slabs of the grid")
    p.add_argument("--block-rows", type=int, default=None, metavar="R",
                   help="with --workers or --scheduler: rows of focus per Dask task "
                        "(default: at most 4 MiB of grid per task, at least 8 tasks per worker)")

    def run(a: argparse.Namespace) -> int:
        from ..model import load_model
        from ..models import resolve
        from ..predict import predict, prepare_grid

        dist = check_cluster_args(a.workers, a.scheduler)  # before reading anything
        if a.block_rows is not None and not dist:
            raise InputError("--block-rows: expected --workers or --scheduler with it")
        m = load_model(resolve(a.model))
        grid = load_npy(a.grid)
        if dist:
            prepare_grid(m, grid)  # a bad grid stops here, before a cluster starts
        providers = a.providers.split(",") if a.providers else None
        with cluster_client(a.workers, a.scheduler) as client:
            res = predict(m, grid, batch_size=a.batch_size, providers=providers, threads=a.threads,
                          progress=not a.no_progress, client=client, block_rows=a.block_rows)
        vals = np.atleast_2d(np.asarray(res, dtype=np.float64).reshape(-1, m.n_outputs))
        if a.json:
            print(json.dumps({name: vals[:, k].tolist() for k, name in enumerate(m.outputs)}))
            return 0
        unit = f" [{m.units}]" if m.units else ""
        for b, row in enumerate(vals):
            prefix = f"grid {b}: " if vals.shape[0] > 1 else ""
            print(prefix + "  ".join(f"{name} = {v:.10g}{unit}" for name, v in zip(m.outputs, row)))
        return 0

    p.set_defaults(func=run)


def load_npy(name: str) -> np.ndarray:
    """A numeric ``.npy`` file, memory-mapped; one :class:`~ednn.InputError` for anything else."""
    path = Path(name)
    if not path.is_file():
        raise InputError(f"grid: expected an existing .npy file, got {name!r} (no such file)")
    try:
        grid = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # object dtype, truncated or not a .npy file
        raise InputError(f"grid: expected a readable numeric .npy file, got {name!r} ({exc})") from None
    if not isinstance(grid, np.ndarray):  # an .npz archive
        raise InputError(f"grid: expected one array in a .npy file, got an .npz archive {name!r}")
    return grid


def add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the shipped models (usable by name wherever a model file goes)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def run(a: argparse.Namespace) -> int:
        from ..models import table

        rows = table()
        if a.json:
            print(json.dumps(rows, indent=2))
            return 0
        keys = ("name", "focus", "context", "units", "species", "domain")
        widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys[:-1]}
        print("  ".join(k.ljust(widths[k]) for k in keys[:-1]) + "  domain")
        for r in rows:
            print("  ".join(r[k].ljust(widths[k]) for k in keys[:-1]) + "  " + r["domain"])
        return 0

    p.set_defaults(func=run)


def add_build_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-info", help="show how ednn was built and which devices it sees")

    def run(a: argparse.Namespace) -> int:
        from ..info import build_info

        for k, v in build_info().items():
            print(f"{k:<24} {v}")
        return 0

    p.set_defaults(func=run)
