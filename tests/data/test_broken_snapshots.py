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


def test_labelling_records_broken_snapshots_as_failed(tmp_path, monkeypatch):
    pytest.importorskip("tblite")
    import ednn.data.atoms_h5 as h5mod
    from ednn.data.atoms_h5 import label_dataset, load

    calls = []
    real = h5mod.broken_pair

    def fake(positions, cell):  # the second snapshot of every trajectory "breaks"
        calls.append(1)
        return "atoms 1 and 2 at 0.2 Angstrom (closer than 1.0 Angstrom)" if len(calls) % 2 == 0 else real(positions, cell)

    monkeypatch.setattr(h5mod, "broken_pair", fake)
    labelled = []
    monkeypatch.setattr(h5mod, "label", lambda a, s: labelled.append(1) or real_label(a, s))
    from ednn.data.xtb import label as real_label

    path = tmp_path / "b.h5"
    label_dataset(path, sheets.SheetsConfig(thermal="rattle", snapshots=2), 4, seed=2, workers=0, progress=False)
    ds = load(path)
    assert len(ds) == 2 and len(ds.failed["index"]) == 2 and len(labelled) == 2  # broken ones never labelled
    assert all("broken snapshot: atoms 1 and 2 at 0.2 Angstrom" in str(r) for r in ds.failed["reason"])
