"""Reliability: hostile model files and arguments are refused with a clear error before any work,
identically in Python and through the C API, and nothing answers silently wrong.

* metadata: one strict integer grammar and one set of limits (ndim 1..3, focus / channels
  1..2^24, context 0..2^24, at most 2^24 elements per tile), the same messages from ``ednn.Model``
  and ``ednn_predictor_create`` (called here through ctypes, in a child process, so that a crash
  fails the test instead of ending the run);
* the metadata is read and checked before ONNX Runtime builds a session (no session, and no
  memory for the weights, for a file that is not an EDNN model);
* ``threads`` bounded by ``ednn_max_threads()``; batches bounded by 2^28 elements;
* ``ednn.tile`` refuses an ``out`` overlapping the grid; ``ednn.predict`` and the C API refuse
  values beyond float32's range; atoms with non-finite Z and non-integer grid shapes are refused;
  gamma is bounded from below; the model cache is a bounded LRU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ednn
from ednn import _ednn

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

MAX_THREADS = _ednn.max_threads()


def _sum_model(path: Path, meta: dict[str, str] | None, dims: list, op: str = "Flatten",
               init_bytes: int = 0) -> Path:
    """An ONNX file whose graph sums each input row: x ``dims`` -> (N, 1); ``meta`` as metadata_props.

    ``op`` replaces the Flatten node (an unknown operator makes a graph ONNX Runtime cannot load);
    ``init_bytes`` adds zero weights of that size to the sum (a file with heavy weights, which ONNX
    Runtime loads into memory when it builds a session).
    """
    nodes = [helper.make_node(op, ["x"], ["f"], axis=1),
             helper.make_node("ReduceSum", ["f"], ["y" if not init_bytes else "y0"], axes=[1], keepdims=1)]
    inits = []
    if init_bytes:
        inits.append(helper.make_tensor("weights", TensorProto.FLOAT, [init_bytes // 4],
                                        vals=np.zeros(init_bytes, dtype=np.uint8).tobytes(), raw=True))
        nodes += [helper.make_node("ReduceSum", ["weights"], ["ws"], keepdims=1),
                  helper.make_node("Add", ["y0", "ws"], ["y"])]
    graph = helper.make_graph(nodes, "sum", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    if meta:
        helper.set_model_props(model, meta)
    onnx.save_model(model, str(path))
    return path


def _meta(ndim="2", focus="1", context="1", channels="1", **extra) -> dict[str, str]:
    meta = {"ednn.format_version": "1", "ednn.ndim": ndim, "ednn.focus": focus, "ednn.context": context,
            "ednn.channels": channels, "ednn.outputs": "energy"}
    meta.update({f"ednn.{k}": v for k, v in extra.items()})
    return meta


def _dyn(d: int) -> list:
    return ["N", "C"] + [f"T{k}" for k in range(d)]


SYNTAX = "expected comma-separated non-negative integers (ASCII digits)"
TILE = "cells: more than the 16777216 elements a tile may have"

# (id, metadata, input dims, the message's part); every file is refused by Python and C alike
HOSTILE = [
    # the reproducers of the issue: SIGFPE (4 * tile_elements wrapped to 0) and abort in C
    ("context-2^30-1", _meta(focus="2", context="1073741823"), _dyn(2), "ednn.context: expected values in 0..16777216"),
    ("context-2^62", _meta(context="4611686018427387904"), _dyn(2), "ednn.context: expected values in 0..16777216"),
    ("ndim-2^32-1", _meta(ndim="4294967295"), ["N"], "metadata ednn.ndim: expected values in 1..3, got '4294967295'"),
    ("ndim-2^32+2", _meta(ndim="4294967298"), ["N"], "metadata ednn.ndim: expected values in 1..3, got '4294967298'"),
    ("ndim-5000-digits", _meta(ndim="9" * 5000), ["N"], "metadata ednn.ndim: expected values in 1..3"),
    ("ndim-0", _meta(ndim="0"), ["N"], "metadata ednn.ndim: expected values in 1..3, got '0'"),
    ("ndim-4", _meta(ndim="4"), _dyn(4), "metadata ednn.ndim: expected values in 1..3, got '4'"),
    # the grammar: what Python's int() and C's strtoll() used to add
    ("focus-underscore", _meta(focus="1_0"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '1_0'"),
    ("focus-arabic-indic", _meta(focus="\u0661"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '\u0661'"),
    ("focus-fullwidth", _meta(focus="\uff11"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '\uff11'"),
    ("focus-plus", _meta(focus="+1"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '+1'"),
    ("focus-minus", _meta(focus="-1"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '-1'"),
    ("context-minus-zero", _meta(context="-0"), _dyn(2), f"metadata ednn.context: {SYNTAX}, got '-0'"),
    ("focus-hex", _meta(focus="0x1"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '0x1'"),
    ("focus-float", _meta(focus="1.0"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '1.0'"),
    ("focus-empty", _meta(focus=""), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got ''"),
    ("focus-empty-item", _meta(focus="1,,1"), _dyn(2), f"metadata ednn.focus: {SYNTAX}, got '1,,1'"),
    ("focus-0", _meta(focus="0"), _dyn(2), "metadata ednn.focus: expected values in 1..16777216, got '0'"),
    ("focus-2^24+1", _meta(focus="16777217"), _dyn(2), "metadata ednn.focus: expected values in 1..16777216"),
    ("channels-0", _meta(channels="0"), _dyn(2), "metadata ednn.channels: expected values in 1..16777216"),
    ("channels-2^24+1", _meta(channels="16777217"), _dyn(2), "metadata ednn.channels: expected values in 1..16777216"),
    # the per-tile limit: refused at load, before any work
    ("context-20000", _meta(context="20000"), _dyn(2), f"model: a tile of 1 channel(s) x (40001, 40001) {TILE}"),
    ("3d-at-every-bound", _meta(ndim="3", focus="16777216", context="16777216", channels="16777216"), _dyn(3),
     f"model: a tile of 16777216 channel(s) x (50331648, 50331648, 50331648) {TILE}"),
    ("1d-2^24+1", _meta(ndim="1", context="8388608"), _dyn(1), f"model: a tile of 1 channel(s) x (16777217,) {TILE}"),
    ("channels-times-tile", _meta(ndim="1", focus="4", context="0", channels="4194305"), _dyn(1),
     f"model: a tile of 4194305 channel(s) x (4,) {TILE}"),
    # float metadata: the same strict number grammar
    ("scale-underscore", _meta(input_scale="1_0"), _dyn(2), "metadata ednn.input_scale: expected comma-separated numbers"),
    ("scale-hex", _meta(input_scale="0x10"), _dyn(2), "metadata ednn.input_scale: expected comma-separated numbers"),
    ("scale-nan-payload", _meta(input_scale="nan(1)"), _dyn(2), "metadata ednn.input_scale: expected comma-separated numbers"),
    ("scale-arabic-indic", _meta(input_scale="\u0661"), _dyn(2), "metadata ednn.input_scale: expected comma-separated numbers"),
    ("scale-overflow", _meta(input_scale="1e999"), _dyn(2), "metadata ednn.input_scale: expected 1 or 1 finite numbers"),
    ("spacing-three-on-2d", _meta(spacing="0.1,0.2,0.3"), _dyn(2), "metadata ednn.spacing: expected 1 or 2 finite numbers"),
    # the exporter's batch hint: one positive integer
    ("batch-tiles-0", _meta(batch_tiles="0"), _dyn(2), "metadata ednn.batch_tiles: expected values in 1..16777216, got '0'"),
    ("batch-tiles-minus", _meta(batch_tiles="-4"), _dyn(2), f"metadata ednn.batch_tiles: {SYNTAX}, got '-4'"),
    ("batch-tiles-two", _meta(batch_tiles="4,4"), _dyn(2), "metadata ednn.batch_tiles: expected 1 or 1 values, got 2"),
    ("batch-tiles-2^24+1", _meta(batch_tiles="16777217"), _dyn(2), "metadata ednn.batch_tiles: expected values in 1..16777216"),
    # not EDNN model files, refused from the metadata: ONNX Runtime could not even load the graph
    ("no-metadata-bad-graph", None, _dyn(2), "is not an EDNN model file: metadata key 'ednn.format_version' is missing"),
]


def _hostile_file(tmp_path: Path, case) -> Path:
    name, meta, dims, _ = case
    op = "NoSuchOperator" if name == "no-metadata-bad-graph" else "Flatten"
    return _sum_model(tmp_path / f"{name}.onnx", meta, dims, op=op)


def _python_error(fn) -> str:
    with pytest.raises(ednn.InputError) as info:
        fn()
    return str(info.value)


# ---------------------------------------------------------------- the C API through ctypes

def _predictor_library() -> Path:
    from ednn.info import cmake_dir

    try:
        libdir = cmake_dir().parents[1]
    except FileNotFoundError:
        libdir = Path(ednn.__file__).parent / "lib"
    lib = libdir / "libednn_predictor.so"
    if not lib.is_file():
        if os.environ.get("EDNN_REQUIRE_CPP") == "1":
            pytest.fail(f"EDNN_REQUIRE_CPP=1 but {lib} is missing")
        pytest.skip("the installed ednn was built without its C predictor")
    return lib


_C_DRIVER = textwrap.dedent("""
    import ctypes, json, sys
    import numpy as np
    lib = ctypes.CDLL(sys.argv[1])
    lib.ednn_predictor_create.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                          ctypes.POINTER(ctypes.c_char_p)]
    lib.ednn_predictor_predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                                           ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_char_p)]
    lib.ednn_predictor_free.argtypes = [ctypes.c_void_p]
    lib.ednn_string_free.argtypes = [ctypes.c_char_p]
    out = []
    for job in json.loads(sys.stdin.read()):
        p, err = ctypes.c_void_p(), ctypes.c_char_p()
        st = lib.ednn_predictor_create(job["model"].encode(), None, ctypes.byref(p), ctypes.byref(err))
        res = {"create": st, "create_message": err.value.decode() if err.value else ""}
        if st == 0 and "grid" in job:
            g = np.ascontiguousarray(np.array(job["grid"], dtype=np.float64))
            shape = (ctypes.c_int64 * g.ndim)(*g.shape)
            y = (ctypes.c_double * 64)()
            err = ctypes.c_char_p()
            st = lib.ednn_predictor_predict(p, g.ctypes.data, 1, shape, g.ndim, y, 64, ctypes.byref(err))
            res.update(predict=st, predict_message=err.value.decode() if err.value else "", value=y[0])
        lib.ednn_predictor_free(p)
        out.append(res)
    print(json.dumps(out))
