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

Appends are flushed after every trajectory; ``index`` is written last and is the commit marker, so
a file from an interrupted run is trimmed to its complete samples when it is opened to resume.

One module on purpose (~470 lines): the writer (parallel, resumable, trimmed on resume) and the
reader share the file layout above, which must not drift apart.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .xtb import Label, LabelError, LabelSettings, blas_in_use, blas_preload_path, label, tblite_version, worker_env
from ..progress import progress_bar
from .sheets import (
    BASE_CELLS,
    BASE_GRID,
    BASE_SPACING,
    CELL_Z,
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
def _init_worker() -> None:
    import warnings

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
    for s in wanted:
        a = frames[s]
        try:
            lab, err = label(a, settings), None
        except LabelError as exc:
            lab, err = None, f"SCF: {exc}"
        except Exception as exc:  # tblite input errors and the like: record, never store an energy
            lab, err = None, f"{type(exc).__name__}: {exc}"
        out.append(Sample(base + s, trajectory, a.numbers.astype(np.int32), a.get_positions(), a.cell.array.copy(),
                          dict(a.info), lab, err, blas))
    return out


# --------------------------------------------------------------------------- the file
def _root_attrs(config: SheetsConfig | PorousConfig, settings: LabelSettings, seed: int, count: int) -> dict[str, Any]:
    from .._ednn import __version__

    # tblite's energies shift with the cell's z length (an extensive offset): it is part of the convention
    conv = f"total energy of the cell at the Gamma point, cell z length {float(CELL_Z)!r} Angstrom"
    if isinstance(config, SheetsConfig):  # 256 x 256 per 60-site block, the same spacing for every multiple
        spacing = list(BASE_SPACING)
        exact = [g * config.repeat * c / b for g, c, b in zip(BASE_GRID, config.cells, BASE_CELLS)]
        grid = [int(v) for v in exact] if all(float(v).is_integer() for v in exact) else []  # [] if off-grid
    else:
        spacing, grid = list(POROUS_SPACING), list(POROUS_GRID)
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


def _write(h5: Any, samples: Sequence[Sample]) -> tuple[int, int]:
    good = [s for s in samples if s.label is not None]
    bad = [s for s in samples if s.label is None]
    if good:
        start = h5["positions"].shape[0]
        natoms = np.array([len(s.numbers) for s in good], dtype=np.int64)
        offsets = start + np.concatenate([[0], np.cumsum(natoms)[:-1]])
        _append(h5["positions"], np.concatenate([s.positions for s in good]))
        _append(h5["numbers"], np.concatenate([s.numbers for s in good]).astype(np.uint8))
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
        for k, dt in _PER_SAMPLE.items():
            _append(h5[k], np.asarray(cols[k], dtype=dt))
        for k in _STRINGS:
            _append(h5[k], np.asarray(cols[k], dtype=object))
        _append(h5["cell"], np.stack([s.cell for s in good]))
        _append(h5["index"], np.array([s.index for s in good], dtype=np.int64))  # commit marker: last
    if bad:
        g = h5["failed"]
        _append(g["trajectory"], np.array([s.trajectory for s in bad], dtype=np.int64))
        _append(g["reason"], np.asarray([s.error or "" for s in bad], dtype=object))
        _append(g["index"], np.array([s.index for s in bad], dtype=np.int64))
    h5.flush()
    return len(good), len(bad)


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
    import h5py

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
    attrs = _root_attrs(config, settings, seed, count)
    t0 = time.perf_counter()
    try:
        h5file = h5py.File(path, "a")
    except OSError as exc:
        raise InputError(f"out: expected a new or an existing HDF5 file, got {str(path)!r} ({exc})") from None
    with h5file as h5:
        if "format" in h5.attrs or len(h5.keys()):
            _check_same(h5, attrs, path)
            _trim(h5)
            h5.attrs["count"] = max(int(h5.attrs["count"]), int(count))
        else:
            _create(h5, attrs)
        done = set(h5["index"][:].tolist())
        failed_before = set(h5["failed/index"][:].tolist())
        if retry_failed and failed_before:
            for name in ("index", "trajectory", "reason"):
                h5["failed"][name].resize(0, axis=0)
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
        with progress_bar(n_todo, f"ednn data {config.kind}", "samples", enable=progress) as bar:
            for samples in _run(todo, cfg, seed, sdict, workers, threads, preload):
                ok, bad = _write(h5, samples)
                new_ok, new_bad = new_ok + ok, new_bad + bad
                bar.set_postfix_str(f"failed {new_bad}", refresh=False)
                bar.update(ok + bad)
        stored, failed = h5["index"].shape[0], h5["failed/index"].shape[0]
    return {"path": str(path), "stored": stored, "failed": failed, "new": new_ok, "new_failed": new_bad,
            "seconds": time.perf_counter() - t0}


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
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)
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
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"path: expected an existing HDF5 dataset, got {str(path)!r} (no such file)")
        with h5py.File(self.path, "r") as h5:
            if h5.attrs.get("format") != FORMAT:
                raise InputError(f"path: expected an {FORMAT} file, got {str(path)!r} with format "
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
