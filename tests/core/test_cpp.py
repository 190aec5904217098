"""The C++ predictor (ednn.h / ednn.hpp) against ednn.predict.

Builds examples/cpp against the installed package the way a user would
(``cmake -S examples/cpp -DCMAKE_PREFIX_PATH=$(python -m ednn --cmake-dir)``), then checks that the
C++ energies equal ednn.predict's to 1e-9 relative on the same models and grids — the grids of the
shared reference file examples/cpp/reference/ising_grids.txt, and generated models with several
channels, outputs, dimensions and input/output scaling — and that bad inputs come back as errors
with the messages Python gives.

Skipped, with the reason, where cmake, a C++ compiler or the installed predictor (built only when
the ONNX Runtime C API headers were present) is missing; ``EDNN_REQUIRE_CPP=1`` turns those skips
into failures (CI sets it).
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ednn

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cpp"
REFERENCE = EXAMPLE / "reference" / "ising_grids.txt"
RTOL = 1e-9


def _unavailable(reason: str) -> None:
    if os.environ.get("EDNN_REQUIRE_CPP") == "1":
        pytest.fail(f"EDNN_REQUIRE_CPP=1 but {reason}")
    pytest.skip(reason)


def _compare_module():
    spec = importlib.util.spec_from_file_location("ednn_compare_with_python", EXAMPLE / "compare_with_python.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-300)


# ---------------------------------------------------------------- the shared reference file


def test_reference_file_matches_python():
    """The stored energies are what ednn.predict gives today (and the exact nearest-neighbour sums)."""
    name, grids = _compare_module().read_reference(REFERENCE)
    assert name == "ising-exact"
    assert len(grids) >= 8
    model = ednn.models.path(name)
    for spins, stored in grids:
        assert float(ednn.predict(model, spins)) == stored
        assert ednn.reference.ising_energy(spins) == stored


# ---------------------------------------------------------------- building the example


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/cpp built against the installed package; the build folder."""
    cmake = shutil.which("cmake")
    if cmake is None:
        _unavailable("cmake is not installed")
    if not (os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
        _unavailable("no C++ compiler found")
    from ednn.info import cmake_dir

    try:
        cdir = cmake_dir()
    except FileNotFoundError:
        _unavailable("the installed ednn has no CMake package (ednnConfig.cmake)")
    if "ednn::predictor" not in (cdir / "ednnTargets.cmake").read_text():
        _unavailable(
            "the installed ednn was built without its C++ predictor: the ONNX Runtime C API headers were missing "
            "at build time (run cmake/fetch-ort-headers.sh, then reinstall ednn)"
        )
    build = tmp_path_factory.mktemp("cpp-example")
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2")
    for cmd in (
        [cmake, "-S", str(EXAMPLE), "-B", str(build), f"-DCMAKE_PREFIX_PATH={cdir}",
         f"-DPython3_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release"],
        [cmake, "--build", str(build)],
    ):
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return build


def _run(exe: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)


def _values(res: subprocess.CompletedProcess[str]) -> np.ndarray:
    assert res.returncode == 0, res.stderr
    return np.array([[float(v) for v in line.split()] for line in res.stdout.splitlines()])


# ---------------------------------------------------------------- energies: C++ == Python


@pytest.mark.parametrize("name", ["ising-exact", "ising"])
def test_reference_grids_match_python(example: Path, name: str):
    if name not in ednn.models.available():
        pytest.skip(f"the package ships no {name!r} model")
    model = ednn.models.path(name)
    _, grids = _compare_module().read_reference(REFERENCE)
    cpp = _values(_run(example / "ising_mc", "energies", model, REFERENCE))[:, 0]
    assert len(cpp) == len(grids)
    for (spins, _), e_cpp in zip(grids, cpp):
        e_py = float(ednn.predict(model, spins))
        assert _close(e_cpp, e_py), (spins.shape, e_cpp, e_py)


def _mlp_model(path: Path, *, ndim: int, focus, context, channels: int, outputs: int, seed: int, **meta) -> Path:
    """A small random network (N, C, t...) -> (N, K) as an EDNN model file."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    focus = (focus,) * ndim if isinstance(focus, int) else tuple(focus)
    context = (context,) * ndim if isinstance(context, int) else tuple(context)
    tile = tuple(f + 2 * c for f, c in zip(focus, context))
    n_in = channels * int(np.prod(tile))
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(np.array([-1, n_in], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array((rng.normal(size=(n_in, 8)) / np.sqrt(n_in)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(size=8).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(size=(8, outputs)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Reshape", ["tiles", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "ednn_test_mlp",
        [helper.make_tensor_value_info("tiles", TensorProto.FLOAT, ["N", channels, *tile])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", outputs])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    names = [f"q{k}" for k in range(outputs)]
    helper.set_model_props(
        model, ednn.metadata_dict(focus=focus, context=context, ndim=ndim, channels=channels, outputs=names, **meta)
    )
    onnx.save_model(model, str(path))
    return path


CASES = {
    # name: model options, grid shape, dtype, extra predict_grid arguments
    "1d-2ch-2out-scaled-batch": (
        dict(ndim=1, focus=2, context=1, channels=2, outputs=2, seed=1, input_scale=[0.5, 2.0],
             input_offset=[0.25, -1.0], output_scale=[3.0, -0.5], output_offset=[-1.5, 0.125]),
        (3, 2, 24), np.float64, [],
    ),
    "2d-ising-like-int8-small-batches": (
        dict(ndim=2, focus=1, context=1, channels=1, outputs=1, seed=2),
        (20, 12), np.int8, ["--batch-size", "7"],
    ),
    "2d-focus-context-float32": (
        dict(ndim=2, focus=(2, 3), context=(1, 0), channels=1, outputs=1, seed=3, output_offset=0.75),
        (8, 9), np.float32, ["--threads", "1"],
    ),
    "3d-3ch-int32": (
        dict(ndim=3, focus=(1, 2, 1), context=(1, 0, 2), channels=3, outputs=1, seed=4, input_scale=0.1),
        (3, 4, 6, 5), np.int32, [],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_models_match_python(example: Path, tmp_path: Path, case: str):
    opts, shape, dtype, extra = CASES[case]
    model = _mlp_model(tmp_path / "model.onnx", **opts)
    rng = np.random.default_rng(7)
    if np.dtype(dtype).kind == "f":
        grid = rng.normal(size=shape).astype(dtype)
    else:
        grid = rng.integers(-3, 4, size=shape).astype(dtype)
    np.save(tmp_path / "grid.npy", grid)
    cpp = _values(_run(example / "predict_grid", model, tmp_path / "grid.npy", *extra))
    py = np.asarray(ednn.predict(model, grid), dtype=np.float64).reshape(cpp.shape)
    np.testing.assert_allclose(cpp, py, rtol=RTOL, atol=1e-300)


# ---------------------------------------------------------------- errors: same messages as Python


def _python_error(fn) -> str:
    with pytest.raises(ednn.InputError) as info:
        fn()
    return str(info.value)


def test_missing_model_file(example: Path, tmp_path: Path):
    missing = tmp_path / "no-such-model.onnx"
    res = _run(example / "ising_mc", "energies", missing, REFERENCE)
    assert res.returncode == 2
    want = _python_error(lambda: ednn.Model(missing))
    assert "no such file" in want
    assert f"error: {want}" in res.stderr


def test_not_an_onnx_file(example: Path, tmp_path: Path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_text("not a network")
    res = _run(example / "ising_mc", "energies", bogus, REFERENCE)
    assert res.returncode == 2
    want = _python_error(lambda: ednn.Model(bogus))
    head = want.split(" is not a readable ONNX model")[0] + " is not a readable ONNX model"
    assert f"error: {head}" in res.stderr


def test_not_an_ednn_model(example: Path, tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(ednn.models.path("ising-exact")))
    del proto.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save_model(proto, str(plain))
    res = _run(example / "ising_mc", "energies", plain, REFERENCE)
    assert res.returncode == 2
    want = _python_error(lambda: ednn.Model(plain))
    assert "is not an EDNN model file: metadata key 'ednn.format_version' is missing" in want
    assert f"error: {want}" in res.stderr


@pytest.mark.parametrize(
    "shape,dtype,poison",
    [((5, 4), np.float32, None), ((16,), np.int8, None), ((2, 2, 3, 4), np.int8, None),
     ((4, 6), np.float64, ((2, 3), np.nan)), ((4, 6), np.float64, ((1, 3), 1e39)),
     ((2, 4, 6), np.float64, ((1, 3, 0), -3.5e38))],
    ids=["size-not-multiple-of-focus", "too-few-axes", "too-many-axes", "non-finite", "beyond-float32",
         "beyond-float32-batch"],
)
def test_bad_grids(example: Path, tmp_path: Path, shape, dtype, poison):
    model = _mlp_model(tmp_path / "f2.onnx", ndim=2, focus=2, context=1, channels=1, outputs=1, seed=5)
    grid = np.ones(shape, dtype=dtype)
    if poison is not None:
        grid[poison[0]] = poison[1]
    np.save(tmp_path / "grid.npy", grid)
    res = _run(example / "predict_grid", model, tmp_path / "grid.npy")
    assert res.returncode == 2
    want = _python_error(lambda: ednn.predict(model, grid))
    assert f"error: {want}" in res.stderr


# ---------------------------------------------------------------- the Monte Carlo example


def test_monte_carlo_bookkeeping(example: Path):
    name = "ising" if "ising" in ednn.models.available() else "ising-exact"
    res = _run(example / "ising_mc", "mc", ednn.models.path(name), "--size", 8, "--sweeps", 20,
               "--temperature", 2.0, "--check-every", 1, "--seed", 5)
    assert res.returncode == 0, res.stderr
    assert "20 full re-evaluations" in res.stdout


def test_example_ctest(example: Path):
    ctest = Path(shutil.which("cmake")).with_name("ctest")
    res = subprocess.run([str(ctest), "--output-on-failure"], cwd=example, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "100% tests passed" in res.stdout
