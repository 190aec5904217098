"""ednn.torch: differentiable periodic tiling, the EDNN wrapper, the paper's networks, ONNX export."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import ednn  # noqa: E402
import ednn.torch as et  # noqa: E402
from ednn import reference  # noqa: E402
from ednn.errors import InputError  # noqa: E402

nn = torch.nn


def _reference_batch(grid: np.ndarray, focus, context, d: int) -> np.ndarray:
    """ednn.reference.tile of (B, C, S...) -> (n..., B, C, t...), reordered to (B * n, C, t...)."""
    ref = reference.tile(grid, focus, context, ndim=d)
    B, C = grid.shape[:2]
    order = (d,) + tuple(range(d)) + tuple(range(d + 1, 2 * d + 2))
    return ref.transpose(order).reshape((-1, C) + ref.shape[d + 2 :])


CASES = [
    # (spatial shape, focus, context)
    ((6,), 2, 1),
    ((4,), 2, 5),  # context larger than the grid: wraps more than once
    ((1,), 1, 3),
    ((4, 6), 1, 1),
    ((4, 6), (2, 3), (1, 0)),
    ((2, 4), (1, 2), (5, 7)),
    ((3, 3), 3, 0),
    ((2, 4, 6), (1, 2, 3), (2, 1, 0)),
    ((2, 2, 2), 1, 3),
]


@pytest.mark.parametrize("spatial,focus,context", CASES)
def test_periodic_tiles_matches_reference(spatial, focus, context):
    d = len(spatial)
    rng = np.random.default_rng(sum(spatial))
    grid = rng.standard_normal((3, 2) + spatial).astype(np.float32)
    got = et.periodic_tiles(torch.from_numpy(grid), focus, context, ndim=d)
    want = _reference_batch(grid, focus, context, d)
    assert tuple(got.shape) == want.shape
    np.testing.assert_array_equal(got.numpy(), want)


def test_periodic_tiles_matches_compiled_tiler_and_keeps_dtype():
    spins = np.random.default_rng(1).choice(np.array([-1, 1], dtype=np.int8), size=(2, 1, 8, 12))
    got = et.periodic_tiles(torch.from_numpy(spins), 2, 1)
    assert got.dtype == torch.int8
    np.testing.assert_array_equal(got.numpy(), _reference_batch(spins, 2, 1, 2))
    compiled = ednn.tile(spins, 2, 1, ndim=2)  # (4, 6, B, C, 4, 4)
    np.testing.assert_array_equal(got.numpy(), compiled.transpose(2, 0, 1, 3, 4, 5).reshape(-1, 1, 4, 4))


@pytest.mark.parametrize("spatial,focus,context", [((6,), 2, 3), ((4, 6), (2, 3), (1, 2)), ((2, 2, 4), 2, (0, 3, 1))])
def test_periodic_tiles_gradient_counts_copies(spatial, focus, context):
    # d(sum of all tiles)/dx = how many tiles hold each grid element, counted with the oracle.
    d = len(spatial)
    x = torch.zeros((1, 1) + spatial, dtype=torch.float64, requires_grad=True)
    et.periodic_tiles(x, focus, context, ndim=d).sum().backward()
    index = np.arange(int(np.prod(spatial))).reshape((1, 1) + spatial)
    counts = np.bincount(reference.tile(index, focus, context, ndim=d).reshape(-1), minlength=index.size)
    np.testing.assert_array_equal(x.grad.numpy().reshape(-1), counts)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_periodic_tiles_cuda_matches_cpu():
    x = torch.randn(2, 3, 8, 12)
    want = et.periodic_tiles(x, (2, 4), (3, 1))
    got = et.periodic_tiles(x.cuda(), (2, 4), (3, 1))
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), want, rtol=0, atol=0)


def test_periodic_tiles_errors():
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(InputError, match="x: expected 4 axes"):
        et.periodic_tiles(x[0], 1, 1)
    with pytest.raises(InputError, match="not a multiple of the focus 3"):
        et.periodic_tiles(x, 3, 1)
    with pytest.raises(InputError, match="ndim"):
        et.periodic_tiles(x, 1, 1, ndim=4)
    with pytest.raises(InputError, match="context"):
        et.periodic_tiles(x, 1, -1)
    with pytest.raises(InputError, match="torch.Tensor"):
        et.periodic_tiles(np.zeros((2, 1, 8, 8)), 1, 1)


class ExactIsingTile(nn.Module):
    """The f = c = 1 Ising contribution -s[1,1] (s[1,2] + s[2,1]): each bond once, exactly."""

    def forward(self, t):
        return -(t[:, 0, 1, 1] * (t[:, 0, 1, 2] + t[:, 0, 2, 1]))[:, None]


def _spins(rng, shape):
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)


def test_ednn_exact_ising_energies():
    model = et.EDNN(ExactIsingTile(), focus=1, context=1)
    assert model.focus == (1, 1) and model.context == (1, 1) and model.ndim == 2 and model.tile == (3, 3)
    rng = np.random.default_rng(2)
    for shape in [(5, 8, 8), (3, 16, 12), (2, 2, 2)]:
        spins = _spins(rng, shape)
        got = model(torch.from_numpy(spins)[:, None].float())
        assert tuple(got.shape) == (shape[0], 1)
        np.testing.assert_array_equal(got[:, 0].numpy(), reference.ising_energy(spins))
        # int8 spins are converted to float32
        np.testing.assert_array_equal(model(torch.from_numpy(spins)[:, None]).numpy(), got.numpy())
    contributions = model.contributions(torch.from_numpy(_spins(rng, (2, 1, 4, 4))).float())
    assert tuple(contributions.shape) == (2, 16, 1)


def test_ednn_errors():
    model = et.EDNN(ExactIsingTile(), 1, 1)
    with pytest.raises(InputError, match=r"x: expected 4 axes \(B, C, S_1..S_2\)"):
        model(torch.ones(8, 8))
    with pytest.raises(InputError, match="net: expected a torch.nn.Module"):
        et.EDNN(lambda t: t, 1, 1)
    flat = et.EDNN(nn.Flatten(), 1, 1)  # (N, 9) per tile is fine, (N,) is not
    assert tuple(flat(torch.ones(1, 1, 2, 2)).shape) == (1, 9)
    with pytest.raises(InputError, match=r"net: expected an output of shape \(4, K\)"):
        et.EDNN(nn.Flatten(0), 1, 1)(torch.ones(1, 1, 2, 2))


def test_ising_dnn_architecture_and_training_reduces_loss():
    torch.manual_seed(0)
    net = et.IsingDNN(focus=1, context=1)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(9, 288), (288, 64), (64, 64), (64, 1)]
    first = next(m for m in et.IsingDNN(2, 1, channels=2).modules() if isinstance(m, nn.Linear))
    assert (first.in_features, first.out_features) == (2 * 16, 32 * 16)

    rng = np.random.default_rng(3)
    # spins with a spread of magnetisations, so the energies spread too
    p = rng.uniform(0.05, 0.95, size=(128, 1, 1))
    spins = np.where(rng.random((128, 8, 8)) < p, 1, -1).astype(np.float32)
    x = torch.from_numpy(spins)[:, None]
    y = torch.from_numpy(reference.ising_energy(spins)).float()[:, None] / 64  # per spin
    model = et.EDNN(net, 1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x) / 64, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses


def test_paper_cnn_shapes_and_parameters():
    net = et.PaperCNN()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == 13 and len(linears) == 2
    assert [c.out_channels for c in convs] == [64, 64] + [16] * 6 + [64] + [32] * 4
    assert [c.kernel_size[0] for c in convs] == [3, 3] + [4] * 6 + [3] * 5
    assert [c.stride[0] for c in convs] == [2, 2] + [1] * 6 + [2] + [1] * 4
    assert net.flat_features == 32 * 16 * 16
    expected = (
        (1 * 64 * 9 + 64) + (64 * 64 * 9 + 64)
        + (64 * 16 * 16 + 16) + 5 * (16 * 16 * 16 + 16)
        + (16 * 64 * 9 + 64)
        + (64 * 32 * 9 + 32) + 3 * (32 * 32 * 9 + 32)
        + (8192 * 1024 + 1024) + (1024 + 1)
    )
    assert sum(p.numel() for p in net.parameters()) == expected
    x = torch.randn(2, 1, 128, 128)
    with torch.no_grad():
        assert tuple(net.features(x).shape) == (2, 32, 16, 16)  # "same" 4x4 convolutions keep 32 x 32
        assert tuple(net(x).shape) == (2, 1)
    small = et.PaperCNN(tile=(12, 20), channels=2, outputs=3)
    assert small.flat_features == 32 * 2 * 3
    with torch.no_grad():
        assert tuple(et.EDNN(small, (4, 4), (4, 8))(torch.randn(2, 2, 8, 12)).shape) == (2, 3)


def test_other_networks_in_one_and_three_dimensions():
    net1 = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    model1 = et.EDNN(net1, focus=2, context=1, ndim=1)
    x = torch.randn(3, 2, 10)
    y = model1(x)
    assert tuple(y.shape) == (3, 2)
    # extensivity: a grid and the same grid repeated twice (periodic) -> exactly twice the sum
    torch.testing.assert_close(model1(torch.cat([x, x], dim=-1)), 2 * y, rtol=1e-5, atol=1e-5)
    net3 = nn.Sequential(nn.Flatten(), nn.Linear(27, 1))
    model3 = et.EDNN(net3, focus=1, context=1, ndim=3)
    assert tuple(model3(torch.randn(2, 1, 2, 3, 4)).shape) == (2, 1)


# ----------------------------------------------------------------------------------------- export


def _ort_run(path, tiles: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["contributions"], {"tiles": tiles})[0]


def _assert_single_file(tmp_path, path):
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    import onnx
    from onnx.external_data_helper import uses_external_data

    proto = onnx.load(str(path), load_external_data=False)
    assert not any(uses_external_data(t) for t in proto.graph.initializer)


def test_export_ising_dnn_round_trip(tmp_path):
    torch.manual_seed(1)
    model = et.EDNN(et.IsingDNN(1, 1), 1, 1)
    path = et.export_onnx(
        model, tmp_path / "ising.onnx", channels=1, units="J", description="test net", input_scale=1.0
    )
    assert path == tmp_path / "ising.onnx"
    _assert_single_file(tmp_path, path)
    assert model.training  # the module itself is untouched

    m = ednn.Model(path)
    assert (m.focus, m.context, m.ndim, m.channels, m.outputs) == ((1, 1), (1, 1), 2, 1, ("energy",))
    assert m.units == "J" and m.description == "test net" and m.metadata["ednn.input_scale"] == "1.0"

    tiles = np.random.default_rng(4).standard_normal((37, 1, 3, 3)).astype(np.float32)
    with torch.no_grad():
        want = model.net.eval()(torch.from_numpy(tiles)).numpy()
    np.testing.assert_allclose(_ort_run(path, tiles), want, rtol=1e-5, atol=1e-5)

    spins = _spins(np.random.default_rng(5), (4, 8, 8))
    got = ednn.predict(path, spins)
    with torch.no_grad():
        contrib = model.contributions(torch.from_numpy(spins)[:, None].float())[..., 0].numpy()
    # Both sides evaluate the same float32 network on the same tiles (per-tile differences ~1e-7
    # relative, from different GEMM summation orders); predict sums in float64, torch in float32.
    # The sum of 64 terms may cancel, so the error is bounded relative to sum |contribution|.
    np.testing.assert_allclose(got[:, 0], contrib.sum(axis=1), rtol=1e-5, atol=1e-5 * np.abs(contrib).sum(axis=1).max())


def test_export_multichannel_cnn_and_exact_net(tmp_path):
    torch.manual_seed(2)
    model = et.EDNN(et.PaperCNN(tile=(8, 12), channels=2, outputs=2), focus=(4, 4), context=(2, 4))
    path = et.export_onnx(model, tmp_path / "cnn.onnx", channels=2, outputs=["energy", "count"], spacing=0.25)
    _assert_single_file(tmp_path, path)
    m = ednn.Model(path)
    assert m.tile == (8, 12) and m.channels == 2 and m.outputs == ("energy", "count") and m.spacing == (0.25, 0.25)
    grid = np.random.default_rng(6).standard_normal((2, 2, 8, 16)).astype(np.float32)
    got = ednn.predict(path, grid)
    model.eval()
    with torch.no_grad():
        contrib = model.contributions(torch.from_numpy(grid)).numpy()
    np.testing.assert_allclose(got, contrib.sum(axis=1), rtol=1e-5, atol=1e-5 * np.abs(contrib).sum(axis=1).max())

    exact = et.EDNN(ExactIsingTile(), 1, 1)
    path = et.export_onnx(exact, tmp_path / "exact.onnx", channels=1)
    spins = _spins(np.random.default_rng(7), (3, 16, 16))
    np.testing.assert_array_equal(ednn.predict(path, spins)[:, 0], reference.ising_energy(spins))


class _Widen(nn.Module):
    """Tiles (N, 1, 4, 4) -> a (N, width, 4, 4) activation -> (N, 1): its largest tensor is known."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)).sum(dim=(1, 2, 3))[:, None]


