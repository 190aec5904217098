"""``ednn evaluate``: errors of an EDNN model file on a labelled dataset, with plots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .metrics import error_metrics, format_metrics, plot_parity

__all__ = ["evaluate_ising"]


def evaluate_ising(
    model: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    progress: bool = False,
    batch: int = 256,
) -> dict[str, Any]:
    """Predict every configuration of an Ising dataset (``ednn data ising``) and compare with its energies.

    Returns the metrics of :func:`ednn.evaluate.metrics.error_metrics` (totals and per site) plus the
    predictions; with ``out_dir``, writes ``NAME_metrics.json`` and ``NAME_parity.png`` (predicted vs
    true and error vs true, per site, coloured by temperature).
    """
    from ..data.ising import load
    from ..model import load_model
    from ..predict import predict
    from ..progress import progress_bar

    m = load_model(model)
    ds = load(data)
    n, L = len(ds), ds.spins.shape[-1]
    if m.channels != 1 or m.ndim != 2:
        raise InputError(f"model: expected a 2-D one-channel model for Ising data, got ndim={m.ndim} channels={m.channels}")
    pred = np.empty(n, dtype=np.float64)
    with progress_bar(n, f"evaluate {Path(data).name}", "grids", enable=progress) as bar:
        for i in range(0, n, batch):
            pred[i : i + batch] = predict(m, ds.spins[i : i + batch])[:, 0]
            bar.update(min(batch, n - i))
    met = error_metrics(pred, ds.energy, sites=L * L)
    name = name or Path(data).stem
    result: dict[str, Any] = {"name": name, "L": L, "metrics": met, "pred": pred, "true": ds.energy}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}_metrics.json").write_text(json.dumps({"model": str(model), "data": str(data), **met}, indent=2))
        result["plot"] = plot_parity(
            pred, ds.energy, L * L, out / f"{name}_parity.png", units=m.units or "",
            title=f"{Path(model).name} on {name} ({L}x{L}, {n} configurations)",
            color=ds.temperature, color_label="temperature",
        )
    result["table"] = format_metrics(met, m.units or "", title=f"{name}: {L}x{L}")
    return result
