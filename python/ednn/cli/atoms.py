"""``ednn atoms``: summarise an atoms dataset, predict energies of structures, evaluate across cell sizes.

They need the ``atoms`` extra (ase, h5py); importing this module does not.
"""

from __future__ import annotations

import argparse
import json
import time

from .._checks import arg_floats, arg_ints
from ..errors import require_extra

__all__ = ["add_atoms"]


def add_atoms(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("atoms", help="atoms datasets and models: info, predict")
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
    r.add_argument("structures", nargs="+", help="structure files, or one HDF5 dataset (then labels are compared)")
    r.add_argument("--limit", type=int, default=None, help="first N samples of a dataset only")
    r.add_argument("--spacing", type=arg_floats, default=None,
                   help="grid spacing per axis (e.g. 0.0499318,0.0480469), overriding the model's ednn.spacing")
    r.add_argument("--gamma", type=float, default=None, help="Gaussian width, overriding the model's ednn.gamma")
    r.add_argument("--threads", type=int, default=None, help="ONNX Runtime / rasterizer threads")
    r.add_argument("--json", action="store_true", help="print JSON lines instead of a table")

    def run_predict(a: argparse.Namespace) -> int:
        import numpy as np

        from ..atoms.predict import predict
        from ..model import load_model
        from ..models import resolve

        require_extra("atoms", "ednn atoms predict", "ase")
        m = load_model(resolve(a.model))
        if len(a.structures) == 1 and a.structures[0].endswith((".h5", ".hdf5")):
            from ..data.atoms_h5 import load

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
