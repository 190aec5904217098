"""ednn.predict and `ednn predict` on a Dask LocalCluster: the one-process answer from slabs of the grid,
also with odd slab counts, several channels, outputs and dimensions, and when a worker is killed mid-run."""

from __future__ import annotations

import json
import subprocess
import sys

import ednn
import ednn.distributed as ed
import numpy as np
import pytest
from ednn.cli import main

pytest.importorskip("distributed")

# slabs are summed in float64 in another order than one process sums its batches: ~1e-16 measured
RTOL = 1e-9


@pytest.fixture(scope="module")
def client():
    with ed.local_client(2) as c:
        yield c


def spins(shape, seed=0):
    return np.random.default_rng(seed).choice(np.array([-1, 1], dtype=np.int8), size=shape)


def mlp_model(path, *, ndim, focus, context, channels=1, outputs=1, seed=0, **meta):
    """A small random network (N, C, t...) -> (N, K) as an EDNN model file."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    focus, context = (tuple(v) if isinstance(v, tuple) else (v,) * ndim for v in (focus, context))
    tile = tuple(f + 2 * c for f, c in zip(focus, context))
    n_in = channels * int(np.prod(tile))
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(np.array([-1, n_in], dtype=np.int64), "shape"),
             numpy_helper.from_array((rng.normal(size=(n_in, 8)) / np.sqrt(n_in)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(size=8).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.normal(size=(8, outputs)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w1"], ["h"]),
             helper.make_node("Add", ["h", "b1"], ["hb"]), helper.make_node("Tanh", ["hb"], ["a"]),
             helper.make_node("MatMul", ["a", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "mlp",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, *tile])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", outputs])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, ednn.metadata_dict(focus=focus, context=context, ndim=ndim, channels=channels,
                                                     outputs=[f"q{k}" for k in range(outputs)], **meta))
    onnx.save_model(model, str(path))
    return path


def test_shipped_ising_equals_one_process(client):
    m = ednn.models.path("ising")
    s = spins((60, 44))
    want = ednn.predict(m, s)
    for rows in (None, 1, 7, 13, 60, 1000):  # 60 rows: 8 per worker by default, 60, 9 (odd), 5, 1, 1 slabs
        assert ednn.predict(m, s, client=client, block_rows=rows) == pytest.approx(want, rel=RTOL), rows
    batch = spins((3, 20, 12), seed=1).astype(np.float64)
    np.testing.assert_allclose(ednn.predict(m, batch, client=client, block_rows=3), ednn.predict(m, batch), rtol=RTOL)


CASES = {  # model options, grid shape (batch and channel axes included), rows per slab
    "2d-focus-context-scaled": ({"ndim": 2, "focus": (2, 3), "context": (3, 1), "outputs": 2, "input_scale": 0.5,
                                 "input_offset": 0.25, "output_scale": [3.0, -0.5], "output_offset": [-1.5, 0.125]},
                                (26, 21), 3),
    "2d-context-beyond-the-grid": ({"ndim": 2, "focus": 1, "context": (5, 2)}, (4, 6), 3),
    "1d-2ch-batch": ({"ndim": 1, "focus": 2, "context": 1, "channels": 2, "output_offset": 0.75}, (2, 2, 30), 4),
    "3d-3ch": ({"ndim": 3, "focus": (1, 2, 1), "context": (1, 0, 2), "channels": 3, "input_scale": 0.1},
               (3, 9, 6, 5), 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_random_models_equal_one_process(client, tmp_path, case):
    opts, shape, rows = CASES[case]
    model = mlp_model(tmp_path / "m.onnx", seed=len(case), **opts)
    grid = np.random.default_rng(3).normal(size=shape)
    want = np.asarray(ednn.predict(model, grid))
    for r in (rows, None):
        got = np.asarray(ednn.predict(model, grid, client=client, block_rows=r))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


def test_tasks_get_only_their_slab(client, monkeypatch):
    cells: list[int] = []
    submit = client.submit

    def spy(fn, *args, **kw):
        cells.append(args[1].size)  # the slab of this task
        return submit(fn, *args, **kw)

    monkeypatch.setattr(client, "submit", spy, raising=False)
    s = spins((128, 64))
    got = ednn.predict(ednn.models.path("ising"), s, client=client)
    assert got == pytest.approx(ednn.predict(ednn.models.path("ising"), s), rel=RTOL)
    assert len(cells) >= 16 and max(cells) <= (8 + 2) * 64  # 8 rows and their two context rows


def test_survives_a_killed_worker(client, kill_a_worker):
    m = ednn.models.path("ising")
    s = spins((96, 64), seed=2)
    want = ednn.predict(m, s)
    killed = kill_a_worker(client)  # one worker dies after three results
    got = ednn.predict(m, s, client=client, block_rows=3)  # 32 slabs
    assert killed and got == pytest.approx(want, rel=RTOL)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_bad_input_before_any_task(client, monkeypatch, tmp_path):
    def no_submit(*args, **kw):
        raise AssertionError("a task was submitted")

    monkeypatch.setattr(client, "submit", no_submit, raising=False)
    m = ednn.models.path("ising")
    s = spins((8, 8))
    for kw, match in [({"block_rows": 0}, "block_rows: expected a positive int"),
                      ({"block_rows": 2.0}, "block_rows: expected a positive int"),
                      ({"batch_size": 0}, "batch_size: expected a positive int"),
                      ({"threads": 1 << 20}, "threads: expected at most")]:
        with pytest.raises(ednn.InputError, match=match):
            ednn.predict(m, s, client=client, **kw)
    with pytest.raises(ednn.InputError, match="expected 2 axes"):
        ednn.predict(m, np.ones(8), client=client)
    with pytest.raises(ednn.InputError, match="not a multiple of the focus"):
        ednn.predict(mlp_model(tmp_path / "f2.onnx", ndim=2, focus=2, context=1), np.ones((8, 7)), client=client)
    with pytest.raises(ednn.InputError, match="expected finite values"):
        ednn.predict(m, np.where(np.eye(8) > 0, np.nan, 1.0), client=client)
    with pytest.raises(ednn.InputError, match="block_rows: expected None without a client"):
        ednn.predict(m, s, block_rows=2)
    with pytest.raises(ednn.InputError, match="client: expected a dask.distributed.Client"):
        ednn.predict(m, s, client="tcp://127.0.0.1:8786")



def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_round_trip(client, tmp_path, capsys):
    grid = tmp_path / "grid.npy"
    np.save(grid, spins((2, 40, 24), seed=4))
    base = ["predict", "ising", str(grid), "--json", "--no-progress"]
    want = _json(capsys, base)["energy"]
    for extra in (["--scheduler", client.scheduler.address, "--block-rows", "3"], ["--workers", "1"]):
        got = _json(capsys, base + extra)["energy"]
        np.testing.assert_allclose(got, want, rtol=RTOL, err_msg=str(extra))
    assert client.status == "running"  # --scheduler closes its own client only


def test_cli_refusals(client, tmp_path, capsys):
    grid = tmp_path / "grid.npy"
    np.save(grid, spins((8, 8)))
    with pytest.raises(SystemExit):  # argparse: not allowed with argument --workers
        main(["predict", "ising", str(grid), "--workers", "2", "--scheduler", client.scheduler.address])
    assert "not allowed with" in capsys.readouterr().err
    for extra, msg in [(["--workers", "0"], "--workers: expected a positive number"),
                       (["--block-rows", "2"], "--block-rows: expected --workers or --scheduler")]:
        assert main(["predict", "ising", str(grid), *extra]) == 2
        assert msg in capsys.readouterr().err
    np.save(grid, np.ones((2, 2, 8, 8)))
    assert main(["predict", "ising", str(grid), "--scheduler", client.scheduler.address]) == 2
    assert "expected 2 axes" in capsys.readouterr().err


def test_cli_without_dask_names_the_extra(tmp_path):
    grid = tmp_path / "grid.npy"
    np.save(grid, spins((8, 8)))
    code = ("import sys; sys.modules['distributed'] = None\n"
            f"from ednn.cli import main; raise SystemExit(main(['predict', 'ising', {str(grid)!r}, '--workers', '2']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "distributed" in lines[0] and "pip install 'ednn[dist]'" in lines[0]
