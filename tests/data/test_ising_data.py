"""ednn.data.ising: the vectorised Ising sampler, the exact finite-lattice reference, NPZ files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ednn import reference
from ednn.data import ising
from ednn.errors import InputError


def test_sample_shapes_dtypes_and_consistency():
    d = ising.sample(8, 300, seed=1, sweeps_equilibrate=4)
    assert len(d) == 300 and d.L == 8
    assert d.spins.shape == (300, 8, 8) and d.spins.dtype == np.int8
    assert set(np.unique(d.spins)) <= {-1, 1}
    for name in ("energy", "temperature", "magnetization"):
        arr = getattr(d, name)
        assert arr.shape == (300,) and arr.dtype == np.float64, name
    assert np.all(d.energy >= -2 * 64) and np.all(d.energy <= 2 * 64)
    np.testing.assert_array_equal(d.energy, reference.ising_energy(d.spins))
    np.testing.assert_array_equal(d.energy, ising.energy(d.spins))
    np.testing.assert_array_equal(d.magnetization, d.spins.sum(axis=(1, 2)))
    np.testing.assert_array_equal(d.magnetization, ising.magnetization(d.spins))
    assert np.all((d.temperature >= 1.0) & (d.temperature <= 4.0))
    assert len(np.unique(d.temperature)) == 300  # one chain per sample by default
    np.testing.assert_array_equal(d.chain, np.arange(300))
    s = d.settings
    assert (s["L"], s["count"], s["chains"], s["seed"], s["cluster"]) == (8, 300, 300, 1, True)
    assert s["temperatures"] == {"uniform": [1.0, 4.0]}
    json.dumps(s)


def test_sample_is_reproducible_and_independent_of_workers():
    a = ising.sample(6, 5000, seed=7, sweeps_equilibrate=3, workers=1)
    b = ising.sample(6, 5000, seed=7, sweeps_equilibrate=3, workers=2)  # several chunks in parallel
    np.testing.assert_array_equal(a.spins, b.spins)
    np.testing.assert_array_equal(a.temperature, b.temperature)
    c = ising.sample(6, 5000, seed=8, sweeps_equilibrate=3)
    assert not np.array_equal(a.spins, c.spins)
    d = ising.sample(4, 10, sweeps_equilibrate=1)
    e = ising.sample(4, 10, sweeps_equilibrate=1, seed=d.settings["seed"])  # recorded entropy
    np.testing.assert_array_equal(d.spins, e.spins)


def test_sample_chains_rounds_and_temperature_grid():
    d = ising.sample(4, 11, np.array([1.5, 3.0]), chains=4, sweeps_equilibrate=2, sweeps_between=1, seed=0)
    assert len(d) == 11  # 3 rounds of 4 chains, the last one partial
    np.testing.assert_array_equal(d.chain, [0, 1, 2, 3] * 2 + [0, 1, 2])
    np.testing.assert_array_equal(d.temperature, np.where(d.chain % 2 == 0, 1.5, 3.0))
    assert d.settings["temperatures"] == {"grid": [1.5, 3.0]}
    single = ising.sample(4, 3, 2.0, sweeps_equilibrate=1, seed=0)
    np.testing.assert_array_equal(single.temperature, [2.0] * 3)
    cold = ising.sample(4, 5, 0.5, sweeps_equilibrate=0, start="cold", seed=0)
    assert np.all(cold.spins == 1) and np.all(cold.energy == -32)


def test_energy_rejects_non_spins():
    with pytest.raises(InputError, match=r"spins: expected values \+-1, got 0"):
        ising.energy(np.zeros((4, 4)))
    with pytest.raises(InputError, match="at least 2 axes"):
        ising.energy(np.ones(4))
    assert ising.energy(np.ones((4, 4))) == -32.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(L=7, count=1), "L: expected an even lattice size"),
        (dict(L=0, count=1), "L: expected an int >= 2"),
        (dict(L=4, count=0), "count: expected an int >= 1"),
        (dict(L=4, count=2, chains=3), "chains: expected at most count=2"),
        (dict(L=4, count=2, temperatures=(3.0, 1.0)), "temperatures: expected a range"),
        (dict(L=4, count=2, temperatures=[1.0, -1.0]), "temperatures: expected finite temperatures > 0"),
        (dict(L=4, count=2, start="warm"), "start: expected 'hot' or 'cold'"),
        (dict(L=4, count=2, sweeps_between=0), "sweeps_between: expected an int >= 1"),
        (dict(L=4, count=2, seed=-1), "seed"),
    ],
)
def test_sample_input_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        ising.sample(**kwargs)


# ----------------------------------------------------------------------------- equilibrium checks


@pytest.mark.parametrize("T", [1.0, 2.269, 3.5])
def test_exact_moments_match_enumeration(T):
    # All 2^16 states of the 4 x 4 torus.
    states = np.arange(2**16)
    spins = (1 - 2 * ((states[:, None] >> np.arange(16)) & 1)).reshape(-1, 4, 4)
    E = reference.ising_energy(spins)
    w = np.exp(-(E - E.min()) / T)
    w /= w.sum()
    mean = float(w @ E)
    var = float(w @ (E - mean) ** 2)
    got_mean, got_var = ising.exact_energy_moments(4, T)
    assert got_mean == pytest.approx(mean, rel=1e-7)
    assert got_var == pytest.approx(var, rel=1e-5)


def test_exact_moments_limits():
    # T -> 0: ground state E = -2 L^2; T -> infinity: E -> 0 with variance 2 L^2 (independent bonds).
    mean, var = ising.exact_energy_moments(6, 0.2)
    assert mean == pytest.approx(-72, abs=1e-6) and var < 1e-6
    mean, var = ising.exact_energy_moments(6, 1e4)
    assert mean == pytest.approx(0, abs=0.05) and var == pytest.approx(72, rel=1e-3)
    with pytest.raises(InputError, match="L: expected an int in 2..12"):
        ising.exact_energy_moments(13, 1.0)


def _check_equilibrium(energies: np.ndarray, L: int, T: float, check_variance: bool = True) -> None:
    """Sample mean (and variance) of E against the exact finite-lattice values.

    The samples come from independent chains, so the sample mean has standard error
    sqrt(Var E / n); 4.5 standard errors bounds a false alarm at about 1e-5 per check. The sample
    variance of n = 2000 energies has a relative spread of a few per cent away from T -> 0, so
    +-20 % is loose for a correct sampler while a non-equilibrated one misses it by far.
    """
    n = len(energies)
    mean, var = ising.exact_energy_moments(L, T)
    stderr = np.sqrt(var / n)
    assert abs(energies.mean() - mean) < 4.5 * stderr, (T, energies.mean(), mean, stderr)
    if check_variance:
        assert 0.8 < energies.var() / var < 1.25, (T, energies.var(), var)


@pytest.mark.parametrize("start", ["hot", "cold"])
@pytest.mark.parametrize("T", [1.0, 1.5, ising.T_CRITICAL, 3.5])
def test_sampler_is_equilibrated(T, start):
    d = ising.sample(8, 2000, T, start=start, seed=11)
    _check_equilibrium(d.energy, 8, T, check_variance=T > 1.2)


def test_metropolis_alone_is_correct_above_tc():
    d = ising.sample(8, 2000, 3.5, cluster=False, sweeps_equilibrate=100, seed=12)
    _check_equilibrium(d.energy, 8, 3.5)


def test_samples_of_one_chain_stay_in_equilibrium():
    d = ising.sample(8, 2000, 2.0, chains=500, sweeps_between=4, seed=13)
    # 4 samples per chain are not independent; check each round (independent chains) separately.
    for r in range(4):
        _check_equilibrium(d.energy[r * 500 : (r + 1) * 500], 8, 2.0, check_variance=False)


def test_equilibrium_check_detects_unequilibrated_samples():
    raw = ising.sample(8, 2000, 1.5, sweeps_equilibrate=0, seed=14)  # random spins
    with pytest.raises(AssertionError):
        _check_equilibrium(raw.energy, 8, 1.5)
    wrong_T = ising.sample(8, 2000, 1.8, seed=15)
    with pytest.raises(AssertionError):
        _check_equilibrium(wrong_T.energy, 8, 1.7)


def test_cluster_updates_flip_the_magnetisation_below_tc():
    # Below T_c single-spin Metropolis almost never reverses an ordered 8 x 8 lattice; with
    # Swendsen-Wang both signs are equally likely, even from a cold (all +1) start.
    d = ising.sample(8, 1000, 1.5, start="cold", seed=16)
    frac_up = np.mean(d.magnetization > 0)
    assert 0.4 < frac_up < 0.6
    m = ising.sample(8, 1000, 1.5, start="cold", cluster=False, seed=16)
    assert np.all(m.magnetization > 0)


# -------------------------------------------------------------------------------------------- files


def test_save_load_round_trip(tmp_path):
    d = ising.sample(4, 50, chains=10, seed=3, sweeps_equilibrate=2)
    path = ising.save(tmp_path / "ising.npz", d)
    assert path == tmp_path / "ising.npz" and sorted(p.name for p in tmp_path.iterdir()) == ["ising.npz"]
    e = ising.load(path)
    for k in ("spins", "energy", "temperature", "magnetization", "chain"):
        np.testing.assert_array_equal(getattr(e, k), getattr(d, k))
        assert getattr(e, k).dtype == getattr(d, k).dtype
    assert e.settings == d.settings

    as_dict = {k: getattr(d, k) for k in ("spins", "energy", "temperature", "magnetization", "settings")}
    e2 = ising.load(ising.save(tmp_path / "b", as_dict))
    np.testing.assert_array_equal(e2.chain, np.arange(50))


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="expected an existing NPZ file.*no such file"):
        ising.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "partial.npz", spins=np.ones((2, 4, 4), np.int8), temperature=np.ones(2))
    with pytest.raises(InputError, match=r"missing \['energy', 'magnetization', 'chain', 'settings'\]"):
        ising.load(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="expected an NPZ file"):
        ising.load(tmp_path / "junk.npz")
    with pytest.raises(InputError, match="data: expected keys"):
        ising.save(tmp_path / "x.npz", {"spins": np.ones((2, 4, 4))})
    bad = {"spins": np.ones((2, 4, 4)), "energy": np.ones(3), "temperature": np.ones(2),
           "magnetization": np.ones(2), "settings": {}}
    with pytest.raises(InputError, match=r"data.energy: expected shape \(2,\)"):
        ising.save(tmp_path / "x.npz", bad)


def test_progress_bar(capsys):
    ising.sample(4, 20, sweeps_equilibrate=2, seed=0, progress=True)
    assert "ising sample" in capsys.readouterr().err