""")


def _c_api(jobs: list[dict]) -> list[dict]:
    """Runs ``ednn_predictor_create`` (and ``ednn_predictor_predict`` on a float64 ``grid``) per job in a
    child process; a crash there fails the test."""
    env = dict(os.environ)
    if "EDNN_ONNXRUNTIME_LIBRARY" not in env:  # the onnxruntime package's library, wherever ednn was imported from
        import onnxruntime

        found = sorted(Path(onnxruntime.__file__).parent.glob("capi/libonnxruntime.so*"))
        if found:
            env["EDNN_ONNXRUNTIME_LIBRARY"] = str(found[-1])
    res = subprocess.run([sys.executable, "-c", _C_DRIVER, str(_predictor_library())], input=json.dumps(jobs),
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, f"the C API crashed or failed (status {res.returncode}):\n{res.stderr[-3000:]}"
    return json.loads(res.stdout)


EDNN_ERROR_INPUT, EDNN_ERROR_MODEL_FILE = 1, 2


# ---------------------------------------------------------------- metadata: grammar and limits

@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_metadata_is_refused_in_python(tmp_path, case):
    path = _hostile_file(tmp_path, case)
    with pytest.raises(ednn.ModelFileError) as info:
        ednn.Model(path)
    assert case[3] in str(info.value)


def test_hostile_metadata_is_refused_alike_by_the_c_api(tmp_path):
    paths = [_hostile_file(tmp_path, case) for case in HOSTILE]
    got = _c_api([{"model": str(p)} for p in paths])
    for case, path, res in zip(HOSTILE, paths, got):
        want = _python_error(lambda: ednn.Model(path))
        assert (res["create"], res["create_message"]) == (EDNN_ERROR_MODEL_FILE, want), case[0]


@pytest.mark.parametrize("focus", ["1", " 1 ", "\t1", "01", "1,1", " 1 , 1"])
def test_plain_digits_with_blanks_are_accepted(tmp_path, focus):
    path = _sum_model(tmp_path / "m.onnx", _meta(focus=focus), ["N", 1, 3, 3])
    assert ednn.Model(path).focus == (1, 1)
    assert _c_api([{"model": str(path)}])[0]["create"] == 0


def test_per_axis_spacing_is_read_by_python_and_c_alike(tmp_path):
    """The C predictor read ednn.spacing as one value only and refused a per-axis spacing."""
    path = _sum_model(tmp_path / "m.onnx", _meta(spacing="0.1,0.2"), ["N", 1, 3, 3])
    assert ednn.Model(path).spacing == (0.1, 0.2)
    assert _c_api([{"model": str(path)}])[0] == {"create": 0, "create_message": ""}


def _batch_size_model(path: Path, meta: dict[str, str]) -> Path:
    """An ONNX file whose every tile contributes the size N of the batch it came in: a grid's total
    is the sum of the squares of the batch sizes, which shows how the tiles were batched."""
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1),
             helper.make_node("ReduceSum", ["f"], ["s"], axes=[1], keepdims=1),
             helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])),
             helper.make_node("Mul", ["s", "zero"], ["z"]),
             helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Constant", [], ["i0"], value=helper.make_tensor("i0", TensorProto.INT64, [1], [0])),
             helper.make_node("Gather", ["shape", "i0"], ["n"], axis=0),
             helper.make_node("Cast", ["n"], ["nf"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["z", "nf"], ["y"])]
    graph = helper.make_graph(nodes, "batch", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    helper.set_model_props(model, meta)
    onnx.save_model(model, str(path))
    return path


@pytest.mark.parametrize("hint, want", [(None, 16 * 16), ("5", 3 * 5 * 5 + 1 * 1), ("16", 16 * 16), ("99", 16 * 16)])
def test_batch_hint_sets_the_default_batch_in_python_and_c_alike(tmp_path, hint, want):
    """``ednn.batch_tiles`` caps the default batch (16 tiles of a 4x4 grid here): batches of 5, 5, 5
    and 1 tiles; an explicit ``batch_size`` still wins."""
    meta = _meta() if hint is None else _meta(batch_tiles=hint)
    path = _batch_size_model(tmp_path / "m.onnx", meta)
    grid = np.arange(16.0).reshape(4, 4)
    assert ednn.Model(path).batch_tiles == (None if hint is None else int(hint))
    assert ednn.predict(path, grid) == want
    assert ednn.predict(path, grid, batch_size=8) == 2 * 8 * 8
    res = _c_api([{"model": str(path), "grid": grid.tolist()}])[0]
    assert (res["create"], res["predict"], res["value"]) == (0, 0, want)


def test_tile_at_the_limit_is_accepted(tmp_path):
    path = _sum_model(tmp_path / "m.onnx", _meta(ndim="1", focus="16777216", context="0"), _dyn(1))
    assert ednn.Model(path).tile == (16777216,)
    assert _c_api([{"model": str(path)}])[0]["create"] == 0


def test_absurd_tile_is_refused_before_any_work(tmp_path):
    """context=20000 on a 4x4 grid ran 83 s and 12 GB before: now the model does not load."""
    path = _sum_model(tmp_path / "m.onnx", _meta(context="20000"), _dyn(2))
    with pytest.raises(ednn.ModelFileError, match="more than the 16777216 elements a tile may have"):
        ednn.predict(path, np.ones((4, 4), dtype=np.float32))


# ---------------------------------------------------------------- metadata before the session

def test_metadata_is_checked_before_onnxruntime_builds_a_session(tmp_path, monkeypatch):
    import onnxruntime as ort

    sessions = []
    real = ort.InferenceSession
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: sessions.append(a) or real(*a, **k))
    plain = _sum_model(tmp_path / "plain.onnx", None, _dyn(2))
    with pytest.raises(ednn.ModelFileError, match="is not an EDNN model file"):
        ednn.Model(plain)
    huge = _sum_model(tmp_path / "huge.onnx", _meta(context="20000"), _dyn(2))
    with pytest.raises(ednn.ModelFileError, match="a tile may have"):
        ednn.Model(huge)
    assert sessions == []
    good = _sum_model(tmp_path / "good.onnx", _meta(), ["N", 1, 3, 3])
    assert ednn.Model(good).tile == (3, 3) and len(sessions) == 1


def test_non_ednn_file_with_heavy_weights_is_refused_without_reading_them(tmp_path):
    """A non-EDNN file with 256 MiB of weights grew the process by about 520 MiB before it was refused."""
    path = _sum_model(tmp_path / "heavy.onnx", None, _dyn(2), init_bytes=256 << 20)
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc/self/status (VmHWM, the peak memory of this process image)")
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak (this test's, with the weights)
    code = textwrap.dedent(f"""
        import ednn, onnxruntime

        def peak():
            line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
            return int(line.split()[1])

        before = peak()
        try:
            ednn.Model({str(path)!r})
        except ednn.ModelFileError as e:
            print(str(e))
        print((peak() - before) // 1024)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    message, grown_mib = res.stdout.strip().splitlines()
    assert "metadata key 'ednn.format_version' is missing" in message
    assert int(grown_mib) < 64  # the scan reads the metadata only; a session would hold the 256 MiB


@pytest.mark.parametrize("tail,why", [
    (b"\x72\x80\x80\x80\x80\x80\x80\x01", "a metadata_props entry of 4398046511104 bytes (more than 16 MiB)"),
    (b"\x3a\xe8\x07", "truncated file"),
    (b"\xff" * 11, "malformed protobuf (a varint longer than 10 bytes)"),
    (b"\x1b", "malformed protobuf (wire type 3)"),
    (b"\x02\x00", "malformed protobuf (field number 0)"),
    (b"\x72\x03\x0a\x05x", "malformed protobuf (a metadata_props entry)"),
    (b"\x72\x03\x0a\x01\xff", "a metadata_props entry that is not UTF-8"),
], ids=["entry-2^42", "truncated", "long-varint", "group", "field-0", "bad-entry", "not-utf8"])
def test_broken_protobuf_is_named_alike(tmp_path, tail, why):
    path = tmp_path / "broken.onnx"
    path.write_bytes(_sum_model(tmp_path / "good.onnx", _meta(), ["N", 1, 3, 3]).read_bytes() + tail)
    want = f"model: {str(path)!r} is not a readable ONNX model: {why}"
    assert _python_error(lambda: ednn.Model(path)) == want
    assert _c_api([{"model": str(path)}])[0] == {"create": EDNN_ERROR_MODEL_FILE, "create_message": want}


def test_file_without_graph(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert _python_error(lambda: ednn.Model(empty)).endswith("is not a readable ONNX model: no graph")


# ---------------------------------------------------------------- threads and batches

def test_threads_are_bounded_before_any_work(tmp_path, ising_model_path):
    want = f"threads: expected at most {MAX_THREADS} ({_ednn.THREADS_PER_CORE} per core), got "
    g = np.ones((8, 8), dtype=np.float32)
    pos, z, cell = np.zeros((1, 3)), [1.0], [4.0, 4.0, 4.0]
    for t in (MAX_THREADS + 1, 5000, 100_000):
        calls = [
            lambda: ednn.tile(g, 1, 1, threads=t),
            lambda: ednn.predict(tmp_path / "no-such-model.onnx", g, threads=t),  # before the model is read
            lambda: ednn.rasterize(pos, z, cell, (8, 8), threads=t),
            lambda: ednn.atoms.predict(tmp_path / "no-such-model.onnx", pos, z, cell, threads=t),
        ]
        for call in calls:
            assert _python_error(call) == want + str(t)
    assert _python_error(lambda: ednn.Model(ising_model_path).session(threads=5000)) == want + "5000"
    assert ednn.tile(g, 1, 1, threads=MAX_THREADS).shape == (8, 8, 3, 3)
    assert ednn.predict(ising_model_path, g, threads=MAX_THREADS) == -128.0


def test_batches_are_bounded_alike(tmp_path):
    """A 33x33 tile: one batch may hold 246497 tiles (2^28 elements); a 512x512 grid has 262144."""
    path = _sum_model(tmp_path / "m.onnx", _meta(context="16"), ["N", 1, 33, 33])
    want = ("batch_size: expected at most 246497 tiles of 1089 elements (268435456 elements per batch), "
            "got 262144")
    assert _python_error(lambda: ednn.predict(path, np.ones((512, 512), np.int8), batch_size=10**9)) == want
    # fewer tiles than the batch size: one batch of all of them, as before
    assert ednn.predict(path, np.ones((4, 4), np.int8), batch_size=10**9) == 16 * 1089


# ---------------------------------------------------------------- wrong or silent answers

def test_tile_refuses_out_overlapping_the_grid(rng):
    a = np.arange(64 * 64, dtype=np.float64).reshape(64, 64)
    with pytest.raises(ednn.InputError, match="out: expected an array that does not overlap the grid"):
        ednn.tile(a, 2, 0, out=a.reshape(32, 32, 2, 2))
    buf = np.zeros(2 * 64 * 64)
    grid, out = buf[:4096].reshape(64, 64), buf[4096:].reshape(32, 32, 2, 2)  # one buffer, disjoint halves
    grid[:] = rng.normal(size=(64, 64))
    ednn.tile(grid, 2, 0, out=out)
    np.testing.assert_array_equal(out, ednn.reference.tile(grid, 2, 0))
    with pytest.raises(ednn.InputError, match="does not overlap"):
        ednn.tile(buf[::2].reshape(64, 64), 2, 0, out=buf[:4096].reshape(32, 32, 2, 2))


FLOAT32_MAX_ROUNDING = np.nextafter(2.0**128 - 2.0**103, 0)  # the largest double that rounds to float32's max


@pytest.mark.parametrize("value,text", [(1e39, "1e+39"), (-3.5e38, "-3.5e+38"), (2.0**128 - 2.0**103, "3.4028235677973366e+38"),
                                        (1.7976931348623157e308, "1.7976931348623157e+308")])
def test_values_beyond_float32_are_refused_alike(ising_model_path, value, text):
    g = np.ones((4, 6))
    g[2, 3] = value
    want = f"grid: expected values within float32's range (|x| <= 3.4028235e+38), got {text} at index (2, 3)"
    assert _python_error(lambda: ednn.predict(ising_model_path, g)) == want
    assert "at index (0, 2, 3)" in _python_error(lambda: ednn.predict(ising_model_path, g[None]))
    res = _c_api([{"model": str(ising_model_path), "grid": g.tolist()}])[0]
    assert (res["predict"], res["predict_message"]) == (EDNN_ERROR_INPUT, want)


def test_largest_values_that_fit_float32_still_run(ising_model_path):
    g = np.zeros((4, 4))
    g[1, 1] = FLOAT32_MAX_ROUNDING  # becomes float32's largest value, as before
    assert np.float32(FLOAT32_MAX_ROUNDING) == np.finfo(np.float32).max
    assert ednn.predict(ising_model_path, g) == 0.0  # its neighbours are 0: every bond term is 0
    res = _c_api([{"model": str(ising_model_path), "grid": g.tolist()}])[0]
    assert (res["predict"], res["value"]) == (0, 0.0)


def test_nan_in_c_api_before_a_large_value_is_named_first(ising_model_path):
    g = np.ones((4, 4))
    g[0, 2], g[1, 2] = np.nan, 1e39
    want = _python_error(lambda: ednn.predict(ising_model_path, g))
    assert want == "grid: expected finite values, got nan at index (0, 2)"
    assert _c_api([{"model": str(ising_model_path), "grid": g.tolist()}])[0]["predict_message"] == want


def test_gamma_is_bounded_below():
    """gamma=1e-160 with an atom on a grid point gave nan (0 * inf in the kernel)."""
    with pytest.raises(ednn.InputError, match=r"gamma: expected at least 1e-06 .*got 1e-160"):
        ednn.rasterize([[0.0, 0.0, 0.0]], [1.0], [1.0, 1.0, 1.0], (4, 4), gamma=1e-160)
    for gamma in (1e-6, 1e-3):
        v = ednn.rasterize([[0.0, 0.0, 0.0]], [1.0], [1.0, 1.0, 1.0], (4, 4), gamma=gamma, dtype=np.float64)
        assert v[0, 0] == 1.0 and np.count_nonzero(v) == 1
    with pytest.raises(ednn.InputError, match="gamma: expected at least 1e-06"):
        ednn._ednn.rasterize_host(np.zeros((1, 2)), np.ones(1), [1.0, 1.0], [4, 4], [0, 0], [4, 4], 1e-160,
                                  np.empty((4, 4)))  # the compiled core checks it too


# ---------------------------------------------------------------- the model cache

def test_model_cache_is_a_bounded_lru(tmp_path):
    from ednn import model as model_module

    model_module._CACHE.clear()
    path = tmp_path / "m.onnx"
    for i in range(40):  # one path rewritten: one entry, the newest
        _sum_model(path, _meta(units=f"u{i}"), ["N", 1, 3, 3])
        os.utime(path, ns=(i * 10**9, i * 10**9))  # a new mtime even within the clock's resolution
        assert ednn.load_model(path).units == f"u{i}"
        assert len(model_module._CACHE) == 1
    paths = [_sum_model(tmp_path / f"m{i}.onnx", _meta(), ["N", 1, 3, 3]) for i in range(model_module.CACHE_SIZE + 8)]
    first = ednn.load_model(paths[0])
    for p in paths[1:]:
        ednn.load_model(p)
        ednn.load_model(paths[0])  # used again: stays
    assert len(model_module._CACHE) == model_module.CACHE_SIZE
    assert ednn.load_model(paths[0]) is first
    assert str(paths[1].resolve()) not in {k[0] for k in model_module._CACHE}  # least recently used: evicted
