"""Atoms the model cannot know are refused: unknown elements, overlapping atoms (predict, image, ASE, CLI)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ase")
import ednn  # noqa: E402
from ednn.data.sheets import honeycomb  # noqa: E402

SHEETS = ednn.models.path("sheets")


@pytest.mark.parametrize("z", [14, 79, 1])
def test_unknown_elements_refused(z):
    a = honeycomb()
    a.numbers[7] = z
    with pytest.raises(ednn.InputError, match=rf"numbers: expected elements the model was trained on \(Z in \[5, 6, 7\].*got Z = {z} at atom 7"):
        ednn.atoms.predict(SHEETS, a)
    with pytest.raises(ednn.InputError, match="expected elements the model was trained on"):
        ednn.atoms.image(SHEETS, a)


def test_overlapping_atoms_refused():
    a = honeycomb()
    a.positions[10] = a.positions[3] + [0.05, 0.0, 0.0]
    with pytest.raises(ednn.InputError, match=r"positions: expected atoms at least 0.5 Angstrom apart, got atoms 3 and 10 at 0.05 Angstrom"):
        ednn.atoms.predict(SHEETS, a)
    b = honeycomb()
    b += b[:1]  # a duplicated atom
    with pytest.raises(ednn.InputError, match="at 0 Angstrom"):
        ednn.atoms.predict(SHEETS, b)


def test_calculator_and_command_line_refuse_too(tmp_path, capsys):
    from ase.io import write

    from ednn.atoms.calculator import EDNNCalculator
    from ednn.cli import main

    a = honeycomb()
    a.numbers[0] = 14
    a.calc = EDNNCalculator(SHEETS)
    with pytest.raises(ednn.InputError, match="Z = 14 at atom 0"):
        a.get_potential_energy()
    write(tmp_path / "si.extxyz", a)
    assert main(["atoms", "predict", "sheets", str(tmp_path / "si.extxyz")]) == 2
    assert "Z = 14 at atom 0" in capsys.readouterr().err


def test_known_elements_and_bonds_pass():
    a = honeycomb()
    a.numbers[::2] = 5
    a.numbers[1::2] = 7  # h-BN
    assert np.isfinite(ednn.atoms.predict(SHEETS, a))
