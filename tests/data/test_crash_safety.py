"""Nothing lost on a kill: kill -9 at every write boundary of the data commands, then resume and
compare with an uninterrupted run; labelling workers die with their parent; outputs are not
replaced without --force."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

import ednn
from ednn.data import ising

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kill -9 and fork are POSIX")


# --------------------------------------------------------------------------- killing at write boundaries
class _Armed:
    """Wrap the functions through which files are written so that the k-th boundary (before or after
    any of these calls) SIGKILLs the process: the state a kill -9 at that moment leaves on disk."""

    def __init__(self, k: int, targets: list[tuple[object, str]]):
        self.k, self.n = k, 0
        for owner, name in targets:
            setattr(owner, name, self._wrap(getattr(owner, name)))

    def _tick(self) -> None:
        self.n += 1
        if self.n == self.k:
            os.kill(os.getpid(), signal.SIGKILL)

    def _wrap(self, fn):
        def wrapped(*args, **kwargs):
            self._tick()
            out = fn(*args, **kwargs)
            self._tick()
            return out

        return wrapped


def _killed_at(k: int, targets: list[tuple[object, str]], run) -> bool:
    """Run ``run()`` in a forked child armed to die at boundary ``k``; True if it was killed there."""
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a process with threads (torch's, when loaded); the child
        # only writes files with h5py / numpy / zipfile and exits, it never touches those threads.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 0
        try:
            _Armed(k, targets)
            run()
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"the writer failed before boundary {k} (traceback above)"
    return False


# --------------------------------------------------------------------------- ednn data sheets
CFG = dict(cells=(1, 1), thermal="rattle", snapshots=1, max_vacancies=1)  # 4-site cells: fast labels
COUNT, SEED, FAILING = 3, 4, 1  # sample FAILING is recorded as failed (an unconverged SCF)


def _key(a) -> tuple[bytes, bytes]:
    return a.numbers.tobytes(), np.ascontiguousarray(a.get_positions()).tobytes()


@pytest.fixture
def no_fsync(monkeypatch):
    """fsync protects against power loss, not against kill -9 (the page cache outlives the process):
    the kill loops skip the disk flushes, which still count as write boundaries, to run in seconds."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(scope="module")
def sheet_labels():
    """Real GFN1-xTB labels of the COUNT samples, computed once; the kill loops reuse them."""
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    from ednn.data import sheets
    from ednn.data.xtb import label

    cfg = sheets.SheetsConfig(**CFG)
    return {_key(a): label(a) for t in range(COUNT) for a in sheets.generate(cfg, SEED, t)}


@pytest.fixture
def labelling(sheet_labels, monkeypatch):
    """Label from the table (the same Label objects every run); ``fail`` holds the keys that fail."""
    from ednn.data import atoms_h5, sheets
    from ednn.data.xtb import LabelError

    cfg = sheets.SheetsConfig(**CFG)
    state = {"fail": {_key(sheets.generate(cfg, SEED, FAILING)[0])}}

    def table(a, settings=None):
        if _key(a) in state["fail"]:
            raise LabelError("SCF not converged (made to fail by the test)")
        return sheet_labels[_key(a)]

    monkeypatch.setattr(atoms_h5, "label", table)
    return state


def _sheets_targets():
    import h5py

    # every rename, deletion, fsync and copy, and every HDF5 append (each one starts with a resize)
    return [(os, "replace"), (os, "link"), (os, "rename"), (os, "unlink"), (os, "rmdir"), (os, "fsync"),
            (shutil, "copyfile"), (h5py.Dataset, "resize"), (h5py.File, "flush")]


def _content(path: Path) -> dict:
    from ednn.data.atoms_h5 import load

    ds = load(path)
    out = {f"col:{k}": v for k, v in ds.columns.items()}
    out.update({f"failed:{k}": v for k, v in ds.failed.items()})
    out.update(cells=ds.cells, positions=ds._positions, numbers=ds._numbers)
    out["attrs"] = {k: v for k, v in ds.attrs.items()}
    return out


def _assert_same(got: dict, want: dict, where: str) -> None:
    assert got.keys() == want.keys(), where
    for k in want:
        if k == "attrs":
            assert got[k] == want[k], where
        else:
            g, w = np.asarray(got[k]), np.asarray(want[k])
            assert g.dtype == w.dtype and g.shape == w.shape, (where, k, g.dtype, w.dtype, g.shape, w.shape)
            assert np.array_equal(g, w), (where, k, g, w)  # bit for bit: the same labels, nothing twice


