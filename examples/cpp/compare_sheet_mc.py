"""The C++ sheet Monte Carlo (sheet_mc) against ednn.mc, move by move.

    python compare_sheet_mc.py --exe build/example/sheet_mc [--model sheets] [--repeat 2] [--moves 300]

Writes a flat graphene sheet (in-plane disorder of 0.05 Angstrom) and a list of moves with their
random numbers, runs sheet_mc on it, replays the same chain with ednn.mc.LocalEnergy, and checks
that both accept the same moves and that their energies agree to 1e-9 relative after every move.
Exit status 0 when they do.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import ednn
from ednn import mc
from ednn.data.sheets import honeycomb
from ednn.models import resolve

RTOL = 1e-9  # both sides sum float64 tile values of bitwise equal images; 1e-15 is typical


def write_input(path: Path, sheet, moves: np.ndarray) -> None:
    L = sheet.cell.lengths()
    lines = [f"cell {float(L[0])!r} {float(L[1])!r}", f"atoms {len(sheet)}"]
    lines += [f"{int(z)} {float(x)!r} {float(y)!r} {float(h)!r}" for z, (x, y, h) in zip(sheet.numbers, sheet.positions)]
    lines.append(f"moves {len(moves)}")
    lines += [f"{int(i)} {float(dx)!r} {float(dy)!r} {float(u)!r}" for i, dx, dy, u in moves]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exe", required=True, help="the sheet_mc executable")
    p.add_argument("--model", default="sheets", help="model file or shipped name (default sheets)")
    p.add_argument("--repeat", type=int, default=2, help="n x n times the 60-site cell (default 2)")
    p.add_argument("--moves", type=int, default=300, help="trial moves (default 300)")
    p.add_argument("--temperature", type=float, default=1000.0, help="K (default 1000)")
    a = p.parse_args()
    rng = np.random.default_rng(11)
    sheet = honeycomb((3 * a.repeat, 5 * a.repeat))
    sheet.positions[:, :2] += rng.normal(0.0, 0.05, (len(sheet), 2))
    moves = np.column_stack([rng.integers(0, len(sheet), a.moves), rng.uniform(-0.1, 0.1, (a.moves, 2)),
                             rng.random(a.moves)])
    model = resolve(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "input.txt"
        write_input(inp, sheet, moves)
        out = subprocess.run([a.exe, str(model), str(inp), "--temperature", repr(a.temperature), "--check-every", "100"],
                             capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
        return 1
    rows = np.array([[float(v) for v in line.split()] for line in out.stdout.splitlines()])
    energy = mc.LocalEnergy(model, sheet)
    kT = mc.KB_EV * a.temperature
    py = [(0, 1, energy.energy)]
    for s, (i, dx, dy, u) in enumerate(moves, 1):
        i = int(i)
        dE = energy.propose(i, energy.positions[i, :2] + [dx, dy])
        ok = dE <= 0 or u < math.exp(-dE / kT)
        if ok:
            energy.accept()
        py.append((s, int(ok), energy.energy))
    py_rows = np.array(py)
    same_accept = np.array_equal(rows[:, 1], py_rows[:, 1])
    rel = np.abs(rows[:, 2] - py_rows[:, 2]) / np.abs(py_rows[:, 2])
    full = float(ednn.atoms.predict(model, energy.positions, energy.numbers, (*energy.lengths, 20.0)))
    print(f"{len(sheet)} atoms, {a.moves} moves, {int(rows[1:, 1].sum())} accepted by C++ and "
          f"{int(py_rows[1:, 1].sum())} by Python; largest relative energy difference {rel.max():.2e}; "
          f"Python running vs full evaluation {abs(energy.energy - full) / abs(full):.2e}")
    return 0 if same_accept and rel.max() <= RTOL else 1


if __name__ == "__main__":
    sys.exit(main())
