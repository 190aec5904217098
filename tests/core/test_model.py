"""The EDNN model file contract: metadata, validation, shipped models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ednn
from ednn.model import REQUIRED_KEYS, metadata_dict

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _identity_sum_model(path: Path, meta: dict[str, str], in_shape=("N", 2, 4, 4), k: int = 1) -> Path:
    """A per-tile network that sums its inputs: (N, C, t, t) -> (N, k)."""
    axes = helper.make_tensor("axes", TensorProto.INT64, [len(in_shape) - 1], list(range(1, len(in_shape))))
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=0),
             helper.make_node("Unsqueeze", ["s", "one"], ["s1"])]
    inits = [axes, helper.make_tensor("one", TensorProto.INT64, [1], [1])]
    if k > 1:
        nodes.append(helper.make_node("Tile", ["s1", "reps"], ["y"]))
        inits.append(helper.make_tensor("reps", TensorProto.INT64, [2], [1, k]))
    else:
        nodes.append(helper.make_node("Identity", ["s1"], ["y"]))
    graph = helper.make_graph(
        nodes, "sum", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", k])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, meta)
    onnx.save_model(model, str(path))
    return path


def _meta(**over):
    base = metadata_dict(focus=2, context=1, ndim=2, channels=2, outputs=["n"])
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def test_fields(tmp_path):
    p = _identity_sum_model(tmp_path / "m.onnx", _meta(**{"ednn.units": "particles", "ednn.spacing": "0.05"}))
    m = ednn.Model(p)
    assert (m.ndim, m.focus, m.context, m.tile, m.channels, m.outputs) == (2, (2, 2), (1, 1), (4, 4), 2, ("n",))
    assert m.units == "particles" and m.spacing == (0.05, 0.05)
    assert "particles" in m.summary()


def test_per_axis_metadata(tmp_path):
    meta = _meta(**{"ednn.focus": "2,4", "ednn.context": "1,0", "ednn.spacing": "0.0499318,0.0480469"})
    p = _identity_sum_model(tmp_path / "m.onnx", meta, in_shape=("N", 2, 4, 4))
    m = ednn.Model(p)
    assert m.focus == (2, 4) and m.context == (1, 0) and m.tile == (4, 4)
    assert m.spacing == (0.0499318, 0.0480469)
    p = _identity_sum_model(tmp_path / "m.onnx", _meta(**{"ednn.spacing": "0.1,0.2,0.3"}))
    with pytest.raises(ednn.ModelFileError, match="ednn.spacing: expected 1 or 2 finite numbers"):
        ednn.Model(p)


@pytest.mark.parametrize("missing", REQUIRED_KEYS)
def test_missing_key_is_named(tmp_path, missing):
    p = _identity_sum_model(tmp_path / "m.onnx", _meta(**{missing: None}))
    with pytest.raises(ednn.ModelFileError, match=f"metadata key '{missing}' is missing"):
        ednn.Model(p)


@pytest.mark.parametrize(
    "over,match",
    [
        ({"ednn.format_version": "2"}, "format_version: expected '1', got '2'"),
        ({"ednn.focus": "two"}, "ednn.focus: expected comma-separated non-negative integers"),
        ({"ednn.focus": "1,2,3"}, "ednn.focus: expected 1 or 2 values, got 3"),
        ({"ednn.context": "-1"}, "ednn.context: expected comma-separated non-negative integers"),
        ({"ednn.context": "16777217"}, r"ednn.context: expected values in 0\.\.16777216"),
        ({"ednn.channels": "3"}, "axis 1 has size 2, expected 3"),
        ({"ednn.context": "2"}, "axis 2 has size 4, expected 6"),
        ({"ednn.ndim": "3"}, "expected rank 5"),
        ({"ednn.outputs": "a,b"}, "expected K=2 columns"),
    ],
)
def test_inconsistent_metadata(tmp_path, over, match):
    p = _identity_sum_model(tmp_path / "m.onnx", _meta(**over))
    with pytest.raises(ednn.ModelFileError, match=match):
        ednn.Model(p)


def test_not_a_file_and_not_onnx(tmp_path):
    with pytest.raises(ednn.InputError, match="no such file"):
        ednn.Model(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ednn.ModelFileError, match="not a readable ONNX model"):
        ednn.Model(bad)


def test_load_model_caches_and_reloads(tmp_path):
    p = _identity_sum_model(tmp_path / "m.onnx", _meta())
    a = ednn.load_model(p)
    assert ednn.load_model(str(p)) is a
    _identity_sum_model(p, _meta(**{"ednn.units": "changed"}))
    b = ednn.load_model(p)
    assert b is not a and b.units == "changed"


def test_shipped_models_by_name(tmp_path, monkeypatch):
    """A shipped model's name stands for its file in Python as on the command line; a file of that
    name in the working directory wins; anything else is refused naming the shipped models."""
    spins = np.ones((4, 4), dtype=np.int8)
    assert ednn.load_model("ising-exact") is ednn.load_model(ednn.models.path("ising-exact"))
    assert ednn.predict("ising-exact", spins) == -32.0
    monkeypatch.chdir(tmp_path)
    _identity_sum_model(tmp_path / "ising-exact", _meta())
    assert ednn.load_model("ising-exact").path == Path("ising-exact")
    with pytest.raises(ednn.InputError, match=r"expected an existing ONNX file or a shipped model's name \(.*ising-exact.*\), "
                                              r"got 'isng' \(no such file\)"):
        ednn.load_model("isng")


def test_shipped_exact_model_matches_builder():
    assert "ising-exact" in ednn.models.available()
    m = ednn.Model(ednn.models.path("ising-exact"))
    assert m.focus == (1, 1) and m.context == (1, 1) and m.outputs == ("energy",)
    from ednn.models.exact import ising_model_proto

    shipped = onnx.load(str(ednn.models.path("ising-exact")))
    assert shipped.graph == ising_model_proto().graph
    with pytest.raises(ednn.InputError, match="name: expected one of"):
        ednn.models.path("no-such-model")


def test_scaling_metadata(tmp_path):
    meta = _meta(**{"ednn.input_scale": "2,0.5", "ednn.input_offset": "1", "ednn.output_scale": "3",
                    "ednn.output_offset": "0.25"})
    p = _identity_sum_model(tmp_path / "m.onnx", meta)
    g = np.random.default_rng(0).normal(size=(2, 8, 8))
    # each tile sums its (scaled) 4x4x2 inputs; every cell lies in 16 tiles' windows (t^2 / f^2 = 4 per axis pair)
    x = g * np.array([2, 0.5])[:, None, None] + 1
    tiles = ednn.reference.tile(x, 2, 1, ndim=2).reshape(16, -1).sum(axis=1)
    want = 3 * tiles.sum() + 0.25 * 16
    assert ednn.predict(p, g) == pytest.approx(want, rel=1e-5)  # float32 network inputs