@pytest.mark.parametrize("variant", ["fresh", "extend-retry", "killed-twice"])
def test_sheets_kill_at_every_write_boundary(tmp_path, labelling, no_fsync, variant):
    """kill -9 at every write boundary (before and after every HDF5 append, file close, fsync, rename,
    unlink, copy), resume, and compare with an uninterrupted run: same samples, energies, failures,
    attributes, and no file left behind.

    fresh: a new file (3 trajectories: batch files, a merge in between and at the end); extend-retry:
    a file of 2 samples, one failed, extended to 3 with the failure labelled again (it converges
    now); killed-twice: a new file, and the resume is killed at its own k-th boundary too (the merge
    of a killed run's journal). The last two kill at the renames, deletions, fsyncs and copies only:
    every HDF5 append goes to a temporary file, which the first case kills at every append."""
    from ednn.data import atoms_h5, sheets

    cfg = sheets.SheetsConfig(**CFG)
    retry = variant == "extend-retry"
    fail_before = labelling["fail"]

    if retry:  # the state the killed command starts from
        (tmp_path / "start").mkdir()
        atoms_h5.label_dataset(tmp_path / "start" / "d.h5", cfg, COUNT - 1, seed=SEED, workers=0, progress=False)
        assert len(atoms_h5.load(tmp_path / "start" / "d.h5").failed["index"]) == 1

    def start(folder: Path) -> Path:
        path = folder / "d.h5"
        if retry:
            labelling["fail"] = fail_before
            shutil.copy(tmp_path / "start" / "d.h5", path)
        return path

    def command(path: Path):
        if retry:
            labelling["fail"] = set()
        return atoms_h5.label_dataset(path, cfg, COUNT, seed=SEED, workers=0, retry_failed=retry, progress=False)

    (tmp_path / "ref").mkdir()
    ref = start(tmp_path / "ref")
    command(ref)
    want = _content(ref)
    assert len(want["col:index"]) + len(want["failed:index"]) == COUNT
    assert len(want["failed:index"]) == (0 if retry else 1)

    targets = _sheets_targets()
    if variant != "fresh":
        targets = [t for t in targets if t[1] not in ("resize", "flush")]
    kills = 0
    for k in range(1, 10_000):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        path = start(folder)
        if not _killed_at(k, targets, lambda: command(path)):
            break
        kills += 1
        if variant == "killed-twice":  # the resume is killed at its own k-th boundary too
            _killed_at(k, targets, lambda: command(path))
        try:
            command(path)  # resume, uninterrupted
        except Exception as exc:
            pytest.fail(f"resume after a kill at boundary {k} failed: {type(exc).__name__}: {exc}")
        _assert_same(_content(path), want, f"killed at boundary {k}")
        assert sorted(os.listdir(folder)) == ["d.h5"], f"left behind after a kill at boundary {k}"
        shutil.rmtree(folder)
    # the writer passes many boundaries: a batch file and a merge per trajectory and at the end
    assert kills >= {"fresh": 100, "extend-retry": 40, "killed-twice": 40}[variant], kills


def test_journal_is_read_and_merged(tmp_path, labelling):
    """Samples committed to the journal by a killed run are read by load() before any resume."""
    from ednn.data import atoms_h5, sheets

    cfg = sheets.SheetsConfig(**CFG)
    path = tmp_path / "d.h5"
    ref = tmp_path / "ref.h5"
    atoms_h5.label_dataset(ref, cfg, COUNT, seed=SEED, workers=0, progress=False)

    def run_and_die():  # dies with every batch committed to the journal, before the final merge
        atoms_h5._MERGE_FACTOR = float("inf")
        atoms_h5._merge = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        atoms_h5.label_dataset(path, cfg, COUNT, seed=SEED, workers=0, progress=False)

    assert _killed_at(0, [], run_and_die)
    journal = tmp_path / "d.h5.journal"
    assert sorted(p.name for p in journal.iterdir()) == ["00000001.npz", "00000002.npz", "00000003.npz", "lock"]
    _assert_same(_content(path), _content(ref), "read with the journal")
    atoms_h5.label_dataset(path, cfg, COUNT, seed=SEED, workers=0, progress=False)  # merges, labels nothing
    assert not journal.exists()
    _assert_same(_content(path), _content(ref), "merged")


def test_second_writer_is_refused(tmp_path, labelling):
    from ednn.data import atoms_h5, sheets

    cfg = sheets.SheetsConfig(**CFG)
    path = tmp_path / "d.h5"
    with atoms_h5._locked(path):
        with pytest.raises(ednn.InputError, match=r"is being written by another process"):
            atoms_h5.label_dataset(path, cfg, 1, seed=SEED, workers=0, progress=False)
    assert atoms_h5.label_dataset(path, cfg, 1, seed=SEED, workers=0, progress=False)["stored"] == 1
    assert sorted(os.listdir(tmp_path)) == ["d.h5"]


