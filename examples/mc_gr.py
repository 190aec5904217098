"""g(r) of graphene at 1000 K: EDNN Monte Carlo against GFN1-xTB molecular dynamics (paper Fig. 13).

    python examples/mc_gr.py xtb_md_1000K.extxyz [--steps 120000] [--out-dir docs/img/simulation]

The MD trajectory comes from examples/xtb_md.py (run it first; frames after its first 1000 steps
are used). The Monte Carlo runs here: the shipped sheets model, the 60-site pristine graphene cell,
1000 K, single-atom in-plane moves (ednn.mc), the first 20 % of the steps adapting the step size
and discarded. Writes gr.png, gr.json and prints the peak table and the time per energy.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import ednn
from ednn import mc
from ednn.data.sheets import honeycomb
from ednn.evaluate.metrics import pyplot, save_figure
from ednn.evaluate.structure import peaks, rdf


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("md", help="extxyz trajectory of examples/xtb_md.py")
    p.add_argument("--steps", type=int, default=120_000, help="Monte Carlo steps (default 120000, 2000 sweeps)")
    p.add_argument("--temperature", type=float, default=1000.0, help="K (default 1000)")
    p.add_argument("--out-dir", default="docs/img/simulation", help="where gr.png and gr.json go")
    a = p.parse_args()
    from ase.io import read

    md = [f for f in read(a.md, index=":") if f.info["step"] > 1000]
    md_seconds = float(np.median([f.info["seconds_per_step"] for f in md]))
    sheet = honeycomb()
    model = ednn.models.path("sheets")
    energy = mc.LocalEnergy(model, sheet)
    t0 = time.perf_counter()
    for _ in range(20):
        energy.full_energy()
    full_seconds = (time.perf_counter() - t0) / 20
    burn = a.steps // 5
    res = mc.run(energy, temperature=a.temperature, steps=a.steps, seed=0, adapt=burn, check_every=a.steps // 10,
                 record_every=len(sheet))  # one frame per sweep after the adaptation
    snap = res.frames
    L = energy.lengths
    r, g_mc = rdf(((q, L) for q in snap), r_max=6.0)
    _, g_md = rdf(((f.positions, f.cell.lengths()) for f in md), r_max=6.0)
    table = {"mc": peaks(r, g_mc), "md": peaks(r, g_md)}
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(r, g_md, label=f"GFN1-xTB MD ({len(md)} frames)")
    ax.plot(r, g_mc, label=f"EDNN Monte Carlo ({len(snap)} frames)", linestyle="--")
    ax.set(xlabel="r (Å)", ylabel="g(r)", title=f"graphene, 60-site cell, {a.temperature:g} K")
    ax.legend()
    save_figure(fig, out / "gr.png")
    summary = {
        "peaks": table, "mc_acceptance": res.acceptance, "mc_step": res.step,
        "mc_seconds_per_step": res.seconds_per_step, "ednn_full_seconds": full_seconds,
        "xtb_seconds_per_md_step": md_seconds, "md_frames": len(md), "mc_frames": len(snap),
        "checks_max_rel": max(abs(x - y) / abs(y) for _, x, y in res.checks) if res.checks else None,
    }
    (out / "gr.json").write_text(json.dumps(summary, indent=2))
    print("| peak | MC r (Å) | MC g | MD r (Å) | MD g |\n|---|---|---|---|---|")
    for k, ((r1, g1), (r2, g2)) in enumerate(zip(table["mc"], table["md"]), 1):
        print(f"| {k} | {r1:.3f} | {g1:.2f} | {r2:.3f} | {g2:.2f} |")
    print(json.dumps({k: v for k, v in summary.items() if k != "peaks"}, indent=2))


if __name__ == "__main__":
    main()
