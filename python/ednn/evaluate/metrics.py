"""Error metrics and the parity / error plots of the paper (Figs 3, 5, 7, 8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["error_metrics", "format_metrics", "plot_parity", "plot_learning_curve", "pyplot", "save_figure"]


def error_metrics(pred: np.ndarray, true: np.ndarray, sites: int) -> dict[str, float]:
    """MAE, median absolute error and RMSE of totals, and the same per site (divided by ``sites``).

    ``pred``, ``true``: ``(n,)`` totals of the extensive quantity.
    """
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    if p.shape != t.shape or p.size == 0:
        raise ValueError(f"pred/true: expected equal non-empty shapes, got {p.shape} and {t.shape}")
    err = p - t
    out = {
        "n": float(p.size),
        "sites": float(sites),
        "mae": float(np.mean(np.abs(err))),
        "median_ae": float(np.median(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mean_error": float(np.mean(err)),
        "max_ae": float(np.max(np.abs(err))),
    }
    for k in ("mae", "median_ae", "rmse", "mean_error", "max_ae"):
        out[f"{k}_per_site"] = out[k] / sites
    return out


def format_metrics(m: dict[str, float], units: str = "", title: str = "") -> str:
    """A small aligned table of :func:`error_metrics`."""
    u = f" {units}" if units else ""
    rows = [
        ("MAE", m["mae"], m["mae_per_site"]),
        ("median AE", m["median_ae"], m["median_ae_per_site"]),
        ("RMSE", m["rmse"], m["rmse_per_site"]),
        ("mean error", m["mean_error"], m["mean_error_per_site"]),
        ("max AE", m["max_ae"], m["max_ae_per_site"]),
    ]
    head = f"{title} ({int(m['n'])} samples, {int(m['sites'])} sites each)" if title else ""
    lines = [head] if head else []
    lines.append(f"  {'':<11}{'total' + u:>16}{'per site' + u:>18}")
    lines += [f"  {name:<11}{tot:>16.5g}{ps:>18.5g}" for name, tot, ps in rows]
    return "\n".join(lines)


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (plots are written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (creating its folder), close it, return the path."""
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def plot_parity(
    pred: np.ndarray,
    true: np.ndarray,
    sites: int,
    path: str | os.PathLike[str],
    *,
    units: str = "",
    title: str = "",
    color: Any = None,
    color_label: str = "",
) -> Path:
    """Two panels as in the paper: (a) predicted vs true per site, (b) error vs true per site."""
    plt = pyplot()

    p = np.asarray(pred, dtype=np.float64).reshape(-1) / sites
    t = np.asarray(true, dtype=np.float64).reshape(-1) / sites
    u = f" [{units}/site]" if units else " (per site)"
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.4), constrained_layout=True)
    kw: dict[str, Any] = dict(s=6, alpha=0.6, linewidths=0)
    if color is not None:
        kw.update(c=np.asarray(color), cmap="coolwarm")
    sc = a.scatter(t, p, **kw)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    pad = 0.03 * (hi - lo or 1.0)
    a.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
    a.set_xlabel("true" + u)
    a.set_ylabel("predicted" + u)
    a.set_title("(a) parity")
    b.scatter(t, p - t, **kw)
    b.axhline(0, color="k", lw=0.8, ls="--")
    b.set_xlabel("true" + u)
    b.set_ylabel("predicted - true" + u)
    b.set_title("(b) error")
    if color is not None:
        fig.colorbar(sc, ax=[a, b], label=color_label)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=130)


def plot_learning_curve(csv_path: str | os.PathLike[str], path: str | os.PathLike[str], units: str = "") -> Path:
    """Training MSE, validation MSE and validation MAE per epoch (log scale) from ``ednn train``'s CSV."""
    import csv

    plt = pyplot()

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    ep = [int(r["epoch"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    u = f" [{units}]" if units else ""
    ax.semilogy(ep, [float(r["train_mse"]) for r in rows], label="train MSE" + (f" [{units}²]" if units else ""))
    ax.semilogy(ep, [float(r["val_mse"]) for r in rows], label="validation MSE" + (f" [{units}²]" if units else ""))
    ax.semilogy(ep, [float(r["val_mae"]) for r in rows], label="validation MAE" + u)
    ax.set_xlabel("epoch")
    ax.set_title("learning curve (errors of the summed output)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return save_figure(fig, path, dpi=120)
