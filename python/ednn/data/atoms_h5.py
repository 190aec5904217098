"""Labelled datasets of 2-D sheets in HDF5: generation, labelling in parallel, resumable appends, reading.

File layout (``format = "ednn-atoms-1"``)
-----------------------------------------
Root attributes: ``format``, ``kind`` (``sheets`` / ``porous``), ``seed``, ``count`` (samples
requested), ``generator`` (JSON of the generator settings, :mod:`ednn.data.sheets`), ``label_settings``
(JSON, :class:`ednn.data.xtb.LabelSettings`), ``label_method`` (one line), ``energy_units`` (``eV``),
``length_units`` (``Angstrom``), ``energy_convention``, ``image_grid`` and ``image_spacing`` (the
grid of the 60-site cell and its spacing, Angstrom, at which images are meant to be rasterized),
``image_gamma`` (Angstrom), ``ednn_version``, ``tblite_version``.

Per sample ``i`` (datasets of length n): ``index`` (sample number: ``trajectory * snapshots +
snapshot``), ``trajectory``, ``energy`` (eV, total energy of the cell), ``natoms``, ``offset``
(first row of the sample in the per-atom datasets), ``cell`` (3 x 3, Angstrom), ``family``,
``sites`` (lattice sites before vacancies), ``vacancies``, ``repeat``, ``thermal`` (method of the
thermal displacements), ``mixer_damping`` and ``electronic_temperature`` (K) of the converged
attempt, ``scf_attempts``, ``label_seconds`` (wall time of the label, all attempts),
``label_blas``. Per atom: ``positions`` (N, 3) Angstrom and ``numbers`` (N,).

Group ``failed``: ``index``, ``trajectory`` and ``reason`` of samples whose label never converged
(or whose generation failed). Their energies are never stored; a resumed run skips them unless
asked to retry them.

Writing: nothing lost on a kill
-------------------------------
The file is never written in place (a kill inside an HDF5 write can leave a file that does not
open). Every trajectory's samples are committed as one small batch file ``NNNNNNNN.npz`` in the
folder ``FILE.journal`` beside the file (written aside, fsync'd, renamed into place); from time to
time (when the journal holds as many bytes as the file, and at the end of every run, also an
interrupted one) the batches are merged into a copy of the file that is renamed over it, and then
deleted. Merging skips samples the file already holds, so a kill between the rename and the
deletion loses and duplicates nothing. A resumed run merges what it finds first; :func:`load`
reads the batches not merged yet too. The journal folder also holds the lock that keeps a second
process from writing the same file. Files of earlier versions (written in place, ``index`` last as
the commit marker) are read as before and trimmed to their complete samples when resumed.

One module on purpose (~640 lines): the writer (parallel, resumable, journalled) and the reader
share the file layout above, which must not drift apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, atomic_write, die_with_parent, remove_stale
from ..atoms.domain import broken_pair
from ..errors import InputError
from .xtb import Label, LabelError, LabelSettings, blas_in_use, blas_preload_path, label, tblite_version, worker_env
from ..progress import progress_bar
from .sheets import (
    BASE_CELLS,
    BASE_GRID,
    BASE_SPACING,
    CELL_Z,
    POROUS_CELLS,
    POROUS_GRID,
    POROUS_SPACING,
    PorousConfig,
    SheetsConfig,
    config_from_dict,
    generate,
)

__all__ = ["FORMAT", "AtomsDataset", "load", "label_dataset", "Sample"]

FORMAT = "ednn-atoms-1"
_PER_SAMPLE = {
    "trajectory": np.int64,
    "energy": np.float64,
    "natoms": np.int32,
    "offset": np.int64,
    "sites": np.int32,
    "vacancies": np.int32,
    "repeat": np.int32,
    "mixer_damping": np.float64,
    "electronic_temperature": np.float64,
    "scf_attempts": np.int32,
    "label_seconds": np.float64,
}
_STRINGS = ("family", "thermal", "label_blas")
_IDENTITY = ("format", "kind", "seed", "generator", "label_settings")  # what a resumed run must share
_BATCH = re.compile(r"(\d{8})\.npz")
#: Merge the journal into the file when it holds this many times the file's bytes (the file doubles
#: between merges: each sample is copied about twice in all).
_MERGE_FACTOR = 1.0


@dataclass
class Sample:
    """One labelled (or failed) snapshot as returned by a worker."""

    index: int
    trajectory: int
    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    info: dict[str, Any]
    label: Label | None
    error: str | None
    blas: str


# --------------------------------------------------------------------------- workers
def _init_worker(parent: int) -> None:
    import warnings

    die_with_parent(parent)  # a kill -9 of the parent must not leave labelling workers behind
    warnings.simplefilter("ignore", FutureWarning)


def _work(config_dict: dict[str, Any], seed: int, trajectory: int, wanted: Sequence[int],
          settings_dict: dict[str, Any]) -> list[Sample]:
    """Generate one trajectory and label the wanted snapshots (runs in a worker process)."""
    config = config_from_dict(config_dict)
    settings = LabelSettings.from_dict(settings_dict)
    base = trajectory * config.snapshots
    blas = blas_in_use()
    try:
        frames = generate(config, seed, trajectory)
    except Exception as exc:  # a generator failure is recorded like a label failure
        return [Sample(base + s, trajectory, np.zeros(0, np.int32), np.zeros((0, 3)), np.zeros((3, 3)), {}, None,
                       f"generation: {type(exc).__name__}: {exc}", blas) for s in wanted]
    out = []
    # the dynamics goes on from a broken sheet: a broken snapshot and every later one of its trajectory
    # are recorded as failed, never labelled
    broken = [broken_pair(a.get_positions(), a.cell.array) for a in frames]
    first = next((k for k, b in enumerate(broken) if b), None)
    for s in wanted:
        a = frames[s]
        try:
            if first is not None and s >= first:
                raise ValueError(f"broken snapshot: {broken[s] or f'after broken snapshot {base + first}'}")
            lab, err = label(a, settings), None
        except LabelError as exc:
            lab, err = None, f"SCF: {exc}"
        except Exception as exc:  # tblite input errors and the like: record, never store an energy
            lab, err = None, f"{type(exc).__name__}: {exc}"
        out.append(Sample(base + s, trajectory, a.numbers.astype(np.int32), a.get_positions(), a.cell.array.copy(),
                          dict(a.info), lab, err, blas))
    return out


# --------------------------------------------------------------------------- the file
def _image_grid(grid: Sequence[int], cells: Sequence[int], sheet_cells: Sequence[int], repeat: int = 1) -> list[int]:
    """Grid points per axis of a sheet of ``sheet_cells`` rectangular cells (times ``repeat``) at the
    spacing of ``grid`` points per ``cells``; [] when that is not a whole number (off-grid)."""
    exact = [g * repeat * s / c for g, c, s in zip(grid, cells, sheet_cells)]
    return [int(v) for v in exact] if all(float(v).is_integer() for v in exact) else []


def _root_attrs(config: SheetsConfig | PorousConfig, settings: LabelSettings, seed: int, count: int) -> dict[str, Any]:
    from .._ednn import __version__

    # tblite's energies shift with the cell's z length (an extensive offset): it is part of the convention
    conv = f"total energy of the cell at the Gamma point, cell z length {float(CELL_Z)!r} Angstrom"
    if isinstance(config, SheetsConfig):  # 256 x 256 per 60-site block, the same spacing for every multiple
        spacing, grid = list(BASE_SPACING), _image_grid(BASE_GRID, BASE_CELLS, config.cells, config.repeat)
    elif all(c % b == 0 for c, b in zip(config.cells, BASE_CELLS)):  # whole 60-site blocks: the sheets' grid
        spacing, grid = list(BASE_SPACING), _image_grid(BASE_GRID, BASE_CELLS, config.cells)
    else:  # the paper's 384 x 384 per 8 x 14 cells, the same spacing for other sizes
        spacing, grid = list(POROUS_SPACING), _image_grid(POROUS_GRID, POROUS_CELLS, config.cells)
    if settings.repeat > 1:
        conv += f", from the {settings.repeat}x{settings.repeat} tiled cell divided by {settings.repeat**2}"
    return {
        "format": FORMAT,
        "kind": config.kind,
        "seed": int(seed),
        "count": int(count),
        "generator": json.dumps(config.to_dict(), sort_keys=True),
        "label_settings": json.dumps(settings.to_dict(), sort_keys=True),
        "label_method": settings.describe(),
        "energy_units": "eV",
        "length_units": "Angstrom",
        "energy_convention": conv,
        "image_grid": grid,
        "image_spacing": spacing,
        "image_gamma": 0.2,
        "ednn_version": __version__,
        "tblite_version": tblite_version(),
    }


def _create(h5: Any, attrs: dict[str, Any]) -> None:
    import h5py

    for k, v in attrs.items():
        h5.attrs[k] = v
    for name, dt in _PER_SAMPLE.items():
        h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dt, chunks=(1024,))
    for name in _STRINGS:
        h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=h5py.string_dtype(), chunks=(1024,))
    h5.create_dataset("cell", shape=(0, 3, 3), maxshape=(None, 3, 3), dtype=np.float64, chunks=(256, 3, 3))
    h5.create_dataset("positions", shape=(0, 3), maxshape=(None, 3), dtype=np.float64, chunks=(8192, 3))
    h5.create_dataset("numbers", shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(8192,))
    h5.create_dataset("index", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
    g = h5.create_group("failed")
    g.create_dataset("index", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,))
    g.create_dataset("trajectory", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,))
    g.create_dataset("reason", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype(), chunks=(256,))


def _trim(h5: Any) -> None:
    """Cut every dataset to the samples whose ``index`` (written last) was committed."""
    n = h5["index"].shape[0]
    for name in (*_PER_SAMPLE, *_STRINGS, "cell"):
        if h5[name].shape[0] != n:
            h5[name].resize(n, axis=0)
    atoms = int(h5["offset"][n - 1] + h5["natoms"][n - 1]) if n else 0
    for name in ("positions", "numbers"):
        if h5[name].shape[0] != atoms:
            h5[name].resize(atoms, axis=0)
    g = h5["failed"]
    m = g["index"].shape[0]
    for name in ("trajectory", "reason"):
        if g[name].shape[0] != m:
            g[name].resize(m, axis=0)


def _append(ds: Any, values: np.ndarray) -> None:
    n = ds.shape[0]
    ds.resize(n + len(values), axis=0)
    ds[n:] = values


def _batch(samples: Sequence[Sample]) -> dict[str, np.ndarray]:
    """The columns of a trajectory's samples (offsets from 0), as stored in a journal batch."""
    good = [s for s in samples if s.label is not None]
    bad = [s for s in samples if s.label is None]
    natoms = np.array([len(s.numbers) for s in good], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(natoms)[:-1]]).astype(np.int64) if good else natoms
    cols: dict[str, list[Any]] = {k: [] for k in (*_PER_SAMPLE, *_STRINGS)}
    for s, off in zip(good, offsets):
        lab = s.label
        assert lab is not None
        row = {
            "trajectory": s.trajectory, "energy": lab.energy, "natoms": len(s.numbers), "offset": off,
            "sites": s.info.get("sites", len(s.numbers)), "vacancies": s.info.get("vacancies", 0),
            "repeat": s.info.get("repeat", 1), "mixer_damping": lab.mixer_damping,
            "electronic_temperature": lab.electronic_temperature, "scf_attempts": lab.attempts,
            "label_seconds": lab.seconds, "family": s.info.get("family", ""),
            "thermal": s.info.get("thermal", ""), "label_blas": s.blas,
        }
        for k in cols:
            cols[k].append(row[k])
    b = {k: np.asarray(cols[k], dtype=dt) for k, dt in _PER_SAMPLE.items()}
    b.update({k: np.asarray(cols[k], dtype=str) for k in _STRINGS})
    b["cell"] = np.stack([s.cell for s in good]).astype(np.float64) if good else np.zeros((0, 3, 3))
    b["positions"] = np.concatenate([s.positions for s in good]).astype(np.float64) if good else np.zeros((0, 3))
    b["numbers"] = (np.concatenate([s.numbers for s in good]) if good else np.zeros(0)).astype(np.uint8)
    b["index"] = np.array([s.index for s in good], dtype=np.int64)
    b["failed.index"] = np.array([s.index for s in bad], dtype=np.int64)
    b["failed.trajectory"] = np.array([s.trajectory for s in bad], dtype=np.int64)
    b["failed.reason"] = np.asarray([s.error or "" for s in bad], dtype=str)
    return b


