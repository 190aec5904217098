"""``ednn info``, ``ednn predict`` and ``ednn build-info``: inference commands (numpy + onnxruntime only)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["add_info", "add_predict", "add_build_info"]


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show an EDNN model file's metadata")
    p.add_argument("model", help="EDNN .onnx file")

    def run(a: argparse.Namespace) -> int:
        from ..model import load_model

        print(load_model(a.model).summary())
        return 0

    p.set_defaults(func=run)


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict the extensive quantities of a grid stored as .npy")
    p.add_argument("model", help="EDNN .onnx file")
    p.add_argument("grid", help=".npy file: (S...) or (C, S...), with an optional leading batch axis")
    p.add_argument("--batch-size", type=int, default=None, help="tiles per ONNX Runtime call")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime / tiler threads")
    p.add_argument("--providers", default=None, help="comma-separated ONNX Runtime execution providers")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def run(a: argparse.Namespace) -> int:
        from ..model import load_model
        from ..predict import predict

        m = load_model(a.model)
        path = Path(a.grid)
        if not path.is_file():
            raise InputError(f"grid: expected an existing .npy file, got {a.grid!r} (no such file)")
        grid = np.load(path, mmap_mode="r")
        providers = a.providers.split(",") if a.providers else None
        res = predict(
            m, grid, batch_size=a.batch_size, providers=providers, threads=a.threads, progress=not a.no_progress
        )
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


def add_build_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-info", help="show how ednn was built and which devices it sees")

    def run(a: argparse.Namespace) -> int:
        from ..info import build_info

        for k, v in build_info().items():
            print(f"{k:<24} {v}")
        return 0

    p.set_defaults(func=run)
