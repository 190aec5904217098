"""Normalisation and checks of the focus / context / ndim arguments shared by tiling and models."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import InputError

__all__ = ["per_axis", "resolve_ndim", "check_divisible", "check_optional_positive_int"]


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
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InputError(f"{name}: expected a positive int or None, got {value!r}")
