"""Arrays on the GPU owned by ednn (what the CUDA kernels return when the input is not a torch or CuPy array)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _ednn

__all__ = ["DeviceArray"]


class DeviceArray:
    """A C-contiguous CUDA array owned by ednn, exported through ``__cuda_array_interface__``.

    Hand it to ``cupy.asarray``, ``torch.as_tensor(..., device="cuda")`` or numba; ``.get()`` copies
    it to a NumPy array.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self._buffer = _ednn.DeviceBuffer(nbytes)

    @property
    def ptr(self) -> int:
        return self._buffer.ptr

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self._buffer.ptr, False),
            "strides": None,
            "version": 3,
            "stream": None,
        }

    @classmethod
    def from_numpy(cls, array: np.ndarray) -> "DeviceArray":
        """Copy a host array to a new device array (C order)."""
        host = np.ascontiguousarray(array)
        dev = cls(host.shape, host.dtype)
        dev._buffer.copy_from_host(host)
        return dev

    def get(self) -> np.ndarray:
        host = np.empty(self.shape, dtype=self.dtype)
        self._buffer.copy_to_host(host)
        return host
