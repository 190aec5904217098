"""Energies of atomic systems from an EDNN model in one call: rasterize (Eq. 2) and predict, streamed.

:func:`predict` images the atoms at the model's grid spacing and Gaussian width (metadata
``ednn.spacing`` and ``ednn.gamma``) and sums the network's tile contributions. It never builds the
whole grid: the tiles are visited in blocks, and for each block only its window (the block's focus
regions plus the context around them) is rasterized, from the atoms near that window, with
:func:`ednn.rasterize`'s window mode. Memory therefore stays at one window (about
``max_window`` grid points) plus a batch of tiles, whatever the size of the system.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .accumulate import Accumulator
from .errors import InputError
from .model import Model, load_model
from .predict import DEFAULT_BATCH_BYTES
from .progress import progress_bar
from .rasterize import CUTOFF_GAMMAS, _cell_lengths, _is_ase_atoms, prepare, rasterize

__all__ = ["predict", "image", "grid_shape", "model_spacing", "model_gamma", "model_channels", "model_flattens",
           "DEFAULT_MAX_WINDOW"]

#: Default largest window (grid points) rasterized at once: 4 Mi points, 16 MiB of float32.
DEFAULT_MAX_WINDOW = 1 << 22
# a cell length may differ from a whole number of grid spacings by this fraction of a spacing per point
_GRID_RTOL = 1e-6


def _floats(name: str, text: str, d: int) -> tuple[float, ...]:
    try:
        vals = [float(p) for p in str(text).split(",")]
    except ValueError:
        raise InputError(f"{name}: expected 1 or {d} comma-separated numbers, got {text!r}") from None
    if len(vals) == 1:
        vals = vals * d
    if len(vals) != d or not all(math.isfinite(v) and v > 0 for v in vals):
        raise InputError(f"{name}: expected 1 or {d} positive numbers, got {text!r}")
    return tuple(vals)


def model_spacing(model: Model, spacing: float | Sequence[float] | None = None) -> tuple[float, ...]:
    """Grid spacing per axis: ``spacing`` if given, else the model's ``ednn.spacing`` (1 or ndim values)."""
    d = model.ndim
    if spacing is not None:
        if isinstance(spacing, (int, float, np.integer, np.floating)) and not isinstance(spacing, bool):
            return _floats("spacing", repr(float(spacing)), d)
        try:
            return _floats("spacing", ",".join(repr(float(v)) for v in spacing), d)
        except TypeError:
            raise InputError(f"spacing: expected a number or {d} numbers, got {spacing!r}") from None
    text = model.metadata.get("ednn.spacing")
    if text is None:
        raise InputError(
            f"spacing: the model {str(model.path)!r} has no ednn.spacing metadata; pass spacing= (the grid spacing "
            "per axis, in the units of the positions) or shape="
        )
    return _floats("metadata ednn.spacing", text, d)


def model_gamma(model: Model, gamma: float | None = None) -> float:
    """Gaussian width of Eq. 2: ``gamma`` if given, else the model's ``ednn.gamma``."""
    if gamma is None:
        text = model.metadata.get("ednn.gamma")
        if text is None:
            raise InputError(f"gamma: the model {str(model.path)!r} has no ednn.gamma metadata; pass gamma= "
                             "(the Gaussian width it was trained with, 0.2 Angstrom in the paper)")
        (gamma,) = _floats("metadata ednn.gamma", text, 1)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise InputError(f"gamma: expected a positive number, got {gamma!r}")
    if not (math.isfinite(gamma) and gamma > 0):
        raise InputError(f"gamma: expected a finite value > 0, got {gamma!r}")
    return float(gamma)


def model_channels(model: Model) -> tuple[str, ...]:
    """Names of the model's input channels (``ednn.channel_names``; ``("V",)`` when absent).

    Refuses a model whose channels are not ones :mod:`ednn.bonds` can compute from atoms.
    """
    from .bonds import BOND_HEIGHT_UNIT, CHANNEL_NAMES, check_channels

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
        unit = float(model.metadata.get("ednn.bond_height_unit", BOND_HEIGHT_UNIT))
        if abs(unit - BOND_HEIGHT_UNIT) > 1e-12:
            raise InputError(f"metadata ednn.bond_height_unit: expected {BOND_HEIGHT_UNIT} (this version's "
                             f"{CHANNEL_NAMES[1]} channel), got {unit}")
    return names


