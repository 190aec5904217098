"""``ednn train``, ``ednn export``, ``ednn evaluate``: training-side commands (extra ``train``)."""

from __future__ import annotations

import argparse

from ..errors import InputError, require_extra

__all__ = ["add_train", "add_export", "add_evaluate"]


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an EDNN from a YAML config")
    p.add_argument("config", help="YAML file (see `python -c 'import ednn.train.config; help(ednn.train.config)'`)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue from OUTPUT_DIR/last.pt (the learning curve is cut back to its epoch)")
    again.add_argument("--force", action="store_true",
                       help="replace a run already in OUTPUT_DIR (default: refuse, to keep its checkpoints)")
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--device", default=None, help="override the config's device")
    p.add_argument("--output-dir", default=None, help="override the config's output_dir")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def run(a: argparse.Namespace) -> int:
        require_extra("train", "ednn train", "torch", "yaml")
        from ..train.config import load_config
        from ..train.loop import train

        cfg = load_config(a.config, epochs=a.epochs, device=a.device, output_dir=a.output_dir)
        s = train(cfg, resume=a.resume, overwrite=a.force, progress=not a.no_progress)
        print(f"checkpoints: {s['best']} (best), {s['last']} (last); learning curve: {s['learning_curve']}")
        return 0

    p.set_defaults(func=run)


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write the EDNN model file (ONNX) of a training checkpoint")
    p.add_argument("checkpoint", help="best.pt or last.pt of `ednn train`, or a model file (.onnx, a shipped model's "
                                      "name too) with --config: the same weights exported again")
    p.add_argument("--out", required=True, help="output .onnx file (an existing one is refused without --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="extra ednn.KEY metadata (repeatable), e.g. --meta test_mae=12.3")
    p.add_argument("--focus", type=int, nargs="+", default=None, metavar="F",
                   help="density-cnn only: the exported tiles' focus, one value or one per axis, multiples of "
                        "the network's stride (default: the training config's); same energies, less context per "
                        "pixel for a larger focus, which must divide the grids")
    p.add_argument("--average", default="all", choices=["all", "phases", "mirrors", "none"],
                   help="density-cnn only: what each tile averages: pixel phases and mirror images (all, 16 "
                        "evaluations per tile, exactly invariant), phases or mirrors (4), none (1; invariance "
                        "as learned)")
    p.add_argument("--config", default=None, help="the training config (YAML) of a model file given as checkpoint")

    def run(a: argparse.Namespace) -> int:
        require_extra("train", "ednn export", "torch", "onnx")
        from ..model import Model
        from ..train.export import export_checkpoint

        extra = {}
        for item in a.meta:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"--meta: expected KEY=VALUE, got {item!r}")
            if key.strip().removeprefix("ednn.") == "overwrite":
                raise InputError(f"--meta: 'overwrite' is not a metadata key (use --force), got {item!r}")
            extra[key.strip().removeprefix("ednn.")] = value
        focus = None if a.focus is None else (a.focus[0] if len(a.focus) == 1 else tuple(a.focus))
        checkpoint = a.checkpoint
        if a.config is not None and not checkpoint.lower().endswith((".pt", ".onnx")):
            from ..models import path as model_path

            checkpoint = str(model_path(checkpoint))
        path = export_checkpoint(checkpoint, a.out, overwrite=a.force, focus=focus, average=a.average,
                                 config=a.config, **extra)
        print(Model(path).summary())
        return 0

    p.set_defaults(func=run)


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="errors of a model on a dataset, with parity and error plots")
    p.add_argument("model", help="EDNN .onnx file, or the name of a shipped model (see `ednn models`)")
    p.add_argument("data", help="dataset (.npz from `ednn data ising`)")
    p.add_argument("--out-dir", default=".", help="where NAME_parity.png and NAME_metrics.json go")
    p.add_argument("--name", default=None, help="prefix of the written files (default: the data file's stem)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def run(a: argparse.Namespace) -> int:
        require_extra("train", "ednn evaluate", "matplotlib")
        from ..evaluate.ising import evaluate_ising
        from ..models import resolve

        r = evaluate_ising(resolve(a.model), a.data, out_dir=a.out_dir, name=a.name, progress=not a.no_progress)
        print(r["table"])
        print(f"plot: {r['plot']}")
        return 0

    p.set_defaults(func=run)
