"""The compiled tiler against the NumPy oracle, bit for bit, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ednn
from ednn import reference

DTYPES = [np.float32, np.float64, np.int8, np.uint8, np.int32, np.int16, np.complex128, np.bool_]


def _grid(rng, shape, dtype):
    x = rng.normal(size=shape) * 100
    if np.dtype(dtype).kind == "c":
        return (x + 1j * rng.normal(size=shape)).astype(dtype)
    if np.dtype(dtype) == np.bool_:
        return x > 0
    return x.astype(dtype)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    assert a.flags.c_contiguous
    # bit for bit: compare the raw bytes, so that NaN payloads and -0.0 count too
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,focus,context",
    [
        ((12,), 3, 2),
        ((12,), 1, 0),
        ((8, 12), 2, 1),
        ((8, 12), (4, 3), (0, 2)),
        ((6, 4, 8), 2, 1),
        ((6, 4, 8), (3, 2, 4), (1, 0, 2)),
        ((4, 4), 4, 9),  # context larger than the grid: wraps repeatedly
        ((3,), 1, 7),
    ],
)
def test_matches_reference(rng, dtype, shape, focus, context):
    g = _grid(rng, shape, dtype)
    _same(ednn.tile(g, focus, context), reference.tile(g, focus, context))


@pytest.mark.parametrize("lead", [(), (3,), (2, 3), (1, 2, 1, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_lead_axes(rng, lead, dtype):
    g = _grid(rng, lead + (8, 6), dtype)
    got = ednn.tile(g, 2, 1, ndim=2)
    assert got.shape == (4, 3) + lead + (4, 4)
    _same(got, reference.tile(g, 2, 1, ndim=2))


def test_channel_grid_gives_network_batch(rng):
    C, L, f, c = 3, 16, 4, 2
    g = _grid(rng, (C, L, L), np.float32)
    t = ednn.tile(g, f, c, ndim=2)
    assert t.shape == (L // f, L // f, C, f + 2 * c, f + 2 * c)
    batch = t.reshape(-1, C, f + 2 * c, f + 2 * c)
    # tile (1, 2) starts at focus origin (4, 8) minus the context
    np.testing.assert_array_equal(batch[1 * (L // f) + 2], np.roll(g, (2 - 4, 2 - 8), axis=(1, 2))[:, :8, :8])


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[:, ::2],
        lambda a: a[::-1],
        lambda a: a.T,
        lambda a: a[1:-1, 2:-2:3],
        lambda a: np.moveaxis(a, 0, -1),
    ],
)
def test_non_contiguous(rng, view):
    base = _grid(rng, (12, 24, 4), np.float64)
    g = view(base)
    assert not g.flags.c_contiguous
    d = g.ndim
    f = tuple(s if s % 2 else (2 if s % 4 else 4) for s in g.shape)
    _same(ednn.tile(g, f, 1, ndim=d), reference.tile(g, f, 1, ndim=d))


def test_non_contiguous_lead(rng):
    base = _grid(rng, (4, 5, 6, 8), np.int32)
    g = base[::2, ::-2]  # lead axes with unusual strides
    _same(ednn.tile(g, 2, 1, ndim=2), reference.tile(g, 2, 1, ndim=2))


def test_threads_give_identical_tiles(rng):
    g = _grid(rng, (2, 64, 64), np.float32)
    one = ednn.tile(g, 4, 3, ndim=2, threads=1)
    two = ednn.tile(g, 4, 3, ndim=2, threads=2)
    _same(one, two)


def test_out_argument(rng):
    g = _grid(rng, (16, 16), np.float32)
    out = np.full(ednn.tile_shape(g.shape, 4, 2), np.nan, dtype=np.float32)
    res = ednn.tile(g, 4, 2, out=out)
    assert res is out
    _same(out, reference.tile(g, 4, 2))


@pytest.mark.slow
def test_int64_sized_index_arithmetic():
    # 2**31 + 65536 bytes of output: flat output offsets overflow 32 bits unless the kernel uses
    # 64-bit index arithmetic. Check whole tiles at the far end against direct modulo indexing.
    n, c = 1 << 16, 1 << 14
    g = (np.arange(n) % 251).astype(np.uint8)
    t = ednn.tile(g, 1, c)
    assert t.size > 2**31
    for i in (0, n // 2, n - 2, n - 1):
        np.testing.assert_array_equal(t[i], g[(i - c + np.arange(2 * c + 1)) % n])


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    d=st.integers(1, 3),
    n_lead=st.integers(0, 2),
    dtype=st.sampled_from([np.float32, np.float64, np.int8, np.uint16]),
)
def test_hypothesis(data, d, n_lead, dtype):
    focus = tuple(data.draw(st.integers(1, 4)) for _ in range(d))
    context = tuple(data.draw(st.integers(0, 6)) for _ in range(d))
    tiles = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    lead = tuple(data.draw(st.integers(1, 3)) for _ in range(n_lead))
    shape = lead + tuple(n * f for n, f in zip(tiles, focus))
    seed = data.draw(st.integers(0, 2**31))
    g = _grid(np.random.default_rng(seed), shape, dtype)
    if data.draw(st.booleans()):
        g = g[..., ::-1]
    _same(ednn.tile(g, focus, context, ndim=d), reference.tile(g, focus, context, ndim=d))


# ----------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [ednn.tile, reference.tile])
@pytest.mark.parametrize(
    "shape,kwargs,match",
    [
        ((8, 10), dict(focus=4, context=1), r"size 10 of spatial axis 1 is not a multiple of the focus 4"),
        ((9,), dict(focus=2, context=0), r"size 9 of spatial axis 0 is not a multiple of the focus 2"),
        ((8, 8), dict(focus=0, context=1), r"focus: expected >= 1 on spatial axis 0, got 0"),
        ((8, 8), dict(focus=(2, -1), context=1), r"focus: expected >= 1 on spatial axis 1, got -1"),
        ((8, 8), dict(focus=2, context=-1), r"context: expected >= 0 on spatial axis 0, got -1"),
        ((8, 8), dict(focus=2, context=1, ndim=3), r"ndim: expected 1 <= ndim <= min\(3, grid.ndim=2\), got 3"),
        ((8, 8), dict(focus=2, context=1, ndim=0), r"ndim: expected .* got 0"),
        ((2, 2, 2, 2), dict(focus=1, context=1, ndim=4), r"ndim: .* got 4"),
        ((8, 8), dict(focus=(2, 2, 2), context=1), r"focus: expected one value or 2 values .* got 3"),
        ((8, 8), dict(focus=2, context=(1,)), r"context: expected one value or 2 values .* got 1"),
    ],
)
def test_errors(fn, shape, kwargs, match):
    g = np.zeros(shape, dtype=np.float32)
    with pytest.raises(ednn.InputError, match=match) as info:
        fn(g, **kwargs)
    assert isinstance(info.value, ValueError)


def test_error_bad_out():
    g = np.zeros((8, 8), dtype=np.float32)
    with pytest.raises(ednn.InputError, match="out: expected a NumPy array of shape"):
        ednn.tile(g, 2, 1, out=np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(ednn.InputError, match="out: expected"):
        ednn.tile(g, 2, 1, out=np.zeros(ednn.tile_shape(g.shape, 2, 1), dtype=np.float64))


def test_core_validates_too():
    # The compiled layer refuses an inconsistent request on its own, with the same error class.
    from ednn import _ednn

    g = np.zeros((8, 8), dtype=np.float32)
    out = np.zeros((16, 4, 4), dtype=np.float32)
    with pytest.raises(ednn.InputError, match="not a multiple of the focus 3"):
        _ednn.tile_host(g, out, 2, [3, 3], [1, 1], 0, 16, 0)
    with pytest.raises(ednn.InputError, match="tile range"):
        _ednn.tile_host(g, out, 2, [2, 2], [1, 1], 10, 16, 0)
    with pytest.raises(ednn.InputError, match="out: expected 256 elements"):
        _ednn.tile_host(g, out[:15], 2, [2, 2], [1, 1], 0, 16, 0)


def test_cuda_stub_or_device_error():
    info = ednn.build_info()
    assert info["cuda_devices"] >= 0
    if not info["cuda"]:
        with pytest.raises(RuntimeError, match="ednn was built without CUDA"):
            ednn.DeviceArray((4,), np.float32)


class _DLPackOnly:
    """Exposes a NumPy array through the DLPack protocol only."""

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_dlpack_producer(rng):
    base = _grid(rng, (6, 8, 10), np.float32)
    g = base[:, ::2]
    _same(ednn.tile(_DLPackOnly(g), 2, 1, ndim=2), reference.tile(g, 2, 1, ndim=2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16, np.complex64, np.bool_])
def test_dlpack_describe(rng, dtype):
    from ednn import _ednn

    a = _grid(rng, (5, 12, 7), dtype)[1:, ::3, ::-1]
    info = _ednn.dlpack_describe(a.__dlpack__())
    assert info["data"] == a.ctypes.data
    assert info["shape"] == a.shape and info["strides"] == a.strides
    assert np.dtype(info["typestr"]).itemsize == a.dtype.itemsize
    assert np.dtype(info["typestr"]).kind == ("b" if dtype is np.bool_ else a.dtype.kind)
    assert info["device_type"] == 1  # kDLCPU
