"""ednn.predict on a large Ising grid: one process vs a local Dask cluster of 1 and 2 workers.

    python examples/grid_workers.py [--size 4096] [--workers 1,2] [--repeats 2] [--out grid_workers.json]

A random spin grid (int8, seed 0) of ``size`` x ``size`` is saved as .npy and read memory-mapped, as
``ednn predict`` reads it. Each configuration runs in a fresh process with the shipped ``ising``
model: one process with 1 and 2 ONNX Runtime threads, then ``ednn.predict(..., client=...)`` on a
LocalCluster of N single-threaded workers (default slabs). Reported: the best wall time of
``repeats`` runs (cluster start-up and a small warm-up excluded, shown apart) with the CPU seconds
of that run (the driver's and its workers' together), the answer, the
driver's peak RSS and each worker's peak RSS (``VmHWM`` in /proc: Linux only), with its RSS after warm-up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys, time
import numpy as np
import ednn

def _status(key):  # bytes; VmHWM is this process's own peak (ru_maxrss may carry a parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

def rss_now():
    return _status("VmRSS")

def peak():
    return _status("VmHWM")

if __name__ == "__main__":
    path, threads, workers, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    grid = np.load(path, mmap_mode="r")
    model = ednn.models.path("ising")
    out = {"threads": threads, "workers": workers}
    client = None
    if workers:
        from ednn.distributed import local_client
        t0 = time.perf_counter()
        client = local_client(workers)
        out["startup_s"] = time.perf_counter() - t0
    kw = {"client": client} if client is not None else {"threads": threads}
    ednn.predict(model, np.asarray(grid[:64, :64]), **kw)  # warm-up: model and session loaded
    if client is not None:
        out["worker_rss_warm"] = sorted(client.run(rss_now).values())
    def cpu():  # this process's CPU seconds, and its workers'
        return time.process_time() + (sum(client.run(time.process_time).values()) if client is not None else 0.0)

    times, cpus = [], []
    for _ in range(repeats):
        c0, t0 = cpu(), time.perf_counter()
        energy = ednn.predict(model, grid, **kw)
        times.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
    best = min(range(repeats), key=times.__getitem__)
    out.update(seconds=times[best], cpu_seconds=cpus[best], all_seconds=times, all_cpu_seconds=cpus, energy=energy,
               driver_peak_rss=peak())
    if client is not None:
        out["worker_peak_rss"] = sorted(client.run(peak).values())
        client.close()
    print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096, help="grid side L (L x L spins)")
    ap.add_argument("--workers", default="1,2", help="comma-separated Dask worker counts")
    ap.add_argument("--repeats", type=int, default=2, help="runs per configuration (the best is reported)")
    ap.add_argument("--out", default=None, help="write the results here as JSON")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grid.npy"
        np.save(path, np.random.default_rng(0).choice(np.array([-1, 1], dtype=np.int8), (a.size, a.size)))
        child = Path(tmp) / "child.py"
        child.write_text(CHILD)
        configs = [(1, 0), (2, 0)] + [(1, int(w)) for w in a.workers.split(",")]
        for threads, workers in configs:
            res = subprocess.run([sys.executable, str(child), str(path), str(threads), str(workers), str(a.repeats)],
                                 capture_output=True, text=True, check=False)
            if res.returncode:
                raise SystemExit(f"threads={threads} workers={workers} failed:\n{res.stderr[-4000:]}")
            row = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    base = rows[0]["seconds"]
    gib = 2.0**30
    print(f"\n| {a.size}^2 Ising grid ({a.size * a.size:,} tiles) | wall time | vs one process, 1 thread | "
          "CPU time | driver peak RSS | worker peak RSS |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        name = (f"Dask, {r['workers']} worker{'s' if r['workers'] > 1 else ''} (1 thread each)" if r["workers"]
                else f"one process, {r['threads']} thread{'s' if r['threads'] > 1 else ''}")
        wk = ", ".join(f"{p / gib:.2f}" for p in r.get("worker_peak_rss", [])) or "-"
        print(f"| {name} | {r['seconds']:.1f} s | {base / r['seconds']:.2f}x | {r['cpu_seconds']:.1f} s | "
              f"{r['driver_peak_rss'] / gib:.2f} GiB | "
              f"{wk}{' GiB' if r['workers'] else ''} |")
    energies = np.array([r["energy"] for r in rows])
    print(f"\nlargest relative difference between the answers: {np.max(np.abs(energies / energies[0] - 1)):.1e}")
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
