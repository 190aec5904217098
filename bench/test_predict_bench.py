"""ednn.predict end to end vs a bare ONNX Runtime session fed pre-tiled batches (target >= 90 %).

The baseline gets its tiles for free (cut before timing); ednn.predict tiles on the fly.
Run: python -m pytest bench/test_predict_bench.py --benchmark-enable
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ratio

import ednn
from ednn.models.exact import write_ising_model

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

L = 1024
BATCH = 16384
TARGET = 0.90


def _mlp_model(path, t=3, widths=(288, 64, 64)):
    """The paper's Ising network shape (32 t^2 -> 64 -> 64 -> 1, ReLU) with random weights."""
    rng = np.random.default_rng(0)
    sizes = (t * t,) + widths + (1,)
    nodes = [helper.make_node("Reshape", ["tiles", "shape"], ["h0"])]
    inits = [numpy_helper.from_array(np.array([-1, t * t], dtype=np.int64), "shape")]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        inits += [numpy_helper.from_array((rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32), f"W{i}"),
                  numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}")]
        nodes.append(helper.make_node("Gemm", [f"h{i}", f"W{i}", f"b{i}"], [f"g{i}"]))
        last = i == len(sizes) - 2
        nodes.append(helper.make_node("Identity" if last else "Relu", [f"g{i}"], ["out" if last else f"h{i + 1}"]))
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("tiles", TensorProto.FLOAT, ["N", 1, t, t])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, ednn.metadata_dict(focus=1, context=1, ndim=2, channels=1, outputs="energy"))
    onnx.save_model(model, str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench-models")
    write_ising_model(d / "exact.onnx")
    return {"exact": d / "exact.onnx", "mlp": _mlp_model(d / "mlp.onnx")}


@pytest.fixture(scope="module")
def grid():
    return np.random.default_rng(1).choice(np.array([-1, 1], dtype=np.int8), size=(L, L))


def _bare(sess, batches):
    total = 0.0
    for b in batches:
        total += float(sess.run(None, {"tiles": b})[0].sum(dtype=np.float64))
    return total


@pytest.mark.parametrize("name", ["exact", "mlp"])
def test_bare_ort(record, models, grid, name):
    sess = ort.InferenceSession(str(models[name]), providers=["CPUExecutionProvider"])
    tiles = ednn.tile(grid.astype(np.float32)[None], 1, 1, ndim=2).reshape(-1, 1, 3, 3)
    batches = [tiles[i : i + BATCH] for i in range(0, len(tiles), BATCH)]
    record(f"{name}:bare-ort", _bare, sess, batches, rounds=5)


@pytest.mark.parametrize("name", ["exact", "mlp"])
def test_predict(record, models, grid, name):
    m = ednn.Model(models[name])
    m.session(["CPUExecutionProvider"])
    got = record(f"{name}:predict", ednn.predict, m, grid, batch_size=BATCH,
                 providers=["CPUExecutionProvider"], rounds=5)
    if name == "exact":
        assert got == ednn.reference.ising_energy(grid)


@pytest.mark.parametrize("name", ["exact", "mlp"])
def test_target(name):
    frac = ratio(f"{name}:bare-ort", f"{name}:predict")
    print(f"\n{name}: ednn.predict reaches {100 * frac:.0f} % of the bare ONNX Runtime throughput")
    assert frac >= TARGET