def model_flattens(model: Model) -> bool:
    """Whether the model images atoms at flattened positions (``ednn.positions = flattened``)."""
    text = model.metadata.get("ednn.positions", "cartesian")
    if text not in ("cartesian", "flattened"):
        raise InputError(f"metadata ednn.positions: expected 'cartesian' or 'flattened', got {text!r}")
    if text == "flattened" and model.ndim != 2:
        raise InputError(f"metadata ednn.positions: 'flattened' needs a 2-D model (sheets), got ednn.ndim={model.ndim}")
    return text == "flattened"


def _positions_for(model: Model, pos: Any, cell: Any) -> Any:
    """``pos``, or its flattened form (:func:`ednn.bonds.flatten`) for a model trained on flattened sheets.

    Called after :func:`ednn.rasterize`'s argument checks (finite positions, matching lengths)."""
    if not model_flattens(model):
        return pos
    from .bonds import FLATTEN_CUTOFF, flatten

    p = np.asarray(pos, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise InputError(f"positions: expected shape (n, 3) for a model on flattened sheets (z is needed), got {p.shape}")
    return flatten(p, cell, cutoff=float(model.metadata.get("ednn.flatten_cutoff", FLATTEN_CUTOFF)))


def _bond_cutoff(model: Model) -> float:
    from .bonds import BOND_CUTOFF

    return float(model.metadata.get("ednn.bond_cutoff", BOND_CUTOFF))


def grid_shape(
    lengths: Sequence[float], spacing: Sequence[float], focus: Sequence[int] | None = None
) -> tuple[int, ...]:
    """Grid points per axis of a cell with edge ``lengths`` at ``spacing``; refuses what does not fit.

    Every length must be a whole number of spacings and, when ``focus`` is given, the grid a whole
    multiple of the focus; otherwise :class:`~ednn.InputError` names the axis and the lengths that
    would fit.
    """
    shape = []
    for k, (length, h) in enumerate(zip(lengths, spacing)):
        v = length / h
        n = int(round(v))
        if n < 1 or abs(v - n) > _GRID_RTOL * max(1.0, v):
            raise InputError(
                f"atoms.cell: edge length {length:.10g} on axis {k} is {v:.6f} grid spacings of {h:.10g}; expected a "
                "whole number of spacings (the model's grid spacing)"
            )
        if focus is not None and n % focus[k]:
            raise InputError(
                f"atoms.cell: the grid of {n} points on axis {k} (edge {length:.10g}, spacing {h:.10g}) is not a "
                f"multiple of the model's focus {focus[k]}; expected an edge length that is a multiple of "
                f"{focus[k] * h:.10g} (focus x spacing)"
            )
        shape.append(n)
    return tuple(shape)


def _unpack(atoms: Any, numbers: Any, cell: Any, d: int) -> tuple[Any, Any, Any]:
    if _is_ase_atoms(atoms):
        for name, value in (("numbers", numbers), ("cell", cell)):
            if value is not None:
                raise InputError(f"{name}: expected None when atoms is an ase.Atoms (taken from it), got {value!r}")
        pbc = np.asarray(atoms.pbc, dtype=bool)
        if not pbc[:d].all():
            axes = "x, y" if d == 2 else "x, y, z"
            raise InputError(f"atoms.pbc: expected periodic {axes} for a {d}-D model (the image is periodic), "
                             f"got {pbc.tolist()}")
        return atoms.get_positions(), atoms.numbers, atoms.cell.array
    if cell is None:
        raise InputError("cell: expected the cell (edge lengths or a 3x3 matrix) with a positions array, got None")
    return atoms, numbers, cell


def _blocks(n_tiles: Sequence[int], focus: Sequence[int], context: Sequence[int], max_window: int) -> tuple[int, ...]:
    """Tiles per block and axis, halving the longest axis until the window fits ``max_window`` points."""
    b = list(n_tiles)

    def points() -> int:
        return math.prod(bk * f + 2 * c for bk, f, c in zip(b, focus, context))

    while points() > max_window and max(b) > 1:
        k = max((k for k in range(len(b)) if b[k] > 1), key=lambda k: b[k] * focus[k])
        b[k] = (b[k] + 1) // 2
    return tuple(b)


def _near(x: np.ndarray, lo: float, span: float, length: float) -> np.ndarray:
    """Atoms with a periodic image in ``[lo, lo + span]`` along one axis."""
    if span >= length:
        return np.ones(x.shape[0], dtype=bool)
    return np.mod(x - lo, length) <= span


def image(
    model: str | os.PathLike[str] | Model,
    atoms: Any,
    numbers: Any = None,
    cell: Any = None,
    *,
    spacing: float | Sequence[float] | None = None,
    gamma: float | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """The whole input grid the model sees for ``atoms``: ``(S_1..S_d)`` for a one-channel model, else
    ``(C, S_1, S_2)`` (channels per ``ednn.channel_names``), float32, at the model's spacing and gamma.

    ``ednn.predict(model, ednn.atoms.image(model, atoms))`` equals :func:`predict` up to float32
    rounding; :func:`predict` never builds this grid (use it for large systems).
    """
    m = load_model(model)
    names = model_channels(m)
    d = m.ndim
    g = model_gamma(m, gamma)
    pos, z, cell_in = _unpack(atoms, numbers, cell, d)
    grid = grid_shape(_cell_lengths(cell_in, d), model_spacing(m, spacing), m.focus)
    prepare(pos, z, cell_in, grid, g, None, None)  # checks positions / numbers; raises InputError
    pos = _positions_for(m, pos, cell_in)
    if len(names) == 1:
        return rasterize(pos, z, cell_in, grid, gamma=g, dtype=np.float32, threads=threads)
    from .bonds import images

    return images(pos, z, cell_in, grid, gamma=g, channels=names, cutoff=_bond_cutoff(m), threads=threads)


def predict(
    model: str | os.PathLike[str] | Model,
    atoms: Any,
    numbers: Any = None,
    cell: Any = None,
    *,
    spacing: float | Sequence[float] | None = None,
    shape: Sequence[int] | None = None,
    gamma: float | None = None,
    batch_size: int | None = None,
    max_window: int | None = None,
    providers: Sequence[Any] | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> float | np.ndarray:
    """Extensive quantities (e.g. the energy) of an atomic system from an EDNN model.

    Parameters
    ----------
    model
        EDNN model file (path or :class:`ednn.Model`) whose input is the Eq. 2 image, optionally
        followed by the bond-height channel (``ednn.channel_names``, see :mod:`ednn.bonds`). A model
        with ``ednn.positions = flattened`` images the sheet at its flattened in-plane positions
        (:func:`ednn.bonds.flatten`, one least-squares solve over the whole system first).
    atoms
        An ``ase.Atoms`` (periodic along the model's axes), or ``(n, 3)`` positions with ``numbers``
        and ``cell`` as for :func:`ednn.rasterize`. Rectangular cells only.
    spacing, shape
        Grid spacing per axis (default: the model's ``ednn.spacing``, one value or one per axis), or
        the grid ``shape`` directly. Each cell edge must be a whole number of spacings and the grid a
        whole multiple of the model's focus; other cells are refused with :class:`~ednn.InputError`.
    gamma
        Gaussian width (default: the model's ``ednn.gamma``).
    batch_size
        Tiles per ONNX Runtime call (default about 8 MiB of tiles).
    max_window
        Largest window, in grid points, rasterized at once (default :data:`DEFAULT_MAX_WINDOW`).
    providers, threads, progress
        As for :func:`ednn.predict` (threads also sets the rasterizer's OpenMP threads).

    Returns
    -------
    A float for a one-output model, else an array ``(K,)``, in float64, in the model's units
    (``ednn.units``). The result equals ``ednn.predict(model, ednn.rasterize(atoms, shape=grid,
    gamma=gamma))`` up to float32 rounding, without ever holding the whole grid.
    """
    m = load_model(model)
    if m.ndim not in (2, 3):
        raise InputError(f"model: expected a 2-D or 3-D model (ednn.ndim 2 or 3) for atoms, got ednn.ndim={m.ndim}")
    names = model_channels(m)
    d = m.ndim
    if len(names) > 1 and d != 2:
        raise InputError(f"model: expected a 2-D model for channels {list(names)} (sheets), got ednn.ndim={d}")
    for name, v in (("batch_size", batch_size), ("max_window", max_window), ("threads", threads)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise InputError(f"{name}: expected a positive int or None, got {v!r}")
    g = model_gamma(m, gamma)
    pos, z, cell_in = _unpack(atoms, numbers, cell, d)
    lengths = _cell_lengths(cell_in, d)
    if shape is not None:
        if spacing is not None:
            raise InputError(f"shape: expected either spacing or shape, got both (spacing={spacing!r}, "
                             f"shape={shape!r})")
        try:
            grid = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise InputError(f"shape: expected {d} ints, got {shape!r}") from None
        if len(grid) != d or min(grid) < 1:
            raise InputError(f"shape: expected {d} positive ints, got {shape!r}")
        grid_shape([float(n) for n in grid], [1.0] * d, m.focus)
    else:
        grid = grid_shape(lengths, model_spacing(m, spacing), m.focus)
    sysm = prepare(pos, z, cell_in, grid, g, None, None)  # checks positions / numbers; raises InputError
    pos3 = _positions_for(m, pos, cell_in)  # (n, 3): flattened, or the positions as given
    pos = sysm.positions if pos3 is pos else np.ascontiguousarray(pos3[:, :d])
    z, lengths = sysm.numbers, sysm.cell
    h = [lengths[k] / grid[k] for k in range(d)]
    # every channel is a set of weighted points (atoms; bond midpoints), rasterized per window
    if len(names) > 1:
        from .bonds import channel_sources

        srcs = channel_sources(names, pos3, z, lengths, _bond_cutoff(m))
        pos = np.concatenate([p[:, :d] for p, _ in srcs])
        z = np.concatenate([w for _, w in srcs])
        chan = np.repeat(np.arange(len(srcs)), [len(w) for _, w in srcs])
    else:
        chan = np.zeros(len(z), dtype=np.int64)
    C = len(names)

    f, c, t = m.focus, m.context, m.tile
    n_tiles = [grid[k] // f[k] for k in range(d)]
    total_tiles = math.prod(n_tiles)
    tile_elems = math.prod(t)
    if batch_size is None:
        batch_size = max(1, min(total_tiles, DEFAULT_BATCH_BYTES // (4 * tile_elems)))
    b = _blocks(n_tiles, f, c, max_window or DEFAULT_MAX_WINDOW)
    starts = [range(0, n_tiles[k], b[k]) for k in range(d)]
    rc = g * CUTOFF_GAMMAS * (1.0 + 1e-6)
    wrapped = np.mod(pos, np.asarray(lengths))
    scale = None if m.input_scale is None else m.input_scale.astype(np.float32)
    offset = None if m.input_offset is None else m.input_offset.astype(np.float32)

    def block_atoms() -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
        """(block start in tiles, indices of the atoms near its window), one row of blocks at a time."""

        def rec(k: int, idx: np.ndarray, head: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
            if k == d:
                yield head, idx
                return
            for s in starts[k]:
                count = min(b[k], n_tiles[k] - s)
                lo = (s * f[k] - c[k]) * h[k] - rc
                span = (count * f[k] + 2 * c[k] - 1) * h[k] + 2 * rc
                sub = idx[_near(wrapped[idx, k], lo, span, lengths[k])]
                yield from rec(k + 1, sub, head + (s,))

        yield from rec(0, np.arange(pos.shape[0]), ())

    def make_tiles(start: tuple[int, ...], idx: np.ndarray) -> np.ndarray:
        counts = [min(b[k], n_tiles[k] - start[k]) for k in range(d)]
        origin = [start[k] * f[k] - c[k] for k in range(d)]
        window = [counts[k] * f[k] + 2 * c[k] for k in range(d)]
        w = np.empty((C,) + tuple(window), dtype=np.float32)
        for k in range(C):
            sel = idx[chan[idx] == k]
            rasterize(pos[sel], z[sel], lengths, grid, gamma=g, origin=origin, window_shape=window,
                      threads=threads, out=w[k])
            if scale is not None:
                w[k] *= scale[k]
            if offset is not None:
                w[k] += offset[k]
        view = np.lib.stride_tricks.sliding_window_view(w, (C,) + tuple(t))[(0,) + tuple(slice(None, None, fk) for fk in f)]
        # (n_1..n_d, C, t_1..t_d) -> (tiles, C, t...)
        return np.ascontiguousarray(view.reshape((-1, C) + tuple(t)))

    sess = m.session(providers, threads)
    out_name = sess.get_outputs()[0].name
    K = m.n_outputs
    acc = Accumulator(K)
    with progress_bar(total_tiles, "ednn atoms", "tiles", enable=progress) as bar, ThreadPoolExecutor(1) as pool:
        blocks = block_atoms()
        first = next(blocks, None)
        fut = pool.submit(make_tiles, *first) if first is not None else None
        while fut is not None:
            tiles = fut.result()
            nxt = next(blocks, None)
            fut = pool.submit(make_tiles, *nxt) if nxt is not None else None  # rasterize ahead
            for i in range(0, tiles.shape[0], batch_size):
                chunk = tiles[i:i + batch_size]
                y = sess.run([out_name], {m.input_name: chunk})[0]
                if y.shape != (chunk.shape[0], K):
                    raise InputError(f"model output: expected shape ({chunk.shape[0]}, {K}), got {y.shape}")
                acc.add(y)
                bar.update(chunk.shape[0])
    if acc.count != total_tiles:  # pragma: no cover - a bookkeeping error, not an input error
        raise RuntimeError(f"ednn.atoms.predict visited {acc.count} tiles, expected {total_tiles}")
    totals = acc.total
    if m.output_scale is not None:
        totals = totals * m.output_scale
    if m.output_offset is not None:
        totals = totals + m.output_offset * total_tiles
    return float(totals[0]) if K == 1 else totals

