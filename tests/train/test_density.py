"""DensityCNN (per-pixel energy densities summed over the focus) and random rigid moves in training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import ednn  # noqa: E402
from ednn.torch import EDNN, DensityCNN, FocusMoments, export_onnx  # noqa: E402


def _model(focus=32, context=16, **kw) -> EDNN:
    torch.manual_seed(0)
    net = FocusMoments(DensityCNN(focus, context, **kw), focus, context, [0.05, -0.004, 3e-4], 2.0)
    m = EDNN(net, focus, context).double()
    m.requires_grad_(False)
    return m


@pytest.mark.parametrize("shape", [(64, 64), (128, 96), (32, 160)])
def test_periodic_sum_equals_sum_over_tiles(shape):
    m = _model()
    x = torch.rand((3, 1) + shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 6
    whole = m(x)  # each pixel once (periodic padding)
    tiles = m.contributions(x).sum(dim=1)  # the tiles the runtime sees
    torch.testing.assert_close(whole, tiles, rtol=1e-12, atol=1e-9)


def test_whole_stride_shifts_are_exact_and_others_are_not():
    m = _model()
    x = torch.rand((2, 1, 64, 96), dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 6
    e = m(x)
    for shift in ((2, 0), (0, 4), (6, 10), (32, 32)):
        torch.testing.assert_close(m(torch.roll(x, shift, (2, 3))), e, rtol=1e-13, atol=1e-9)
    # one pixel is not a whole coarse pixel: the untrained network changes (what training must learn)
    assert float((m(torch.roll(x, (1, 0), (2, 3))) - e).abs().max()) > 1e-6


def test_context_wider_than_the_grid_wraps_like_the_tiling():
    m = _model(focus=16, context=32, dilations=(2, 4, 4, 6))
    x = torch.rand((1, 1, 16, 48), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(m(x), m.contributions(x).sum(dim=1), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("kw,match", [
    (dict(dilations=(4, 4, 4, 4)), r"dilations: expected a receptive field within the context \(sum <= 8"),
    (dict(focus=31), r"focus, context: expected multiples of the stride 2"),
    (dict(widths=(16, 16), dilations=(1,)), r"widths, dilations: expected equal-length lists"),
    (dict(powers=5), r"powers: expected an int in 1..4, got 5"),
])
def test_bad_geometry_is_refused(kw, match):
    with pytest.raises(ednn.InputError, match=match):
        DensityCNN(**{"focus": 32, "context": 16, **kw})


def test_export_and_onnx_runtime_agree_with_torch(tmp_path):
    m = _model().float()
    path = export_onnx(m, tmp_path / "d.onnx", channels=1, units="eV")
    x = np.random.default_rng(4).random((1, 64, 96), dtype=np.float32) * 6
    with torch.no_grad():
        e_torch = float(m(torch.from_numpy(x[None])).double())
    # float32 graphs in two runtimes over 6 tiles of ~1e3 each
    assert ednn.predict(path, x) == pytest.approx(e_torch, rel=2e-5)
    # whole-stride shifts are exact through the runtime's tiling too, up to float32 summation order
    assert ednn.predict(path, np.roll(x, (2, 2), (1, 2))) == pytest.approx(ednn.predict(path, x), rel=1e-6)


def test_augmented_training_moves_every_sheet_every_epoch(tmp_path, labelled_sheets):
    path = labelled_sheets(tmp_path / "sheets.h5", 2, 5, thermal="rattle", snapshots=2)
    from ednn.train.config import load_config
    from ednn.train.data import load_training_data
    from ednn.train.export import export_checkpoint
    from ednn.train.loop import train

    data = load_training_data(path, 2, None, True)
    n = len(data.targets)
    assert data.sheets is not None and len(data.sheets.positions) == n >= 2
    a = np.zeros_like(data.grids)
    b = np.zeros_like(data.grids)
    data.sheets.images(np.arange(n), 0, 3, a)
    data.sheets.images(np.arange(n), 0, 3, b)
    np.testing.assert_array_equal(a, b)  # the epoch's draws are reproducible (resume)
    data.sheets.images(np.arange(n), 0, 4, b)
    assert np.abs(a - b).max() > 1.0  # another epoch, other moves
    assert not np.array_equal(a, data.grids)  # and not the sheets as stored
    # a move keeps the image's content: the same moments (atoms by species), to float32 rounding of the
    # images (the moments are exact to 1e-7 at two grid points per gamma)
    for k in (1, 2, 3):
        np.testing.assert_allclose((a.astype(np.float64)**k).sum(axis=(1, 2, 3)),
                                   (data.grids.astype(np.float64)**k).sum(axis=(1, 2, 3)), rtol=1e-5)
    # samples with two atoms closer than the training minimum are left out (broken snapshots); raised
    # between the shortest bonds of these rattled samples, it leaves the samples below it out
    import ednn.train.data as tdata
    from ednn.atoms.bonds import bonds
    from ednn.data.atoms_h5 import load

    ds = load(path)
    shortest = [float(np.min(np.linalg.norm(bonds(ds.positions(i), ds.cells[i], 1.6)[2], axis=1))) for i in range(n)]
    cut = float(np.mean(sorted(shortest)[:2]))  # between the two shortest: one sample below, the rest above
    short = [i for i in range(n) if shortest[i] < cut]
    assert len(short) == 1
    old = tdata.TRAIN_MIN_DISTANCE
    try:
        tdata.TRAIN_MIN_DISTANCE = cut
        tdata._CACHE.clear()
        fewer = load_training_data(path, 2, None, True)
    finally:
        tdata.TRAIN_MIN_DISTANCE = old
        tdata._CACHE.clear()
    assert list(fewer.dropped) == short and len(fewer.targets) == n - len(short)
    kept = [i for i in range(n) if i not in short]
    np.testing.assert_array_equal(fewer.targets, ds.energy[kept])
    cfg = load_config(dict(data=str(path), network="density-cnn", focus=32, context=16, downsample=2, powers=3,
                           flatten=True, augment=True, batch_size=2, epochs=2, validation_split=0,
                           output_dir=str(tmp_path / "run")))
    s = train(cfg, progress=False, log=lambda *a: None)
    m = ednn.Model(export_checkpoint(s["last"], tmp_path / "d.onnx"))
    # exported with every pixel phase averaged: one more pixel of context per side
    assert m.focus == (32, 32) and m.context == (17, 17) and m.metadata["ednn.positions"] == "flattened"
    img = ednn.atoms.image(m, data_atoms(path, 0))
    e = float(np.asarray(ednn.predict(m, img)).ravel()[0])
    for shift in ((1, 0), (0, 1), (1, 1), (5, 2)):  # whole pixels: exact up to float32 sums of ~ -3500 eV
        assert float(np.asarray(ednn.predict(m, np.roll(img, shift, (0, 1)))).ravel()[0]) == pytest.approx(e, rel=2e-7)
    # any focus that divides the grid gives the same sum of one density (the 128 x 128 image: one tile
    # of focus 128, two of (64, 128), ...); float32 per-tile sums of ~ -3500 eV in another order
    for focus in (64, 128, (64, 128), (128, 32)):
        mf = ednn.Model(export_checkpoint(s["last"], tmp_path / "f.onnx", focus=focus, overwrite=True))
        f2 = (focus, focus) if isinstance(focus, int) else focus
        assert mf.focus == f2 and mf.context == (17, 17)
        if m.output_offset is not None:  # per tile, so it scales with the focus area
            np.testing.assert_allclose(mf.output_offset, m.output_offset * f2[0] * f2[1] / 32**2, rtol=1e-12)
        assert float(np.asarray(ednn.predict(mf, img)).ravel()[0]) == pytest.approx(e, rel=1e-6)
    with pytest.raises(ednn.InputError, match=r"focus: expected multiples of the network's stride 2, got \(33, 33\)"):
        export_checkpoint(s["last"], tmp_path / "g.onnx", focus=33)
    assert not (tmp_path / "g.onnx").exists()
    with pytest.raises(ednn.InputError, match=r"config augment: expected true or false, got 'yes'"):
        load_config(dict(data=str(path), network="density-cnn", focus=32, context=16, downsample=2, augment="yes"))


def data_atoms(path, i):
    from ednn.data.atoms_h5 import load

    return load(path)[i]


def test_augment_is_refused_for_spins(tmp_path):
    from ednn.data import ising
    from ednn.train.config import load_config

    path = ising.save(tmp_path / "i.npz", ising.sample(8, 20, (1.0, 4.0), seed=3))
    with pytest.raises(ednn.InputError, match=r"config augment: expected false for ising data"):
        load_config(dict(data=str(path), network="ising-dnn", focus=1, context=1, augment=True))


def test_widths_and_dilations_in_the_config(tmp_path):
    from ednn.data import ising
    from ednn.train.config import load_config
    from ednn.train.config import build_network

    path = ising.save(tmp_path / "i.npz", ising.sample(32, 4, (1.0, 4.0), seed=3))
    cfg = load_config({"data": str(path), "network": "density-cnn", "focus": 16, "context": 12,
                       "widths": [8, 12], "dilations": [2, 4]})
    net = build_network(cfg, 40)
    convs = [m for m in net.layers if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs[1:3]] == [8, 12] and [c.dilation for c in convs[1:3]] == [(2, 2), (4, 4)]
    with pytest.raises(ednn.InputError, match=r"dilations: expected a receptive field within the context"):
        load_config({"data": str(path), "network": "density-cnn", "focus": 16, "context": 12, "widths": [8, 12],
                     "dilations": [4, 4]})
    with pytest.raises(ednn.InputError, match=r"config widths/dilations: expected nothing for network ising-dnn"):
        load_config({"data": str(path), "network": "ising-dnn", "focus": 1, "context": 1, "widths": [8]})
    with pytest.raises(ednn.InputError, match=r"config widths: expected a list of positive integers"):
        load_config({"data": str(path), "network": "density-cnn", "focus": 16, "context": 12, "widths": "wide"})


@pytest.mark.parametrize("shape", [(64, 64), (96, 32)])
def test_phase_average_is_the_mean_over_one_pixel_shifts_and_exact_under_them(shape):
    m = _model()
    x = torch.rand((2, 1) + shape, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) * 6
    shifted = [m(torch.roll(x, (a, b), (2, 3))) for a in range(2) for b in range(2)]
    want = torch.stack(shifted).mean(dim=0)  # the four phases = the four one-pixel shifts
    assert float((shifted[0] - shifted[1]).abs().max()) > 1e-6  # they differ: the average is a real change
    net = m.net.net
    net.average_phases()
    assert net.tile_context == (17, 17)
    ph = EDNN(m.net, 32, 17)
    m.net.context = (17, 17)  # the per-species term reads the focus of the wider tiles
    got = ph.contributions(x).sum(dim=1)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-9)
    for shift in ((1, 0), (0, 1), (3, 5)):  # whole pixels, not only whole strides: exact
        torch.testing.assert_close(ph.contributions(torch.roll(x, shift, (2, 3))).sum(dim=1), got, rtol=1e-12, atol=1e-9)


def test_mirror_average_is_exact_under_mirrors_of_the_grid():
    m = _model()
    net = m.net.net
    net.average_phases()
    m.net.context = net.tile_context
    ph = EDNN(m.net, 32, net.tile_context)
    x = torch.rand((2, 1, 64, 96), dtype=torch.float64, generator=torch.Generator().manual_seed(8)) * 6
    e = ph.contributions(x).sum(dim=1)
    flipped = x.flip(2)  # pixel i -> -1 - i
    assert float((ph.contributions(flipped).sum(dim=1) - e).abs().max()) > 1e-6  # not invariant by itself
    net.average_mirrors()
    e = ph.contributions(x).sum(dim=1)
    for g in (x.flip(2), x.flip(3), x.flip(2, 3), torch.roll(x.flip(2), 1, 2), torch.roll(x.flip(3), (3, 7), (2, 3))):
        torch.testing.assert_close(ph.contributions(g).sum(dim=1), e, rtol=1e-12, atol=1e-9)


def test_fine_tuning_starts_from_the_checkpoint_as_it_is(tmp_path, labelled_sheets):
    # a run on B/C/N sheets (three moments in its per-species term) fine-tuned on graphene (one species)
    hetero = labelled_sheets(tmp_path / "hetero.h5", 2, 7, thermal="rattle", snapshots=2, families=("hetero",))
    path = labelled_sheets(tmp_path / "sheets.h5", 2, 7, thermal="rattle", snapshots=2, families=("graphene",))
    from ednn.train.config import load_config
    from ednn.train.export import export_checkpoint
    from ednn.train.loop import train

    base = dict(data=str(path), network="density-cnn", focus=32, context=16, downsample=2, powers=3, flatten=True,
                batch_size=2, epochs=1, validation_split=0)
    src = train(load_config(dict(base, data=str(hetero), output_dir=str(tmp_path / "src"))), progress=False,
                log=lambda *a: None)
    lines: list[str] = []
    # a learning rate that moves nothing: the fine-tuned model is the checkpoint's network, per-species term
    # and output scaling, so it predicts what the checkpoint predicts
    cfg = load_config(dict(base, init=src["last"], learning_rate=1e-12, output_dir=str(tmp_path / "ft")))
    ft = train(cfg, progress=False, log=lines.append)
    assert any("starting from" in ln and "src" in ln for ln in lines)
    a = ednn.Model(export_checkpoint(src["last"], tmp_path / "a.onnx"))
    b = ednn.Model(export_checkpoint(ft["last"], tmp_path / "b.onnx"))
    assert b.output_offset == pytest.approx(a.output_offset, rel=1e-12)
    assert b.output_scale == pytest.approx(a.output_scale, rel=1e-12)
    img = ednn.atoms.image(a, data_atoms(path, 1))
    e_a = float(np.asarray(ednn.predict(a, img)).ravel()[0])
    # float32 graphs whose weights moved by ~1e-12: equal to float32 rounding of a ~ -3500 eV sum
    assert float(np.asarray(ednn.predict(b, img)).ravel()[0]) == pytest.approx(e_a, rel=1e-6)
    # a checkpoint of another network shape, or no checkpoint, is refused before any training
    with pytest.raises(ednn.InputError, match=r"config init: expected a checkpoint with context \(20, 20\) like this run, "
                                                r"got '.*last.pt with context \(16, 16\)'"):
        load_config(dict(base, context=20, init=src["last"], output_dir=str(tmp_path / "x")))
    with pytest.raises(ednn.InputError, match=r"config init: expected an existing training checkpoint or model file, got '.*nothing.pt'"):
        load_config(dict(base, init=str(tmp_path / "nothing.pt"), output_dir=str(tmp_path / "x")))
    # species the checkpoint never saw (a graphene run started on B/C/N sheets)
    with pytest.raises(ednn.InputError, match=r"config init: expected a checkpoint that knows the data's species "
                                                r"\[5, 6, 7\], got '.*with species \[6\] \(missing \[5, 7\]\)'"):
        load_config(dict(base, data=str(hetero), init=ft["last"], output_dir=str(tmp_path / "x")))
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ednn.InputError, match=r"config init: expected a training checkpoint"):
        load_config(dict(base, init=str(tmp_path / "junk.pt"), output_dir=str(tmp_path / "x")))
    assert not (tmp_path / "x").exists()


def test_a_wider_network_starts_with_the_narrower_ones_outputs():
    from ednn.train.widen import widen_state

    narrow, wide = _model(widths=(8, 8, 16, 16)), _model(widths=(12, 8, 24, 16))
    wide.load_state_dict(widen_state(narrow.state_dict(), wide.state_dict()))
    x = torch.rand((2, 1, 64, 96), dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 6
    torch.testing.assert_close(wide(x), narrow(x), rtol=1e-13, atol=1e-10)
    # the new channels are there (fresh weights in) and only their way out is closed
    w = wide.state_dict()["net.net.layers.2.weight"]  # (12, 12, 3, 3): the first 3x3 convolution
    assert float(w[8:].abs().sum()) > 0 and float(w[:8, 8:].abs().sum()) == 0
    with pytest.raises(ednn.InputError, match=r"init: expected a checkpoint whose net.net.layers.0.weight fits in "
                                                r"this run's \(8, 3, 2, 2\) \(widths may only grow\), got \(12, 3, 2, 2\)"):
        widen_state(wide.state_dict(), narrow.state_dict())


def test_fine_tuning_a_wider_network(tmp_path, labelled_sheets):
    path = labelled_sheets(tmp_path / "sheets.h5", 2, 7, thermal="rattle", snapshots=2, families=("graphene",))
    from ednn.train.config import load_config
    from ednn.train.export import export_checkpoint
    from ednn.train.loop import train

    base = dict(data=str(path), network="density-cnn", focus=32, context=16, downsample=2, powers=3, flatten=True,
                batch_size=2, epochs=1, validation_split=0, widths=[8, 8, 16, 16], dilations=[1, 2, 2, 3])
    src = train(load_config(dict(base, output_dir=str(tmp_path / "src"))), progress=False, log=lambda *a: None)
    lines: list[str] = []
    cfg = load_config(dict(base, widths=[16, 8, 24, 16], init=src["last"], learning_rate=1e-12,
                           output_dir=str(tmp_path / "wide")))
    wide = train(cfg, progress=False, log=lines.append)
    assert any("widths [8, 8, 16, 16] grown to [16, 8, 24, 16]" in ln for ln in lines)
    a = ednn.Model(export_checkpoint(src["last"], tmp_path / "a.onnx"))
    b = ednn.Model(export_checkpoint(wide["last"], tmp_path / "b.onnx"))
    img = ednn.atoms.image(a, data_atoms(path, 1))
    # float32 graphs, weights moved by ~1e-12: equal to float32 rounding of a ~ -3500 eV sum
    assert float(np.asarray(ednn.predict(b, img)).ravel()[0]) == pytest.approx(
        float(np.asarray(ednn.predict(a, img)).ravel()[0]), rel=1e-6)
    # fewer layers or a narrower layer is refused before any training
    with pytest.raises(ednn.InputError, match=r"config init: expected a checkpoint with widths \[8, 4, 16, 16\] like this run"):
        load_config(dict(base, widths=[8, 4, 16, 16], init=src["last"], output_dir=str(tmp_path / "x")))
    assert not (tmp_path / "x").exists()
