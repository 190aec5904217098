"""Periodic tiling of grids into focus + context tiles (compiled; CPU with OpenMP, or CUDA)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _ednn
from ._checks import check_divisible, check_threads, per_axis, resolve_ndim
from .device import DeviceArray
from .errors import InputError

__all__ = ["tile", "tile_shape"]


def tile_shape(
    grid_shape: Sequence[int], focus: int | Sequence[int], context: int | Sequence[int], ndim: int | None = None
) -> tuple[int, ...]:
    """Shape ``(n_1..n_d, *lead, t_1..t_d)`` that :func:`tile` returns for a grid of ``grid_shape``."""
    shape = tuple(int(s) for s in grid_shape)
    d = resolve_ndim(ndim, len(shape))
    f = per_axis("focus", focus, d, 1)
    c = per_axis("context", context, d, 0)
    spatial = shape[len(shape) - d :]
    check_divisible(spatial, f)
    n = tuple(s // fk for s, fk in zip(spatial, f))
    t = tuple(fk + 2 * ck for fk, ck in zip(f, c))
    return n + shape[: len(shape) - d] + t


def tile(
    grid: Any,
    focus: int | Sequence[int],
    context: int | Sequence[int],
    *,
    ndim: int | None = None,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> Any:
    """Cut a periodic grid into EDNN tiles.

    Parameters
    ----------
    grid
        Array of shape ``(*lead, S_1..S_d)``; the spatial axes are the last ``ndim``. Any dtype and
        strides. A NumPy array (or anything :func:`numpy.asarray` accepts) is tiled on the CPU; an
        object exposing ``__cuda_array_interface__`` (CuPy, torch CUDA tensors, ...) or a CUDA DLPack
        tensor (``__dlpack__``) on its GPU; a CPU DLPack producer is read through NumPy.
    focus, context
        Focus ``f_k >= 1`` and context ``c_k >= 0``: one int for every axis, or one per axis.
        ``S_k`` must be a multiple of ``f_k``; ``c_k`` may exceed ``S_k`` (the grid wraps again).
    ndim
        Number of spatial axes (1, 2 or 3); default: every axis of ``grid``.
    out
        Optional C-contiguous array of the result's shape and dtype to write into (CPU only); it
        may not overlap ``grid``.
    threads
        OpenMP threads for the CPU kernel, at most ``ednn_max_threads()`` (4 per core); default:
        OpenMP's default.

    Returns
    -------
    array of shape ``(n_1..n_d, *lead, t_1..t_d)`` with ``n_k = S_k / f_k``, ``t_k = f_k + 2 c_k`` and
    ``out[i_1..i_d, ..., j_1..j_d] = grid[..., (i_1 f_1 - c_1 + j_1) mod S_1, ..., (i_d f_d - c_d + j_d) mod S_d]``.
    A ``(C, L, L)`` grid gives ``(L/f, L/f, C, t, t)``; ``.reshape(-1, C, t, t)`` is a network batch.
    On a GPU the result is an array of the input's library (torch or CuPy) or an :class:`DeviceArray`.
    """
    if _on_cuda(grid):
        if out is not None:
            raise InputError("out: expected None for a GPU grid, got an array")
        return _tile_cuda(grid, focus, context, ndim)
    if not isinstance(grid, np.ndarray) and hasattr(grid, "__dlpack__"):
        grid = np.from_dlpack(grid)  # a CPU DLPack producer
    arr = np.asarray(grid)
    if arr.ndim == 0:
        raise InputError("grid: expected an array with at least one axis, got a scalar")
    shape = tile_shape(arr.shape, focus, context, ndim)
    d = resolve_ndim(ndim, arr.ndim)
    f = per_axis("focus", focus, d, 1)
    c = per_axis("context", context, d, 0)
    check_threads(threads)
    if out is None:
        result = np.empty(shape, dtype=arr.dtype)
    else:
        if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != arr.dtype:
            raise InputError(
                f"out: expected a NumPy array of shape {shape} and dtype {arr.dtype}, got "
                f"{getattr(out, 'shape', type(out).__name__)} {getattr(out, 'dtype', '')}"
            )
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise InputError("out: expected a writeable C-contiguous array")
        if _overlap(arr, out):
            raise InputError("out: expected an array that does not overlap the grid (tiles would overwrite "
                             "cells not yet read), got one sharing its memory")
        result = out
    n_tiles = int(np.prod(shape[:d], dtype=np.int64))
    flat = result.reshape((n_tiles,) + shape[d:])
    if arr.dtype.hasobject:
        raise InputError(f"grid: expected a numeric dtype, got {arr.dtype}")
    _ednn.tile_host(arr, flat, d, f, c, 0, n_tiles, threads or 0)
    return result


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` share memory: exactly where that is cheap to decide, else (interleaved
    strides too costly to solve) assumed."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except getattr(np, "exceptions", np).TooHardError:  # np.exceptions from NumPy 1.25
        return True


_DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged


def _on_cuda(grid: Any) -> bool:
    if hasattr(grid, "__cuda_array_interface__"):
        return True
    if hasattr(grid, "__dlpack_device__") and not isinstance(grid, np.ndarray):
        return int(grid.__dlpack_device__()[0]) in _DLPACK_CUDA
    return False


def _cuda_interface(grid: Any) -> tuple[dict[str, Any], Any]:
    """``__cuda_array_interface__``-style description of a CUDA array, and an object to keep alive."""
    if hasattr(grid, "__cuda_array_interface__"):
        return grid.__cuda_array_interface__, grid
    capsule = grid.__dlpack__(stream=1)  # 1: the legacy default stream, where ednn launches
    info = _ednn.dlpack_describe(capsule)
    cai = {"shape": info["shape"], "strides": info["strides"], "typestr": info["typestr"], "data": (info["data"], False)}
    return cai, capsule


def _tile_cuda(grid: Any, focus: Any, context: Any, ndim: int | None) -> Any:
    cai, keepalive = _cuda_interface(grid)
    shape = tuple(int(s) for s in cai["shape"])
    dtype = np.dtype(cai["typestr"])
    if "descr" in cai and len(cai["descr"]) > 1:
        raise InputError("grid: expected a plain (non-structured) dtype")
    if len(shape) == 0:
        raise InputError("grid: expected an array with at least one axis, got a scalar")
    out_shape = tile_shape(shape, focus, context, ndim)
    d = resolve_ndim(ndim, len(shape))
    f = per_axis("focus", focus, d, 1)
    c = per_axis("context", context, d, 0)
    strides = cai.get("strides")
    if strides is None:  # C-contiguous
        strides, acc = [], dtype.itemsize
        for s in reversed(shape):
            strides.append(acc)
            acc *= s
        strides = tuple(reversed(strides))
    ptr = int(cai["data"][0])
    mod = type(grid).__module__.split(".")[0]
    stream = 0
    if mod == "torch":
        import torch

        result = torch.empty(out_shape, dtype=grid.dtype, device=grid.device)
        out_ptr = result.data_ptr()
        stream = torch.cuda.current_stream(grid.device).cuda_stream
    elif mod == "cupy":
        import cupy

        with cupy.cuda.Device(grid.device.id):
            result = cupy.empty(out_shape, dtype=dtype)
            stream = cupy.cuda.get_current_stream().ptr
        out_ptr = result.data.ptr
    else:
        result = DeviceArray(out_shape, dtype)
        out_ptr = result.ptr
    n_tiles = int(np.prod(out_shape[:d], dtype=np.int64))
    _ednn.tile_device(ptr, shape, strides, dtype.itemsize, out_ptr, d, f, c, 0, n_tiles, stream)
    if mod not in ("torch", "cupy"):
        _ednn.cuda_synchronize(stream)
    del keepalive
    return result
