"""Flattening thermal sheets in windows (ednn.atoms.localflat) against the one global solve: how far
apart (positions, pair lengths, energy per atom with the porous model) and what each costs.

    python examples/flatten_scale.py --out-dir docs/img/flatten      # ~12 min on 2 cores

Sheets: porous graphene (`ednn data porous-sheet` statistics) after 2 ps of Langevin MD with the
Tersoff potential in LAMMPS at 300 K and 1000 K (11 214 atoms, 179 x 185 A) and 1000 K (44 977 atoms,
358 x 369 A); cached as .npz in --cache. Time vs atoms: the 44 977-atom snapshot repeated 2 x 2 and
4 x 4 (the windows' cost does not depend on what the atoms are); the global solve on the
unrepeated sheets. End to end: the porous model on the 4 x 4 repeat (719 632 atoms), flattening
included, in one call and in its two steps. Memory: the peak of Python allocations (tracemalloc, in a
second run: it slows the code) during the flattening. The windows run on 2 threads, the global solve
on one.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np

import ednn
from ednn.atoms.bonds import bonds, flatten
from ednn.atoms.localflat import flatten_windows


def md_sheet(cells: tuple[int, int], temperature: float, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    import ase

    from ednn.data.md import thermalize
    from ednn.data.porous import porous_sheet

    path = cache / f"md_{cells[0]}x{cells[1]}_{int(temperature)}K.npz"
    if path.is_file():
        f = np.load(path)
        return f["positions"], f["cell"]
    pos, z, cell = porous_sheet(cells, seed=3)
    a = ase.Atoms(numbers=z, positions=pos, cell=cell, pbc=[True, True, False])
    a = thermalize(a, np.random.default_rng(1), temperature=temperature, method="lammps", equilibrate_steps=2000)[0]
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, positions=a.positions, cell=cell)
    return a.positions, cell


def timed(fn):
    """(result, seconds, peak bytes of Python allocations): timed alone, then run again under
    tracemalloc for the memory (which slows allocation-heavy code several-fold)."""
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, dt, peak


def compare(name: str, pos: np.ndarray, cell: np.ndarray, model: str) -> dict:
    L = cell[:2]
    z = np.full(len(pos), 6)
    g, tg, mg = timed(lambda: flatten(pos, cell))
    loc, tl, ml = timed(lambda: flatten_windows(pos, cell))
    i, j, d = bonds(pos, cell, 2.7)
    d3 = np.linalg.norm(d, axis=1)

    def lengths(p):
        r = p[j, :2] - p[i, :2]
        r -= L * np.round(r / L)
        return np.linalg.norm(r, axis=1)

    lg, ll, lp = lengths(g), lengths(loc), lengths(pos)
    ug, ul = (g - pos)[:, :2], (loc - pos)[:, :2]
    e = {k: ednn.atoms.predict(model, p, z, cell, flatten="none", threads=2) / len(pos)
         for k, p in (("global", g), ("local", loc), ("projection", pos))}
    row = {
        "sheet": name, "atoms": len(pos), "z_range": float(np.ptp(pos[:, 2])),
        "seconds_global": tg, "seconds_local": tl, "peak_mib_global": mg / 2**20, "peak_mib_local": ml / 2**20,
        "displacement_rms_global": float(np.sqrt((ug**2).sum(1).mean())),
        "position_rms_local_vs_global": float(np.sqrt(((ul - ug - (ul - ug).mean(0))**2).sum(1).mean())),
        "pair_rms_local_vs_global": float(np.sqrt(np.mean((ll - lg) ** 2))),
        "pair_max_local_vs_global": float(np.abs(ll - lg).max()),
        "pair_rms_projection_vs_global": float(np.sqrt(np.mean((lp - lg) ** 2))),
        "misfit_rms_global": float(np.sqrt(np.mean((lg - d3) ** 2))),
        "misfit_rms_local": float(np.sqrt(np.mean((ll - d3) ** 2))),
        "energy_global": e["global"],
        "mev_local_minus_global": 1e3 * (e["local"] - e["global"]),
        "mev_projection_minus_global": 1e3 * (e["projection"] - e["global"]),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default="flatten-report")
    ap.add_argument("--cache", default=".cache/flatten", help="MD snapshots (.npz) are kept here")
    ap.add_argument("--model", default="porous-fast")
    ap.add_argument("--repeats", default="1,2,4", help="repeats r of the 1000 K 44 977-atom sheet (r x r) timed")
    ap.add_argument("--global-max", type=int, default=50_000, help="largest repeated sheet also solved globally")
    a = ap.parse_args()
    out, cache = Path(a.out_dir), Path(a.cache)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for cells, temp in (((42, 75), 300.0), ((42, 75), 1000.0), ((84, 150), 1000.0)):
        pos, cell = md_sheet(cells, temp, cache)
        rows.append(compare(f"{len(pos)} atoms, {temp:.0f} K", pos, cell, a.model))
    pos, cell = md_sheet((84, 150), 1000.0, cache)
    scale = []
    for r in (int(v) for v in a.repeats.split(",")):
        big = np.concatenate([pos + np.array([x * cell[0], y * cell[1], 0.0]) for x in range(r) for y in range(r)])
        bc = np.array([r * cell[0], r * cell[1], cell[2]])
        _, tl, ml = timed(lambda: flatten_windows(big, bc))
        tg = mg = None
        if len(big) <= a.global_max:
            _, tg, mg = timed(lambda: flatten(big, bc))
        scale.append({"atoms": len(big), "seconds_local": tl, "peak_mib_local": ml / 2**20,
                      "seconds_global": tg, "peak_mib_global": None if mg is None else mg / 2**20})
        print(json.dumps(scale[-1]), flush=True)
    # end to end on the largest repeat: flattening (auto: windows beyond 20 000 atoms) + imaging + network
    r = int(a.repeats.split(",")[-1])
    big = np.concatenate([pos + np.array([x * cell[0], y * cell[1], 0.0]) for x in range(r) for y in range(r)])
    bc = np.array([r * cell[0], r * cell[1], cell[2]])
    t = time.perf_counter()
    e = ednn.atoms.predict(a.model, big, np.full(len(big), 6), bc, threads=2)
    total = time.perf_counter() - t
    t = time.perf_counter()
    flat = flatten_windows(big, bc, threads=2)
    t_flat = time.perf_counter() - t
    t = time.perf_counter()
    e2 = ednn.atoms.predict(a.model, flat, np.full(len(big), 6), bc, threads=2, flatten="none")
    t_net = time.perf_counter() - t
    end = {"atoms": len(big), "seconds": total, "atoms_per_core_second": len(big) / total / 2,
           "seconds_flatten": t_flat, "seconds_image_and_network": t_net, "energy_per_atom": e / len(big),
           "same_energy_in_two_steps": bool(abs(e - e2) <= 1e-9 * abs(e))}
    print(json.dumps(end), flush=True)
    n = np.array([s["atoms"] for s in scale], dtype=float)
    tl = np.array([s["seconds_local"] for s in scale])
    fit = {"local_exponent": float(np.polyfit(np.log(n), np.log(tl), 1)[0]),
           "local_atoms_per_second": float(n[-1] / tl[-1])}
    # the global solve's times: the 1000 K sheets above and the repeats it was run on
    gl = sorted({(r["atoms"], r["seconds_global"]) for r in rows if r["sheet"].endswith("1000 K")}
                | {(s["atoms"], s["seconds_global"]) for s in scale if s["seconds_global"] is not None})
    if len(gl) >= 2:
        fit["global_exponent"] = float(np.polyfit(np.log([g[0] for g in gl]), np.log([g[1] for g in gl]), 1)[0])
    report = {"model": a.model, "comparison": rows, "scaling": scale, "fit": fit, "end_to_end": end}
    (out / "flatten.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(fit))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(n, tl, "o-", label=f"windows (local), exponent {fit['local_exponent']:.2f}")
    if gl:
        label = "one solve (global)" + (f", exponent {fit['global_exponent']:.2f}" if "global_exponent" in fit else "")
        ax.loglog([g[0] for g in gl], [g[1] for g in gl], "s-", label=label)
    ax.set_xlabel("atoms (1000 K porous sheet)")
    ax.set_ylabel("flattening time (s, one process)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "flatten_time.png", dpi=120)


if __name__ == "__main__":
    main()
