"""What the ``strain=`` option of ednn.atoms.predict costs: strained vs exact energies (docs/cells.md).

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 OMP_NUM_THREADS=1 \\
        python examples/strain_cost.py [--sheets 6] [--repeats 1,2,4] [--xtb [--xtb-sites 60]] [--out FILE]

Sheets of ednn.data.sheets.hexagonal_sheet (graphene, h-BN, graphene/h-BN in turn; 60, 240 and 960
sites, every edge a whole number of the shipped sheets model's focus lengths), rattled by 0.05 Angstrom
(Gaussian, in 3-D), are stretched along x (cell and positions, affinely) by a fraction delta of a focus
length, so that their x edge no longer fits the model (--model, default the shipped sheets model).
Each stretched sheet S_delta gets:

* exact: its model energy through the exact supercell of 1 / |delta| copies (ednn.atoms.cells.fit_cell,
  up to 64 copies);
* strained: its model energy with the x edge rescaled to the nearest whole number of focus lengths
  (ednn.atoms.cells.fit_cell with strain, no repeats: what ``strain=`` does when no repeat fits),
  i.e. back to the unstretched sheet;
* with --xtb, sheets of --xtb-sites sites only: the GFN1-xTB energy of S_delta and of the unstretched
  sheet.

Prints a table in meV/atom: the mean of strained - exact (and its mean absolute value), and with
--xtb the mean absolute errors of exact and strained against xTB(S_delta), and the xTB energy the
rescale itself changes (xTB(S_0) - xTB(S_delta)).
"""

from __future__ import annotations

import argparse
import json
import time
from fractions import Fraction

import ednn
import numpy as np
from ednn.atoms.cells import fit_cell
from ednn.data.sheets import FAMILIES, hexagonal_sheet

DELTAS = "-1/4,-1/8,-1/16,-1/32,-1/64,1/64,1/32,1/16,1/8,1/4"
RATTLE = 0.05  # Angstrom


def stretched(atoms, factor: float):
    out = atoms.copy()
    cell = out.cell.array.copy()
    cell[0] *= factor
    out.set_cell(cell, scale_atoms=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sheets", help="atoms model: a shipped model's name or an .onnx file")
    ap.add_argument("--sheets", type=int, default=6, help="sheets per size (families in turn)")
    ap.add_argument("--repeats", default="1,2,4", help="sheet repeats: 1 (60 sites), 2 (240), 4 (960)")
    ap.add_argument("--deltas", default=DELTAS, help=f"stretches in focus lengths (default {DELTAS})")
    ap.add_argument("--xtb", action="store_true", help="label the sheets of --xtb-sites with GFN1-xTB")
    ap.add_argument("--xtb-sites", type=int, default=60, help="sites of the sheets labelled with --xtb (default 60)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="write every number to this JSON file")
    a = ap.parse_args()
    deltas = [Fraction(v) for v in a.deltas.split(",")]
    from ednn.models import resolve

    model = ednn.load_model(resolve(a.model))
    spacing = ednn.atoms.ImageRecipe.from_model(model).spacing
    focus = model.focus
    unit_x = focus[0] * spacing[0]
    rng = np.random.default_rng(a.seed)
    rows = []
    t0 = time.perf_counter()
    for repeat in (int(v) for v in a.repeats.split(",")):
        for i in range(a.sheets):
            sheet = hexagonal_sheet(FAMILIES[i % len(FAMILIES)], rng, repeat=repeat)
            sheet.positions += rng.normal(0.0, RATTLE, sheet.positions.shape)
            n = len(sheet)
            lx = sheet.cell[0, 0]
            e0 = ednn.atoms.predict(model, sheet)
            x0 = None
            if a.xtb and 60 * repeat * repeat == a.xtb_sites:
                from ednn.data.xtb import label

                x0 = label(sheet).energy
            for delta in deltas:
                s = stretched(sheet, (lx + float(delta) * unit_x) / lx)
                ex = fit_cell(s.positions, s.numbers, s.cell.array, spacing=spacing, focus=focus, max_repeat=64)
                assert ex.exact and ex.multiplicity == delta.denominator  # 1 / |delta| copies
                exact = ednn.atoms.predict(model, ex.positions, ex.numbers, ex.cell) / ex.multiplicity
                fit = fit_cell(s.positions, s.numbers, s.cell.array, spacing=spacing, focus=focus, strain=0.49,
                               max_repeat=1)
                strained = ednn.atoms.predict(model, fit.positions, fit.numbers, fit.cell) / fit.multiplicity
                row = {"sites": int(repeat * repeat * 60), "atoms": n, "family": sheet.info["family"],
                       "delta": str(delta), "strain": fit.strain[0], "exact": exact / n, "strained": strained / n,
                       "unstretched": e0 / n}
                if x0 is not None:
                    row["xtb"] = label(s).energy / n
                    row["xtb_unstretched"] = x0 / n
                rows.append(row)
        print(f"repeat {repeat} done, {time.perf_counter() - t0:.0f} s", flush=True)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    head = ("| sites | delta (focus) | strain | strained - exact | abs | exact - xTB | strained - xTB | "
            "xTB(S_0) - xTB(S_delta) |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for sites in sorted({r["sites"] for r in rows}):
        for delta in deltas:
            sel = [r for r in rows if r["sites"] == sites and r["delta"] == str(delta)]
            d = 1e3 * np.array([r["strained"] - r["exact"] for r in sel])
            eps = np.mean([r["strain"] for r in sel])
            cols = [f"{sites}", f"{delta}", f"{100 * eps:+.2f} %", f"{d.mean():+.1f}", f"{np.abs(d).mean():.1f}"]
            if all("xtb" in r for r in sel):
                ex = 1e3 * np.array([r["exact"] - r["xtb"] for r in sel])
                st = 1e3 * np.array([r["strained"] - r["xtb"] for r in sel])
                phys = 1e3 * np.array([r["xtb_unstretched"] - r["xtb"] for r in sel])
                cols += [f"{np.abs(ex).mean():.1f}", f"{np.abs(st).mean():.1f}", f"{phys.mean():+.1f}"]
            else:
                cols += ["", "", ""]
            print("| " + " | ".join(cols) + " |")
    base = [r for r in rows if "xtb" in r and r["delta"] == str(deltas[0])]
    if base:
        err = 1e3 * np.array([r["unstretched"] - r["xtb_unstretched"] for r in base])
        print(f"model - xTB on the {len(base)} unstretched {a.xtb_sites}-site sheets: MAE {np.abs(err).mean():.1f} meV/atom")
    print(f"{len(rows)} stretched sheets, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
