"""Training CLI, export, evaluation and the shipped Ising model (needs the train extra)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("yaml")

import ednn  # noqa: E402
from ednn.data import ising  # noqa: E402
from ednn.cli import main  # noqa: E402
from ednn.train.config import load_config  # noqa: E402
from ednn.train.export import export_checkpoint  # noqa: E402
from ednn.train.loop import train  # noqa: E402


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    return ising.save(d / "ising8.npz", ising.sample(8, 600, (1.0, 4.0), seed=3))


def _cfg(data_path: Path, out: Path, **over) -> dict:
    base = dict(data=str(data_path), network="ising-dnn", focus=1, context=1, learning_rate=3e-3, batch_size=64,
                epochs=2, seed=0, validation_split=0.2, output_dir=str(out), checkpoint_every=1)
    base.update(over)
    return base


# ----------------------------------------------------------------------------- config errors
@pytest.mark.parametrize(
    "over,match",
    [
        ({"epochz": 3}, r"unknown key\(s\) 'epochz'"),
        ({"focus": 3}, r"config focus: .*size 8 of spatial axis 0 is not a multiple of the focus 3"),
        ({"data": "/nonexistent/file.npz"}, r"config data: expected an existing dataset file"),
        ({"network": "resnet"}, r"config network: expected one of ising-dnn, paper-cnn, small-cnn, density-cnn, got 'resnet'"),
        ({"learning_rate": -1}, r"config learning_rate: expected a positive number"),
        ({"batch_size": 0}, r"config batch_size: expected a positive integer, got 0"),
        ({"validation_split": 1.5}, r"config validation_split: expected a fraction"),
        ({"device": "tpu"}, r"config device: expected auto, cpu or cuda"),
    ],
)
def test_config_errors(small_data, tmp_path, over, match):
    with pytest.raises(ednn.InputError, match=match):
        load_config(_cfg(small_data, tmp_path, **over))
    assert not (tmp_path / "learning_curve.csv").exists()  # nothing started


def test_config_file_errors(tmp_path):
    with pytest.raises(ednn.InputError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "c.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ednn.InputError, match="expected a mapping"):
        load_config(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("network: ising-dnn\n")
    with pytest.raises(ednn.InputError, match="config data: expected a dataset path"):
        load_config(tmp_path / "d.yaml")


# ----------------------------------------------------------------------------- smoke training
def test_train_export_predict_resume(small_data, tmp_path):
    cfg = load_config(_cfg(small_data, tmp_path / "run"))
    s = train(cfg, progress=False, log=lambda *a: None)
    curve = (tmp_path / "run" / "learning_curve.csv").read_text().splitlines()
    assert curve[0].startswith("epoch,step,train_mse") and len(curve) == 3
    first_loss = float(curve[1].split(",")[2])
    # resume to 6 epochs: the curve continues, the loss goes down
    cfg6 = load_config(_cfg(small_data, tmp_path / "run", epochs=6))
    s6 = train(cfg6, resume=True, progress=False, log=lambda *a: None)
    curve = (tmp_path / "run" / "learning_curve.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in curve[1:]] == [1, 2, 3, 4, 5, 6]
    assert s6["steps"] == 3 * s["steps"]
    assert float(curve[-1].split(",")[2]) < first_loss

    with pytest.raises(ednn.InputError, match="focus: expected None for a ising-dnn checkpoint"):
        export_checkpoint(s6["last"], tmp_path / "m.onnx", focus=2)
    model_path = export_checkpoint(s6["last"], tmp_path / "m.onnx")
    m = ednn.Model(model_path)
    assert (m.focus, m.context, m.outputs, m.units) == ((1, 1), (1, 1), ("energy",), "J")
    assert "trained_on" in m.summary()

    # ednn.predict on the file == the torch EDNN on whole grids
    from ednn.torch import EDNN, IsingDNN

    ck = torch.load(s6["last"], weights_only=False)
    net = EDNN(IsingDNN(1, 1), 1, 1)
    net.load_state_dict(ck["model"])
    grids = ising.sample(16, 8, (1.0, 4.0), seed=9).spins
    with torch.no_grad():
        want = net(torch.from_numpy(grids[:, None].astype(np.float32))).double().numpy()[:, 0]
    got = ednn.predict(model_path, grids)[:, 0]
    # float32 networks in two runtimes: per-tile outputs agree to ~1e-6 relative, summed over 256 tiles
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_resume_without_checkpoint(small_data, tmp_path):
    cfg = load_config(_cfg(small_data, tmp_path / "empty"))
    with pytest.raises(ednn.InputError, match="--resume: expected a checkpoint"):
        train(cfg, resume=True, progress=False, log=lambda *a: None)


def test_cli_data_train_export_evaluate(tmp_path, capsys):
    data = tmp_path / "d.npz"
    assert main(["data", "ising", "--size", "8", "--count", "300", "--out", str(data), "--no-progress"]) == 0
    assert ising.load(data).spins.shape == (300, 8, 8)
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_cfg(Path("d.npz"), Path("run"), epochs=1)))
    assert main(["train", str(tmp_path / "c.yaml"), "--no-progress"]) == 0
    assert (tmp_path / "run" / "best.pt").is_file()  # relative paths resolve next to the config
    assert main(["export", str(tmp_path / "run" / "best.pt"), "--out", str(tmp_path / "m.onnx")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.onnx"), str(data), "--out-dir", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "MAE" in out and "per site" in out
    png = tmp_path / "d_parity.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    met = json.loads((tmp_path / "d_metrics.json").read_text())
    assert met["n"] == 300 and met["mae"] >= 0
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2


# ----------------------------------------------------------------------------- shipped model
@pytest.fixture(scope="module")
def shipped() -> Path:
    if "ising" not in ednn.models.available():
        pytest.fail("the trained Ising model is not shipped with the package")
    return ednn.models.path("ising")


def test_shipped_model_8x8(shipped):
    s = ising.sample(8, 2000, (1.0, 4.0), seed=2026)
    pred = ednn.predict(shipped, s.spins)[:, 0]
    mae = np.mean(np.abs(pred - s.energy))
    assert mae < 0.05, f"8x8 MAE {mae:.4f} J"


def test_shipped_model_128_near_tc(shipped):
    s = ising.sample(128, 16, (2.2, 2.35), seed=2027)
    pred = ednn.predict(shipped, s.spins)[:, 0]
    mae = np.mean(np.abs(pred - s.energy))
    assert mae < 1.0, f"128x128 MAE {mae:.4f} J"


def test_shipped_model_runs_in_plain_onnxruntime(shipped, tmp_path):
    """No ednn, no torch: cut the tiles per the file's contract with NumPy and sum ORT's outputs."""
    grid = ising.sample(32, 1, 2.3, seed=5).spins[0]
    np.save(tmp_path / "g.npy", grid)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np, onnxruntime as ort
        sess = ort.InferenceSession({str(shipped)!r}, providers=["CPUExecutionProvider"])
        meta = sess.get_modelmeta().custom_metadata_map
        per_axis = lambda key: [int(v) for v in meta[key].split(",")] * (2 if "," not in meta[key] else 1)
        (f0, f1), (c0, c1) = per_axis("ednn.focus"), per_axis("ednn.context")
        g = np.load({str(tmp_path / "g.npy")!r}).astype(np.float32)
        p = np.pad(g, ((c0, c0), (c1, c1)), mode="wrap")
        tiles = np.stack([p[i:i + f0 + 2 * c0, j:j + f1 + 2 * c1]
                          for i in range(0, g.shape[0], f0) for j in range(0, g.shape[1], f1)])[:, None]
        out = sess.run(None, {{sess.get_inputs()[0].name: tiles}})[0]
        assert "ednn" not in sys.modules and "torch" not in sys.modules
        print(repr(float(out.sum(dtype=np.float64))))
        """
    )
    res = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    plain = float(res.stdout.strip())
    # same float32 tile outputs; only the summation order differs
    assert plain == pytest.approx(ednn.predict(shipped, grid), rel=1e-12, abs=1e-9)


