"""``ednn data``: datasets to train on.

``ednn data ising`` (NumPy only) samples Ising lattices with exact energies; ``ednn data sheets`` and
``ednn data porous`` generate thermal snapshots of 2-D sheets and label them with GFN1-xTB into an
HDF5 file (:mod:`ednn.data.atoms_h5`, extra ``atoms``).
"""

from __future__ import annotations

import argparse

from .._checks import arg_floats, arg_ints
from ..errors import InputError, require_extra

__all__ = ["add_data"]


def add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate datasets")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    q = kinds.add_parser("ising", help="2-D ferromagnetic Ising configurations with exact energies")
    q.add_argument("--size", type=int, required=True, help="lattice size L (L x L, periodic)")
    q.add_argument("--count", type=int, required=True, help="number of configurations")
    q.add_argument("--out", required=True, help="output .npz file (an existing one is refused without --force)")
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.add_argument("--tmin", type=float, default=1.0, help="lowest temperature (J/k_B)")
    q.add_argument("--tmax", type=float, default=4.0, help="highest temperature (J/k_B)")
    q.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same file (default 0)")
    q.add_argument("--equilibrate", type=int, default=None, help="sweeps before the first sample")
    q.add_argument("--between", type=int, default=None, help="sweeps between samples of one chain")
    q.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def run(a: argparse.Namespace) -> int:
        from .._io import check_new
        from ..data.ising import sample, save

        check_new(a.out, overwrite=a.force)  # before sampling, which can take minutes
        kw = {}
        if a.equilibrate is not None:
            kw["sweeps_equilibrate"] = a.equilibrate
        if a.between is not None:
            kw["sweeps_between"] = a.between
        s = sample(a.size, a.count, (a.tmin, a.tmax), seed=a.seed, progress=not a.no_progress, **kw)
        path = save(a.out, s, overwrite=a.force)
        e = s.energy / a.size**2
        print(f"wrote {path}: {len(s)} configurations {a.size}x{a.size}, T in [{a.tmin}, {a.tmax}], "
              f"E/site in [{e.min():.3f}, {e.max():.3f}]")
        return 0

    q.set_defaults(func=run)

    _add_sheets(kinds)
    _add_porous(kinds)
    _add_porous_sheet(kinds)


def _common(q: argparse.ArgumentParser) -> None:
    g = q.add_argument_group("dataset")
    g.add_argument("--count", type=int, required=True, help="samples in the file (a larger count extends it)")
    g.add_argument("--out", required=True, help="HDF5 file; an existing one made with the same settings is resumed")
    g.add_argument("--seed", type=int, default=0, help="every sample is reproducible from the seed (default 0)")
    g.add_argument("--workers", type=int, default=2, help="worker processes; 0 labels in this process (default 2)")
    g.add_argument("--threads", type=int, default=1, help="OpenMP/BLAS threads per worker (default 1)")
    g.add_argument("--blas", default=None,
                   help="preload a fast BLAS into the workers: openblas, mkl or a library path (default: tblite's own)")
    g.add_argument("--retry-failed", action="store_true", help="label again the samples recorded as failed")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    m = q.add_argument_group("thermal snapshots")
    m.add_argument("--temperature", type=float, default=1000.0, help="MD temperature in K (default 1000)")
    m.add_argument("--thermal", default="auto", choices=["auto", "lammps", "ase", "rattle", "none"],
                   help="auto: Tersoff MD in LAMMPS, else in ASE, else a calibrated rattle (default auto)")
    m.add_argument("--snapshots", type=int, default=5, help="snapshots per MD trajectory (default 5)")
    m.add_argument("--equilibrate", type=int, default=1000, help="MD steps before the first snapshot (default 1000)")
    m.add_argument("--interval", type=int, default=200, help="MD steps between snapshots (default 200)")
    m.add_argument("--timestep", type=float, default=1.0, help="MD time step in fs (default 1)")
    m.add_argument("--temperature-max", type=float, default=None,
                   help="draw each trajectory's temperature uniformly in [--temperature, this] (K; default: one temperature)")
    m.add_argument("--registry", default="fixed", choices=["fixed", "random"],
                   help="random: move every trajectory's sheet rigidly by a random in-plane vector (default fixed)")
    m.add_argument("--rattle-fraction", type=float, default=0.0,
                   help="share of trajectories made of independent Gaussian rattles instead of MD (default 0)")
    m.add_argument("--rattle-max", type=float, default=0.06,
                   help="largest standard deviation of those rattles, Angstrom, drawn uniformly per trajectory (default 0.06)")
    lab = q.add_argument_group("labels (tblite)")
    lab.add_argument("--method", default="GFN1-xTB", choices=["GFN1-xTB", "GFN2-xTB", "IPEA1-xTB"])
    lab.add_argument("--damping", type=float, default=0.1, help="SCF mixer damping (default 0.1)")
    lab.add_argument("--max-iter", type=int, default=250, help="SCF cycles of the first attempt (default 250)")
    lab.add_argument("--electronic-temperature", type=float, default=300.0, help="in K (default 300)")
    lab.add_argument("--retry-damping", type=arg_floats, default=(0.05, 0.02),
                     help="dampings tried in turn after an unconverged SCF, twice the cycles each (default 0.05,0.02)")
    lab.add_argument("--retry-temperature", type=arg_floats, default=(),
                     help="electronic temperatures (K) tried last; they change the label's meaning (default none)")
    lab.add_argument("--label-repeat", type=int, default=1,
                     help="label the n x n tiled cell and divide by n^2 (less Gamma-point error; default 1)")


