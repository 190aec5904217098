"""The ``ednn`` command line.

Every command is imported here explicitly (a bug in a command module fails loudly, it never hides
the command); each module keeps its heavy imports (torch, ASE, h5py) inside the command it runs, and
a command whose extra is missing stops at once with one line naming it.

* :mod:`.core` — ``info``, ``predict``, ``models``, ``build-info`` (numpy + onnxruntime only);
* :mod:`.data` — ``data ising`` (NumPy), ``data sheets|porous`` (extra ``atoms``);
* :mod:`.train` — ``train``, ``export``, ``evaluate`` (extra ``train``);
* :mod:`.atoms` — ``atoms info|predict|evaluate`` (extra ``atoms``);
* :mod:`.demo` — ``demo ising`` (extra ``train``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import InputError, MissingExtraError
from . import atoms, core, data, demo, train

__all__ = ["main", "build_parser"]

#: Each adds one subcommand (with its handler as ``func``) to the ``ednn`` parser.
COMMANDS = (
    core.add_info,
    core.add_predict,
    core.add_build_info,
    core.add_models,
    data.add_data,
    train.add_train,
    train.add_export,
    train.add_evaluate,
    atoms.add_atoms,
    demo.add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``ednn`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="ednn", description="Extensive Deep Neural Networks")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--cmake-dir", action="store_true", help="print the CMake package folder and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.version:
        from .._ednn import __version__

        print(__version__)
        return 0
    if a.cmake_dir:
        from ..info import cmake_dir

        print(cmake_dir())
        return 0
    if not getattr(a, "func", None):
        parser.print_help()
        return 2
    try:
        return int(a.func(a) or 0)
    except (InputError, FileNotFoundError, MissingExtraError) as exc:
        print(f"ednn {a.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what is stored stays (datasets, journals, checkpoints resume)
        print(f"ednn {a.command}: interrupted; work done so far is kept (the same command continues "
              "where it can)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
