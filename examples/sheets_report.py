"""The numbers of docs/sheets.md for an atoms model: errors per family on held-out, outside-user and
larger cells, and the invariance spread under moves that keep the physics.

    python examples/sheets_report.py sheets --test data/sheets60_v2_test.h5 \
        --outside data/outside_sheets.extxyz.gz --transfer data/sheets240_v2.h5 data/sheets540_v2.h5 data/sheets960_v2.h5 \
        --draws 4 --out report.json --plot-dir docs/img/sheets      # ~5 min on 2 cores

Errors are EDNN - GFN1-xTB per atom (meV/atom): MAE, median absolute error and bias (mean), per file,
per family (pristine / with vacancies) and, for the outside sheets, per rattle sigma; per cell area
(meV/A^2, the paper's unit) for the labelled files. The porous model (carbon only) is moved on porous
sheets (--probe):

    python examples/sheets_report.py porous --test data/porous240_test.h5 --transfer data/porous960_test.h5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import ednn
from ednn.evaluate.invariance import invariance_spread, probe_family, probe_porous, probe_sheets


def _stats(err: np.ndarray) -> dict[str, float]:
    a = np.abs(err)
    return {"n": int(len(err)), "mae": float(a.mean()), "median": float(np.median(a)), "bias": float(err.mean()),
            "worst": float(a.max())}


def _groups(err: np.ndarray, keys: list[str]) -> dict[str, dict[str, float]]:
    keys_arr = np.asarray(keys)
    return {k: _stats(err[keys_arr == k]) for k in sorted(set(keys))}


def h5_errors(model: ednn.Model, path: str, plot_dir: str | None = None) -> dict:
    from ednn.data.atoms_h5 import load
    from ednn.train.data import broken_samples

    ds = load(path)
    # broken snapshots (two atoms closer than any bond) and the later ones of their trajectory are left
    # out, as in training
    left_out = set(broken_samples(ds))
    keep = [i for i in range(len(ds)) if i not in left_out]
    err, seconds, pred, area = [], [], [], []
    for i in keep:
        t = time.perf_counter()
        e = ednn.atoms.predict(model, ds[i], threads=2)
        seconds.append(time.perf_counter() - t)
        err.append((e - ds.energy[i]) / ds.natoms[i] * 1e3)
        pred.append(e / ds.natoms[i])
        area.append(ds.cells[i][0, 0] * ds.cells[i][1, 1])
    err = np.asarray(err)
    # the paper reports errors per area (meV/A^2) of the cell
    per_area = err * ds.natoms[keep] / np.asarray(area)
    if plot_dir:
        from ednn.evaluate.metrics import plot_parity

        plot_parity(np.asarray(pred), ds.energy[keep] / ds.natoms[keep], 1, Path(plot_dir) / f"{Path(path).stem}_parity.png",
                    units="eV", title=f"{Path(path).name}: EDNN vs GFN1-xTB, per atom")
    fam = np.asarray(ds.columns["family"]).astype(str)[keep]
    vac = (np.asarray(ds.columns["vacancies"]) > 0)[keep]
    # a porous sheet always misses sites: its pores are not vacancies of another family
    keys = [f"{f}{' +vac' if v and f != 'porous' else ''}" for f, v in zip(fam, vac)]
    out = {"file": Path(path).name, "atoms": float(np.mean(ds.natoms[keep])), "left_out": len(ds) - len(keep),
           "all": _stats(err), "per_area": _stats(per_area), "by_family": _groups(err, keys),
           "seconds_median": float(np.median(seconds))}
    # h-BN sheets by the kinds of sites missing: a B vacancy is an acceptor, an N vacancy a donor, and
    # the two exchange charge across the cell (docs/sheets.md, "What a local model cannot learn")
    hbn = [k for k, f in enumerate(fam) if f == "hbn"]
    if hbn:
        sites = np.asarray(ds.columns["sites"])[keep]
        kinds = []
        for k in hbn:
            z = ds.numbers(keep[k])
            missing_b, missing_n = sites[k] // 2 - int((z == 5).sum()), sites[k] // 2 - int((z == 7).sum())
            kinds.append({(False, False): "pristine", (True, False): "B sites missing", (False, True): "N sites missing",
                          (True, True): "B and N sites missing"}[(missing_b > 0, missing_n > 0)])
        out["hbn_by_missing"] = _groups(err[hbn], kinds)
    return out


def outside_errors(model: ednn.Model, path: str) -> dict:
    from ase.io import read

    frames = read(path, index=":")
    # extxyz "energy" comes back as the frame's single-point energy
    err = np.asarray([(ednn.atoms.predict(model, a, threads=2) - a.get_potential_energy()) / len(a) * 1e3 for a in frames])
    fam = [f"{a.info['family']}{' +vac' if a.info['vacancies'] else ''}" for a in frames]
    sig = [f"sigma {a.info['sigma']:.2f}" for a in frames]
    return {"file": Path(path).name, "all": _stats(err), "by_family": _groups(err, fam), "by_sigma": _groups(err, sig)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="model file or shipped model name")
    p.add_argument("--test", help="held-out labelled HDF5 (same generator as training, other seed)")
    p.add_argument("--outside", help="extxyz of examples/outside_sheets.py or examples/outside_porous.py")
    p.add_argument("--transfer", nargs="*", default=[], help="labelled HDF5 files of larger cells")
    p.add_argument("--draws", type=int, default=4, help="random draws per move for the invariance spread")
    p.add_argument("--out", help="JSON report")
    p.add_argument("--plot-dir", help="where the parity plot of the held-out cells goes")
    p.add_argument("--probe", choices=("auto", "sheets", "porous"), default="auto",
                   help="sheets moved for the invariance spread: auto takes porous graphene for a carbon-only "
                        "model, else every sheets family (default auto)")
    a = p.parse_args()
    m = ednn.Model(ednn.models.resolve(a.model))
    report: dict = {"model": str(a.model)}
    if a.test:
        report["test"] = h5_errors(m, a.test, a.plot_dir)
    if a.outside:
        report["outside"] = outside_errors(m, a.outside)
    report["transfer"] = [h5_errors(m, f) for f in a.transfer]
    t = time.perf_counter()
    probe = probe_family(m) if a.probe == "auto" else a.probe
    sheets = probe_porous(seed=7, cells=[(6, 10)] * 6 + [(12, 20)] * 2) if probe == "porous" else probe_sheets(seed=7)
    inv = invariance_spread(m, sheets, draws=a.draws, seed=11, threads=2)
    report["invariance"] = {"median": inv["median"], "worst": inv["worst"], "by_move": inv["by_move"],
                            "probe": probe, "sheets": len(inv["spread"]), "seconds": time.perf_counter() - t}
    text = json.dumps(report, indent=1)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
