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


def test_ctrl_c_is_one_line_not_a_traceback(monkeypatch, capsys):
    import ednn.cli as cli

    def interrupted(a):
        raise KeyboardInterrupt

    def add(sub):
        sub.add_parser("slow").set_defaults(func=interrupted)

    monkeypatch.setattr(cli, "COMMANDS", [add])
    assert main(["slow"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("ednn slow: interrupted; work done so far is kept") and "Traceback" not in err


def test_module_entry_point_and_build_info():
    out = subprocess.run([sys.executable, "-m", "ednn", "build-info"], capture_output=True, text=True, check=True)
    assert "cuda_devices" in out.stdout and "omp_max_threads" in out.stdout
    ver = subprocess.run([sys.executable, "-m", "ednn", "--version"], capture_output=True, text=True, check=True)
    import ednn

    assert ver.stdout.strip() == ednn.__version__


def test_shipped_model_names_work_where_paths_do(tmp_path, rng, capsys):
    assert main(["info", "ising-exact"]) == 0
    assert "focus      (1, 1)" in capsys.readouterr().out
    s = random_spins(rng, (16, 16))
    np.save(tmp_path / "g.npy", s)
    assert main(["predict", "ising-exact", str(tmp_path / "g.npy"), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["energy"] == [ising_energy(s)]
    # an existing file of that name wins over the shipped model
    (tmp_path / "ising-exact").write_text("not a model")
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["info", "ising-exact"]) == 2
    finally:
        os.chdir(cwd)
    assert "not a readable ONNX model" in capsys.readouterr().err


def test_models_lists_the_shipped_models(capsys):
    import ednn

    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "focus", "context", "units", "species", "domain"]
    names = [line.split()[0] for line in out[1:]]
    assert names == ednn.models.available()
    row = next(line for line in out if line.startswith("sheets "))
    m = ednn.Model(ednn.models.path("sheets"))
    context = "x".join(map(str, m.context))
    assert "32x32" in row and f" {context} " in row and "eV" in row and "5,6,7" in row
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(ednn.models.available()) and all(r["domain"] for r in rows)


def test_progress_is_plain_lines_when_not_a_terminal(ising_model_path, tmp_path, rng, capsys, monkeypatch):
    import ednn.progress

    monkeypatch.setattr(ednn.progress, "LINE_INTERVAL", 0.0)  # a line at every update
    np.save(tmp_path / "g.npy", random_spins(rng, (4, 64, 64)))
    assert main(["predict", str(ising_model_path), str(tmp_path / "g.npy"), "--batch-size", "1024"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err  # captured stderr is not a terminal: no redrawn frames
    lines = err.strip().splitlines()
    assert len(lines) >= 16 and all(line.startswith("ednn predict: ") for line in lines)
    assert "100.0% 16384/16384 tiles" in lines[-1] and "ETA" in lines[-1]


def test_unreadable_npy_is_one_clean_line(ising_model_path, tmp_path, capsys):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "cut.npy", np.zeros((64, 64)))
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.npy").write_text("hello")
    for name in ("obj.npy", "cut.npy", "text.npy"):
        assert main(["predict", str(ising_model_path), str(tmp_path / name), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "grid: expected a readable numeric .npy file" in err[0], err


def test_errors_are_named_ednn_input_error():
    import ednn

    assert ednn.InputError.__module__ == "ednn" and ednn.ModelFileError.__module__ == "ednn"
    code = "import numpy as np, ednn; ednn.tile(np.zeros((3, 3)), 2, 0)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1 and "\nednn.InputError: grid: size 3" in out.stderr, out.stderr
