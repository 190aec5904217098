"""How atoms become a model's input grid: one frozen :class:`ImageRecipe` for training and inference.

A recipe holds everything that turns positions and atomic numbers into the grid an atoms model sees:
the grid spacing per axis, the Gaussian width γ of Eq. 2, the input channels (the Eq. 2 image ``V``,
optionally the bond-height channel of :mod:`ednn.atoms.bonds`), and whether the sheet is imaged at
its flattened in-plane positions (:func:`ednn.atoms.bonds.flatten`) with which cutoff.

* training builds it from a dataset (:meth:`ImageRecipe.from_dataset`) and images every sample
  with :meth:`~ImageRecipe.image`; the export writes :meth:`~ImageRecipe.to_metadata` into the
  model file;
* inference (:func:`ednn.atoms.predict`, :func:`ednn.atoms.image`, the ASE calculator, the size
  study) reads it back with :meth:`ImageRecipe.from_model`.

So an image made in training and one made in inference cannot differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import axis_ints, cell_lengths, parse_positive_floats
from ..errors import InputError
from ..rasterize import prepare, rasterize
from .bonds import (
    BOND_CUTOFF,
    BOND_HEIGHT_UNIT,
    CHANNEL_NAMES,
    FLATTEN_CUTOFF,
    channel_sources,
    check_channels,
)
from .localflat import flatten_sheet

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["ImageRecipe", "GRID_RTOL", "METADATA_KEYS", "FLATTEN_METHODS", "check_flatten"]

#: How :meth:`ImageRecipe.positions` flattens (``flatten`` of :func:`ednn.atoms.predict`).
FLATTEN_METHODS = ("auto", "global", "local", "none")
#: ``ednn.*`` keys (without the prefix) that :meth:`ImageRecipe.to_metadata` may write.
METADATA_KEYS = ("spacing", "gamma", "channel_names", "bond_cutoff", "bond_height_unit", "positions", "flatten_cutoff")
#: A cell length may differ from a whole number of grid spacings by this fraction of a spacing per point.
GRID_RTOL = 1e-6


def check_flatten(method: Any) -> None:
    """Raise unless ``method`` is one of :data:`FLATTEN_METHODS` (the ``flatten`` argument)."""
    if method not in FLATTEN_METHODS:
        raise InputError(f"flatten: expected one of {', '.join(FLATTEN_METHODS)}, got {method!r}")


@dataclass(frozen=True)
class ImageRecipe:
    """Spacing, γ, channels and flattening of an atoms model's input (see the module docstring).

    ``spacing`` ``(d,)`` grid spacing per axis (length units of the positions, Å); ``gamma`` the
    Gaussian width; ``channels`` names from :data:`ednn.atoms.bonds.CHANNEL_NAMES` starting with
    ``"V"``; ``flatten`` whether positions are flattened first (2-D sheets), with ``flatten_cutoff``;
    ``bond_cutoff`` for the bond-height channel.
    """

    spacing: tuple[float, ...]
    gamma: float
    channels: tuple[str, ...] = ("V",)
    flatten: bool = False
    flatten_cutoff: float = FLATTEN_CUTOFF
    bond_cutoff: float = BOND_CUTOFF

    def __post_init__(self) -> None:
        spacing = tuple(float(v) for v in self.spacing)
        if not 1 <= len(spacing) <= 3 or not all(math.isfinite(v) and v > 0 for v in spacing):
            raise InputError(f"spacing: expected 1 to 3 positive numbers, got {self.spacing!r}")
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "gamma", _check_gamma(self.gamma))
        object.__setattr__(self, "channels", check_channels(self.channels))
        if not isinstance(self.flatten, bool):
            raise InputError(f"flatten: expected true or false, got {self.flatten!r}")
        if self.flatten and self.ndim != 2:
            raise InputError(f"flatten: needs a 2-D grid (sheets), got {self.ndim} axes")
        if len(self.channels) > 1 and self.ndim != 2:
            raise InputError(f"channels: expected a 2-D grid for channels {list(self.channels)} (sheets), "
                             f"got {self.ndim} axes")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, model: Model, spacing: float | Sequence[float] | None = None,
                   gamma: float | None = None) -> ImageRecipe:
        """The recipe recorded in a model file's ``ednn.*`` metadata; ``spacing`` / ``gamma`` override it.

        Refuses a model whose channels, spacing, γ or positions metadata are missing or unknown,
        naming the key.
        """
        channels = _model_channels(model)
        return cls(
            spacing=_model_spacing(model, spacing),
            gamma=_model_gamma(model, gamma),
            channels=channels,
            flatten=_model_flattens(model),
            flatten_cutoff=_model_length(model, "ednn.flatten_cutoff", FLATTEN_CUTOFF),
            bond_cutoff=_model_length(model, "ednn.bond_cutoff", BOND_CUTOFF),
        )

    @classmethod
    def from_dataset(cls, attrs: dict[str, Any], downsample: int = 1, channels: Any = None,
                     flatten: bool = False) -> ImageRecipe:
        """The recipe of an atoms dataset's root attributes (``image_spacing``, ``image_gamma``), imaged
        at ``downsample`` times the file's spacing with ``channels`` and optional flattening."""
        spacing = [float(v) * downsample for v in np.atleast_1d(attrs["image_spacing"])]
        return cls(spacing=tuple(spacing), gamma=float(attrs.get("image_gamma", 0.2)),
                   channels=check_channels(channels), flatten=flatten)

    # ------------------------------------------------------------------ properties
    @property
    def ndim(self) -> int:
        return len(self.spacing)

    def to_metadata(self) -> dict[str, Any]:
        """``ednn.*`` keys (without the prefix) that :meth:`from_model` reads back."""
        meta: dict[str, Any] = {"spacing": list(self.spacing), "gamma": self.gamma}
        if self.channels != ("V",):
            meta["channel_names"] = ",".join(self.channels)
            if "bond_dz2" in self.channels:
                meta["bond_cutoff"] = self.bond_cutoff
                meta["bond_height_unit"] = BOND_HEIGHT_UNIT
        if self.flatten:
            meta["positions"] = "flattened"
            meta["flatten_cutoff"] = self.flatten_cutoff
        return meta

    def grid_shape(self, lengths: Sequence[float], focus: Sequence[int] | None = None) -> tuple[int, ...]:
        """Grid points per axis of a cell with edge ``lengths``; refuses what does not fit.

        Every length must be a whole number of spacings and, when ``focus`` is given, the grid a
        whole multiple of the focus; otherwise :class:`~ednn.InputError` names the axis and the
        lengths that would fit.
        """
        shape = []
        for k, (length, h) in enumerate(zip(lengths, self.spacing)):
            v = length / h
            n = int(round(v))
            if n < 1 or abs(v - n) > GRID_RTOL * max(1.0, v):
                raise InputError(
                    f"atoms.cell: edge length {length:.10g} on axis {k} is {v:.6f} grid spacings of {h:.10g}; "
                    "expected a whole number of spacings (the model's grid spacing)"
                )
            if focus is not None and n % focus[k]:
                raise InputError(
                    f"atoms.cell: the grid of {n} points on axis {k} (edge {length:.10g}, spacing {h:.10g}) is not "
                    f"a multiple of the model's focus {focus[k]}; expected an edge length that is a multiple of "
                    f"{focus[k] * h:.10g} (focus x spacing)"
                )
            shape.append(n)
        return tuple(shape)

    # ------------------------------------------------------------------ imaging
    def positions(self, positions: Any, cell: Any, method: str = "auto", progress: bool = False,
                  threads: int | None = None) -> Any:
        """``positions``, or their flattened form (:func:`ednn.atoms.bonds.flatten` with ``method``:
        ``auto``, ``global``, ``local``; ``none``: as given, already flattened) when the recipe flattens.

        Call it after :func:`ednn.rasterize`'s argument checks (finite positions, matching lengths).
        """
        check_flatten(method)
        if not self.flatten or method == "none":
            return positions
        p = np.asarray(positions, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise InputError(f"positions: expected shape (n, 3) for a model on flattened sheets (z is needed), "
                             f"got {p.shape}")
        return flatten_sheet(p, cell, cutoff=self.flatten_cutoff, method=method, threads=threads, progress=progress)

    def sources(self, positions: Any, numbers: Any, lengths: Sequence[float]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted points to rasterize: ``points`` ``(m, d)``, ``weights`` ``(m,)``, ``channel`` ``(m,)``.

        ``positions`` are already flattened when the recipe flattens (:meth:`positions`). The
        ``V`` channel's points are the atoms (weights Z); the bond-height channel's the bond midpoints.
        """
        d = self.ndim
        pos = np.asarray(positions, dtype=np.float64)
        if self.channels == ("V",):
            return (np.ascontiguousarray(pos[:, :d]), np.asarray(numbers, dtype=np.float64),
                    np.zeros(len(pos), dtype=np.int8))
        srcs = channel_sources(self.channels, pos, numbers, lengths, self.bond_cutoff)
        points = np.ascontiguousarray(np.concatenate([p[:, :d] for p, _ in srcs]))
        weights = np.concatenate([w for _, w in srcs])
        chan = np.repeat(np.arange(len(srcs)), [len(w) for _, w in srcs])
        return points, weights, chan

    def image(self, positions: Any, numbers: Any, cell: Any, shape: Sequence[int] | None = None, *,
              focus: Sequence[int] | None = None, dtype: Any = np.float32, threads: int | None = None) -> np.ndarray:
        """The whole grid ``(C, S_1..S_d)``, one grid per channel.

        ``positions`` ``(n, 3)`` (or ``(n, d)`` without flattening), ``numbers`` ``(n,)``, ``cell``
        as for :func:`ednn.rasterize`; ``shape`` defaults to :meth:`grid_shape` of the cell (checked
        against ``focus`` when given).
        """
        if shape is None:
            shape = self.grid_shape(cell_lengths(cell, self.ndim), focus)
        grid = axis_ints("shape", shape, self.ndim, 1)  # integers only: never truncated
        sysm = prepare(positions, numbers, cell, grid, self.gamma, None, None)  # checks; raises InputError
        pos = self.positions(positions, cell)
        if self.channels == ("V",):
            return rasterize(pos, numbers, cell, grid, gamma=self.gamma, dtype=dtype, threads=threads)[None]
        points, weights, chan = self.sources(pos, numbers, sysm.cell)
        out = np.empty((len(self.channels),) + grid, dtype=dtype)
        for k in range(len(self.channels)):
            sel = chan == k
            rasterize(points[sel], weights[sel], sysm.cell, grid, gamma=self.gamma, out=out[k], threads=threads)
        return out


# ---------------------------------------------------------------------- reading model metadata
def _check_gamma(gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise InputError(f"gamma: expected a positive number, got {gamma!r}")
    if not (math.isfinite(gamma) and gamma > 0):
        raise InputError(f"gamma: expected a finite value > 0, got {gamma!r}")
    return float(gamma)


def _model_spacing(model: Model, spacing: float | Sequence[float] | None = None) -> tuple[float, ...]:
    """Grid spacing per axis: ``spacing`` if given, else the model's ``ednn.spacing`` (1 or ndim values)."""
    d = model.ndim
    if spacing is not None:
        if isinstance(spacing, (int, float, np.integer, np.floating)) and not isinstance(spacing, bool):
            return parse_positive_floats("spacing", repr(float(spacing)), d)
        try:
            return parse_positive_floats("spacing", ",".join(repr(float(v)) for v in spacing), d)
        except TypeError:
            raise InputError(f"spacing: expected a number or {d} numbers, got {spacing!r}") from None
    text = model.metadata.get("ednn.spacing")
    if text is None:
        raise InputError(
            f"spacing: the model {str(model.path)!r} has no ednn.spacing metadata; pass spacing= (the grid spacing "
            "per axis, in the units of the positions) or shape="
        )
    return parse_positive_floats("metadata ednn.spacing", text, d)


def _model_length(model: Model, key: str, default: float) -> float:
    """A positive length from the metadata (the strict number grammar of :func:`~ednn._checks.parse_floats`),
    or ``default`` when the model lacks ``key``."""
    text = model.metadata.get(key)
    return default if text is None else parse_positive_floats(f"metadata {key}", text, 1)[0]


def _model_gamma(model: Model, gamma: float | None = None) -> float:
    """Gaussian width of Eq. 2: ``gamma`` if given, else the model's ``ednn.gamma``."""
    if gamma is None:
        text = model.metadata.get("ednn.gamma")
        if text is None:
            raise InputError(f"gamma: the model {str(model.path)!r} has no ednn.gamma metadata; pass gamma= "
                             "(the Gaussian width it was trained with, 0.2 Angstrom in the paper)")
        (gamma,) = parse_positive_floats("metadata ednn.gamma", text, 1)
    return _check_gamma(gamma)


def _model_channels(model: Model) -> tuple[str, ...]:
    """Names of the model's input channels (``ednn.channel_names``; ``("V",)`` when absent)."""
    text = model.metadata.get("ednn.channel_names")
    if text is None:
        if model.channels != 1:
            raise InputError(f"model: expected one input channel (the Eq. 2 image) or ednn.channel_names metadata, "
                             f"got ednn.channels={model.channels} without names")
        return ("V",)
    names = check_channels(text, "metadata ednn.channel_names")
    if len(names) != model.channels:
        raise InputError(f"metadata ednn.channel_names: expected {model.channels} names (ednn.channels), got {list(names)}")
    if "bond_dz2" in names:
        unit = _model_length(model, "ednn.bond_height_unit", BOND_HEIGHT_UNIT)
        if not abs(unit - BOND_HEIGHT_UNIT) <= 1e-12:
            raise InputError(f"metadata ednn.bond_height_unit: expected {BOND_HEIGHT_UNIT} (this version's "
                             f"{CHANNEL_NAMES[1]} channel), got {unit}")
    return names


def _model_flattens(model: Model) -> bool:
    """Whether the model images atoms at flattened positions (``ednn.positions = flattened``)."""
    text = model.metadata.get("ednn.positions", "cartesian")
    if text not in ("cartesian", "flattened"):
        raise InputError(f"metadata ednn.positions: expected 'cartesian' or 'flattened', got {text!r}")
    if text == "flattened" and model.ndim != 2:
        raise InputError(f"metadata ednn.positions: 'flattened' needs a 2-D model (sheets), got ednn.ndim={model.ndim}")
    return text == "flattened"