# --------------------------------------------------------------------------- workers die with their parent
def _group(pgid: int, cpu: bool = False) -> list[int] | dict[int, float]:
    """Live (not zombie) processes of process group ``pgid`` (with ``cpu``: their CPU seconds)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ..., utime (12), stime (13)
        if int(fields[2]) == pgid and fields[0] != "Z":
            out[int(d.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out if cpu else list(out)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="lists processes through /proc")
def test_workers_die_with_their_parent(tmp_path):
    pytest.importorskip("tblite")
    pytest.importorskip("h5py")
    out = tmp_path / "w.h5"
    cmd = [sys.executable, "-m", "ednn", "data", "sheets", "--count", "200", "--snapshots", "1", "--thermal",
           "rattle", "--families", "graphene", "--workers", "2", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        # Both workers are labelling once each has used 1.5 s of CPU: starting one (imports, the
        # pool's initializer) takes about 0.3 s, a label of a 60-atom sheet 0.5 to 2 s.
        while sum(t >= 1.5 for p, t in _group(proc.pid, cpu=True).items() if p != proc.pid) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the workers did not start labelling in 60 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _group(proc.pid) == [], "processes of ednn data sheets outlived it"
    finally:
        if _group(proc.pid):  # clean up after a failure
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()


def test_watchdog_ends_an_orphan(tmp_path):
    """The portable fallback (no PR_SET_PDEATHSIG): a thread notices the parent is gone."""
    child = ("import sys, time\nfrom ednn._io import die_with_parent\n"
             "die_with_parent(int(sys.argv[1]), interval=0.05, pdeathsig=False)\n"
             "print('ready', flush=True)\ntime.sleep(60)\n")
    parent = textwrap.dedent(f"""
        import os, subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", {child!r}, str(os.getpid())], stdout=subprocess.PIPE)
        assert p.stdout.readline() == b"ready\\n"
        print(p.pid, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, start_new_session=True)
    try:
        orphan = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while orphan in _group_or_self(proc.pid, orphan) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert orphan not in _group_or_self(proc.pid, orphan), "the orphan kept running"
    finally:
        if _group(proc.pid):  # clean up after a failure
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stdout.close()


def _group_or_self(pgid: int, pid: int) -> list[int]:
    return [p for p in _group(pgid) if p in (pgid, pid)]


# --------------------------------------------------------------------------- ednn data ising
def _ising_args(out: Path, *extra: str) -> list[str]:
    return ["data", "ising", "--size", "4", "--count", "20", "--out", str(out), "--no-progress", *extra]


def test_ising_refuses_to_overwrite(tmp_path, capsys):
    from ednn.cli import main

    out = tmp_path / "d.npz"
    assert main(_ising_args(out, "--seed", "1")) == 0
    before = out.read_bytes()
    assert main(_ising_args(out, "--seed", "2")) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and str(out) in err
    assert out.read_bytes() == before
    assert main(_ising_args(out, "--seed", "2", "--force")) == 0
    assert out.read_bytes() != before and ising.load(out).settings["seed"] == 2
    with pytest.raises(ednn.InputError, match="already exists"):
        ising.save(out, ising.load(out))
    assert sorted(os.listdir(tmp_path)) == ["d.npz"]


def test_ising_kill_at_every_write_boundary(tmp_path, no_fsync):
    """``ednn data ising --force`` killed while replacing a file: the old file or the new one, whole."""
    import zipfile

    from ednn.cli import main

    keep, work = tmp_path / "keep", tmp_path / "work"
    keep.mkdir()
    work.mkdir()
    for seed in (1, 2):
        assert main(_ising_args(keep / f"seed{seed}.npz", "--seed", str(seed))) == 0
    old, new = (ising.load(keep / f"seed{s}.npz").spins for s in (1, 2))
    out = work / "d.npz"
    shutil.copy(keep / "seed1.npz", out)

    def replace() -> None:
        assert main(_ising_args(out, "--seed", "2", "--force")) == 0

    targets = [(os, "replace"), (os, "link"), (os, "rename"), (os, "unlink"), (os, "fsync"),
               (zipfile.ZipFile, "open"), (zipfile.ZipFile, "close"), (zipfile.ZipFile, "writestr")]
    kills, outcomes = 0, set()
    for k in range(1, 1000):
        if not _killed_at(k, targets, replace):
            break
        kills += 1
        spins = ising.load(out).spins  # never a broken file
        is_new = np.array_equal(spins, new)
        assert is_new or np.array_equal(spins, old), k
        outcomes.add(is_new)
        if is_new:  # start from the old file again
            shutil.copy(keep / "seed1.npz", out)
    assert outcomes == {False, True} and kills >= 10, (outcomes, kills)
    replace()  # an uninterrupted write removes the temporary files of the killed ones
    assert os.listdir(work) == ["d.npz"] and np.array_equal(ising.load(out).spins, new)
