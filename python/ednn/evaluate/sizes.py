"""``ednn atoms evaluate``: a sheets model on labelled datasets of several cell sizes (paper Fig. 9).

For every dataset (e.g. the held-out 60-site cells and the 4x, 9x, 16x cells) the model predicts
every sample with :func:`ednn.atoms.predict` (timed one by one, after one warm-up call), and the
errors against the GFN1-xTB labels are reported per atom (meV/atom) and per area (meV/Å²). The
reference cost is the label time stored with every sample; with ``xtb_samples`` the first samples
are also labelled again here, side by side with the model, in a fresh process with the same number
of threads (and the BLAS given by ``blas``), which also checks that the stored labels reproduce.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .metrics import pyplot, save_figure

__all__ = ["evaluate_sizes", "format_sizes", "plot_sizes", "plot_atoms_parity"]

_RELABEL = r"""
import json, sys, time
from ednn.data.atoms_h5 import load
from ednn.data.xtb import LabelSettings, label
path, n = sys.argv[1], int(sys.argv[2])
ds = load(path)
settings = LabelSettings.from_dict(json.loads(ds.attrs["label_settings"]))
for i in range(min(n, len(ds))):
    t0 = time.perf_counter()
    e = label(ds[i], settings).energy
    print(json.dumps({"index": i, "seconds": time.perf_counter() - t0, "energy": e}), flush=True)
"""


def _relabel(path: str, n: int, threads: int, blas: str | None) -> list[dict[str, Any]]:
    from ..data.xtb import blas_preload_path, worker_env

    env = {**os.environ, **worker_env(threads, blas_preload_path(blas))}
    out = subprocess.run([sys.executable, "-c", _RELABEL, path, str(n)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"re-labelling {path} failed:\n{out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def evaluate_sizes(
    model: str | os.PathLike[str],
    datasets: list[str | os.PathLike[str]],
    *,
    limit: int | None = None,
    threads: int | None = None,
    xtb_samples: int | list[int] = 0,
    blas: str | None = None,
    spacing: Any = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Errors and timings of ``model`` on each dataset; one dict per dataset.

    Keys: ``data``, ``samples``, ``atoms`` (mean), ``area`` (mean, Å²), ``mae_atom`` / ``median_atom``
    / ``rmse_atom`` / ``bias_atom`` (meV/atom), ``mae_area`` (meV/Å²), ``ednn_seconds`` (median per
    energy), ``xtb_seconds`` (median stored label time), ``xtb_seconds_here`` (median of the
    re-labelled samples, when ``xtb_samples`` (one count, or one per dataset) asks for some), ``speedup`` (xTB / EDNN, from the side-by-side times
    when measured), and the per-sample arrays ``pred``, ``true``, ``natoms``, ``family``.
    """
    from ..atoms.predict import predict
    from ..data.atoms_h5 import load
    from ..model import load_model
    from ..progress import progress_bar

    if not datasets:
        raise InputError("datasets: expected one or more HDF5 files, got none")
    for d in datasets:
        if not Path(d).is_file():
            raise InputError(f"datasets: expected an existing HDF5 file, got {str(d)!r} (no such file)")
    per = [xtb_samples] * len(datasets) if isinstance(xtb_samples, int) else list(xtb_samples)
    if len(per) != len(datasets) or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in per):
        raise InputError(
            f"xtb_samples: expected an int >= 0 or one per dataset ({len(datasets)}), got {xtb_samples!r}"
        )
    m = load_model(model)
    n_threads = threads or os.cpu_count() or 1
    rows = []
    for d, n_xtb in zip(datasets, per):
        ds = load(d)
        n = min(len(ds), limit or len(ds))
        if n == 0:
            raise InputError(f"datasets: expected labelled samples in {str(d)!r}, got none")
        pred, secs = np.empty(n), np.empty(n)
        predict(m, ds[0], spacing=spacing, threads=threads)  # warm-up (sessions, first allocations)
        with progress_bar(n, f"predict {Path(d).name}", "cells", enable=progress) as bar:
            for i in range(n):
                atoms = ds[i]
                t0 = time.perf_counter()
                y = predict(m, atoms, spacing=spacing, threads=threads)
                secs[i] = time.perf_counter() - t0
                pred[i] = y if isinstance(y, float) else float(np.asarray(y).reshape(-1)[0])
                bar.update(1)
        true = np.asarray(ds.energy[:n], dtype=np.float64)
        natoms = np.asarray(ds.natoms[:n], dtype=np.float64)
        area = np.array([abs(np.linalg.det(ds.cells[i][:2, :2])) for i in range(n)])
        err_atom = (pred - true) / natoms * 1e3
        err_area = (pred - true) / area * 1e3
        row: dict[str, Any] = {
            "data": str(d), "samples": n, "atoms": float(natoms.mean()), "area": float(area.mean()),
            "mae_atom": float(np.mean(np.abs(err_atom))), "median_atom": float(np.median(np.abs(err_atom))),
            "rmse_atom": float(np.sqrt(np.mean(err_atom**2))), "bias_atom": float(np.mean(err_atom)),
            "mae_area": float(np.mean(np.abs(err_area))),
            "label_spread_atom": float(np.std(true / natoms) * 1e3),
            "ednn_seconds": float(np.median(secs)),
            "xtb_seconds": float(np.median(np.asarray(ds.columns["label_seconds"][:n]))),
            "pred": pred, "true": true, "natoms": natoms,
            "family": [str(f) for f in np.asarray(ds.columns["family"][:n]).astype(str)],
        }
        if n_xtb:
            again = _relabel(str(d), min(n_xtb, n), n_threads, blas)
            row["xtb_seconds_here"] = float(np.median([r["seconds"] for r in again]))
            row["xtb_samples_here"] = len(again)
            row["relabel_max_diff"] = float(max(abs(r["energy"] - true[r["index"]]) for r in again))
        row["speedup"] = row.get("xtb_seconds_here", row["xtb_seconds"]) / row["ednn_seconds"]
        rows.append(row)
    return rows


