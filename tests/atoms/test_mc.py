"""ednn.mc: Metropolis Monte Carlo with local re-evaluation.

* the running energy after many moves equals a full evaluation (ednn.atoms.predict) to 1e-9;
* detailed balance: with a linear per-tile network whose weights vary along x, each atom feels an
  exactly known periodic potential u(x) (no interactions), and the sampled positions must follow
  exp(-u / kT);
* bad inputs are refused before any work.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("ase")
pytest.importorskip("onnx")
import ednn  # noqa: E402
from ednn import mc  # noqa: E402
from ednn.atoms.domain import MIN_DISTANCE  # noqa: E402
from ednn.data.sheets import honeycomb  # noqa: E402
from test_atoms_predict import linear_model  # noqa: E402

# incremental updates and the full evaluation see bitwise the same tile images and sum float64
# tile values in another order: agreement to ~1e-15 measured; the contract is 1e-9
RUNNING_RTOL = 1e-9
SHEETS = ednn.models.path("sheets")


def _random_moves(energy: mc.LocalEnergy, rng: np.random.Generator, n: int, size: float) -> int:
    accepted = 0
    for _ in range(n):
        i = int(rng.integers(len(energy.positions)))
        dE = energy.propose(i, energy.positions[i, :2] + rng.uniform(-size, size, 2))
        if dE < math.inf and rng.random() < 0.7:  # inf: the move would overlap two atoms
            energy.accept()
            accepted += 1
    return accepted


@pytest.mark.parametrize("repeat", [1, 2])
def test_running_energy_equals_full_evaluation(repeat):
    sheet = honeycomb((3 * repeat, 5 * repeat))
    e = mc.LocalEnergy(SHEETS, sheet)
    assert e.energy == pytest.approx(e.full_energy(), rel=RUNNING_RTOL)
    # large moves too: atoms cross cell edges and tile boundaries
    accepted = _random_moves(e, np.random.default_rng(repeat), 300, 0.8)
    assert accepted > 150
    assert e.energy == pytest.approx(e.full_energy(), rel=RUNNING_RTOL)
    assert np.all((e.positions[:, :2] >= 0) & (e.positions[:, :2] < e.lengths))


def test_running_energy_with_a_random_linear_model(tmp_path):
    # f = 4, c = 3: windows reach past neighbouring tiles; random weights see every pixel
    w = np.random.default_rng(3).normal(size=(10, 10, 1))
    path = linear_model(tmp_path / "lin.onnx", w, 4, 3, **{"ednn.gamma": "0.25", "ednn.spacing": "0.2",
                                                           "ednn.units": "eV"})
    rng = np.random.default_rng(4)
    pos = np.column_stack([rng.uniform(0, 6.4, (40, 2)), np.full(40, 5.0)])
    e = mc.LocalEnergy(path, pos, np.full(40, 6), (6.4, 4.8, 10.0), min_distance=None)  # test particles
    _random_moves(e, rng, 400, 1.0)
    assert e.energy == pytest.approx(e.full_energy(), rel=RUNNING_RTOL)


def _potential_model(tmp_path, amplitude: float):
    """Linear model, focus 8 x 8, no context: weights amplitude * cos(2 pi p / 8) along x."""
    p = np.arange(8)
    w = np.repeat((amplitude * np.cos(2 * np.pi * p / 8))[:, None], 8, axis=1)[..., None]
    return linear_model(tmp_path / "cos.onnx", w, 8, 0, **{"ednn.gamma": "0.2", "ednn.spacing": "0.1",
                                                           "ednn.units": "eV"})


def test_detailed_balance_in_a_known_potential(tmp_path):
    path = _potential_model(tmp_path, 0.02)
    cell = (3.2, 3.2, 10.0)  # 32 x 32 grid, period of u(x): 0.8 Angstrom
    xs = (np.arange(64) + 0.5) * 0.8 / 64
    u = np.array([ednn.atoms.predict(path, [[x, 1.3, 5.0]], [6], cell) for x in xs])
    amp = u.max() - u.min()
    assert amp > 0.01  # a real potential, not flat
    T = amp / (2.0 * mc.KB_EV)  # u spans 2 kT
    pos = np.column_stack([np.random.default_rng(5).uniform(0, 3.2, (12, 2)), np.full(12, 5.0)])
    e = mc.LocalEnergy(path, pos, np.full(12, 6), cell, min_distance=None)  # non-interacting: may overlap
    res = mc.run(e, temperature=T, steps=6000, seed=6, step=0.3, adapt=0, progress=False, check_every=2000)
    assert 0.2 < res.acceptance < 0.95 and len(res.checks) == 3
    # positions sampled every 10 steps after a burn-in, folded onto one period
    samples = []
    e2 = mc.LocalEnergy(path, e.positions, np.full(12, 6), cell, min_distance=None)
    rng = np.random.default_rng(7)
    for s in range(6000):
        i = int(rng.integers(12))
        dE = e2.propose(i, e2.positions[i, :2] + rng.uniform(-0.3, 0.3, 2))
        if dE <= 0 or rng.random() < math.exp(-dE / (mc.KB_EV * T)):
            e2.accept()
        if s % 10 == 0:
            samples.append(np.mod(e2.positions[:, 0], 0.8))
    x = np.concatenate(samples)
    bins = np.linspace(0, 0.8, 9)
    got = np.histogram(x, bins)[0] / len(x)
    boltz = np.exp(-(u - u.min()) / (mc.KB_EV * T))
    want = np.array([boltz[(xs >= a) & (xs < b)].sum() for a, b in zip(bins[:-1], bins[1:])]) / boltz.sum()
    # 7200 correlated samples (about 1000 independent ones): bin probabilities within 0.03; the
    # Boltzmann weights here range from ~0.03 to ~0.26 per bin, and uniform sampling (0.125) misses by > 0.08
    assert np.abs(got - want).max() < 0.03, (got, want)
    assert np.abs(want - 1 / 8).max() > 0.08


def test_moves_never_overlap_atoms():
    e = mc.LocalEnergy(SHEETS, honeycomb())
    target = e.positions[5, :2] + [0.2, 0.0]  # 0.2 Angstrom from atom 5
    assert e.propose(0, target) == math.inf
    with pytest.raises(ednn.InputError, match="accept: expected a proposed move first"):
        e.accept()
    res = mc.run(e, temperature=20000.0, steps=400, seed=3, step=0.6, adapt=0, progress=False)
    d = e.positions[:, None, :2] - e.positions[None, :, :2]
    d -= e.lengths * np.round(d / e.lengths)
    r = np.hypot(d[..., 0], d[..., 1]) + np.eye(len(d)) * 10
    assert r.min() >= MIN_DISTANCE and res.accepted > 50


def test_bad_inputs_refused(tmp_path):
    sheet = honeycomb()
    si = sheet.copy()
    si.numbers[5] = 14
    with pytest.raises(ednn.InputError, match=r"numbers: expected elements the model was trained on .* got Z = 14"):
        mc.LocalEnergy(SHEETS, si)
    rippled = sheet.copy()
    rippled.positions[3, 2] += 0.2
    with pytest.raises(ednn.InputError, match="expected a flat sheet"):
        mc.LocalEnergy(SHEETS, rippled)
    e = mc.LocalEnergy(SHEETS, sheet)
    for T in (0, -5.0, float("nan")):
        with pytest.raises(ednn.InputError, match="temperature: expected a finite temperature > 0 K"):
            mc.run(e, temperature=T, steps=10, progress=False)
    with pytest.raises(ednn.InputError, match="step: expected a positive step size"):
        mc.run(e, temperature=300.0, steps=10, step=0.0, progress=False)
    w = np.zeros((8, 8, 1))
    joules = linear_model(tmp_path / "j.onnx", w, 8, 0, **{"ednn.gamma": "0.2", "ednn.spacing": "0.1",
                                                           "ednn.units": "J"})
    with pytest.raises(ednn.InputError, match="expected energies in eV"):
        mc.LocalEnergy(joules, [[1.0, 1.0, 5.0]], [6], (3.2, 3.2, 10.0))


def test_trajectory_is_ase_readable(tmp_path):
    from ase.io import read

    e = mc.LocalEnergy(SHEETS, honeycomb())
    res = mc.run(e, temperature=1000.0, steps=60, seed=1, trajectory=tmp_path / "t.extxyz", write_every=20,
                 progress=False)
    frames = read(tmp_path / "t.extxyz", index=":")
    assert [f.info["step"] for f in frames] == [20, 40, 60]
    assert frames[-1].get_potential_energy() == pytest.approx(res.energy, rel=1e-12)
    np.testing.assert_allclose(frames[-1].positions, e.positions, atol=1e-8)


def test_command_line(tmp_path, capsys):
    from ase.io import read, write

    from ednn.cli import main

    write(tmp_path / "g.extxyz", honeycomb())
    argv = ["atoms", "mc", "sheets", str(tmp_path / "g.extxyz"), "--temperature", "1000", "--steps", "200",
            "--check-every", "100", "--out", str(tmp_path / "t.extxyz"), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "60 atoms, 4x4 tiles" in out and "2 full checks" in out
    assert len(read(tmp_path / "t.extxyz", index=":")) == 2
    assert main(argv) == 2  # never overwrites a trajectory
    assert "--out: expected a new file" in capsys.readouterr().err
    assert main(argv[:4] + ["--temperature=-1", "--steps", "10", "--no-progress"]) == 2
    assert "temperature: expected a finite temperature > 0 K" in capsys.readouterr().err
