"""Monte Carlo step with local re-evaluation (ednn.mc) vs a full evaluation, across sheet sizes.

Flat graphene sheets of 60, 960 and 100 860 atoms (1 x 1, 4 x 4 and 41 x 41 times the 60-site
cell) with the shipped sheets model. A step is one proposed single-atom move and its acceptance
(re-rasterizing the touched window, running the ~4-16 touched tiles); the full evaluation is
ednn.atoms.predict of the whole sheet.
Targets: the cost of a step does not grow with the sheet (100 860 atoms within 3x of 60 atoms), and
at 100 860 atoms a local step is >= 1000x cheaper than a full evaluation.
Run: python -m pytest bench/test_mc_bench.py --benchmark-enable -s
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ratio

pytest.importorskip("ase")
import ednn  # noqa: E402
from ednn import mc  # noqa: E402
from ednn.data.sheets import honeycomb  # noqa: E402

SIZES = {"60": 1, "960": 4, "100860": 41}
TARGET_SIZE_RATIO = 3.0
TARGET_LOCAL_SPEEDUP = 1000.0


@pytest.fixture(scope="module")
def energies():
    return {name: mc.LocalEnergy(ednn.models.path("sheets"), honeycomb((3 * n, 5 * n))) for name, n in SIZES.items()}


def _step(e: mc.LocalEnergy, rng: np.random.Generator) -> None:
    i = int(rng.integers(len(e.positions)))
    e.propose(i, e.positions[i, :2] + rng.uniform(-0.08, 0.08, 2))
    if rng.random() < 0.5:
        e.accept()


@pytest.mark.parametrize("name", SIZES)
def test_step(record, energies, name):
    e, rng = energies[name], np.random.default_rng(0)

    def hundred_steps() -> None:
        for _ in range(100):
            _step(e, rng)

    record(f"mc-step:{name}", hundred_steps, rounds=7)


@pytest.mark.parametrize("name", SIZES)
def test_full(record, energies, name):
    record(f"mc-full:{name}", energies[name].full_energy, rounds=3 if name == "100860" else 7)


def test_targets(energies):
    for name, e in energies.items():  # the running energies are still exact after the benchmarks
        assert e.energy == pytest.approx(e.full_energy(), rel=1e-9)
    size_ratio = ratio("mc-step:100860", "mc-step:60")
    speedup = 100 * ratio("mc-full:100860", "mc-step:100860")
    print(f"\nstep 100860 / step 60: {size_ratio:.2f}x (target <= {TARGET_SIZE_RATIO}); full / local step at 100860 "
          f"atoms: {speedup:.0f}x (target >= {TARGET_LOCAL_SPEEDUP:.0f})")
    assert size_ratio <= TARGET_SIZE_RATIO
    assert speedup >= TARGET_LOCAL_SPEEDUP
