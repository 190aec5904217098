"""Errors of an Ising EDNN in every regime a user may give it (docs/ising.md, "Outside the training range").

    python examples/ising_regimes.py [MODEL]      # default: the shipped model; about a minute on 2 cores

Every test lattice is new (its own seed, not the training data): equilibrium samples from
``ednn.data.ising.sample`` at low T (ordered), at T_c, and hot, uniformly random spins, the two ground
states and the antiferromagnetic checkerboard (the highest energy, +2 L^2, never seen in training).
Prints a Markdown table: MAE, worst error and bias of the total energy (J) against the exact one.
"""

from __future__ import annotations

import sys

import numpy as np

import ednn
from ednn.data import ising


def regimes(seed: int = 2031) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for name, L, n, T in (("ordered, T = 1.0", 64, 20, 1.0), ("critical, T = 2.269", 64, 20, ising.T_CRITICAL),
                          ("hot, T = 10", 64, 20, 10.0), ("critical, T = 2.269", 128, 10, ising.T_CRITICAL)):
        s = ising.sample(L, n, temperatures=[T], seed=int(rng.integers(2**31)), sweeps_equilibrate=200).spins
        out.append((f"{name}, {L}x{L}", s))
    out.append(("uniformly random, 64x64", rng.choice(np.array([-1, 1], np.int8), size=(100, 64, 64))))
    out.append(("uniformly random, 512x512", rng.choice(np.array([-1, 1], np.int8), size=(4, 512, 512))))
    ones = np.ones((64, 64), np.int8)
    out.append(("ground states (all +1, all -1), 64x64", np.stack([ones, -ones])))
    checker = np.where(np.add.outer(np.arange(64), np.arange(64)) % 2 == 0, 1, -1).astype(np.int8)
    out.append(("antiferromagnetic checkerboard, 64x64", checker[None]))
    return out


def table(model: str) -> str:
    rows = ["| lattices | n | exact E range (J) | MAE (J) | worst (J) | bias (J) |", "|---|---|---|---|---|---|"]
    for name, spins in regimes():
        exact = np.atleast_1d(ednn.reference.ising_energy(spins))
        pred = np.asarray(ednn.predict(model, spins)).reshape(-1)
        err = pred - exact
        rows.append(f"| {name} | {len(exact)} | {exact.min():.0f} .. {exact.max():.0f} | {np.abs(err).mean():.3f} | "
                    f"{np.abs(err).max():.3f} | {err.mean():+.3f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(sys.argv[1] if len(sys.argv) > 1 else str(ednn.models.path("ising"))))
