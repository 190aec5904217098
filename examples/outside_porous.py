"""Porous graphene made the way an outside user would make it, labelled with GFN1-xTB: a test of the
porous model on pores that its training generator never drew.

Nothing here comes from ``ednn.data``: the cell is ASE's hexagonal graphene (``ase.build.graphene``,
a = 2.46 Å, 20 Å along z) made orthogonal with ``ase.build.make_supercell`` (24.6 Å x 25.57 Å, 240
sites, zigzag along x: the model's cells have armchair along x, so ``ednn.atoms.predict`` turns this
one by 90 degrees, docs/cells.md). Pores are cut with shapes the training cells (round pores) do not
have: a regular hexagon, an equilateral triangle, an elongated slot (an ellipse of aspect 2.5-4 at any
angle), or one of each of two of them; atoms left with fewer than two neighbours within 1.75 Å are
removed until none is left, as a chemist would. The sheet is moved rigidly by a random in-plane
vector, then ASE's ``Atoms.rattle`` with σ in {0, 0.02, 0.04, 0.06} Å (every Cartesian component).
Labels: ``ednn.data.xtb.label`` (the settings of the training data). Output: extxyz with ``energy``
(eV), ``family`` (the pore shape), ``sigma``, ``vacancies`` (0: pores are not vacancies) and
``removed`` (sites cut) per frame, for ``examples/sheets_report.py --outside``.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 OMP_NUM_THREADS=1 \\
        python examples/outside_porous.py --per-case 3 --out data/outside_porous.extxyz.gz   # ~6 min
"""

from __future__ import annotations

import math

import numpy as np

SIGMAS = (0.0, 0.02, 0.04, 0.06)
SHAPES = ("hexagon", "triangle", "slot", "two")


def _inside_polygon(d: np.ndarray, corners: int, size: float, angle: float) -> np.ndarray:
    """Points ``d`` ``(n, 2)`` (from the pore's centre) inside a regular polygon of circumradius ``size``."""
    phi = angle + 2 * math.pi * np.arange(corners) / corners
    inside = np.ones(len(d), dtype=bool)
    apothem = size * math.cos(math.pi / corners)
    for p in phi + math.pi / corners:  # outward normals of the edges
        inside &= d @ np.array([math.cos(p), math.sin(p)]) <= apothem
    return inside


def _inside(shape: str, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * math.pi)
    if shape == "hexagon":
        return _inside_polygon(d, 6, rng.uniform(2.5, 5.5), angle)
    if shape == "triangle":
        return _inside_polygon(d, 3, rng.uniform(3.0, 6.5), angle)
    a = rng.uniform(3.5, 6.0)  # slot: semi-axes a and a / aspect
    b = a / rng.uniform(2.5, 4.0)
    u = d @ np.array([math.cos(angle), math.sin(angle)])
    v = d @ np.array([-math.sin(angle), math.cos(angle)])
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def sheet(shape: str, rng: np.random.Generator, sigma: float):
    import ase.build

    prim = ase.build.graphene(a=2.46, size=(1, 1, 1), vacuum=10.0)
    atoms = ase.build.make_supercell(prim, [[10, 0, 0], [6, 12, 0], [0, 0, 1]])
    atoms.pbc = (True, True, False)
    lengths = atoms.cell.lengths()[:2]
    assert abs(atoms.cell.angles()[2] - 90.0) < 1e-9, atoms.cell.angles()
    sites = len(atoms)
    while True:
        xy = atoms.positions[:, :2]
        cut = np.zeros(len(atoms), dtype=bool)
        shapes = list(rng.choice(SHAPES[:3], size=2, replace=False)) if shape == "two" else [shape]
        for s in shapes:
            d = xy - rng.random(2) * lengths
            d -= np.round(d / lengths) * lengths  # the nearest periodic image of the centre
            cut |= _inside(s, d, rng)
        keep = _prune(atoms, ~cut)
        if cut.any() and keep.sum() >= sites // 2:
            break
    out = atoms[keep]
    out.translate([*(rng.random(2) * lengths), 0.0])
    if sigma:
        out.rattle(stdev=sigma, seed=int(rng.integers(2**31)))
    out.wrap()
    return out, sites - len(out)


def _prune(atoms, keep: np.ndarray) -> np.ndarray:
    """``keep`` without the atoms that have fewer than two kept neighbours within 1.75 Å, repeatedly."""
    from ase.neighborlist import neighbor_list

    i, j = neighbor_list("ij", atoms, 1.75)
    keep = keep.copy()
    while True:
        count = np.bincount(i[keep[i] & keep[j]], minlength=len(atoms))
        lonely = keep & (count < 2)
        if not lonely.any():
            return keep
        keep &= ~lonely


def cases(rng: np.random.Generator, per_case: int):
    """``per_case`` sheets of every pore shape and rattle."""
    for shape in SHAPES:
        for sigma in SIGMAS:
            for _ in range(per_case):
                a, removed = sheet(shape, rng, sigma)
                yield a, {"family": shape, "sigma": sigma, "vacancies": 0, "removed": removed}


def main() -> None:
    from outside_sheets import label_cases  # examples/, beside this file

    label_cases(" ".join(__doc__.split("\n\n")[0].split()), 2027, "data/outside_porous.extxyz.gz", cases)


if __name__ == "__main__":
    main()