@pytest.mark.parametrize("width, want", [(64, (32 << 20) // (4 * 64 * 16)), (4, 16384)])
def test_export_sizes_the_default_batch_by_the_largest_activation(tmp_path, width, want):
    """ednn.batch_tiles: 32 MiB of the largest intermediate tensor (64 x 4 x 4 floats a tile: 8192
    tiles), capped at DEFAULT_BATCH_TILES (4 x 4 x 4 floats: 131 072 -> 16 384); an explicit value wins."""
    model = et.EDNN(_Widen(width), focus=2, context=1)
    m = ednn.Model(et.export_onnx(model, tmp_path / "w.onnx", channels=1))
    assert m.batch_tiles == want
    assert ednn.inference.default_batch_size(m, 10**6) == min(want, ednn.inference.DEFAULT_BATCH_BYTES // 64)
    m = ednn.Model(et.export_onnx(model, tmp_path / "v.onnx", channels=1, batch_tiles=7))
    assert m.batch_tiles == 7 and ednn.inference.default_batch_size(m, 10**6) == 7


def test_export_dynamo_exporter(tmp_path):
    pytest.importorskip("onnxscript")
    torch.manual_seed(3)
    model = et.EDNN(nn.Sequential(nn.Flatten(), nn.Linear(8, 3), nn.Tanh(), nn.Linear(3, 1)), focus=2, context=1, ndim=1)
    path = et.export_onnx(model, tmp_path / "d.onnx", channels=2, exporter="dynamo")
    _assert_single_file(tmp_path, path)
    tiles = np.random.default_rng(8).standard_normal((5, 2, 4)).astype(np.float32)
    with torch.no_grad():
        want = model.net(torch.from_numpy(tiles)).numpy()
    np.testing.assert_allclose(_ort_run(path, tiles), want, rtol=1e-5, atol=1e-6)
    assert ednn.Model(path).ndim == 1


def test_export_errors(tmp_path):
    model = et.EDNN(et.IsingDNN(1, 1), 1, 1)
    with pytest.raises(InputError, match=r"model.net: expected an output of shape \(N, 2\)"):
        et.export_onnx(model, tmp_path / "a.onnx", channels=1, outputs=["a", "b"])
    with pytest.raises(InputError, match="model.net: expected to accept tiles"):
        et.export_onnx(model, tmp_path / "a.onnx", channels=3)
    with pytest.raises(InputError, match="model: expected an ednn.torch.EDNN"):
        et.export_onnx(model.net, tmp_path / "a.onnx", channels=1)
    with pytest.raises(InputError, match="channels"):
        et.export_onnx(model, tmp_path / "a.onnx", channels=0)
    with pytest.raises(InputError, match="outputs"):
        et.export_onnx(model, tmp_path / "a.onnx", channels=1, outputs=["a,b"])
    with pytest.raises(InputError, match="path"):
        et.export_onnx(model, tmp_path / "missing" / "a.onnx", channels=1)
    assert list(tmp_path.iterdir()) == []