# ----------------------------------------------------------------------------- distinct-tile sums
def test_unique_tiles_equal_plain_sum():
    from ednn.train.dedup import UniqueTiles
    from ednn.torch import EDNN, IsingDNN

    torch.manual_seed(0)
    spins = ising.sample(8, 50, (1.0, 4.0), seed=4).spins[:, None]
    u = UniqueTiles.build(spins, 1, (1, 2), 2)
    assert u is not None and u.tiles.shape[1:] == (1, 3, 5)
    assert (u.counts.sum(axis=1) == 64).all()
    model = EDNN(IsingDNN(1, (1, 2)), 1, (1, 2))
    x = torch.from_numpy(spins.astype(np.float32))
    plain = model(x)
    dedup = u.forward(model.net, torch.from_numpy(u.counts).float(), torch.from_numpy(u.tiles.astype(np.float32)))
    # same float32 terms, summed in another order
    torch.testing.assert_close(dedup, plain, rtol=1e-5, atol=1e-4)
    # and the gradients agree too
    g1 = torch.autograd.grad(plain.sum(), list(model.parameters()))
    g2 = torch.autograd.grad(
        u.forward(model.net, torch.from_numpy(u.counts).float(), torch.from_numpy(u.tiles.astype(np.float32))).sum(),
        list(model.parameters()),
    )
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)


