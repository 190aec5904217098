"""GFN1-xTB Langevin molecular dynamics of a 60-site graphene cell: the reference for the g(r) of
EDNN Monte Carlo (paper Fig. 13; docs/simulation.md).

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 OMP_NUM_THREADS=1 \\
        python examples/xtb_md.py xtb_md_1000K.extxyz [--temperature 1000] [--steps 11000]

tblite through ASE (``tblite.ase.TBLite``, GFN1-xTB, periodic in x and y, mixer damping 0.1 as in
the labels of ``ednn.data.xtb``), Langevin at the given temperature, 1 fs steps, friction
0.01 / fs, velocities drawn at the temperature. Every 10th step is appended to the extxyz file with
its momenta, energy, step and the wall time per force evaluation; rerunning the same command
resumes from the last frame (the Langevin noise then continues from a new random stream: the
trajectory is not bit-for-bit that of an uninterrupted run, its statistics are). The first
1000 steps (1 ps) are equilibration; g(r) uses the frames after them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

EVERY = 10


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="extxyz trajectory (appended; resumed when it exists)")
    p.add_argument("--temperature", type=float, default=1000.0, help="K (default 1000)")
    p.add_argument("--steps", type=int, default=11000, help="total MD steps of 1 fs (default 11000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the velocities and the noise (default 0)")
    a = p.parse_args()

    from ase import units
    from ase.io import read, write
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from tblite.ase import TBLite

    from ednn.data.sheets import honeycomb

    rng = np.random.default_rng(a.seed)
    step0 = 0
    if os.path.exists(a.out) and os.path.getsize(a.out) > 0:
        atoms = read(a.out, index=-1)
        step0 = int(atoms.info["step"])
        rng = np.random.default_rng([a.seed, step0])
        print(f"resuming {a.out} at step {step0}")
    else:
        atoms = honeycomb()
        MaxwellBoltzmannDistribution(atoms, temperature_K=a.temperature, rng=rng)
        Stationary(atoms)
    atoms.pbc = [True, True, False]
    atoms.calc = TBLite(method="GFN1-xTB", mixer_damping=0.1, electronic_temperature=300.0, verbosity=0)
    dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=a.temperature, friction=0.01 / units.fs, rng=rng,
                   fixcm=True)
    clock = {"t": time.perf_counter(), "n": 0}

    def record() -> None:
        step = step0 + dyn.nsteps
        if step == step0 or step % EVERY:
            return
        now = time.perf_counter()
        frame = atoms.copy()
        frame.info.update(step=step, energy=float(atoms.get_potential_energy()), temperature=float(atoms.get_temperature()),
                          seconds_per_step=(now - clock["t"]) / EVERY)
        frame.set_momenta(atoms.get_momenta())
        write(a.out, frame, format="extxyz", append=True)
        clock["t"] = now
        print(f"step {step}: T {atoms.get_temperature():.0f} K, E {atoms.get_potential_energy():.4f} eV, "
              f"{frame.info['seconds_per_step']:.3f} s/step", flush=True)

    dyn.attach(record, interval=1)
    if a.steps > step0:
        dyn.run(a.steps - step0)


if __name__ == "__main__":
    main()
