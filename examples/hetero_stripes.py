"""Is the energy of a graphene / h-BN sheet local? Stripes of h-BN of growing width in graphene.

A pristine, flat 480-site cell of graphene with a stripe of h-BN across it (B and N on the two
sublattices): across x (interfaces along y, zigzag: 12 x 10 rectangular cells, 51.1 Å x 24.6 Å, stripe
widths of 3..9 cells of 4.26 Å) or across y (interfaces along x, armchair: 6 x 20 cells, 25.6 Å x 49.2 Å,
widths of 3..17 cells of 2.46 Å). For any model that sums contributions reaching a few Å, the energy is
a straight line in the stripe's width once both the stripe and the graphene between are wider than
twice that reach: each added row changes only what is near it. The script fits a line to the GFN1-xTB
labels (``ednn.data.xtb.label``) and to the model's energies, against the number of B/N atoms, and
prints the residuals.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 OMP_NUM_THREADS=1 \\
        python examples/hetero_stripes.py --out stripes.json        # ~12 min on one core
"""

from __future__ import annotations

import argparse
import json

import numpy as np

#: (name, rectangular cells, axis across which the stripe grows, cell length along it (Å), widths in cells)
SERIES = (("zigzag interfaces", (12, 10), 0, 4.2608, range(3, 10)),
          ("armchair interfaces", (6, 20), 1, 2.46, range(3, 18, 2)))


def stripe_sheets(cells: tuple[int, int], axis: int, unit: float, widths) -> list:
    """Flat graphene cells with an h-BN stripe ``width * unit`` wide across ``axis``, one per width."""
    from ednn.data import sheets

    g = sheets.hexagonal_sheet("graphene", np.random.default_rng(0), cells=cells)
    h = sheets.hexagonal_sheet("hbn", np.random.default_rng(0), cells=cells)  # the same sites, B/N numbers
    x = np.mod(g.positions[:, axis] - g.positions[:, axis].min() + 0.1, g.cell.lengths()[axis])
    out = []
    for w in widths:
        a = g.copy()
        a.numbers = np.where(x < w * unit, h.numbers, 6)
        out.append(a)
    return out


def main() -> None:
    import ednn
    from ednn.data.xtb import label

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="sheets", help="model file or shipped model name (default sheets)")
    p.add_argument("--out", help="write the energies and residuals as JSON here")
    a = p.parse_args()
    report = {}
    for name, cells, axis, unit, widths in SERIES:
        rows = []
        for w, s in zip(widths, stripe_sheets(cells, axis, unit, widths)):
            rows.append({"width": w, "bn_atoms": int((s.numbers != 6).sum()), "xtb": label(s).energy,
                         "model": float(ednn.atoms.predict(a.model, s, threads=1))})
            print(name, rows[-1], flush=True)
        n = np.array([r["bn_atoms"] for r in rows], dtype=float)
        for key in ("xtb", "model"):
            e = np.array([r[key] for r in rows])
            res = e - np.polyval(np.polyfit(n, e, 1), n)
            for r, v in zip(rows, res):
                r[f"{key}_residual"] = float(v)
            print(f"{name}, {key}: residuals from a straight line (eV): {np.round(res, 3).tolist()}")
        report[name] = rows
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
