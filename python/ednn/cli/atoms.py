"""``ednn atoms``: summarise an atoms dataset, predict energies of structures, evaluate across cell sizes,
run Monte Carlo with a model's energies.

They need the ``atoms`` extra (ase, h5py); importing this module does not.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from .._checks import arg_floats, arg_ints
from ..distributed import add_cluster_options, check_cluster_args, cluster_client
from ..errors import InputError, require_extra

__all__ = ["add_atoms"]


def _structures(files: list[str], limit: int | None) -> Any:
    """``(name, (atoms, numbers, cell), label or None)`` of every structure in ``files`` (an ``ase.Atoms``,
    or positions with numbers and cell), for :func:`ednn.atoms.predict`: one
    labelled HDF5 dataset, structure HDF5 files (``ednn data porous-sheet``) or ASE-readable files."""
    import h5py

    if len(files) == 1 and files[0].endswith((".h5", ".hdf5")):
        with h5py.File(files[0], "r") as h5:
            kind = h5.attrs.get("format")
        if kind != "ednn-structure-1":
            from ..data.atoms_h5 import load

            ds = load(files[0])
            for i in range(min(len(ds), limit or len(ds))):
                at = ds[i]
                yield f"{files[0]}[{i}]", (at, None, None), at.info.get("energy")
            return
    from ase.io import read

    for f in files:
        if f.endswith((".h5", ".hdf5")):
            from ..data.porous import read_h5

            pos, z, cell, _ = read_h5(f)
            yield f, (pos, z, cell), None
            continue
        for at in read(f, index=":"):
            yield f, (at, None, None), at.info.get("energy")


def add_atoms(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("atoms", help="atoms datasets and models: info, predict, evaluate, mc")
    cmds = p.add_subparsers(dest="atoms_command", metavar="ACTION", required=True)

    q = cmds.add_parser("info", help="summarise a dataset from `ednn data sheets|porous`")
    q.add_argument("data", help="HDF5 dataset")

    def run_info(a: argparse.Namespace) -> int:
        from ..data.atoms_h5 import load

        require_extra("atoms", "ednn atoms", "ase", "h5py")
        print(load(a.data).summary())
        return 0

    q.set_defaults(func=run_info)

    r = cmds.add_parser("predict", help="energies of structures (any ASE-readable file) or of an HDF5 dataset")
    r.add_argument("model", help="EDNN .onnx file with ednn.spacing and ednn.gamma metadata, or a shipped model's name")
    r.add_argument("structures", nargs="+",
                   help="structure files (ASE-readable, or HDF5 of `ednn data porous-sheet`), or one labelled HDF5 "
                        "dataset (then labels are compared)")
    r.add_argument("--limit", type=int, default=None, help="first N samples of a dataset only")
    r.add_argument("--spacing", type=arg_floats, default=None,
                   help="grid spacing per axis (e.g. 0.0499318,0.0480469), overriding the model's ednn.spacing")
    r.add_argument("--gamma", type=float, default=None, help="Gaussian width, overriding the model's ednn.gamma")
    r.add_argument("--strain", type=float, default=None,
                   help="largest relative change of an in-plane edge (e.g. 0.01) accepted to fit a cell that no "
                        "supercell fits exactly (approximate, docs/cells.md); default: exact fits only")
    r.add_argument("--threads", type=int, default=None, help="ONNX Runtime / rasterizer threads")
    r.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    add_cluster_options(r, "the blocks of tiles")
    r.add_argument("--progress", action="store_true", help="show a progress bar per structure")
    r.add_argument("--flatten", default="auto", choices=["auto", "global", "local", "none"],
                   help="models on flattened sheets: one solve (global), windows (local, O(N)), auto (global up to "
                        "50 000 atoms, local beyond; default) or none (the positions are flattened already)")
    r.add_argument("--journal", default=None,
                   help="record every finished block here (one structure, no cluster): run the same command again "
                        "after a stop to continue where it stopped, with the same answer")

    def run_predict(a: argparse.Namespace) -> int:
        import numpy as np

        from ..atoms.cells import check_strain
        from ..atoms.predict import predict
        from ..model import load_model
        from ..models import resolve

        require_extra("atoms", "ednn atoms predict", "ase", "h5py")
        check_cluster_args(a.workers, a.scheduler)  # before reading anything
        if a.journal is not None and (a.workers or a.scheduler):
            raise InputError("--journal: expected a one-process run (no --workers or --scheduler), got both")
        try:
            check_strain(a.strain)
        except InputError as exc:
            raise InputError(f"--{exc}") from None
        m = load_model(resolve(a.model))
        items = _structures(a.structures, a.limit)
        if a.journal is not None:  # one run, one journal: checked before any work
            count = len(a.structures)
            if count == 1:  # one file may still hold many samples (a dataset)
                items = list(items)
                count = len(items)
            if count != 1:
                raise InputError(f"--journal: expected one structure, got {count} (use --limit 1 or one file)")
        errors = []
        with cluster_client(a.workers, a.scheduler) as client:
            for name, (atoms, z, cell), ref in items:
                t0 = time.perf_counter()
                y = predict(m, atoms, z, cell, spacing=a.spacing or None, gamma=a.gamma, threads=a.threads,
                            client=client, progress=a.progress, strain=a.strain, journal=a.journal, flatten=a.flatten)
                dt = time.perf_counter() - t0
                e, n = (y if isinstance(y, float) else float(y[0])), len(atoms)
                row = {"structure": name, "atoms": n, "energy": e, "per_atom": e / n, "seconds": dt}
                if ref is not None:
                    row["label"] = float(ref)
                    row["error_per_atom"] = (e - float(ref)) / n
                    errors.append(row["error_per_atom"])
                if a.json:
                    print(json.dumps(row))
                else:
                    extra = ""
                    if ref is not None:
                        extra = f"  label {row['label']:.6f}  error {1e3 * row['error_per_atom']:+.3f} meV/atom"
                    print(f"{name}: {n} atoms  E = {e:.6f} {m.units or ''}  ({dt * 1e3:.1f} ms){extra}")
        if errors and not a.json:
            err = np.abs(errors)
            print(f"MAE {1e3 * err.mean():.3f} meV/atom, median {1e3 * np.median(err):.3f} meV/atom over {len(err)}")
        return 0

    r.set_defaults(func=run_predict)

    e = cmds.add_parser("evaluate", help="errors per atom and time per energy (EDNN vs xTB) on datasets of several sizes")
    e.add_argument("model", help="EDNN .onnx sheets model, or a shipped model's name (e.g. sheets)")
    e.add_argument("datasets", nargs="+", help="labelled HDF5 datasets, e.g. held-out 60-site cells, 4x, 9x, 16x")
    e.add_argument("--out-dir", default=None, help="write sizes.json, sizes.md, sizes.png and NAME_parity.png here")
    e.add_argument("--limit", type=int, default=None, help="first N samples of each dataset only")
    e.add_argument("--threads", type=int, default=None, help="threads for the model (and the xTB re-labels)")
    e.add_argument("--xtb-samples", type=arg_ints, default=(0,),
                   help="label the first N samples of each dataset again, timed side by side; one N, or one per "
                        "dataset (e.g. 10,3,1,0); 0: the label times stored in the file (default)")
    e.add_argument("--blas", default=None, help="BLAS preloaded for the xTB re-labels: openblas, mkl or a path")
    e.add_argument("--spacing", type=arg_floats, default=None, help="grid spacing per axis, overriding ednn.spacing")
    e.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def run_evaluate(a: argparse.Namespace) -> int:
        from ..evaluate.sizes import evaluate_sizes, format_sizes, plot_atoms_parity, plot_sizes

        require_extra("atoms", "ednn atoms", "ase", "h5py")
        from ..models import resolve

        rows = evaluate_sizes(resolve(a.model), a.datasets, limit=a.limit, threads=a.threads,
                              xtb_samples=a.xtb_samples[0] if len(a.xtb_samples) == 1 else list(a.xtb_samples),
                              blas=a.blas, spacing=a.spacing or None, progress=not a.no_progress)
        table = format_sizes(rows)
        print(table)
        if a.out_dir:
            out = Path(a.out_dir)
            out.mkdir(parents=True, exist_ok=True)
            plain = [{k: v for k, v in r.items() if k not in ("pred", "true", "natoms", "family")} for r in rows]
            (out / "sizes.json").write_text(json.dumps({"model": a.model, "rows": plain}, indent=2))
            (out / "sizes.md").write_text(table + "\n")
            plot_sizes(rows, out / "sizes.png", title=Path(a.model).name)
            for r in rows:
                plot_atoms_parity(r, out / f"{Path(r['data']).stem}_parity.png", title=f"{Path(a.model).name} on {Path(r['data']).name}")
            print(f"wrote {out}/sizes.json, sizes.md, sizes.png and the parity plots")
        return 0

    e.set_defaults(func=run_evaluate)

    c = cmds.add_parser("mc", help="Metropolis Monte Carlo of a flat sheet with the model's energies (ednn.mc)")
    c.add_argument("model", help="EDNN .onnx sheets model, or a shipped model's name (e.g. sheets)")
    c.add_argument("structure", help="starting structure (any ASE-readable file; the last frame)")
    c.add_argument("--temperature", type=float, required=True, help="temperature in K")
    c.add_argument("--steps", type=int, required=True, help="single-atom trial moves")
    c.add_argument("--seed", type=int, default=0, help="seed of the moves and acceptances (default 0)")
    c.add_argument("--step", type=float, default=0.05, help="initial half width of a move in Angstrom (default 0.05)")
    c.add_argument("--acceptance", type=float, default=0.4,
                   help="target acceptance while the step adapts, the first fifth of the steps (default 0.4)")
    c.add_argument("--check-every", type=int, default=1000,
                   help="compare the running energy with a full evaluation every N steps (default 1000; 0: never)")
    c.add_argument("--out", default=None, help="extxyz trajectory, a frame every --write-every steps")
    c.add_argument("--write-every", type=int, default=100, help="steps between trajectory frames (default 100)")
    c.add_argument("--threads", type=int, default=None, help="ONNX Runtime / rasterizer threads")
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def run_mc(a: argparse.Namespace) -> int:
        require_extra("atoms", "ednn atoms mc", "ase")
        from ase.io import read

        from ..mc import LocalEnergy, run
        from ..models import resolve

        if a.out and Path(a.out).exists():
            raise InputError(f"--out: expected a new file, got {a.out!r} (it exists; choose another name)")
        atoms = read(a.structure, index=-1)
        energy = LocalEnergy(resolve(a.model), atoms, threads=a.threads)
        print(f"{len(atoms)} atoms, {energy.n_tiles[0]}x{energy.n_tiles[1]} tiles, start E = {energy.energy:.6f} eV")
        res = run(energy, temperature=a.temperature, steps=a.steps, seed=a.seed, step=a.step,
                  target_acceptance=a.acceptance, check_every=a.check_every, trajectory=a.out,
                  write_every=a.write_every, progress=not a.no_progress)
        worst = max((abs(x - y) / abs(y) for _, x, y in res.checks), default=0.0)
        print(f"E = {res.energy:.6f} eV after {res.steps} steps, acceptance {res.acceptance:.3f}, step {res.step:.4f} A, "
              f"{1e3 * res.seconds_per_step:.2f} ms per step; {len(res.checks)} full checks, worst relative "
              f"difference {worst:.1e}" + (f"; trajectory {a.out}" if a.out else ""))
        return 0

    c.set_defaults(func=run_mc)
