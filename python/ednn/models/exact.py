"""Exact EDNN model files built by hand as ONNX graphs (no training), for tests and examples.

Needs the ``onnx`` package (extras ``test`` or ``train``).
"""

from __future__ import annotations

import os

import numpy as np

from ..model import metadata_dict

__all__ = ["ising_model_proto", "write_ising_model"]


def ising_model_proto(J: float = 1.0):  # -> onnx.ModelProto
    """The nearest-neighbour Ising energy as an f = c = 1 EDNN.

    Input ``(N, 1, 3, 3)`` spins, output ``(N, 1)``: ``-J s[1,1] (s[1,2] + s[2,1])`` — each bond of
    the periodic lattice is counted exactly once, by the tile whose focus is its left/upper spin.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.array([-1, 9], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(np.array([4], dtype=np.int64), "centre"),
        numpy_helper.from_array(np.array([5, 7], dtype=np.int64), "neighbours"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array(-J, dtype=np.float32), "minus_j"),
    ]
    nodes = [
        helper.make_node("Reshape", ["tiles", "flat_shape"], ["flat"]),
        helper.make_node("Gather", ["flat", "centre"], ["s0"], axis=1),
        helper.make_node("Gather", ["flat", "neighbours"], ["nb"], axis=1),
        helper.make_node("ReduceSum", ["nb", "axis1"], ["nbsum"], keepdims=1),
        helper.make_node("Mul", ["s0", "nbsum"], ["bond"]),
        helper.make_node("Mul", ["bond", "minus_j"], ["energy"]),
    ]
    graph = helper.make_graph(
        nodes,
        "ising_exact",
        [helper.make_tensor_value_info("tiles", TensorProto.FLOAT, ["N", 1, 3, 3])],
        [helper.make_tensor_value_info("energy", TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ednn")
    model.ir_version = 8
    meta = metadata_dict(
        focus=1,
        context=1,
        ndim=2,
        channels=1,
        outputs=["energy"],
        units="J",
        description=f"exact nearest-neighbour Ising energy, J = {J}, periodic, each bond once",
    )
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def write_ising_model(path: str | os.PathLike[str], J: float = 1.0) -> None:
    """Write :func:`ising_model_proto` to ``path``."""
    import onnx

    onnx.save_model(ising_model_proto(J), os.fspath(path))
