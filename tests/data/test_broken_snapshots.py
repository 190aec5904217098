"""Broken snapshots (two atoms closer than any bond) are recorded as failed, never labelled or trained on."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ase")
pytest.importorskip("h5py")

from ednn.atoms.domain import BROKEN_DISTANCE, broken_pair  # noqa: E402
from ednn.data import sheets  # noqa: E402


def test_broken_pair_names_the_closest_pair():
    a = sheets.hexagonal_sheet("graphene", np.random.default_rng(0))
    assert broken_pair(a.get_positions(), a.cell.array) is None  # 1.42 Å bonds
    p = a.get_positions()
    p[7] = p[3] + [0.3, 0.0, 0.1]
    p[9] = p[2] + [0.6, 0.0, 0.0]
    text = broken_pair(p, a.cell.array)
    assert text is not None and "atoms 3 and 7 at 0.3162 Angstrom" in text and f"closer than {BROKEN_DISTANCE}" in text
    # across the periodic boundary too
    q = a.get_positions()
    q[0, :2] = [0.05, 1.0]
    q[1, :2] = [a.cell[0, 0] - 0.05, 1.0]
    assert "at 0.1 Angstrom" in broken_pair(q, a.cell.array)


def test_labelling_records_broken_snapshots_and_their_sequels_as_failed(tmp_path, monkeypatch):
    pytest.importorskip("tblite")
    import ednn.data.atoms_h5 as h5mod
    from ednn.data.atoms_h5 import label_dataset, load
    from ednn.data.xtb import label as real_label
    from ednn.train.data import broken_samples

    real_generate = h5mod.generate

    def generate(config, seed, trajectory):  # trajectory 1 breaks at its second snapshot
        frames = real_generate(config, seed, trajectory)
        if trajectory == 1:
            p = frames[1].get_positions()
            p[7] = p[3] + [0.3, 0.0, 0.1]
            frames[1].set_positions(p)
        return frames

    labelled = []
    monkeypatch.setattr(h5mod, "generate", generate)
    monkeypatch.setattr(h5mod, "label", lambda a, s: labelled.append(1) or real_label(a, s))
    path = tmp_path / "b.h5"
    label_dataset(path, sheets.SheetsConfig(thermal="rattle", snapshots=3), 6, seed=2, workers=0, progress=False)
    ds = load(path)
    assert sorted(ds.columns["index"].tolist()) == [0, 1, 2, 3] and len(labelled) == 4  # broken ones never labelled
    reasons = dict(zip(ds.failed["index"].tolist(), map(str, ds.failed["reason"])))
    assert sorted(reasons) == [4, 5]
    assert "broken snapshot: atoms 3 and 7 at 0.3162 Angstrom" in reasons[4]
    assert "broken snapshot: after broken snapshot 4" in reasons[5]
    assert broken_samples(ds) == ()  # nothing broken left among the labelled samples
