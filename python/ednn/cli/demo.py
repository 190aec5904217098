"""``ednn demo ising``: the paper's Ising experiment end to end, small enough for a laptop.

1. sample 8x8 configurations at T in [1, 4] (checkerboard Metropolis + cluster moves);
2. train the paper's fully connected network with f = c = 1 (the ``ising-dnn`` network);
3. export the EDNN model file (ONNX with ``ednn.*`` metadata);
4. predict fresh 8x8 configurations and 128x128 configurations near T_c with ``ednn.predict``
   (ONNX Runtime, no torch), print the error table and write parity / error plots.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from ..errors import require_extra

__all__ = ["add_demo", "ising_demo", "DEMO_DEFAULTS"]

DEMO_DEFAULTS: dict[str, Any] = {
    "L": 8,
    "count": 50000,
    "epochs": 400,
    "batch_size": 2000,
    "learning_rate": 1e-3,
    "lr_decay": 0.985,
    "test_count": 2000,
    "large_L": 128,
    "large_count": 40,
    "large_T": (2.2, 2.35),
}


def ising_demo(
    out: str | os.PathLike[str] = "ednn-demo-ising",
    *,
    count: int | None = None,
    epochs: int | None = None,
    large_count: int | None = None,
    seed: int = 0,
    progress: bool = True,
    log: Any = print,
) -> dict[str, Any]:
    """Run the demo in folder ``out``; returns the metrics of both test sets."""
    from .._io import atomic_write
    from ..data.ising import sample, save
    from ..evaluate.ising import evaluate_ising
    from ..train.config import load_config
    from ..train.export import export_checkpoint
    from ..train.loop import train

    d = dict(DEMO_DEFAULTS)
    if count is not None:
        d["count"] = count
    if epochs is not None:
        d["epochs"] = epochs
    if large_count is not None:
        d["large_count"] = large_count
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    def step(msg: str) -> None:
        log(f"\n[{time.perf_counter() - t_start:6.1f} s] {msg}")

    step(f"1/4 sampling {d['count']} training + {d['test_count']} test configurations of {d['L']}x{d['L']}, T in [1, 4]")
    # the demo's folder is its own: a rerun replaces its files (each one atomically)
    train_path = save(root / "ising8_train.npz", sample(d["L"], d["count"], (1.0, 4.0), seed=seed, progress=progress),
                      overwrite=True)
    test_path = save(root / "ising8_test.npz", sample(d["L"], d["test_count"], (1.0, 4.0), seed=seed + 1,
                                                      progress=progress), overwrite=True)
    lo, hi = d["large_T"]
    step(f"   sampling {d['large_count']} configurations of {d['large_L']}x{d['large_L']} near T_c (T in [{lo}, {hi}])")
    large_path = save(
        root / "ising128_tc.npz",
        sample(d["large_L"], d["large_count"], (lo, hi), seed=seed + 2, progress=progress),
        overwrite=True,
    )

    step("2/4 training the f = c = 1 EDNN (paper's fully connected network, Adam, MSE of the summed energy)")
    cfg = load_config(
        {
            "data": str(train_path),
            "network": "ising-dnn",
            "focus": 1,
            "context": 1,
            "learning_rate": d["learning_rate"],
            "lr_decay": d["lr_decay"],
            "batch_size": d["batch_size"],
            "epochs": d["epochs"],
            "seed": seed,
            "validation_split": 0.1,
            "output_dir": str(root / "run"),
            "checkpoint_every": 50,
        }
    )
    summary = train(cfg, overwrite=True, progress=progress, log=log)

    step("3/4 exporting the EDNN model file")
    model = export_checkpoint(summary["best"], root / "ising.onnx", overwrite=True)
    log(f"   wrote {model}")

    step("4/4 predicting with ednn.predict (ONNX Runtime)")
    results = {}
    for name, path in (("ising8_test", test_path), ("ising128_tc", large_path)):
        r = evaluate_ising(model, path, out_dir=root, name=name)
        results[name] = r["metrics"]
        log(r["table"])
        log(f"   plot: {r['plot']}")
    from .. import models  # the shipped models folder (ednn.models)

    if "ising" in models.available():
        for name, path in (("ising8_test", test_path), ("ising128_tc", large_path)):
            r = evaluate_ising(models.path("ising"), path)
            results[f"shipped:{name}"] = r["metrics"]
    with atomic_write(root / "demo_metrics.json", "w") as fh:
        fh.write(json.dumps(results, indent=2))
    m8, m128 = results["ising8_test"], results["ising128_tc"]
    log(
        "\nSummary (energies in J; paper, Fig. 3/8: 0.028 J/L^2 on 8x8 and 2.055 J/L^2 on 128x128, "
        "reported as median absolute errors):\n"
        f"  8x8 test     MAE {m8['mae']:.4f} J total   median AE {m8['median_ae']:.4f} J\n"
        f"  128x128 T_c  MAE {m128['mae']:.4f} J total   median AE {m128['median_ae']:.4f} J   "
        f"(per site {m128['mae_per_site']:.2e} J)\n"
        f"  total time {time.perf_counter() - t_start:.0f} s; files in {root}/"
    )
    if "shipped:ising8_test" in results:
        s8, s128 = results["shipped:ising8_test"], results["shipped:ising128_tc"]
        log(
            f"  shipped model (ednn.models.path('ising'), longer training): 8x8 MAE {s8['mae']:.4f} J, "
            f"128x128 MAE {s128['mae']:.4f} J"
        )
    return results


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a whole worked example end to end")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    q = kinds.add_parser("ising", help="data -> train -> export -> predict 8x8 and 128x128 (a few minutes)")
    q.add_argument("--out", default="ednn-demo-ising", help="folder for data, checkpoints, model and plots")
    q.add_argument("--count", type=int, default=None, help="training configurations (default 50000)")
    q.add_argument("--epochs", type=int, default=None, help="training epochs (default 400)")
    q.add_argument("--large-count", type=int, default=None, help="128x128 test lattices (default 40)")
    q.add_argument("--seed", type=int, default=0, help="seed of the data and the training (default 0)")
    q.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    def run(a: argparse.Namespace) -> int:
        require_extra("train", "ednn demo ising", "torch", "onnx", "yaml", "matplotlib")
        ising_demo(
            a.out, count=a.count, epochs=a.epochs, large_count=a.large_count, seed=a.seed, progress=not a.no_progress
        )
        return 0

    q.set_defaults(func=run)