def test_unique_tiles_gives_up_on_continuous_data():
    from ednn.train.dedup import UniqueTiles

    g = np.random.default_rng(0).normal(size=(20, 1, 16, 16)).astype(np.float32)
    assert UniqueTiles.build(g, 1, 1, 2, max_unique=1000) is None


def test_demo_small(tmp_path, capsys):
    assert main(["demo", "ising", "--out", str(tmp_path / "demo"), "--count", "400", "--epochs", "2",
                 "--large-count", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Summary" in out and "128x128 T_c  MAE" in out
    for f in ("ising.onnx", "ising8_test_parity.png", "ising128_tc_parity.png", "demo_metrics.json"):
        assert (tmp_path / "demo" / f).is_file(), f
    assert ednn.Model(tmp_path / "demo" / "ising.onnx").outputs == ("energy",)


# ----------------------------------------------------------------------------- atoms: images -> CNN
def _torch_total(cfg, checkpoint, image: np.ndarray) -> float:
    """Total of a training checkpoint's torch EDNN on one image ``(C, S_1, S_2)``, in the data's units."""
    from ednn.torch import EDNN
    from ednn.train.config import build_network

    ck = torch.load(checkpoint, weights_only=False)
    net = EDNN(build_network(cfg, cfg.focus + 2 * cfg.context, ck["baseline_moments"]), cfg.focus, cfg.context)
    net.load_state_dict(ck["model"])
    with torch.no_grad():
        raw = float(net(torch.from_numpy(image[None])).double())
    n_tiles = (image.shape[-2] // cfg.focus) * (image.shape[-1] // cfg.focus)
    return raw * ck["output_scale"] + ck["output_offset"] * n_tiles


def test_train_small_cnn_on_labelled_sheets(tmp_path, labelled_sheets):
    path = labelled_sheets(tmp_path / "sheets.h5", 4, 1, thermal="rattle", snapshots=2)
    from ednn.data.atoms_h5 import load
    cfg = load_config(dict(data=str(path), network="small-cnn", focus=64, context=32, learning_rate=1e-3,
                           batch_size=2, epochs=2, validation_split=0, output_dir=str(tmp_path / "run")))
    s = train(cfg, progress=False, log=lambda *a: None)
    model_path = export_checkpoint(s["last"], tmp_path / "sheets.onnx")
    m = ednn.Model(model_path)
    assert m.units == "eV" and m.focus == (64, 64) and m.tile == (128, 128) and len(m.spacing) == 2
    assert m.metadata["ednn.gamma"] == "0.2" and m.output_scale is not None and m.output_offset is not None

    ds = load(path)
    recipe = ednn.atoms.ImageRecipe.from_dataset(ds.attrs)
    assert ednn.atoms.ImageRecipe.from_model(m) == recipe  # the model file images atoms as training did
    img = recipe.image(ds.positions(0), ds.numbers(0), ds.cells[0])[0]
    e_image = ednn.predict(m, img)
    e_atoms = ednn.atoms.predict(m, ds[0])
    ck = torch.load(s["last"], weights_only=False)
    assert ck["baseline_moments"] == len(m.metadata["ednn.species"].split(",")) and "ednn.species_energies" in m.metadata
    e_torch = _torch_total(cfg, s["last"], img[None])
    # float32 networks in two runtimes over 16 tiles of 128^2; totals of ~ -3500 eV
    assert e_image == pytest.approx(e_torch, rel=1e-5)
    assert float(np.asarray(e_atoms).reshape(-1)[0]) == pytest.approx(e_image, rel=1e-6)
    # standardised targets: the untrained-ish model already sits near the labels' mean
    assert abs(e_image - ds.energy.mean()) < 10 * max(ds.energy.std(), 1.0)


# ----------------------------------------------------------------------------- the per-species term
def test_focus_moments_sum_to_grid_moments_and_recover_species_energies(tmp_path):
    pytest.importorskip("ase")
    from ednn.data import sheets
    from ednn.torch import EDNN, FocusMoments, export_onnx
    from ednn.train.baseline import fit_moment_baseline, species_energies

    rng = np.random.default_rng(5)
    mu = {5: -61.5, 6: -57.8, 7: -66.2}  # made-up reference energies (eV/atom)
    images, energies = [], []
    for i in range(12):
        fam = ("graphene", "hbn", "hetero")[i % 3]
        a = sheets.hexagonal_sheet(fam, rng, vacancies=int(rng.integers(0, 4)))
        a.rattle(0.03, seed=i)
        images.append(ednn.rasterize(a, shape=(256, 256), gamma=0.2))
        energies.append(sum(mu[int(z)] for z in a.numbers))
    images = np.stack(images)
    a = fit_moment_baseline(images, energies, 3)
    got = species_energies(a, [5, 6, 7], list(sheets.BASE_SPACING), 0.2)
    for z, want in mu.items():
        # the fit is exact up to the ~1e-5 overlap of bonded Gaussians in sum V^2, which the
        # ill-conditioned 3x3 moment system (Z = 5, 6, 7) amplifies to ~1e-3 eV/atom
        assert got[str(z)] == pytest.approx(want, abs=0.01)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(128 * 128, 1))
    torch.nn.init.zeros_(net[1].weight)
    torch.nn.init.zeros_(net[1].bias)
    scale = 0.37
    model = EDNN(FocusMoments(net, 64, 32, a, scale), 64, 32)
    with torch.no_grad():
        per_tile = model(torch.from_numpy(images[:, None])).double().numpy()[:, 0] * scale
    from ednn.train.baseline import moment_matrix as _moment_matrix

    whole = _moment_matrix(images, 3) @ a
    # the bonded-overlap part of sum V^2 is left in the fit's residual: ~1 meV/atom here
    assert np.max(np.abs(whole - energies)) < 0.2
    # the focus regions partition the grid: tile terms sum to the whole image's moments; float32
    # per-tile outputs of ~ -900 eV / 0.37 summed over 16 tiles
    np.testing.assert_allclose(per_tile, whole, rtol=2e-6)
    path = tmp_path / "moments.onnx"
    export_onnx(model, path, channels=1, units="eV", output_scale=scale)
    np.testing.assert_allclose([ednn.predict(path, im) for im in images], whole, rtol=2e-6)


def test_atoms_evaluate_sizes_cli(tmp_path, capsys, labelled_sheets):
    pytest.importorskip("matplotlib")
    from ednn.cli import main

    # two small files stand in for two cell sizes (a 240-atom label costs ~10-40 s on 2 cores)
    small = labelled_sheets(tmp_path / "s60.h5", 4, 1, thermal="rattle", snapshots=2, defect_fraction=0.0)
    big = labelled_sheets(tmp_path / "other.h5", 1, 2, thermal="rattle", snapshots=1, defect_fraction=0.0,
                          families=("hbn",))
    cfg = load_config(dict(data=str(small), network="small-cnn", focus=32, context=16, downsample=2, pool=2, powers=2,
                           batch_size=2, epochs=1, validation_split=0, output_dir=str(tmp_path / "run")))
    last = train(cfg, progress=False, log=lambda *a: None)["last"]
    model = tmp_path / "m.onnx"
    assert main(["export", last, "--out", str(model), "--meta", "test_mae=1.5", "--meta", "ednn.note=a=b"]) == 0
    m = ednn.Model(model)
    assert m.metadata["ednn.test_mae"] == "1.5" and m.metadata["ednn.note"] == "a=b"
    assert main(["export", last, "--out", str(tmp_path / "x.onnx"), "--meta", "novalue"]) == 2
    assert "--meta: expected KEY=VALUE, got 'novalue'" in capsys.readouterr().err
    # downsample 2: the model works on 128 x 128 images of the 60-site cell, at twice the file's spacing
    assert m.tile == (64, 64)
    np.testing.assert_allclose(m.spacing, 2 * np.asarray(ednn.data.sheets.BASE_SPACING), rtol=1e-12)
    out = tmp_path / "eval"
    model = str(model)
    assert main(["atoms", "evaluate", model, str(small), str(big), "--xtb-samples", "1,1", "--threads", "1",
                 "--out-dir", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "| s60.h5 | 4 | 60 |" in text and "| other.h5 | 1 | 60 |" in text, text
    rows = json.loads((out / "sizes.json").read_text())["rows"]
    for r in rows:
        assert r["relabel_max_diff"] < 1e-6  # the same tblite calculation, repeated
        assert r["speedup"] == pytest.approx(r["xtb_seconds_here"] / r["ednn_seconds"])
    want = ednn.atoms.predict(model, ednn.data.atoms_h5.load(big)[0])
    e0 = ednn.data.atoms_h5.load(big).energy[0]
    assert rows[1]["mae_atom"] == pytest.approx(abs(want - e0) / 60 * 1e3, rel=1e-6)
    assert (out / "sizes.png").stat().st_size > 0 and (out / "other_parity.png").stat().st_size > 0


def test_downsample_and_pool_options(tmp_path, labelled_sheets):
    path = labelled_sheets(tmp_path / "s.h5", 1, 0, thermal="rattle", snapshots=1)
    from ednn.train.data import load_training_data
    from ednn.torch import SmallCNN
    full, half = load_training_data(path), load_training_data(path, 2)
    assert full.shape == (256, 256) and half.shape == (128, 128)
    assert half.metadata["spacing"] == pytest.approx([2 * v for v in full.metadata["spacing"]])
    # the same Gaussians sampled half as densely: sum(V) * cell area per point is the same integral
    assert half.grids.sum() * 4 == pytest.approx(full.grids.sum(), rel=1e-6)
    with pytest.raises(ednn.InputError, match="downsample: expected a positive int, got 0"):
        load_training_data(path, 0)
    with pytest.raises(ednn.InputError, match="config downsample: expected a positive integer, got 0"):
        load_config(dict(data=str(path), network="small-cnn", focus=64, context=32, downsample=0))
    with pytest.raises(ednn.InputError, match="downsample: expected a factor that leaves a whole number .*, got 3"):
        load_config(dict(data=str(path), network="small-cnn", focus=64, context=32, downsample=3))
    with pytest.raises(ednn.InputError, match="config focus"):
        load_config(dict(data=str(path), network="small-cnn", focus=48, context=16, downsample=2))
    with pytest.raises(ednn.InputError, match=r"pool: expected a positive int dividing the tile \(64, 64\), got 3"):
        SmallCNN(64, pool=3)
    assert SmallCNN(64, pool=2)(torch.zeros(3, 1, 64, 64)).shape == (3, 1)
    net = SmallCNN(64, powers=3)
    assert net.features[0].in_channels == 3 and net(torch.ones(2, 1, 64, 64)).shape == (2, 1)
    with pytest.raises(ednn.InputError, match="powers: expected an int in 1..4, got 0"):
        SmallCNN(64, powers=0)
    with pytest.raises(ednn.InputError, match=r"config powers: expected 1 for network paper-cnn"):
        load_config(dict(data=str(path), network="paper-cnn", focus=64, context=32, powers=2))


def test_train_with_bond_height_channel(tmp_path, labelled_sheets):
    """channels: [V, bond_dz2] trains a two-channel model whose file predicts atoms like its torch graph."""
    path = labelled_sheets(tmp_path / "sheets.h5", 2, 3, thermal="rattle", snapshots=2)
    from ednn.data.atoms_h5 import load
    from ednn.train.data import load_training_data
    from ednn.torch import SmallCNN
    data = load_training_data(path, 2, ["V", "bond_dz2"])
    assert data.grids.shape == (2, 2, 128, 128) and data.grids[:, 1].max() > 0.1
    np.testing.assert_array_equal(data.grids[:, 0], load_training_data(path, 2).grids[:, 0])
    assert data.metadata["channel_names"] == "V,bond_dz2"
    cfg = load_config(dict(data=str(path), network="small-cnn", focus=32, context=16, downsample=2, powers=3,
                           channels=["V", "bond_dz2"], batch_size=2, epochs=1, validation_split=0,
                           output_dir=str(tmp_path / "run")))
    s = train(cfg, progress=False, log=lambda *a: None)
    m = ednn.Model(export_checkpoint(s["last"], tmp_path / "two.onnx"))
    assert m.channels == 2 and m.metadata["ednn.channel_names"] == "V,bond_dz2"
    assert float(m.metadata["ednn.bond_cutoff"]) == ednn.atoms.bonds.BOND_CUTOFF
    ds = load(path)
    img = ednn.atoms.image(m, ds[1])
    assert img.shape == (2, 128, 128)
    e_torch = _torch_total(cfg, s["last"], img)
    # float32 networks in two runtimes over 16 tiles; totals of ~ -3500 eV
    assert ednn.atoms.predict(m, ds[1]) == pytest.approx(e_torch, rel=1e-5)
    assert ednn.predict(m, img) == pytest.approx(e_torch, rel=1e-5)
    # powers apply to channel 0 only: V, V^2, V^3 + bond heights
    assert SmallCNN(64, channels=2, powers=3).features[0].in_channels == 4
    # flatten: images of the flattened sheets, recorded in the model file
    flat = load_training_data(path, 2, None, True)
    assert flat.metadata["positions"] == "flattened" and flat.grids.shape == (2, 1, 128, 128)
    assert np.abs(flat.grids[:, 0] - data.grids[:, 0]).max() > 1e-3  # the thermal sheets moved in-plane
    cfg = load_config(dict(data=str(path), network="small-cnn", focus=32, context=16, downsample=2, flatten=True,
                           batch_size=2, epochs=1, validation_split=0, output_dir=str(tmp_path / "flat")))
    s = train(cfg, progress=False, log=lambda *a: None)
    m = ednn.Model(export_checkpoint(s["last"], tmp_path / "flat.onnx"))
    assert m.metadata["ednn.positions"] == "flattened" and ednn.atoms.ImageRecipe.from_model(m).flatten
    # one recipe: the model's images are exactly the training images
    recipe = ednn.atoms.ImageRecipe.from_model(m)
    assert recipe == ednn.atoms.ImageRecipe.from_dataset(ds.attrs, downsample=2, flatten=True)
    np.testing.assert_array_equal(ednn.atoms.image(m, ds[0]), flat.grids[0, 0])
    assert ednn.atoms.predict(m, ds[0]) == pytest.approx(ednn.predict(m, ednn.atoms.image(m, ds[0])), rel=1e-6)
    with pytest.raises(ednn.InputError, match="config flatten: expected true or false, got 'yes'"):
        load_config(dict(data=str(path), network="small-cnn", focus=32, context=16, downsample=2, flatten="yes"))
    with pytest.raises(ednn.InputError, match=r"config channels: expected 'V' first"):
        load_config(dict(data=str(path), network="small-cnn", focus=32, context=16, downsample=2,
                         channels=["bond_dz2"]))
