"""EDNN model files shipped with the package.

>>> import ednn
>>> ednn.models.available()   # doctest: +SKIP
['ising', 'ising-exact']
>>> ednn.predict(ednn.models.path("ising-exact"), spins)   # doctest: +SKIP
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import InputError

__all__ = ["available", "path"]


def _files() -> dict[str, Path]:
    root = resources.files(__name__)
    out = {}
    for entry in root.iterdir():
        name = entry.name
        if name.endswith(".onnx"):
            out[name[: -len(".onnx")]] = Path(str(entry))
    return out


def available() -> list[str]:
    """Names of the shipped models."""
    return sorted(_files())


def path(name: str) -> Path:
    """File of the shipped model ``name`` (see :func:`available`)."""
    files = _files()
    if name not in files:
        raise InputError(f"name: expected one of {sorted(files)}, got {name!r}")
    return files[name]