def _distribution(a: argparse.Namespace) -> dict[str, object]:
    """The training-distribution options of both generators (ednn.data.sheets._SnapshotSettings)."""
    return {"temperature_max": a.temperature_max, "registry": a.registry, "rattle_fraction": a.rattle_fraction,
            "rattle_max": a.rattle_max}


def _run_data(a: argparse.Namespace, config: object) -> int:
    require_extra("atoms", f"ednn data {a.kind}", "ase", "h5py", "tblite")
    from ..data.atoms_h5 import label_dataset
    from ..data.xtb import settings_from_args

    settings = settings_from_args(
        method=a.method, electronic_temperature=a.electronic_temperature, mixer_damping=a.damping,
        max_iterations=a.max_iter, retry_dampings=a.retry_damping, retry_temperatures=a.retry_temperature,
        repeat=a.label_repeat,
    )
    r = label_dataset(a.out, config, a.count, seed=a.seed, settings=settings, workers=a.workers, threads=a.threads,
                      blas=a.blas, retry_failed=a.retry_failed, progress=not a.no_progress)
    print(f"wrote {r['path']}: {r['stored']} labelled samples, {r['failed']} failed "
          f"({r['new']} new, {r['new_failed']} new failures) in {r['seconds']:.1f} s")
    return 0


def _add_sheets(kinds: argparse._SubParsersAction) -> None:
    q = kinds.add_parser("sheets", help="graphene / h-BN / hetero sheets (60-site cell or multiples), GFN1-xTB labels")
    q.add_argument("--repeat", type=int, default=1,
                   help="supercell multiple n: n x n times the 60-site cell (default 1)")
    q.add_argument("--families", default="graphene,hbn,hetero", help="comma-separated: graphene, hbn, hetero")
    q.add_argument("--defect-fraction", type=float, default=0.5, help="share of sheets with vacancies (default 0.5)")
    q.add_argument("--max-vacancies", type=int, default=3, help="vacancies per 60-site block: 1..max (default 3)")
    _common(q)

    def run_sheets(a: argparse.Namespace) -> int:
        from ..data.sheets import SheetsConfig

        cfg = SheetsConfig(
            families=tuple(s.strip() for s in a.families.split(",") if s.strip()), repeat=a.repeat,
            defect_fraction=a.defect_fraction, max_vacancies=a.max_vacancies, temperature=a.temperature,
            thermal=a.thermal, equilibrate_steps=a.equilibrate, interval_steps=a.interval, snapshots=a.snapshots,
            timestep_fs=a.timestep, **_distribution(a),
        )
        return _run_data(a, cfg)

    q.set_defaults(func=run_sheets)


