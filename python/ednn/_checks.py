"""One home for argument checks, small number parsers and the limits shared with the C API.

* arguments of the Python API: :func:`per_axis`, :func:`axis_ints`, :func:`two_ints`,
  :func:`resolve_ndim`, :func:`check_ndim`, :func:`check_divisible`, :func:`check_int`,
  :func:`check_optional_positive_int`, :func:`check_threads` (raise :class:`~ednn.InputError`);
* ``ednn.*`` metadata text: :func:`parse_ints`, :func:`parse_floats` (raise
  :class:`~ednn.ModelFileError`), :func:`parse_positive_floats` (spacings, gamma), with the strict
  number grammar of the C++ predictor (ASCII only: no ``_``, no other digits, no sign on integers);
* limits (the macros of ``ednn.h``, read from the compiled core): :data:`MAX_METADATA_INT`,
  :data:`MAX_TILE_ELEMENTS`, :data:`MAX_BATCH_ELEMENTS`, :func:`max_threads`;
* atoms: :func:`is_ase_atoms`, :func:`cell_lengths` (rectangular periodic cells);
* command-line values: :func:`arg_ints`, :func:`arg_floats` (``argparse`` types).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _ednn
from .errors import InputError, ModelFileError

__all__ = [
    "per_axis", "axis_ints", "two_ints", "resolve_ndim", "check_ndim", "check_divisible", "check_int",
    "check_optional_positive_int", "check_threads", "parse_ints", "parse_floats", "parse_positive_floats",
    "arg_ints", "arg_floats", "INT64_MAX", "RECTANGULAR_RTOL", "is_ase_atoms", "cell_lengths", "real_array",
    "MAX_METADATA_INT", "MAX_TILE_ELEMENTS", "MAX_BATCH_ELEMENTS", "THREADS_PER_CORE", "max_threads", "strip_blanks",
]

#: Largest focus, context or channel count in ``ednn.*`` metadata (EDNN_MAX_METADATA_INT, 2^24).
MAX_METADATA_INT: int = _ednn.MAX_METADATA_INT
#: Most elements of one tile, C * t_1..t_d (EDNN_MAX_TILE_ELEMENTS, 2^24: 64 MiB of float32).
MAX_TILE_ELEMENTS: int = _ednn.MAX_TILE_ELEMENTS
#: Most elements of one batch of tiles handed to ONNX Runtime (EDNN_MAX_BATCH_ELEMENTS, 2^28: 1 GiB of float32).
MAX_BATCH_ELEMENTS: int = _ednn.MAX_BATCH_ELEMENTS
#: Threads per core a call may ask for (EDNN_THREADS_PER_CORE).
THREADS_PER_CORE: int = _ednn.THREADS_PER_CORE
#: The blanks stripped around metadata values: ASCII only, as the C++ predictor strips them.
_BLANKS = " \t\n\r\f\v"
_UINT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))")


def max_threads() -> int:
    """The most threads a call may ask for: :data:`THREADS_PER_CORE` x the online cores (``ednn_max_threads()``)."""
    return _ednn.max_threads()


def strip_blanks(text: str) -> str:
    """``text`` without leading and trailing ASCII blanks (the C++ predictor's strip)."""
    return text.strip(_BLANKS)

#: Off-diagonal cell entries up to this fraction of the largest edge count as zero (rounding noise).
RECTANGULAR_RTOL = 1e-9
#: Largest value of a signed 64-bit index (sizes and offsets handed to the compiled core).
INT64_MAX = 2**63 - 1


def resolve_ndim(ndim: int | None, grid_ndim: int) -> int:
    """Number of spatial axes: ``ndim`` or, when None, all axes of the grid (1..3)."""
    if ndim is None:
        ndim = grid_ndim
    if isinstance(ndim, bool) or not isinstance(ndim, int):
        raise InputError(f"ndim: expected an int in 1..3, got {ndim!r}")
    if not 1 <= ndim <= 3 or ndim > grid_ndim:
        raise InputError(
            f"ndim: expected 1 <= ndim <= min(3, grid.ndim={grid_ndim}), got {ndim}"
        )
    return ndim


def per_axis(name: str, value: int | Sequence[int], ndim: int, minimum: int) -> tuple[int, ...]:
    """``value`` as an ``ndim``-tuple of ints >= ``minimum`` (a single int applies to every axis)."""
    if isinstance(value, (int,)) and not isinstance(value, bool):
        values: tuple[int, ...] = (int(value),) * ndim
    else:
        try:
            values = tuple(int(v) for v in value)  # type: ignore[union-attr]
        except TypeError:
            raise InputError(f"{name}: expected an int or a sequence of {ndim} ints, got {value!r}") from None
        if len(values) != ndim:
            raise InputError(
                f"{name}: expected one value or {ndim} values (one per spatial axis), got {len(values)}: {value!r}"
            )
        if any(isinstance(v, bool) or int(v) != v for v in value):  # type: ignore[union-attr]
            raise InputError(f"{name}: expected integers, got {value!r}")
    for k, v in enumerate(values):
        if v < minimum:
            raise InputError(f"{name}: expected >= {minimum} on spatial axis {k}, got {v}")
    return values


def check_divisible(spatial_shape: Sequence[int], focus: Sequence[int], what: str = "grid") -> None:
    """Raise when a spatial size is not a whole multiple of the focus."""
    for k, (s, f) in enumerate(zip(spatial_shape, focus)):
        if s < 1 or s % f:
            raise InputError(
                f"{what}: size {s} of spatial axis {k} is not a multiple of the focus {f} "
                f"(expected a size in {{{f}, {2 * f}, {3 * f}, ...}})"
            )


def check_optional_positive_int(name: str, value: object) -> None:
    """Raise unless ``value`` is None or an int >= 1 (bools are refused)."""
    if value is not None and (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1):
        raise InputError(f"{name}: expected a positive int or None, got {value!r}")


def check_threads(threads: object) -> None:
    """Raise unless ``threads`` is None or an int in 1..:func:`max_threads` (checked before any work:
    thousands of threads exhaust the process, and libgomp exits it when it cannot create them)."""
    check_optional_positive_int("threads", threads)
    if threads is not None and threads > (most := max_threads()):  # type: ignore[operator]
        raise InputError(f"threads: expected at most {most} ({THREADS_PER_CORE} per core), got {threads}")


def check_ndim(ndim: object) -> int:
    """``ndim`` as an int in 1..3 (bools are refused)."""
    if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3:
        raise InputError(f"ndim: expected 1, 2 or 3, got {ndim!r}")
    return ndim


def _uint(text: str) -> int | None:
    """A metadata integer: ASCII digits only, ASCII blanks around ignored; None when it is not one.
    Values past 2^40 saturate there (any bound is far below), as in the C++ predictor."""
    t = strip_blanks(text)
    if not _UINT.fullmatch(t):
        return None
    t = t.lstrip("0") or "0"
    return int(t) if len(t) <= 13 else 1 << 40


def parse_ints(key: str, text: str, count: int | None, minimum: int, maximum: int = MAX_METADATA_INT
               ) -> tuple[int, ...]:
    """Comma-separated metadata integers in ``minimum..maximum``; one value applies to all ``count``.

    The grammar is strict and the C++ predictor's (csrc/predictor/metadata.cpp): ASCII digits only,
    so no sign, no ``_`` separators and no other Unicode digits, which Python's ``int()`` would take.
    """
    parts = [_uint(p) for p in text.split(",")]
    if any(v is None for v in parts):
        raise ModelFileError(
            f"metadata {key}: expected comma-separated non-negative integers (ASCII digits), got {text!r}")
    vals = tuple(int(v) for v in parts)  # type: ignore[arg-type]
    if count is not None:
        if len(vals) == 1:
            vals = vals * count
        elif len(vals) != count:
            raise ModelFileError(f"metadata {key}: expected 1 or {count} values, got {len(vals)} ({text!r})")
    if any(not minimum <= v <= maximum for v in vals):
        raise ModelFileError(f"metadata {key}: expected values in {minimum}..{maximum}, got {text!r}")
    return vals


def _float(text: str) -> float | None:
    """A number: ``[+-]`` digits with an optional fraction and exponent, or inf / infinity / nan; ASCII
    only (no ``_``, no other digits, which ``float()`` would take); None when it is not one."""
    t = strip_blanks(text)
    return float(t) if _FLOAT.fullmatch(t) else None


def parse_floats(key: str, text: str, count: int) -> np.ndarray:
    vals = [_float(p) for p in text.split(",")]
    if any(v is None for v in vals):
        raise ModelFileError(f"metadata {key}: expected comma-separated numbers, got {text!r}")
    if len(vals) == 1:
        vals = vals * count
    if len(vals) != count or not np.all(np.isfinite(vals)):
        raise ModelFileError(f"metadata {key}: expected 1 or {count} finite numbers, got {text!r}")
    return np.asarray(vals, dtype=np.float64)


def parse_positive_floats(name: str, text: str, d: int) -> tuple[float, ...]:
    vals = [_float(p) for p in str(text).split(",")]
    if any(v is None for v in vals):
        raise InputError(f"{name}: expected 1 or {d} comma-separated numbers, got {text!r}")
    if len(vals) == 1:
        vals = vals * d
    if len(vals) != d or not all(math.isfinite(v) and v > 0 for v in vals):  # type: ignore[arg-type]
        raise InputError(f"{name}: expected 1 or {d} positive numbers, got {text!r}")
    return tuple(vals)  # type: ignore[arg-type]


def axis_ints(name: str, value: Any, d: int, minimum: int | None) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        values = [value] * d
    else:
        try:
            values = list(value)
        except TypeError:
            raise InputError(f"{name}: expected an int or a sequence of {d} ints, got {value!r}") from None
        if len(values) != d:
            raise InputError(f"{name}: expected {d} values (one per axis of shape), got {len(values)}: {value!r}")
    out = []
    for k, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise InputError(f"{name}: expected integers, got {v!r} on axis {k}")
        v = int(v)
        if minimum is not None and v < minimum:
            raise InputError(f"{name}: expected >= {minimum} on axis {k}, got {v}")
        if abs(v) > INT64_MAX:
            raise InputError(f"{name}: expected a 64-bit integer on axis {k}, got {v}")
        out.append(v)
    return tuple(out)


def two_ints(name: str, value: Any, minimum: int) -> tuple[int, int]:
    try:
        vals = tuple(value)
    except TypeError:
        raise InputError(f"{name}: expected two ints (x, y), got {value!r}") from None
    if len(vals) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        raise InputError(f"{name}: expected two ints (x, y), got {value!r}")
    if min(vals) < minimum:
        raise InputError(f"{name}: expected values >= {minimum}, got {value!r}")
    return int(vals[0]), int(vals[1])


def check_int(name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise InputError(f"{name}: expected an int >= {minimum}, got {v!r}")
    return int(v)


def arg_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def arg_floats(text: str) -> tuple[float, ...]:
    if text.strip() in ("", "none"):
        return ()
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def real_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested sequences and the like
        raise InputError(f"{name}: expected a numeric array, got {type(value).__name__} ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise InputError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def is_ase_atoms(x: Any) -> bool:
    ase = sys.modules.get("ase")  # an ase.Atoms can only exist once ase is imported
    return ase is not None and isinstance(x, getattr(ase, "Atoms", ()))


def cell_lengths(cell: Any, d: int) -> tuple[float, ...]:
    if cell is None:
        raise InputError("cell: expected the cell's edge lengths or a 3x3 cell matrix, got None")
    c = real_array("cell", getattr(cell, "array", cell))  # ase.cell.Cell has .array
    if c.ndim == 1:
        if c.shape[0] not in (d, 3) or (d == 3 and c.shape[0] != 3):
            raise InputError(f"cell: expected {d} edge lengths{' (or 3)' if d == 2 else ''}, got {c.shape[0]}")
        lengths = c[:d]
    elif c.ndim == 2 and c.shape in ((d, d), (3, 3)):
        block = c[:d, :d]
        scale = float(np.max(np.abs(np.diag(block)))) if np.all(np.isfinite(block)) else math.inf
        off = block - np.diag(np.diag(block))
        bad = np.argwhere(~(np.abs(off) <= RECTANGULAR_RTOL * scale))
        if len(bad):
            i, j = (int(v) for v in bad[0])
            what = "the in-plane (x, y) block" if d == 2 else "the cell"
            raise InputError(
                f"cell: expected a rectangular cell (diagonal {what}), got cell[{i}][{j}] = {float(block[i, j])!r}; "
                "non-orthogonal cells are not supported"
            )
        lengths = np.diag(block)
    else:
        raise InputError(f"cell: expected {d} edge lengths or a {d}x{d} / 3x3 matrix, got shape {c.shape}")
    for k, v in enumerate(lengths):
        if not (math.isfinite(v) and v > 0):
            raise InputError(f"cell: expected a finite edge length > 0 on axis {k}, got {float(v)!r}")
    return tuple(float(v) for v in lengths)