def format_sizes(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`evaluate_sizes`."""
    head = ("| data | cells | atoms | MAE meV/atom | median | bias | MAE meV/Å² | label spread meV/atom "
            "| EDNN s/energy | xTB s/energy | speed-up |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        xtb = r.get("xtb_seconds_here", r["xtb_seconds"])
        src = "" if "xtb_seconds_here" in r else " (stored)"
        lines.append(
            f"| {Path(r['data']).name} | {r['samples']} | {r['atoms']:.0f} | {r['mae_atom']:.2f} | {r['median_atom']:.2f} "
            f"| {r['bias_atom']:+.2f} | {r['mae_area']:.3f} | {r['label_spread_atom']:.1f} | {r['ednn_seconds'] * 1e3:.1f} ms "
            f"| {xtb:.3g} s{src} | {r['speedup']:.0f}× |"
        )
    return "\n".join(lines)


def plot_sizes(rows: list[dict[str, Any]], path: str | os.PathLike[str], title: str = "") -> Path:
    """Two panels: per-atom MAE vs atoms (Fig. 9 style) and time per energy, EDNN vs xTB, vs atoms."""
    plt = pyplot()

    atoms = np.array([r["atoms"] for r in rows])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for r in rows:
        err = np.abs(r["pred"] - r["true"]) / r["natoms"] * 1e3
        a.scatter(np.full(err.shape, r["atoms"]), err, s=8, alpha=0.4, color="0.5")
    a.plot(atoms, [r["mae_atom"] for r in rows], "o-", color="C0", label="MAE")
    a.set_xscale("log")
    a.set_xlabel("atoms per cell")
    a.set_ylabel("|error| (meV/atom)")
    a.legend()
    a.set_title("error vs cell size (no retraining)")
    b.loglog(atoms, [r["ednn_seconds"] for r in rows], "o-", label="EDNN (this model)")
    b.loglog(atoms, [r.get("xtb_seconds_here", r["xtb_seconds"]) for r in rows], "s-", label="GFN1-xTB (tblite)")
    for r in rows:
        b.annotate(f"{r['speedup']:.0f}×", (r["atoms"], r["ednn_seconds"]), textcoords="offset points", xytext=(4, -12))
    b.set_xlabel("atoms per cell")
    b.set_ylabel("seconds per energy")
    b.legend()
    b.set_title("time per energy")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_atoms_parity(row: dict[str, Any], path: str | os.PathLike[str], title: str = "") -> Path:
    """Paper Figs 5/7 style: predicted vs true energy per atom and the error, coloured by family."""
    plt = pyplot()

    t = row["true"] / row["natoms"]
    p = row["pred"] / row["natoms"]
    fam = np.array(row["family"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for i, f in enumerate(sorted(set(fam))):
        k = fam == f
        a.scatter(t[k], p[k], s=6, alpha=0.6, color=f"C{i}", label=f)
        b.scatter(t[k], (p[k] - t[k]) * 1e3, s=6, alpha=0.6, color=f"C{i}", label=f)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    a.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    a.set_xlabel("GFN1-xTB energy (eV/atom)")
    a.set_ylabel("EDNN energy (eV/atom)")
    a.legend()
    b.axhline(0, color="k", lw=0.8)
    b.set_xlabel("GFN1-xTB energy (eV/atom)")
    b.set_ylabel("EDNN − xTB (meV/atom)")
    b.set_title(f"MAE {row['mae_atom']:.2f} meV/atom, {row['samples']} cells")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
