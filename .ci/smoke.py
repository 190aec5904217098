"""Smoke test of an installed wheel, run from outside the source tree: every shipped model predicts,
the command line answers, inference never imports torch, and the CUDA build degrades to the CPU
where no GPU driver is present."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np

import ednn

if len(sys.argv) > 1:  # imported from the installed wheel, not from the source tree (a path, not a prefix)
    assert not Path(ednn.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), ednn.__file__
info = ednn.build_info()
print("ednn", ednn.__version__, "from", ednn.__file__, info)
names = ednn.models.available()
assert {"ising", "ising-exact", "sheets"} <= set(names), names

rng = np.random.default_rng(0)
spins = rng.choice(np.array([-1, 1], np.int8), size=(3, 64, 64))
exact = ednn.reference.ising_energy(spins)
for name in ("ising", "ising-exact"):
    got = ednn.predict(ednn.models.path(name), spins)[:, 0]
    print(name, "error (J):", got - exact)
    assert np.all(np.abs(got - exact) < 2.0), (name, got, exact)  # the trained model: < 1 J MAE on random 64^2

# the shipped sheets model on an ideal 60-site graphene cell, built without ASE
a = 2.46
ax, ay = a * math.sqrt(3.0), a
base = np.array([[0.0, 0.0], [ax / 3, 0.0], [ax / 2, ay / 2], [5 * ax / 6, ay / 2]]) + [ax / 12, ay / 4]
ij = np.stack(np.meshgrid(np.arange(3), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
xy = (ij[:, None, :] * [ax, ay] + base[None]).reshape(-1, 2)
pos = np.column_stack([xy, np.full(len(xy), 10.0)])
e = ednn.atoms.predict(ednn.models.path("sheets"), pos, np.full(len(pos), 6), np.diag([3 * ax, 5 * ay, 20.0]))
print("sheets: ideal graphene", e / len(pos), "eV/atom")
assert -58.5 < e / len(pos) < -57.0, e / len(pos)  # GFN1-xTB graphene: -57.83 eV/atom

assert "torch" not in sys.modules, "inference imported torch"
if info["cuda"] and info["cuda_devices"] == 0:  # CUDA kernels built in, no GPU here: the CPU path works
    assert ednn.tile(spins[0], 1, 1).shape == (64, 64, 3, 3)
for argv in (["models"], ["info", "sheets"], ["build-info"]):
    out = subprocess.run([sys.executable, "-m", "ednn", *argv], capture_output=True, text=True, check=True)
    print(out.stdout.strip().splitlines()[0])
print("smoke test passed")