def _add_porous(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("porous", help="porous graphene, ~35 x 35 Angstrom with random pores, GFN1-xTB labels")
    p.add_argument("--pores", type=arg_ints, default=(1, 6), help="min,max number of pores (default 1,6)")
    p.add_argument("--radius", type=arg_floats, default=(1.5, 5.0), help="min,max pore radius in Angstrom (default 1.5,5)")
    p.add_argument("--cells", type=arg_ints, default=None,
                   help="rectangular 4-atom cells NX,NY of each sheet (default 8,14: the paper's 34 x 34 Angstrom, "
                        "384 x 384 images; multiples of 3,5 are imaged on the sheets datasets' grid)")
    _common(p)

    def run_porous(a: argparse.Namespace) -> int:
        from ..data.sheets import PorousConfig

        if len(a.pores) != 2 or len(a.radius) != 2:
            raise InputError(f"--pores/--radius: expected two values each (min,max), got {a.pores} and {a.radius}")
        cells = {} if a.cells is None else {"cells": a.cells}
        cfg = PorousConfig(
            **cells, pores=a.pores, radius=a.radius, temperature=a.temperature, thermal=a.thermal,
            equilibrate_steps=a.equilibrate, interval_steps=a.interval, snapshots=a.snapshots, timestep_fs=a.timestep,
            **_distribution(a),
        )
        return _run_data(a, cfg)

    p.set_defaults(func=run_porous)


def _add_porous_sheet(kinds: argparse._SubParsersAction) -> None:
    q = kinds.add_parser("porous-sheet", help="one large porous graphene sheet (no labels), e.g. the paper's 1 um^2")
    q.add_argument("--area", type=float, default=None,
                   help="sheet area in Angstrom^2 (nearly square; 1e8 = 1 um^2, about 34 million atoms)")
    q.add_argument("--cells", type=arg_ints, default=None, help="or the size in rectangular 4-atom cells: NX,NY")
    q.add_argument("--seed", type=int, default=0, help="seed of the pores (default 0)")
    q.add_argument("--pores", type=arg_ints, default=(1, 6),
                   help="min,max pores per 448-site training cell; their mean sets the pore density (default 1,6)")
    q.add_argument("--radius", type=arg_floats, default=(1.5, 5.0), help="min,max pore radius in Angstrom (default 1.5,5)")
    q.add_argument("--out", required=True, help="output: .h5 (ednn atoms predict reads it) or .extxyz (ASE reads it)")
    q.add_argument("--force", action="store_true", help="replace an existing --out file")

    def run(a: argparse.Namespace) -> int:
        import time
        from pathlib import Path

        from ..data.porous import cells_for_area, porous_sheet, write_extxyz, write_h5

        if (a.area is None) == (a.cells is None):
            raise InputError(f"--area/--cells: expected exactly one of them, got area={a.area!r}, cells={a.cells!r}")
        suffix = Path(a.out).suffix
        if suffix not in (".h5", ".hdf5", ".extxyz", ".xyz"):
            raise InputError(f"--out: expected a .h5 or .extxyz file, got {a.out!r}")
        if Path(a.out).exists() and not a.force:
            raise InputError(f"--out: {a.out!r} exists; pass --force to replace it")
        if suffix in (".h5", ".hdf5"):
            require_extra("atoms", "ednn data porous-sheet", "h5py")
        cells = cells_for_area(a.area) if a.cells is None else a.cells
        t0 = time.perf_counter()
        pos, z, cell = porous_sheet(cells, a.seed, pores=a.pores, radius=a.radius)
        built = time.perf_counter() - t0
        if suffix in (".h5", ".hdf5"):
            write_h5(a.out, pos, z, cell, seed=a.seed, cells=list(cells), pores=list(a.pores), radius=list(a.radius))
        else:
            write_extxyz(a.out, pos, z, cell)
        area = cell[0] * cell[1]
        print(f"wrote {a.out}: {len(z)} atoms, {cell[0]:.1f} x {cell[1]:.1f} Angstrom ({area / 1e8:.4g} um^2), "
              f"{1 - len(z) / (4 * cells[0] * cells[1]):.1%} of the sites removed; built in {built:.1f} s")
        return 0

    q.set_defaults(func=run)
