"""Type stubs for the compiled core of ednn."""

from typing import Sequence

import numpy as np
import numpy.typing as npt

__version__: str
MAX_LEAD_DIMS: int
MAX_METADATA_INT: int  # ednn.h limits: focus, context, channels in model metadata
MAX_TILE_ELEMENTS: int  # C * t_1..t_d of one tile
MAX_BATCH_ELEMENTS: int  # elements of one batch of tiles
THREADS_PER_CORE: int
MIN_GAMMA: float  # smallest Gaussian width of the rasterizer

def max_threads() -> int: ...

class InputError(ValueError): ...

def tile_host(
    grid: npt.NDArray[np.generic],  # [*lead, S_1..S_d], any strides
    out: npt.NDArray[np.generic],  # [count, *lead, t_1..t_d], C-contiguous, same itemsize
    ndim: int,
    focus: Sequence[int],
    context: Sequence[int],
    first: int,
    count: int,
    threads: int = 0,
) -> None: ...
def tile_device(
    grid: int,  # device pointer to [*lead, S_1..S_d]
    shape: Sequence[int],
    strides: Sequence[int],  # bytes
    elem_size: int,
    out: int,  # device pointer to [count, *lead, t_1..t_d], C-contiguous
    ndim: int,
    focus: Sequence[int],
    context: Sequence[int],
    first: int,
    count: int,
    stream: int = 0,
) -> None: ...
def rasterize_host(
    positions: npt.NDArray[np.float64],  # (n, d), C-contiguous
    numbers: npt.NDArray[np.float64],  # (n,)
    cell: Sequence[float],  # (d,) edge lengths
    shape: Sequence[int],  # (d,) full periodic grid
    origin: Sequence[int],  # (d,) first grid index of the window (wraps)
    window: Sequence[int],  # (d,) window shape
    gamma: float,
    out: npt.NDArray[np.floating],  # window shape, float32 or float64, C-contiguous
    threads: int = 0,
) -> None: ...
def rasterize_device(
    positions: npt.NDArray[np.float64],  # host (n, d)
    numbers: npt.NDArray[np.float64],  # host (n,)
    cell: Sequence[float],
    shape: Sequence[int],
    origin: Sequence[int],
    window: Sequence[int],
    gamma: float,
    out: int,  # device pointer to the window, C-contiguous
    elem_size: int,  # 4 (float32) or 8 (float64)
    stream: int = 0,
) -> None: ...
def rasterize_cutoff(gamma: float) -> float: ...
def cuda_synchronize(stream: int = 0) -> None: ...
def cuda_device_count() -> int: ...
def dlpack_describe(capsule: object) -> dict[str, object]: ...
def build_info() -> dict[str, object]: ...

class DeviceBuffer:
    def __init__(self, nbytes: int) -> None: ...
    @property
    def ptr(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    def copy_to_host(self, dst: npt.NDArray[np.generic]) -> None: ...
    def copy_from_host(self, src: npt.NDArray[np.generic]) -> None: ...
def flatten_patch(
    xy: npt.NDArray[np.float64],  # [n, 2] starting in-plane positions
    movable: npt.NDArray[np.bool_] | None,  # [n] or None (every point moves)
    i: npt.NDArray[np.int64],  # [m] pairs
    j: npt.NDArray[np.int64],  # [m]
    target: npt.NDArray[np.float64],  # [m] target lengths
    box: Sequence[float],  # periodic lengths for the minimum image
    iterations: int = 12,
    tol: float = 1e-4,
    damping_min: float = 1e-3,
    max_step: float = 1.0,
) -> tuple[npt.NDArray[np.float64], int]: ...
