"""Compares the C++ predictor with ednn.predict on the grids of the shared reference file.

    python compare_with_python.py --exe build/ising_mc --model MODEL.onnx [--reference FILE] [--rtol 1e-9]

Runs ``ising_mc energies MODEL FILE`` and ``ednn.predict(MODEL, grid)`` on every grid of FILE and
requires them to agree to ``rtol``; when MODEL is the shipped model the file was made with, the
stored energies must agree too. Prints one line per grid and ``N passed, M failed``.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_REFERENCE = HERE / "reference" / "ising_grids.txt"


def read_reference(path: str | Path) -> tuple[str, list[tuple[np.ndarray, float]]]:
    """The model name and the (spins, stored energy) pairs of a reference file."""
    lines = [ln.split() for ln in Path(path).read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln[0].startswith("#")]
    model, grids, i = "", [], 0
    while i < len(lines):
        words = lines[i]
        if words[0] == "model":
            model = words[1]
            i += 1
            continue
        if words[0] != "grid" or len(words) != 5 or words[3] != "energy":
            raise ValueError(f"{path}: expected 'grid ROWS COLS energy E', got {' '.join(words)!r}")
        rows, cols, energy = int(words[1]), int(words[2]), float(words[4])
        spins = np.array([[int(v) for v in ln] for ln in lines[i + 1 : i + 1 + rows]], dtype=np.int8)
        if spins.shape != (rows, cols):
            raise ValueError(f"{path}: grid {len(grids)}: expected {rows}x{cols} spins, got {spins.shape}")
        grids.append((spins, energy))
        i += 1 + rows
    return model, grids


def cpp_energies(exe: str | Path, model: str | Path, reference: str | Path) -> list[float]:
    out = subprocess.run([str(exe), "energies", str(model), str(reference)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{exe} energies failed ({out.returncode}): {out.stderr.strip()}")
    return [float(v) for v in out.stdout.split()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exe", required=True, help="the ising_mc executable")
    p.add_argument("--model", required=True, help="EDNN model file")
    p.add_argument("--reference", default=str(DEFAULT_REFERENCE), help="reference grids file")
    p.add_argument("--rtol", type=float, default=1e-9)
    a = p.parse_args(argv)

    import ednn

    name, grids = read_reference(a.reference)
    cpp = cpp_energies(a.exe, a.model, a.reference)
    if len(cpp) != len(grids):
        print(f"C++ gave {len(cpp)} energies for {len(grids)} grids")
        return 1
    stored_applies = name in ednn.models.available() and Path(a.model).resolve() == ednn.models.path(name).resolve()
    passed = failed = 0
    for k, ((spins, stored), e_cpp) in enumerate(zip(grids, cpp)):
        e_py = float(ednn.predict(a.model, spins))
        ok = math.isclose(e_cpp, e_py, rel_tol=a.rtol, abs_tol=1e-300)
        if stored_applies:
            ok = ok and math.isclose(e_py, stored, rel_tol=a.rtol, abs_tol=1e-300)
        print(f"grid {k} {spins.shape}: C++ {e_cpp!r}  Python {e_py!r}" + (f"  stored {stored!r}" if stored_applies else "")
              + ("" if ok else "  MISMATCH"))
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
