"""The paper's headline at scale (Figs 10-11): time and memory vs atoms, and vs Dask workers.

    python examples/scale.py [--max-area 1e8] [--out-dir docs/img/scale] [--threads 2] [--model sheets]
                             [--workers-area 3e6 | 0]

Porous graphene sheets (ednn data porous-sheet: the training cells' pore statistics) from about
10^3 atoms up to the paper's 1.0 µm² (about 3.4 x 10^7 atoms), each energy computed with the shipped
sheets model (or --model: a shipped name or a file) in a fresh process (ednn atoms predict), whose
wall time, CPU time and peak resident memory (VmHWM) are recorded; the sheets are flat, so their flattening is the identity (checked in O(N)). Then the
same 10^6-atom sheet on a local Dask cluster of 1 and 2 workers. Writes scale.json, scale.png,
workers.png and prints the tables of docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys, time
import numpy as np
import ednn
from ednn.data.porous import read_h5
path, threads, workers, model = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
t0 = time.perf_counter()
pos, z, cell, _ = read_h5(path)
own = pos.nbytes + z.nbytes
t1 = time.perf_counter()


def peak_rss():
    # VmHWM: this process's own high-water mark (ru_maxrss is kept across exec, so it would count
    # what the parent held when it started this process)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


rss_atoms = peak_rss()
model = ednn.models.resolve(model)
client = None
if workers:
    from ednn.distributed import local_client
    client = local_client(workers)
t2, c2 = time.perf_counter(), time.process_time()
e = ednn.atoms.predict(model, pos, z, cell, threads=None if workers else threads, client=client, progress=True)
t3, c3 = time.perf_counter(), time.process_time()
if client is not None:
    client.close()
cpu = c3 - c2  # this process's threads during the energy (Dask workers are other processes: not counted)
print(json.dumps({"atoms": int(len(z)), "energy": float(e), "read_seconds": t1 - t0, "seconds": t3 - t2,
                  "peak_rss": peak_rss(), "rss_after_read": rss_atoms,
                  "atoms_bytes": int(own), "workers": workers, "cpu_seconds": cpu}))
"""


def run_child(path: Path, threads: int, workers: int = 0, model: str = "sheets") -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(threads), str(workers), model],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-area", type=float, default=1e8, help="largest sheet in Angstrom^2 (default 1e8 = 1 um^2)")
    p.add_argument("--out-dir", default="docs/img/scale", help="where scale.json and the plots go")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime / rasterizer threads (default 2)")
    p.add_argument("--workers-area", type=float, default=3e6,
                   help="sheet of the workers study (default 3e6 A^2; 0: no workers study)")
    p.add_argument("--model", default="sheets", help="a shipped model's name or an EDNN file (default sheets)")
    a = p.parse_args()
    from ednn.data.porous import cells_for_area, porous_sheet, write_h5
    from ednn.evaluate.metrics import pyplot, save_figure

    areas = [a_ for a_ in (3e3, 3e4, 3e5, 3e6, 3e7, 1e8) if a_ <= a.max_area]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for area in areas:
            cells = cells_for_area(area)
            t0 = time.perf_counter()
            pos, z, cell = porous_sheet(cells, seed=0)
            built = time.perf_counter() - t0
            path = Path(tmp) / f"sheet{int(area)}.h5"
            write_h5(path, pos, z, cell, seed=0)
            del pos, z
            r = run_child(path, a.threads, model=a.model)
            r.update(area=float(cell[0] * cell[1]), build_seconds=built)
            rows.append(r)
            print(f"{r['atoms']:>10} atoms: build {built:7.1f} s, energy {r['seconds']:8.2f} s "
                  f"({r['atoms'] / r['seconds'] / a.threads:8.0f} atoms/core-s; CPU {r['cpu_seconds']:8.1f} s, "
                  f"{r['atoms'] / r['cpu_seconds']:6.0f} atoms/CPU-s), peak RSS {r['peak_rss'] / 2**30:.2f} GiB "
                  f"({(r['peak_rss'] - r['atoms_bytes']) / 2**30:.2f} GiB beyond the atoms)", flush=True)
            path.unlink()
        work = []
        if a.workers_area > 0:
            cells = cells_for_area(a.workers_area)
            pos, z, cell = porous_sheet(cells, seed=1)
            path = Path(tmp) / "workers.h5"
            write_h5(path, pos, z, cell, seed=1)
            for w in (0, 1, 2):
                r = run_child(path, a.threads if w == 0 else 1, w, model=a.model)
                work.append(r)
                print(f"workers {w or 'none (one process)'}: {r['atoms']} atoms in {r['seconds']:.2f} s", flush=True)
    n = np.array([r["atoms"] for r in rows], dtype=float)
    t = np.array([r["seconds"] for r in rows])
    fit = (n >= 1e4) & (n <= 1e7 * 1.01)
    exponent = float(np.polyfit(np.log(n[fit]), np.log(t[fit]), 1)[0]) if fit.sum() >= 2 else float("nan")
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps({"model": a.model, "rows": rows, "workers": work,
                                                "exponent_1e4_1e7": exponent, "threads": a.threads,
                                                "cores": os.cpu_count()}, indent=2))
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    ax[0].loglog(n, t, "o-", label=f"EDNN energy (slope {exponent:.3f} for 1e4-1e7)")
    ax[0].loglog(n, n / 53.0 / 448, ":", label="paper: 53 atoms/core-s on 448 cores")
    ax[0].set(xlabel="atoms", ylabel="wall time (s)", title=f"porous graphene, {a.model}, {a.threads} threads")
    ax[0].legend(fontsize=8)
    ax[1].loglog(n, np.array([r["peak_rss"] for r in rows]) / 2**30, "o-", label="peak RSS")
    ax[1].loglog(n, np.array([r["atoms_bytes"] for r in rows]) / 2**30, ":", label="the atoms' own arrays")
    ax[1].set(xlabel="atoms", ylabel="GiB")
    ax[1].legend(fontsize=8)
    save_figure(fig, out / "scale.png")
    print(f"exponent 1e4-1e7: {exponent:.3f}")
    if not work:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([1, 2], [work[1]["seconds"], work[2]["seconds"]], "o-", label="Dask LocalCluster")
    ax.axhline(work[0]["seconds"], color="grey", linestyle=":", label="one process, 2 threads")
    ax.set(xlabel="worker processes (1 thread each)", ylabel="wall time (s)",
           title=f"{work[0]['atoms']} atoms on a {os.cpu_count()}-core machine")
    ax.legend(fontsize=8)
    save_figure(fig, out / "workers.png")


if __name__ == "__main__":
    main()