def _unseen(b: dict[str, np.ndarray], done: set[int], failed: set[int]) -> dict[str, np.ndarray]:
    """The samples of batch ``b`` not in ``done`` (stored) and failures not in ``failed`` (offsets from 0)."""
    keep = np.array([i not in done for i in b["index"].tolist()], dtype=bool)
    keep_bad = np.array([i not in failed for i in b["failed.index"].tolist()], dtype=bool)
    if keep.all() and keep_bad.all():
        return b
    out = {k: v[keep] for k, v in b.items() if not k.startswith("failed.") and k not in ("positions", "numbers")}
    out.update({k: v[keep_bad] for k, v in b.items() if k.startswith("failed.")})
    natoms = out["natoms"].astype(np.int64)
    rows = np.concatenate([np.arange(o, o + n) for o, n in zip(out["offset"], natoms)] or [np.zeros(0, np.int64)])
    out["positions"], out["numbers"] = b["positions"][rows], b["numbers"][rows]
    out["offset"] = (np.cumsum(natoms) - natoms).astype(np.int64)
    return out


def _write_batch(h5: Any, b: dict[str, np.ndarray]) -> None:
    """Append batch ``b`` (already without stored samples) to an open file; ``index`` last."""
    if len(b["index"]):
        start = h5["positions"].shape[0]
        _append(h5["positions"], b["positions"])
        _append(h5["numbers"], b["numbers"])
        for k, dt in _PER_SAMPLE.items():
            _append(h5[k], (b[k] + start if k == "offset" else b[k]).astype(dt))
        for k in _STRINGS:
            _append(h5[k], b[k].astype(object))
        _append(h5["cell"], b["cell"])
        _append(h5["index"], b["index"])  # commit marker of the earlier in-place layout: last
    if len(b["failed.index"]):
        g = h5["failed"]
        _append(g["trajectory"], b["failed.trajectory"])
        _append(g["reason"], b["failed.reason"].astype(object))
        _append(g["index"], b["failed.index"])


