"""Sheets made the way an outside user would make them, labelled with GFN1-xTB: a test of the sheets
model on data that its training generator did not make.

Nothing here comes from ``ednn.data.sheets``: the 60-site rectangular cell (3 x 5 cells of 4 atoms,
a = 2.46 Å, armchair along x, 20 Å along z) is built by hand, moved rigidly by a random in-plane
vector, given a family (graphene; h-BN with B on one sublattice; a hetero sheet with an h-BN stripe
across x), optionally one or two random vacancies, then ASE's ``Atoms.rattle`` with σ in
{0, 0.02, 0.04, 0.06} Å (every Cartesian component). Labels: ``ednn.data.xtb.label`` (the settings of
the training data). Output: extxyz with ``energy`` (eV), ``family``, ``sigma``, ``vacancies`` per frame.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 OMP_NUM_THREADS=1 \
        python examples/outside_sheets.py --per-case 3 --out data/outside_sheets.extxyz.gz   # ~2 min
"""

from __future__ import annotations

import argparse
import math

import numpy as np

A = 2.46  # Å
SIGMAS = (0.0, 0.02, 0.04, 0.06)
FAMILIES = ("graphene", "hbn", "hetero")


def sheet(family: str, rng: np.random.Generator, vacancies: int, sigma: float):
    from ase import Atoms

    ax, ay = A * math.sqrt(3.0), A
    # rectangular 4-atom cell of graphene, armchair along x
    base = np.array([[0.0, 0.0], [ax / 3.0, 0.0], [ax / 2.0, ay / 2.0], [5.0 * ax / 6.0, ay / 2.0]])
    sub = np.array([0, 1, 0, 1])  # the two sublattices (bonds 0-1, 1-2, 2-3, 3-0 of the next cell)
    xy, lat = [], []
    for i in range(3):
        for j in range(5):
            xy.append(base + [i * ax, j * ay])
            lat.append(sub)
    xy, lat = np.concatenate(xy), np.concatenate(lat)
    lengths = np.array([3 * ax, 5 * ay])
    numbers = np.full(len(xy), 6)
    if family == "hbn":
        numbers = np.where(lat == 0, 5, 7)
    elif family == "hetero":
        lo = rng.uniform(0.0, 0.5) * lengths[0]
        inside = (xy[:, 0] >= lo) & (xy[:, 0] < lo + 0.45 * lengths[0])
        numbers = np.where(inside, np.where(lat == 0, 5, 7), 6)
    keep = np.ones(len(xy), dtype=bool)
    keep[rng.choice(len(xy), size=vacancies, replace=False)] = False
    xy = np.mod(xy + rng.random(2) * lengths, lengths)
    pos = np.column_stack([xy, np.full(len(xy), 10.0)])[keep]
    atoms = Atoms(numbers=numbers[keep], positions=pos, cell=[lengths[0], lengths[1], 20.0], pbc=[True, True, False])
    from ednn.atoms.bonds import bonds

    i, j, _ = bonds(atoms.get_positions(), atoms.cell.array, 1.6)
    assert not np.any((atoms.numbers[i] == atoms.numbers[j]) & (atoms.numbers[i] != 6)), "B-B or N-N bond"
    if sigma:
        atoms.rattle(stdev=sigma, seed=int(rng.integers(2**31)))
    atoms.wrap()
    return atoms


def label_cases(description: str, seed: int, out: str, cases) -> None:
    """Command line of the outside-user sets: ``cases(rng, per_case)`` yields ``(atoms, info)``; each
    sheet is labelled with GFN1-xTB (the training data's settings) and written with ``info`` to extxyz."""
    from ase.io import write

    from ednn.data.xtb import label

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--per-case", type=int, default=3, help="sheets per case (default 3)")
    p.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    p.add_argument("--out", default=out, help=f"extxyz output (default {out})")
    args = p.parse_args()
    frames = []
    for a, info in cases(np.random.default_rng(args.seed), args.per_case):
        e = label(a).energy
        a.info.update(energy=float(e), **info)
        frames.append(a)
        print(*info.values(), len(a), f"{e / len(a):.5f} eV/atom", flush=True)
    write(args.out, frames, format="extxyz")
    print(f"{len(frames)} sheets -> {args.out}")


def cases(rng: np.random.Generator, per_case: int):
    """Every family, rattle and vacancy count: ``per_case`` pristine sheets, half as many with vacancies."""
    for family in FAMILIES:
        for sigma in SIGMAS:
            for vac in (0, 1, 2):
                for _ in range(per_case if vac == 0 else max(1, per_case // 2)):
                    yield sheet(family, rng, vac, sigma), {"family": family, "sigma": sigma, "vacancies": vac}


def main() -> None:
    label_cases(" ".join(__doc__.split("\n\n")[0].split()), 2026, "data/outside_sheets.extxyz.gz", cases)


if __name__ == "__main__":
    main()
