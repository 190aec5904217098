"""Training-side subcommands of ``ednn``: ``data``, ``train``, ``export``, ``evaluate``, ``demo``.

They need the ``train`` extra (torch, onnx); ``ednn data ising`` needs only NumPy.
"""

from __future__ import annotations

import argparse

from .cli import register

__all__: list[str] = []


@register
def _data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate datasets")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    q = kinds.add_parser("ising", help="2-D ferromagnetic Ising configurations with exact energies")
    q.add_argument("--size", type=int, required=True, help="lattice size L (L x L, periodic)")
    q.add_argument("--count", type=int, required=True, help="number of configurations")
    q.add_argument("--out", required=True, help="output .npz file")
    q.add_argument("--tmin", type=float, default=1.0, help="lowest temperature (J/k_B)")
    q.add_argument("--tmax", type=float, default=4.0, help="highest temperature (J/k_B)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--equilibrate", type=int, default=None, help="sweeps before the first sample")
    q.add_argument("--between", type=int, default=None, help="sweeps between samples of one chain")
    q.add_argument("--no-progress", action="store_true")

    def run(a: argparse.Namespace) -> int:
        from .ising import sample, save

        kw = {}
        if a.equilibrate is not None:
            kw["sweeps_equilibrate"] = a.equilibrate
        if a.between is not None:
            kw["sweeps_between"] = a.between
        s = sample(a.size, a.count, (a.tmin, a.tmax), seed=a.seed, progress=not a.no_progress, **kw)
        path = save(a.out, s)
        e = s.energy / a.size**2
        print(f"wrote {path}: {len(s)} configurations {a.size}x{a.size}, T in [{a.tmin}, {a.tmax}], "
              f"E/site in [{e.min():.3f}, {e.max():.3f}]")
        return 0

    q.set_defaults(func=run)

    from .atoms_cli import add_atoms_data_commands  # sheets, porous (the atoms extra, imported lazily)

    add_atoms_data_commands(kinds)


@register
def _train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an EDNN from a YAML config")
    p.add_argument("config", help="YAML file (see `python -c 'import ednn.training; help(ednn.training)'`)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/last.pt")
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--device", default=None, help="override the config's device")
    p.add_argument("--output-dir", default=None, help="override the config's output_dir")
    p.add_argument("--no-progress", action="store_true")

    def run(a: argparse.Namespace) -> int:
        from .training import load_config, train

        cfg = load_config(a.config, epochs=a.epochs, device=a.device, output_dir=a.output_dir)
        s = train(cfg, resume=a.resume, progress=not a.no_progress)
        print(f"checkpoints: {s['best']} (best), {s['last']} (last); learning curve: {s['learning_curve']}")
        return 0

    p.set_defaults(func=run)


@register
def _export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write the EDNN model file (ONNX) of a training checkpoint")
    p.add_argument("checkpoint", help="best.pt or last.pt of `ednn train`")
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="extra ednn.KEY metadata (repeatable), e.g. --meta test_mae=12.3")

    def run(a: argparse.Namespace) -> int:
        from .errors import InputError
        from .model import Model
        from .training import export_checkpoint

        extra = {}
        for item in a.meta:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"--meta: expected KEY=VALUE, got {item!r}")
            extra[key.strip().removeprefix("ednn.")] = value
        path = export_checkpoint(a.checkpoint, a.out, **extra)
        print(Model(path).summary())
        return 0

    p.set_defaults(func=run)


@register
def _evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="errors of a model on a dataset, with parity and error plots")
    p.add_argument("model", help="EDNN .onnx file")
    p.add_argument("data", help="dataset (.npz from `ednn data ising`)")
    p.add_argument("--out-dir", default=".", help="where NAME_parity.png and NAME_metrics.json go")
    p.add_argument("--name", default=None, help="prefix of the written files (default: the data file's stem)")
    p.add_argument("--no-progress", action="store_true")

    def run(a: argparse.Namespace) -> int:
        from .evaluation import evaluate_ising

        r = evaluate_ising(a.model, a.data, out_dir=a.out_dir, name=a.name, progress=not a.no_progress)
        print(r["table"])
        print(f"plot: {r['plot']}")
        return 0

    p.set_defaults(func=run)


@register
def _demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a whole worked example end to end")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    q = kinds.add_parser("ising", help="data -> train -> export -> predict 8x8 and 128x128 (a few minutes)")
    q.add_argument("--out", default="ednn-demo-ising", help="folder for data, checkpoints, model and plots")
    q.add_argument("--count", type=int, default=None, help="training configurations (default 50000)")
    q.add_argument("--epochs", type=int, default=None, help="training epochs (default 400)")
    q.add_argument("--large-count", type=int, default=None, help="128x128 test lattices (default 40)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--no-progress", action="store_true")

    def run(a: argparse.Namespace) -> int:
        from .demo import ising_demo

        ising_demo(
            a.out, count=a.count, epochs=a.epochs, large_count=a.large_count, seed=a.seed, progress=not a.no_progress
        )
        return 0

    q.set_defaults(func=run)
