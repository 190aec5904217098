"""CUDA tiler against the NumPy oracle (runs only where a GPU is visible)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ednn
from ednn import reference

if ednn.build_info()["cuda_devices"] == 0:
    pytest.skip("no CUDA device visible", allow_module_level=True)

pytestmark = pytest.mark.gpu


class StridedView:
    """A strided view of a DeviceArray, exposed through __cuda_array_interface__ only."""

    def __init__(self, base: ednn.DeviceArray, shape: tuple[int, ...], strides: tuple[int, ...], offset: int = 0):
        self.base, self.shape, self.strides, self.offset = base, shape, strides, offset

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {"shape": self.shape, "typestr": self.base.dtype.str, "strides": self.strides,
                "data": (self.base.ptr + self.offset, True), "version": 3}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint8, np.int32, np.complex128])
@pytest.mark.parametrize(
    "shape,focus,context",
    [((12,), 3, 2), ((2, 8, 12), 2, 1), ((8, 12), (4, 3), (0, 2)), ((6, 4, 8), 2, 1), ((4, 4), 4, 9)],
)
def test_device_array_matches_reference(dtype, shape, focus, context):
    rng = np.random.default_rng(0)
    g = (rng.normal(size=shape) * 50).astype(dtype)
    d = min(len(shape), 2) if len(shape) == 3 and shape[0] == 2 else len(shape)
    got = ednn.tile(ednn.DeviceArray.from_numpy(g), focus, context, ndim=d)
    assert isinstance(got, ednn.DeviceArray)
    want = reference.tile(g, focus, context, ndim=d)
    assert got.get().tobytes() == want.tobytes()


def test_strided_device_input():
    rng = np.random.default_rng(1)
    host = rng.normal(size=(16, 24)).astype(np.float32)
    base = ednn.DeviceArray.from_numpy(host)
    # every second column, reversed rows: strides (-96, 8) bytes from the last row
    view = StridedView(base, (16, 12), (-24 * 4, 8), offset=15 * 24 * 4)
    want = reference.tile(host[::-1, ::2], 4, 3)
    assert ednn.tile(view, 4, 3).get().tobytes() == want.tobytes()


def test_torch_cuda_tensor():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    x = torch.randn(3, 32, 32, device="cuda")[:, ::2]
    got = ednn.tile(x, (2, 4), 1, ndim=2)
    assert isinstance(got, torch.Tensor) and got.is_cuda
    np.testing.assert_array_equal(got.cpu().numpy(), reference.tile(x.cpu().numpy(), (2, 4), 1, ndim=2))


def test_errors_before_launch():
    g = ednn.DeviceArray((8, 10), np.float32)
    with pytest.raises(ednn.InputError, match="size 10 of spatial axis 1 is not a multiple of the focus 4"):
        ednn.tile(g, 4, 1)
