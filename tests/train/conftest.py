from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def labelled_sheets():
    """``labelled_sheets(path, count, seed, **config)`` -> ``path``: an ``ednn.data.sheets`` HDF5 file
    of ``count`` trajectories of ``SheetsConfig(**config)``, labelled with GFN1-xTB in this process;
    skips the test when tblite, h5py or ASE is missing."""

    def make(path: Path, count: int, seed: int, **config) -> Path:
        pytest.importorskip("tblite")
        pytest.importorskip("h5py")
        pytest.importorskip("ase")
        from ednn.data import sheets
        from ednn.data.atoms_h5 import label_dataset

        label_dataset(path, sheets.SheetsConfig(**config), count, seed=seed, workers=0, progress=False)
        return path

    return make
