"""How far a sheets model is from GFN1-xTB on porous graphene it was never trained on.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 OMP_NUM_THREADS=1 \\
        python examples/porous_transfer.py [--model sheets] [--count 16] [--seed 0] [--cells 6,10] [--out porous.json]

Flat porous sheets built exactly as the huge sheets of docs/scale.md (``ednn.data.porous.porous_sheet``:
pores as a Poisson process at the porous training cells' density, radii 1.5-5 Å, dangling atoms
removed), here of 2 x 2 60-site blocks (about 200 atoms), each labelled with GFN1-xTB (the sheets
datasets' settings, ``ednn.data.xtb.label``) and predicted by the model. Prints one line per sheet
and the MAE per atom of the sheets with pores and of those the draw left pristine. Needs the extra
``atoms`` (tblite, ASE); ~10-20 s per sheet on one core.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sheets", help="a shipped model's name or an EDNN file (default sheets)")
    p.add_argument("--count", type=int, default=16, help="porous sheets (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first sheet; one seed per sheet (default 0)")
    p.add_argument("--cells", default="6,10", help="rectangular 4-atom cells NX,NY (default 6,10: 2 x 2 60-site blocks)")
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    a = p.parse_args()
    import ase

    import ednn
    from ednn.data.porous import porous_sheet
    from ednn.data.xtb import LabelSettings, label

    cells = tuple(int(v) for v in a.cells.split(","))
    model = ednn.load_model(a.model)
    rows = []
    for seed in range(a.seed, a.seed + a.count):
        pos, z, cell = porous_sheet(cells, seed=seed)
        atoms = ase.Atoms(numbers=z, positions=pos, cell=np.diag(cell), pbc=(True, True, False))
        t0 = time.perf_counter()
        xtb = label(atoms, LabelSettings()).energy
        seconds = time.perf_counter() - t0
        e = float(ednn.atoms.predict(model, atoms, threads=1, progress=False))
        sites = 4 * cells[0] * cells[1]
        rows.append({"seed": seed, "atoms": len(atoms), "sites": sites, "xtb": xtb, "ednn": e, "label_seconds": seconds,
                     "error_meV_per_atom": 1000 * (e - xtb) / len(atoms)})
        print(f"seed {seed:3d}: {len(atoms):4d} of {sites} sites, EDNN - xTB {rows[-1]['error_meV_per_atom']:+8.1f} meV/atom "
              f"(label {seconds:.1f} s)", flush=True)
    err = np.array([r["error_meV_per_atom"] for r in rows])
    porous = np.array([r["atoms"] < r["sites"] for r in rows])
    for name, sel in (("with pores", porous), ("pristine", ~porous)):
        if sel.any():
            print(f"{name}: {sel.sum()} sheets, MAE {np.abs(err[sel]).mean():.1f} meV/atom, median "
                  f"{np.median(np.abs(err[sel])):.1f}, bias {err[sel].mean():+.1f}, worst {np.abs(err[sel]).max():.1f}")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"model": str(a.model), "cells": list(cells), "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