# --------------------------------------------------------------------------- the journal
def _journal(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def _pending(path: Path) -> list[Path]:
    """The journal's batch files in commit order."""
    try:
        names = os.listdir(_journal(path))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [_journal(path) / n for n in sorted(n for n in names if _BATCH.fullmatch(n))]


def _identity(attrs: Any) -> str:
    vals = {k: attrs.get(k) for k in _IDENTITY}
    return json.dumps({k: v.item() if isinstance(v, np.generic) else v for k, v in vals.items()}, sort_keys=True)


def _read_batch(p: Path, identity: str) -> dict[str, np.ndarray]:
    try:
        with np.load(p, allow_pickle=False) as z:
            b = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise InputError(f"{str(p)!r}: expected a journal batch of ednn data, got {type(exc).__name__}: {exc}") from None
    if str(b.pop("identity", "")) != identity:
        raise InputError(
            f"{str(p)!r}: this journal batch was made with other settings than {str(p.parent)[:-len('.journal')]!r} "
            "(kind, seed, generator, label settings); move the folder away to go on"
        )
    return b


def _add_batch(path: Path, b: dict[str, np.ndarray], identity: str) -> int:
    """Commit batch ``b`` to the journal; returns its size in bytes."""
    batches = _pending(path)
    seq = int(batches[-1].stem) + 1 if batches else 1
    target = _journal(path) / f"{seq:08d}.npz"
    target.parent.mkdir(exist_ok=True)
    with atomic_write(target, overwrite=False) as fh:
        np.savez(fh, identity=np.array(identity), **b)
    return target.stat().st_size


def _merge(path: Path, identity: str, *, count: int | None = None, clear_failed: bool = False) -> None:
    """Merge the journal into a copy of the file, rename it over the file, then delete the batches."""
    import h5py

    batches = _pending(path)
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as h5:
            _trim(h5)
            if count is not None and count > int(h5.attrs["count"]):
                h5.attrs["count"] = int(count)
            if clear_failed:
                for name in ("index", "trajectory", "reason"):
                    h5["failed"][name].resize(0, axis=0)
            done, failed = set(h5["index"][:].tolist()), set(h5["failed/index"][:].tolist())
            parts = []
            for p in batches:
                b = _unseen(_read_batch(p, identity), done, failed)
                parts.append(b)
                done.update(b["index"].tolist())
                failed.update(b["failed.index"].tolist())
            if parts:
                _write_batch(h5, _concat(parts))  # one append per dataset, however many batches
    for p in batches:
        p.unlink()


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Batches as one (offsets from 0)."""
    shift = np.cumsum([0] + [len(b["positions"]) for b in parts[:-1]])
    return {k: np.concatenate([b[k] + d if k == "offset" else b[k] for b, d in zip(parts, shift)])
            for k in parts[0]}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the journal's lock (refusing a second writer); remove the journal folder when it is empty."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: no lock
        fcntl = None
    folder = _journal(path)
    fd = None
    while fcntl is not None:
        lock = folder / "lock"
        try:
            folder.mkdir(exist_ok=True)
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
            except FileNotFoundError:  # the folder was just removed by the previous writer: again
                continue
        except OSError as exc:
            raise InputError(f"out: expected a file in a folder this process can write in, got {str(path)!r} "
                             f"({type(exc).__name__}: {exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(f"out: {str(path)!r} is being written by another process (it holds {str(lock)!r}); "
                             "wait for it to finish or choose another output file") from None
        try:  # the lock file may have been removed, and made anew, between the open and the lock
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        remove_stale(folder, folder=True)
        yield
    finally:
        with contextlib.suppress(OSError):
            if not _pending(path):
                (folder / "lock").unlink(missing_ok=True)
                folder.rmdir()
        if fd is not None:
            os.close(fd)


def _check_same(h5: Any, attrs: dict[str, Any], path: Path) -> None:
    if h5.attrs.get("format") != FORMAT:
        raise InputError(f"out: expected an {FORMAT} file to resume, got {str(path)!r} with format "
                         f"{h5.attrs.get('format')!r}")
    for key in ("kind", "seed", "generator", "label_settings"):
        have, want = h5.attrs.get(key), attrs[key]
        have = have.item() if isinstance(have, np.generic) else have
        if have != want:
            raise InputError(
                f"out: {str(path)!r} was made with {key} = {have!r}; this run asks for {want!r}. Use the same "
                "settings to resume, or another output file"
            )


def label_dataset(
    path: str | os.PathLike[str],
    config: SheetsConfig | PorousConfig,
    count: int,
    *,
    seed: int = 0,
    settings: LabelSettings | None = None,
    workers: int = 1,
    threads: int = 1,
    blas: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate and label ``count`` samples into the HDF5 file ``path``, resuming what is already there.

    Samples are numbered ``0 .. count - 1``; sample ``i`` is snapshot ``i % snapshots`` of
    trajectory ``i // snapshots``, reproducible from ``seed`` alone. Samples already stored (or
    recorded as failed, unless ``retry_failed``) are skipped, so rerunning the same command with a
    larger ``count`` extends the file. A file made with other generator or label settings is refused.
    Every trajectory is committed as soon as it is labelled (the journal, see the module): a run
    killed at any moment loses only the trajectories being labelled, and the same call resumes it.

    Parameters
    ----------
    workers
        Worker processes (0: label in this process, which cannot take a BLAS preload).
    threads
        OpenMP / BLAS threads per worker (``OMP_NUM_THREADS``); workers x threads should not exceed
        the cores. Small cells: many workers, one thread each; large cells: fewer workers.
    blas
        ``"openblas"``, ``"mkl"``, a library path, or None: preloaded into the workers.

    Returns
    -------
    ``{"path", "stored", "failed", "new", "new_failed", "seconds"}``.
    """
    settings = settings or LabelSettings()
    for name, v, lo in (("count", count, 0), ("workers", workers, 0), ("threads", threads, 1), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise InputError(f"{name}: expected an int >= {lo}, got {v!r}")
    if not isinstance(config, (SheetsConfig, PorousConfig)):
        raise InputError(f"config: expected a SheetsConfig or PorousConfig, got {type(config).__name__}")
    preload = blas_preload_path(blas)
    if preload and workers == 0:
        raise InputError("blas: a preload needs workers >= 1 (it only applies to new processes), got workers=0")
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"out: expected a file in an existing directory, got {str(path)!r}")
    attrs = _root_attrs(config, settings, seed, count)
    identity = _identity(attrs)
    t0 = time.perf_counter()
    with _locked(path):
        _open(path, attrs)
        if _pending(path):  # batches of an interrupted run
            _merge(path, identity, count=count)
        done, failed_before = _stored(path, count, identity)
        if retry_failed and failed_before:
            _merge(path, identity, clear_failed=True)
            failed_before = set()
        skip = done | failed_before
        snaps = config.snapshots
        todo: dict[int, list[int]] = {}
        for i in range(count):
            if i not in skip:
                todo.setdefault(i // snaps, []).append(i % snaps)
        n_todo = sum(len(v) for v in todo.values())
        new_ok = new_bad = 0
        cfg, sdict = config.to_dict(), settings.to_dict()
        journal_bytes = 0
        try:
            with progress_bar(n_todo, f"ednn data {config.kind}", "samples", enable=progress) as bar, \
                    contextlib.closing(_run(todo, cfg, seed, sdict, workers, threads, preload)) as results:
                for samples in results:
                    b = _batch(samples)
                    journal_bytes += _add_batch(path, b, identity)
                    ok, bad = len(b["index"]), len(b["failed.index"])
                    new_ok, new_bad = new_ok + ok, new_bad + bad
                    bar.set_postfix_str(f"failed {new_bad}", refresh=False)
                    bar.update(ok + bad)
                    if journal_bytes >= _MERGE_FACTOR * path.stat().st_size:
                        _merge(path, identity, count=count)
                        journal_bytes = 0
        except BaseException:
            with contextlib.suppress(Exception):  # what the journal holds is kept either way
                if _pending(path):
                    _merge(path, identity, count=count)
            raise
        if _pending(path):
            _merge(path, identity, count=count)
        stored, failed = _counts(path)
    return {"path": str(path), "stored": stored, "failed": failed, "new": new_ok, "new_failed": new_bad,
            "seconds": time.perf_counter() - t0}


def _open(path: Path, attrs: dict[str, Any]) -> None:
    """Create the file (empty) when there is none; check that an existing one has the same settings."""
    import h5py

    if path.exists():
        try:
            with h5py.File(path, "r") as h5:
                if "format" in h5.attrs or len(h5.keys()):
                    _check_same(h5, attrs, path)
                    return
        except OSError as exc:
            raise InputError(f"out: expected a new or an existing HDF5 file, got {str(path)!r} ({exc})") from None
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        _create(h5, attrs)


def _stored(path: Path, count: int, identity: str) -> tuple[set[int], set[int]]:
    """Indices stored and recorded as failed; raises the file's ``count`` to ``count`` if lower."""
    import h5py

    with h5py.File(path, "r") as h5:
        n = h5["index"].shape[0]
        done, failed = set(h5["index"][:n].tolist()), set(h5["failed/index"][:].tolist())
        lower = int(h5.attrs["count"]) < count
    if lower:
        _merge(path, identity, count=count)
    return done, failed


def _counts(path: Path) -> tuple[int, int]:
    import h5py

    with h5py.File(path, "r") as h5:
        return int(h5["index"].shape[0]), int(h5["failed/index"].shape[0])


def _run(todo: dict[int, list[int]], cfg: dict[str, Any], seed: int, sdict: dict[str, Any], workers: int,
         threads: int, preload: str | None) -> Iterator[list[Sample]]:
    if not todo:
        return
    if workers == 0:
        for traj, wanted in todo.items():
            yield _work(cfg, seed, traj, wanted, sdict)
        return
    import multiprocessing as mp

    env = worker_env(threads, preload)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # spawned workers inherit it; this process is unaffected (already running)
    try:
        ctx = mp.get_context("spawn")  # a clean process: no forked OpenMP state, the preload applies
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(os.getpid(),))
        try:
            items = iter(todo.items())
            pending: set[Future[list[Sample]]] = set()
            for traj, wanted in items:  # keep at most 2 jobs per worker queued
                pending.add(pool.submit(_work, cfg, seed, traj, wanted, sdict))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield fut.result()
                for traj, wanted in items:
                    pending.add(pool.submit(_work, cfg, seed, traj, wanted, sdict))
                    if len(pending) >= 2 * workers:
                        break
        except BaseException:  # interrupted or failed: do not wait for the queued trajectories
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------- reading
class AtomsDataset:
    """A labelled atoms dataset read into memory (``load(path)``).

    ``len(ds)``, ``ds[i]`` (an ``ase.Atoms`` with ``info["energy"]`` in eV), ``ds.energy`` (eV),
    ``ds.natoms``, ``ds.cells`` (n, 3, 3), ``ds.attrs`` (root attributes), ``ds.columns`` (every
    per-sample array by name), ``ds.failed`` (indices and reasons). Images of the samples:
    :meth:`ednn.atoms.ImageRecipe.from_dataset` with ``ds.attrs``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"path: expected an existing HDF5 dataset, got {str(path)!r} (no such file)")
        for _ in range(20):
            batches = _pending(self.path)  # listed before the file is opened: see _read_journal
            self._read_file()
            try:
                self._read_journal(batches)
                return
            except FileNotFoundError:  # a writer merged the batches into the file meanwhile: read again
                continue
        raise InputError(f"path: {str(path)!r} kept changing while it was read (a writer merging often?); try again")

    def _read_file(self) -> None:
        import h5py

        with h5py.File(self.path, "r") as h5:
            if h5.attrs.get("format") != FORMAT:
                raise InputError(f"path: expected an {FORMAT} file, got {str(self.path)!r} with format "
                                 f"{h5.attrs.get('format')!r}")
            self.attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v.item() if isinstance(v, np.generic) else v)
                          for k, v in h5.attrs.items()}
            n = h5["index"].shape[0]
            self.columns: dict[str, np.ndarray] = {"index": h5["index"][:]}
            for name in _PER_SAMPLE:
                self.columns[name] = h5[name][:n]
            for name in _STRINGS:
                self.columns[name] = h5[name].asstr()[:n]
            self.cells = h5["cell"][:n]
            atoms = int(self.columns["offset"][-1] + self.columns["natoms"][-1]) if n else 0
            self._positions = h5["positions"][:atoms]
            self._numbers = h5["numbers"][:atoms]
            g = h5["failed"]
            self.failed = {"index": g["index"][:], "trajectory": g["trajectory"][:len(g["index"])],
                           "reason": g["reason"].asstr()[:len(g["index"])]}

    def _read_journal(self, batches: list[Path]) -> None:
        """Add the samples of journal batches not merged into the file yet (a running or killed writer).

        A batch listed before the file was opened is either still there (and its samples are in the
        file or not: those in it are skipped) or was deleted after a merge into a newer file
        (FileNotFoundError: the caller reads again)."""
        if not batches:
            return
        identity = _identity(self.attrs)
        done, failed = set(self.columns["index"].tolist()), set(self.failed["index"].tolist())
        atoms = self._positions.shape[0]
        cols = {k: [v] for k, v in self.columns.items()}
        cells, positions, numbers = [self.cells], [self._positions], [self._numbers]
        fail = {k: [v] for k, v in self.failed.items()}
        for p in batches:
            b = _unseen(_read_batch(p, identity), done, failed)
            for k in cols:
                v = b[k] + atoms if k == "offset" else b[k]
                cols[k].append(v.astype(object) if k in _STRINGS else v)
            cells.append(b["cell"])
            positions.append(b["positions"])
            numbers.append(b["numbers"])
            atoms += b["positions"].shape[0]
            for k in fail:
                fail[k].append(b[f"failed.{k}"].astype(object) if k == "reason" else b[f"failed.{k}"])
            done.update(b["index"].tolist())
            failed.update(b["failed.index"].tolist())
        self.columns = {k: np.concatenate(v) for k, v in cols.items()}
        self.cells, self._positions, self._numbers = np.concatenate(cells), np.concatenate(positions), np.concatenate(numbers)
        self.failed = {k: np.concatenate(v) for k, v in fail.items()}

    def __len__(self) -> int:
        return int(self.columns["index"].shape[0])

    @property
    def energy(self) -> np.ndarray:
        return self.columns["energy"]

    @property
    def natoms(self) -> np.ndarray:
        return self.columns["natoms"]

    def positions(self, i: int) -> np.ndarray:
        o, n = int(self.columns["offset"][i]), int(self.columns["natoms"][i])
        return self._positions[o:o + n]

    def numbers(self, i: int) -> np.ndarray:
        o, n = int(self.columns["offset"][i]), int(self.columns["natoms"][i])
        return self._numbers[o:o + n].astype(np.int64)

    def __getitem__(self, i: int) -> Any:
        from ase import Atoms

        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples")
        i %= len(self)
        a = Atoms(numbers=self.numbers(i), positions=self.positions(i), cell=self.cells[i], pbc=[True, True, False])
        a.info.update({k: (v[i].item() if isinstance(v[i], np.generic) else v[i]) for k, v in self.columns.items()})
        return a

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def summary(self) -> str:
        a = self.attrs
        lines = [f"{self.path}: {len(self)} samples ({a.get('kind')}), {len(self.failed['index'])} failed, "
                 f"{a.get('count')} requested"]
        lines.append(f"  labels     {a.get('label_method')}")
        lines.append(f"  convention {a.get('energy_convention')} [{a.get('energy_units')}]")
        if len(self):
            e_atom = self.energy / self.natoms
            lines.append(f"  atoms      {int(self.natoms.min())} .. {int(self.natoms.max())}")
            lines.append(f"  E/atom     {e_atom.min():.4f} .. {e_atom.max():.4f} eV (mean {e_atom.mean():.4f})")
            t = self.columns["label_seconds"]
            lines.append(f"  label time {np.median(t):.2f} s median, {t.max():.2f} s max, {t.sum() / 3600:.2f} h total")
            fams, counts = np.unique(self.columns["family"], return_counts=True)
            lines.append("  families   " + ", ".join(f"{f} {c}" for f, c in zip(fams, counts)))
            th = sorted(set(self.columns["thermal"].tolist()))
            blas = ", ".join(sorted(set(self.columns["label_blas"].tolist())))
            lines.append(f"  thermal    {', '.join(th)}; BLAS {blas}")
            retried = int((self.columns["scf_attempts"] > 1).sum())
            lines.append(f"  SCF        {retried} labels needed a retry")
        for i, r in zip(self.failed["index"][:5], self.failed["reason"][:5]):
            lines.append(f"  failed {int(i)}: {r}")
        return "\n".join(lines)


def load(path: str | os.PathLike[str]) -> AtomsDataset:
    """Read a dataset written by :func:`label_dataset`."""
    return AtomsDataset(path)
