"""The ednn command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from conftest import random_spins

from ednn.cli import main
from ednn.reference import ising_energy


def test_info(ising_model_path, capsys):
    assert main(["info", str(ising_model_path)]) == 0
    out = capsys.readouterr().out
    assert "focus      (1, 1)" in out and "energy" in out


def test_predict(ising_model_path, tmp_path, rng, capsys):
    s = random_spins(rng, (3, 16, 16))
    np.save(tmp_path / "g.npy", s)
    assert main(["predict", str(ising_model_path), str(tmp_path / "g.npy"), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["energy"] == list(ising_energy(s))
    assert main(["predict", str(ising_model_path), str(tmp_path / "g.npy")]) == 0
    cap = capsys.readouterr()
    assert "grid 2: energy = " in cap.out and "tiles" in cap.err  # progress bar on by default


def test_errors_exit_2(ising_model_path, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros(5))
    assert main(["predict", str(ising_model_path), str(tmp_path / "bad.npy"), "--no-progress"]) == 2
    assert "error: grid: expected 2 axes" in capsys.readouterr().err
    assert main(["predict", str(ising_model_path), str(tmp_path / "none.npy")]) == 2
    assert main(["info", str(tmp_path / "none.onnx")]) == 2


def test_module_entry_point_and_build_info():
    out = subprocess.run([sys.executable, "-m", "ednn", "build-info"], capture_output=True, text=True, check=True)
    assert "cuda_devices" in out.stdout and "omp_max_threads" in out.stdout
    ver = subprocess.run([sys.executable, "-m", "ednn", "--version"], capture_output=True, text=True, check=True)
    import ednn

    assert ver.stdout.strip() == ednn.__version__
