"""Gaussian images of atomic systems (Eq. 2 of Mills et al. 2019), compiled: CPU with OpenMP, or CUDA.

The potential of atoms at ``r_i`` with atomic numbers ``Z_i`` in a rectangular periodic cell is

    V(r) = sum_i sum_images Z_i exp(-|r - r_i - image shift|^2 / (2 gamma^2)),

sampled on a grid whose point ``(i_1..i_d)`` sits at ``r_k = i_k * cell_k / shape_k``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _ednn
from ._checks import INT64_MAX, axis_ints, cell_lengths, check_threads, is_ase_atoms, real_array

from .errors import InputError

__all__ = ["rasterize", "CUTOFF_GAMMAS", "TOLERANCE", "MIN_GAMMA"]

#: Terms are dropped only where they fall below this fraction of ``Z_i``.
TOLERANCE = 1e-7
#: Cutoff radius in units of gamma: ``sqrt(2 ln 1e7) ~= 5.678``, where ``exp(-r^2 / 2 gamma^2) = 1e-7``.
CUTOFF_GAMMAS = math.sqrt(2.0 * math.log(1.0 / TOLERANCE))
#: Smallest gamma, in the units of the positions (1e-6, the core's kRasterizeMinGamma): below about
#: 1e-154, 1 / (2 gamma^2) overflows and an atom on a grid point gives 0 * inf = nan; 1e-6 keeps every
#: exponent finite and lies far below any physical width (0.2 Angstrom in the paper).
MIN_GAMMA: float = _ednn.MIN_GAMMA


class System(NamedTuple):
    """Checked and normalised arguments of :func:`rasterize` (shared with the reference)."""

    positions: np.ndarray  # (n, d) float64, C-contiguous, not wrapped
    numbers: np.ndarray  # (n,) float64
    cell: tuple[float, ...]  # (d,) edge lengths
    shape: tuple[int, ...]  # (d,) full periodic grid
    origin: tuple[int, ...]  # (d,) first grid index of the window (not reduced)
    window: tuple[int, ...]  # (d,) window shape = output shape
    gamma: float


def prepare(
    positions: Any,
    numbers: Any,
    cell: Any,
    shape: Any,
    gamma: Any,
    origin: Any,
    window_shape: Any,
) -> System:
    """Check and normalise the arguments of :func:`rasterize`; raises :class:`InputError`."""
    if is_ase_atoms(positions):
        atoms = positions
        for name, value in (("numbers", numbers), ("cell", cell)):
            if value is not None:
                raise InputError(f"{name}: expected None when positions is an ase.Atoms (taken from it), got {value!r}")
        positions, numbers, cell = atoms.get_positions(), atoms.numbers, atoms.cell.array
    if shape is None:
        raise InputError("shape: expected the grid shape (2 or 3 ints; pass it by keyword with an ase.Atoms), got None")
    try:
        shape_list = list(shape)
    except TypeError:
        raise InputError(f"shape: expected a sequence of 2 or 3 ints, got {shape!r}") from None
    d = len(shape_list)
    if d not in (2, 3):
        raise InputError(f"shape: expected 2 (x, y) or 3 (x, y, z) axes, got {d}: {shape!r}")
    grid = axis_ints("shape", shape_list, d, 1)

    if isinstance(gamma, (bool, np.bool_)) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise InputError(f"gamma: expected a real number > 0, got {gamma!r}")
    gamma = float(gamma)
    if not (math.isfinite(gamma) and gamma > 0):
        raise InputError(f"gamma: expected a finite value > 0, got {gamma!r}")
    if gamma < MIN_GAMMA:
        raise InputError(f"gamma: expected at least {MIN_GAMMA!r} (in the units of the positions; a narrower "
                         f"Gaussian underflows), got {gamma!r}")

    lengths = cell_lengths(cell, d)

    if positions is None:
        raise InputError("positions: expected an (n, 2) or (n, 3) array or an ase.Atoms, got None")
    pos = real_array("positions", positions)
    if pos.ndim == 1 and pos.size == 0:
        pos = pos.reshape(0, d)
    ok_cols = (2, 3) if d == 2 else (3,)
    if pos.ndim != 2 or pos.shape[1] not in ok_cols:
        cols = " or ".join(f"(n, {c})" for c in ok_cols)
        raise InputError(f"positions: expected shape {cols} for a {d}-D grid, got {pos.shape}")
    pos = np.ascontiguousarray(pos[:, :d])
    if numbers is None:
        raise InputError(f"numbers: expected {pos.shape[0]} atomic numbers (one per atom), got None")
    z = real_array("numbers", numbers)
    if z.ndim != 1 or z.shape[0] != pos.shape[0]:
        raise InputError(
            f"numbers: expected shape ({pos.shape[0]},), one per atom in positions, got {z.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
    if bad.size:
        raise InputError(f"positions: expected finite coordinates, got {pos[bad[0]].tolist()} for atom {bad[0]}")
    bad = np.flatnonzero(~np.isfinite(z))
    if bad.size:
        raise InputError(f"numbers: expected finite values, got {float(z[bad[0]])!r} for atom {bad[0]}")

    org = (0,) * d if origin is None else axis_ints("origin", origin, d, None)
    if window_shape is None:
        win = grid
    else:
        win = axis_ints("window_shape", window_shape, d, 0)
    if math.prod(win) > INT64_MAX:
        raise InputError(f"window_shape: expected fewer than 2^63 points, got {win}")
    for k in range(d):
        spacing = lengths[k] / grid[k]
        if gamma * CUTOFF_GAMMAS / spacing > 2.0**40:
            raise InputError(
                f"gamma: the cutoff {gamma * CUTOFF_GAMMAS:.6g} spans more than 2^40 grid spacings on axis {k} "
                f"(spacing {spacing:.6g})"
            )
    return System(pos, np.ascontiguousarray(z), lengths, grid, org, win, gamma)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _out_dtype(dtype: Any, out: Any) -> np.dtype:
    """The output dtype: ``dtype``, else ``out``'s, else float32; it must agree with ``out``'s."""
    out_dt = None
    if out is not None:
        if hasattr(out, "__cuda_array_interface__"):
            out_dt = np.dtype(out.__cuda_array_interface__["typestr"])
        elif isinstance(getattr(out, "dtype", None), np.dtype):
            out_dt = out.dtype
        if out_dt not in _FLOATS:
            got = out_dt if out_dt is not None else type(out).__name__
            raise InputError(f"out: expected a float32 or float64 array, got {got}")
    if dtype is None:
        return out_dt if out_dt is not None else np.dtype(np.float32)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt not in _FLOATS:
        raise InputError(f"dtype: expected float32 or float64, got {dt}")
    if out_dt is not None and out_dt != dt:
        raise InputError(f"dtype: {dt} differs from out's dtype {out_dt}")
    return dt


def rasterize(
    positions: Any,
    numbers: Any = None,
    cell: Any = None,
    shape: Sequence[int] | None = None,
    *,
    gamma: float = 0.2,
    out: Any = None,
    origin: int | Sequence[int] | None = None,
    window_shape: int | Sequence[int] | None = None,
    dtype: Any = None,
    threads: int | None = None,
    device: str | None = None,
) -> Any:
    """Gaussian potential of atoms on a rectangular periodic grid (Eq. 2 of the paper).

    ``V(r) = sum_i Z_i exp(-|r - r_i|^2 / (2 gamma^2))``, summed over every atom and every periodic
    image of it. Grid point ``(i_1..i_d)`` of the full grid sits at ``r_k = i_k * cell_k / shape_k``
    (so point 0 is at the cell's corner and the grid spacing is ``cell_k / shape_k``).

    Parameters
    ----------
    positions
        ``(n, 3)`` Cartesian positions (``(n, 2)`` also accepted for a 2-D grid), or an
        ``ase.Atoms`` whose positions, atomic numbers and cell are used (``numbers`` and ``cell`` must
        then be None; pass ``shape`` by keyword). Atoms outside the cell are wrapped into it: every
        atom counts through all of its periodic images, wherever it sits.
    numbers
        ``(n,)`` atomic numbers ``Z_i`` (any finite real weights).
    cell
        Rectangular periodic cell: its edge lengths (``d`` values, or 3 with the z length ignored for
        a 2-D grid) or a 3x3 (or ``d x d``) cell matrix whose rows are the cell vectors and whose
        off-diagonal entries are zero (for a 2-D grid only the in-plane x, y block is checked; the z
        vector is ignored). Non-rectangular cells raise :class:`~ednn.InputError`.
    shape
        Points ``(N_x, N_y)`` (2-D: z coordinates are ignored, for sheets) or ``(N_x, N_y, N_z)``
        (3-D) of the full periodic grid. ``len(shape)`` sets the dimension ``d``.
    gamma
        Gaussian width in the units of positions (0.2 Angstrom in the paper), at least
        :data:`MIN_GAMMA` = 1e-6.
    out
        Optional C-contiguous float32 / float64 array of the output's shape to overwrite (a CUDA
        array exposing ``__cuda_array_interface__`` runs the CUDA kernel).
    origin, window_shape
        Window mode: compute only the sub-box of ``window_shape`` points starting at grid index
        ``origin`` (one int per axis, or one for all axes). Indices wrap periodically, so
        ``result[j_1..j_d]`` is grid point ``((origin_k + j_k) mod N_k)``; ``origin`` may be any
        integer and ``window_shape`` may exceed ``shape``. Defaults: ``origin = 0``,
        ``window_shape = shape``. Windows tile a huge periodic system without ever building its
        whole grid.
    dtype
        float32 (default, or ``out``'s dtype) or float64. Sums are accumulated in float64.
    threads
        OpenMP threads (CPU), at most ``ednn_max_threads()`` (4 per core); default: OpenMP's default.
        The result does not depend on it.
    device
        ``"cpu"`` (default) or ``"cuda"`` (returns an :class:`ednn.DeviceArray`); with a CUDA
        ``out`` the CUDA kernel runs on ``out``'s device.

    Returns
    -------
    array of shape ``window_shape`` (default ``shape``), indexed ``[i_x, i_y(, i_z)]``.

    Notes
    -----
    Cutoff: a term is dropped where some axis has ``|r_k - r_ik| > r_c`` (per image), with
    ``r_c = gamma * sqrt(2 ln 1e7) ~= 5.678 gamma`` (:data:`CUTOFF_GAMMAS`), so every dropped term
    is below ``1e-7 Z_i`` (:data:`TOLERANCE`). Each atom costs one box stencil of about
    ``(2 r_c / h)^d`` grid points, not the whole grid; cells smaller than the stencil are handled
    by summing every image that falls inside it. Empty systems give zeros.
    """
    system = prepare(positions, numbers, cell, shape, gamma, origin, window_shape)
    dt = _out_dtype(dtype, out)
    check_threads(threads)
    on_gpu = out is not None and hasattr(out, "__cuda_array_interface__")
    if device not in (None, "cpu", "cuda"):
        raise InputError(f"device: expected 'cpu', 'cuda' or None, got {device!r}")
    if device == "cpu" and on_gpu:
        raise InputError("out: expected a NumPy array with device='cpu', got a CUDA array")
    if device == "cuda" and out is not None and not on_gpu:
        raise InputError("out: expected a CUDA array (or None) with device='cuda', got a host array")
    args = (system.positions, system.numbers, system.cell, system.shape, system.origin, system.window, system.gamma)
    if on_gpu or device == "cuda":
        return _rasterize_cuda(args, system.window, dt, out)
    if out is None:
        result = np.empty(system.window, dtype=dt)
    else:
        if not isinstance(out, np.ndarray) or out.shape != system.window:
            raise InputError(
                f"out: expected a NumPy array of shape {system.window}, got "
                f"{getattr(out, 'shape', type(out).__name__)}"
            )
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise InputError("out: expected a writeable C-contiguous array")
        result = out
    _ednn.rasterize_host(*args, result, threads or 0)
    return result


def _rasterize_cuda(args: tuple[Any, ...], window: tuple[int, ...], dt: np.dtype, out: Any) -> Any:
    from .device import DeviceArray

    stream = 0
    if out is None:
        result: Any = DeviceArray(window, dt)
        ptr = result.ptr
        mod = ""
    else:
        cai = out.__cuda_array_interface__
        shape = tuple(int(s) for s in cai["shape"])
        if shape != window:
            raise InputError(f"out: expected shape {window}, got {shape}")
        strides = cai.get("strides")
        if strides is not None:
            want, acc = [], dt.itemsize
            for s in reversed(shape):
                want.append(acc)
                acc *= s
            if tuple(strides) != tuple(reversed(want)) and math.prod(shape) > 1:
                raise InputError("out: expected a C-contiguous CUDA array")
        result, ptr = out, int(cai["data"][0])
        mod = type(out).__module__.split(".")[0]
        if mod == "torch":
            import torch

            stream = torch.cuda.current_stream(out.device).cuda_stream
        elif mod == "cupy":
            import cupy

            stream = cupy.cuda.get_current_stream().ptr
    _ednn.rasterize_device(*args, ptr, dt.itemsize, stream)
    if mod not in ("torch", "cupy"):
        _ednn.cuda_synchronize(stream)
    return result
