"""The sheets generator's training-distribution options: random registry, a temperature range,
Gaussian rattles; and that the defaults still write the settings string of older files."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ase")
import ednn  # noqa: E402
from ednn.data.sheets import SheetsConfig, config_from_dict, generate  # noqa: E402


def test_defaults_keep_the_old_settings_string():
    d = SheetsConfig().to_dict()
    assert not {"registry", "temperature_max", "rattle_fraction", "rattle_max"} & set(d)
    assert config_from_dict(d) == SheetsConfig()
    c = SheetsConfig(registry="random", temperature=0.0, temperature_max=1500.0, rattle_fraction=0.25)
    assert config_from_dict(c.to_dict()) == c


def test_random_registry_moves_the_sheet_rigidly():
    fixed = generate(SheetsConfig(thermal="none", snapshots=1, defect_fraction=0.0), 3, 0)[0]
    moved_cfg = SheetsConfig(thermal="none", snapshots=1, defect_fraction=0.0, registry="random")
    shifts = []
    for t in range(4):
        a = generate(moved_cfg, 3, t)[0]
        shift = np.asarray(a.info["registry_shift"])
        shifts.append(shift)
        L = a.cell.lengths()[:2]
        assert np.all((0 <= shift) & (shift < L))
        # same lattice, moved: every atom of `a` is an atom of the fixed sheet plus the shift, mod the cell
        want = np.mod(fixed.positions[:, :2] + shift, L)
        d = np.abs(want[:, None, :] - a.positions[None, :, :2])
        d = np.minimum(d, L - d)
        assert np.max(np.min(np.hypot(d[..., 0], d[..., 1]), axis=0)) < 1e-9
    assert len({tuple(np.round(s, 6)) for s in shifts}) == 4


def test_temperature_range_and_gaussian_rattles():
    c = SheetsConfig(thermal="rattle", snapshots=2, temperature=0.0, temperature_max=1500.0)
    temps = [generate(c, 7, t)[0].info["temperature"] for t in range(8)]
    assert all(0.0 <= T <= 1500.0 for T in temps) and np.std(temps) > 100.0
    r = SheetsConfig(snapshots=3, rattle_fraction=1.0, rattle_max=0.06, defect_fraction=0.0)
    ideal = generate(SheetsConfig(thermal="none", snapshots=1, defect_fraction=0.0), 7, 0)[0]
    for t in range(3):
        frames = generate(r, 7, t)
        sigma = frames[0].info["rattle_sigma"]
        assert all(f.info["thermal"] == "gaussian" for f in frames) and 0.0 <= sigma <= 0.06
        d = frames[0].positions - ideal.positions
        d[:, :2] -= ideal.cell.lengths()[:2] * np.round(d[:, :2] / ideal.cell.lengths()[:2])
        # 180 Gaussian components: their standard deviation is within ~20 % of sigma (5 sigma of the estimate)
        assert np.std(d) == pytest.approx(sigma, rel=0.3, abs=1e-3)
        assert not np.allclose(frames[0].positions, frames[1].positions)  # independent per snapshot


@pytest.mark.parametrize("kw,match", [
    ({"registry": "shifted"}, "registry: expected one of fixed, random"),
    ({"temperature": 500.0, "temperature_max": 100.0}, "temperature_max: expected None or a finite value >= temperature"),
    ({"rattle_fraction": 1.5}, "rattle_fraction: expected a probability"),
    ({"rattle_max": -0.1}, "rattle_max: expected a standard deviation"),
])
def test_bad_options_refused(kw, match):
    with pytest.raises(ednn.InputError, match=match):
        SheetsConfig(**kw)


def test_command_line_options(tmp_path, capsys):
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    import json

    from ednn.cli import main
    from ednn.data.atoms_h5 import load

    out = tmp_path / "d.h5"
    assert main(["data", "sheets", "--count", "2", "--out", str(out), "--workers", "0", "--thermal", "rattle",
                 "--snapshots", "2", "--registry", "random", "--temperature", "0", "--temperature-max", "1500",
                 "--rattle-fraction", "0.5", "--rattle-max", "0.05", "--no-progress"]) == 0
    gen = json.loads(load(out).attrs["generator"])
    assert gen["registry"] == "random" and gen["temperature_max"] == 1500.0 and gen["rattle_fraction"] == 0.5
    assert gen["rattle_max"] == 0.05 and gen["temperature"] == 0.0
