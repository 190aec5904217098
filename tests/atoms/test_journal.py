"""ednn.atoms.predict(..., journal=...): a stopped run continues where it stopped, with the same answer."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

import ednn
from ednn import atoms as eatoms

apredict = importlib.import_module("ednn.atoms.predict")  # the module (ednn.atoms.predict is also the function)

pytest.importorskip("onnx")
from test_atoms_predict import linear_model, random_atoms  # noqa: E402

# the same float32 tiles summed in float64 per block, then over blocks, against one running sum over
# all tiles: only the summation order differs
SAME_TILES_RTOL = 1e-6
LENGTHS = (8 * 0.25 * 6, 8 * 0.2 * 4)  # 48 x 32 grid points, 6 x 4 tiles of focus 8


@pytest.fixture
def model(tmp_path, rng):
    w = rng.normal(size=(16, 16, 1))
    return linear_model(tmp_path / "w.onnx", w, (8, 8), (4, 4), **{
        "ednn.spacing": "0.25,0.2", "ednn.gamma": "0.3", "ednn.units": "eV",
        "ednn.output_scale": "0.37", "ednn.output_offset": "-1.25"})


@pytest.fixture
def system(rng):
    return random_atoms(rng, 40, LENGTHS)


def _run(model, system, **kw):
    pos, z = system
    # random points, not a structure (min_distance=None); 16 x 16 points per window: one tile per block
    return eatoms.predict(model, pos, z, LENGTHS, max_window=16 * 16, min_distance=None, **kw)


def _count_blocks(monkeypatch, fail_at=None):
    calls = []
    real = apredict.block_tiles

    def counting(*a, **k):
        calls.append(1)
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt  # as a kill would stop the run
        return real(*a, **k)

    monkeypatch.setattr(apredict, "block_tiles", counting)
    return calls


def test_journal_gives_the_answer_and_records_every_block(model, system, tmp_path, monkeypatch):
    want = _run(model, system)
    j = tmp_path / "run.journal"
    got = _run(model, system, journal=j)
    assert got == pytest.approx(want, rel=SAME_TILES_RTOL)
    lines = j.read_text().splitlines()
    head = json.loads(lines[0])
    assert head["format"] == "ednn-journal-1" and head["blocks"] == 24 and len(lines) == 1 + 24
    assert sorted(json.loads(ln)["block"] for ln in lines[1:]) == list(range(24))
    # a finished journal: nothing is evaluated again, and the answer is the same bit for bit
    calls = _count_blocks(monkeypatch)
    assert _run(model, system, journal=j) == got and not calls


def test_a_stopped_run_continues_with_the_same_answer(model, system, tmp_path, monkeypatch):
    clean = _run(model, system, journal=tmp_path / "clean.journal")
    j = tmp_path / "run.journal"
    _count_blocks(monkeypatch, fail_at=10)
    with pytest.raises(KeyboardInterrupt):
        _run(model, system, journal=j)
    done = len(j.read_text().splitlines()) - 1
    assert 0 < done < 24
    with open(j, "a") as fh:  # and a line cut short by the kill
        fh.write('{"block": 23, "tiles": 1, "su')
    calls = _count_blocks(monkeypatch)
    assert _run(model, system, journal=j) == clean  # bit for bit: the same blocks' sums, in block order
    assert len(calls) == 24 - done  # only the blocks not yet done
    assert len(j.read_text().splitlines()) == 1 + 24
    empty = tmp_path / "empty.journal"  # a run killed before its header was written
    empty.write_text("")
    assert _run(model, system, journal=empty) == clean


def test_another_runs_journal_is_refused(model, system, tmp_path, rng):
    j = tmp_path / "run.journal"
    _run(model, system, journal=j)
    before = j.read_bytes()
    pos, z = system
    moved = (pos + [0.01, 0.0, 0.0], z)
    with pytest.raises(ednn.InputError, match=r"journal: expected the journal of this run or no file, got '.*run.journal', "
                                                r"the journal of another run \(it differs in points_sha256\)"):
        _run(model, moved, journal=j)
    other = linear_model(tmp_path / "o.onnx", rng.normal(size=(16, 16, 1)), (8, 8), (4, 4),
                         **{"ednn.spacing": "0.25,0.2", "ednn.gamma": "0.3"})
    with pytest.raises(ednn.InputError, match=r"it differs in model_sha256"):
        _run(other, system, journal=j)
    assert j.read_bytes() == before
    (tmp_path / "notes.txt").write_text("my notes\n")
    with pytest.raises(ednn.InputError, match=r"journal: expected an ednn journal or no file, got '.*notes.txt'"):
        _run(model, system, journal=tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"
    with pytest.raises(ednn.InputError, match=r"journal: expected no journal with a Dask client"):
        _run(model, system, journal=tmp_path / "x.journal", client=object())
    with pytest.raises(ednn.InputError, match=r"journal: expected a file in an existing folder"):
        _run(model, system, journal=tmp_path / "no" / "such" / "x.journal")


def test_a_resumed_run_shows_its_progress_from_where_it_stopped(model, system, tmp_path, monkeypatch, capsys):
    j = tmp_path / "run.journal"
    _count_blocks(monkeypatch, fail_at=7)
    with pytest.raises(KeyboardInterrupt):
        _run(model, system, journal=j)
    done = len(j.read_text().splitlines()) - 1
    monkeypatch.undo()
    capsys.readouterr()
    _run(model, system, journal=j, progress=True)
    last = capsys.readouterr().err.strip().splitlines()[-1]  # stderr is no terminal here: plain lines
    assert last.startswith("ednn atoms: 100.0% 24/24 tiles"), last
    from ednn.progress import progress_bar

    with progress_bar(100, "resumed", "tiles", initial=40) as bar:
        bar.update(30)
        assert bar.n == 70 and bar.n0 == 40  # the rate and time left count the 30 of this run only
    assert done > 0


def test_command_line_journal(model, system, tmp_path, capsys):
    ase = pytest.importorskip("ase")
    pytest.importorskip("h5py")
    from ase.io import write

    from ednn.cli import main

    pos, z = system
    # 1.5 A apart at least: a structure the distance check accepts
    keep = [0]
    for i in range(1, len(pos)):
        d = pos[keep] - pos[i]
        d[:, :2] -= np.round(d[:, :2] / LENGTHS) * LENGTHS
        if np.min(np.linalg.norm(d, axis=1)) > 1.5:
            keep.append(i)
    a = ase.Atoms(numbers=z[keep].astype(int), positions=pos[keep], cell=[*LENGTHS, 20.0], pbc=(True, True, False))
    f = tmp_path / "s.extxyz"
    write(f, a)
    j = tmp_path / "s.journal"
    args = ["atoms", "predict", str(model), str(f), "--json", "--journal", str(j)]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)["energy"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["energy"] == first
    assert first == pytest.approx(eatoms.predict(model, a), rel=SAME_TILES_RTOL)
    assert main(["atoms", "predict", str(model), str(f), str(f), "--journal", str(tmp_path / "two.journal")]) == 2
    assert "--journal: expected one structure, got 2" in capsys.readouterr().err
    assert main(["atoms", "predict", str(model), str(f), "--workers", "2", "--journal", str(tmp_path / "w.journal")]) == 2
    assert "--journal: expected a one-process run" in capsys.readouterr().err
    assert not (tmp_path / "two.journal").exists() and not (tmp_path / "w.journal").exists()
