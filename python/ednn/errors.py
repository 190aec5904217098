"""Exceptions raised by ednn.

Every check on user input raises :class:`InputError`, a :class:`ValueError` subclass whose message
names the argument, the expected value and the actual one. The compiled core raises the same class.
A feature whose optional dependencies are not installed raises :class:`MissingExtraError`, naming
the extra to install, before it starts any work.
"""

from __future__ import annotations

import importlib.util

from ._ednn import InputError

__all__ = ["InputError", "ModelFileError", "MissingExtraError", "require_extra"]


class ModelFileError(InputError):
    """An ONNX file that is not a valid EDNN model (missing or malformed ``ednn.*`` metadata)."""


# Tracebacks name the classes where users import them: ednn.InputError, not ednn._ednn.InputError.
InputError.__module__ = "ednn"
ModelFileError.__module__ = "ednn"


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message says which ``pip install 'ednn[EXTRA]'`` adds it."""


def require_extra(extra: str, what: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` unless every module in ``modules`` can be imported.

    ``what`` names the feature (``"ednn train"``, ``"ednn.atoms.calculator"``). Modules are looked up
    without importing them, so the check costs nothing when they are present.
    """
    missing = [m for m in modules if not _importable(m)]
    if missing:
        raise MissingExtraError(
            f"{what} needs {', '.join(missing)}: install the '{extra}' extra (pip install 'ednn[{extra}]')"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that fails to import, or a module blocked in sys.modules
        return False
