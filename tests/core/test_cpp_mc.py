"""The C++ sheet Monte Carlo (examples/cpp/sheet_mc.cpp) replays the chain of ednn.mc, move by move.

Builds the examples like tests/core/test_cpp.py (skipped, with the reason, where that cannot be done;
EDNN_REQUIRE_CPP=1 turns the skip into a failure).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ase")
from test_cpp import example  # noqa: E402,F401  (the built examples folder, a fixture)

COMPARE = Path(__file__).resolve().parents[2] / "examples" / "cpp" / "compare_sheet_mc.py"


@pytest.mark.parametrize("repeat", [1, 2])
def test_cpp_and_python_monte_carlo_agree(example, repeat):  # noqa: F811
    out = subprocess.run([sys.executable, str(COMPARE), "--exe", str(example / "sheet_mc"), "--repeat", str(repeat),
                          "--moves", "150"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "largest relative energy difference" in out.stdout


def test_sheet_mc_help_and_errors(example, tmp_path):  # noqa: F811
    ok = subprocess.run([str(example / "sheet_mc"), "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "usage: sheet_mc MODEL INPUT" in ok.stdout
    (tmp_path / "bad.txt").write_text("cells 1 2\n")
    import ednn

    bad = subprocess.run([str(example / "sheet_mc"), str(ednn.models.path("sheets")), str(tmp_path / "bad.txt")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "sheet_mc: error: INPUT: expected 'cell Lx Ly'" in bad.stderr
