"""EDNN model files shipped with the package.

>>> import ednn
>>> ednn.models.available()   # doctest: +SKIP
['ising', 'ising-exact']
>>> ednn.predict(ednn.models.path("ising-exact"), spins)   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["available", "path", "resolve", "table"]


def _files() -> dict[str, Path]:
    from ..model import _shipped_models

    return _shipped_models()


def available() -> list[str]:
    """Names of the shipped models."""
    return sorted(_files())


def path(name: str) -> Path:
    """File of the shipped model ``name`` (see :func:`available`)."""
    files = _files()
    if name not in files:
        raise InputError(f"name: expected one of {sorted(files)}, got {name!r}")
    return files[name]


def resolve(model: Any) -> Any:
    """``model`` itself, unless it is a string naming a shipped model and no such file exists: then
    that model's file. Lets the command line take ``ising`` or ``sheets`` wherever a path goes."""
    from ..model import _shipped_file

    shipped = _shipped_file(model)
    return model if shipped is None else shipped


def table() -> list[dict[str, str]]:
    """One row per shipped model: name, focus, context, units, species, domain (from its metadata)."""
    from ..model import Model

    rows = []
    for name, file in sorted(_files().items()):
        m = Model(file)
        meta = m.metadata
        focus = "x".join(str(v) for v in m.focus)
        context = "x".join(str(v) for v in m.context)
        rows.append({
            "name": name, "focus": focus, "context": context, "units": m.units or "",
            "species": meta.get("ednn.species", ""),
            "domain": meta.get("ednn.domain") or meta.get("ednn.trained_on") or m.description or "",
        })
    return rows
