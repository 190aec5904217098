"""Quantum-mechanical energy labels for 2-D sheets: GFN1-xTB through ``tblite``.

The label of a sheet is the total energy (eV) of a single-point GFN1-xTB calculation with periodic
boundary conditions along x and y only (``periodic = [True, True, False]``) at the Γ point only
(tblite has no k-points). The absolute energies include tblite's atomic reference energies (about
-58 eV per carbon atom); differences are what a model learns.

The cell's z vector still enters tblite's electrostatics: the energy per atom shifts with the z
length (h-BN: -6.4 meV/atom from 15 to 20 Angstrom, and it keeps drifting for longer cells), by the
same amount for 60- and 240-atom cells (to 0.05 meV/atom), so it is an extensive offset as long as
every cell has the same z length. All generated sheets use ``ednn.data.sheets.CELL_Z`` = 20 Angstrom.

Convergence
-----------
The SCF runs with the settings of :class:`LabelSettings` (default mixer damping 0.1: with tblite's
default 0.4 large disordered sheets oscillate and do not converge). When tblite reports an
unconverged SCF, the attempts in ``LabelSettings.retries`` run in turn (smaller damping, more
iterations; optionally another electronic temperature, which changes what the energy means and is
therefore recorded with every label). If every attempt fails, :class:`LabelError` is raised: an
unconverged energy is never returned.

Γ-point finite-size error
-------------------------
Γ-only energies are not exactly extensive: E/atom of the 60-site pristine graphene cell and of the
same cell tiled 2 x 2 differ by 5.5 meV/atom (see docs/sheets.md). ``LabelSettings.repeat = n``
labels the n x n tiled cell instead and divides by n^2 (n x n k-point sampling folded onto Γ), at
n^2 times the atoms; the choice is stored with every dataset.

Fast BLAS
---------
The tblite wheel ships a reference BLAS/LAPACK. Preloading an optimised one gives the same energies
about 3-5x faster for 240 atoms: ``LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0``
(Debian package ``libopenblas0-pthread``) or ``$VIRTUAL_ENV/lib/libmkl_rt.so.2`` (``pip install mkl``).
A preload only applies to a new process; :func:`blas_preload_path` resolves the names ``openblas``
and ``mkl`` and ``ednn.data.atoms_h5`` sets it for its worker processes.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = [
    "LabelSettings",
    "Label",
    "LabelError",
    "label",
    "xtb_energy",
    "xtb_charges",
    "blas_preload_path",
    "blas_in_use",
    "worker_env",
    "tblite_version",
    "HARTREE_EV",
    "BOHR_ANGSTROM",
]

#: CODATA 2018 values, as in ASE (eV per Hartree, Angstrom per Bohr).
HARTREE_EV = 27.211386245988
BOHR_ANGSTROM = 0.529177210903
_KELVIN_HARTREE = 3.166808578545117e-6  # Boltzmann constant in Hartree / K
_METHODS = ("GFN1-xTB", "GFN2-xTB", "IPEA1-xTB")


class LabelError(RuntimeError):
    """Every SCF attempt of a label failed to converge (or tblite failed); no energy is kept."""


@dataclass(frozen=True)
class LabelSettings:
    """Settings of one label calculation (stored with every dataset).

    Attributes
    ----------
    method
        tblite method, default ``"GFN1-xTB"``.
    electronic_temperature
        Fermi smearing temperature in K (tblite's default 9.5e-4 Hartree = 300 K).
    mixer_damping
        Broyden mixer damping of the first attempt (0.1; tblite's default is 0.4).
    max_iterations
        SCF cycles of the first attempt.
    accuracy
        tblite's accuracy (numerical thresholds), default 1.0.
    retries
        Further attempts after an unconverged SCF: ``(mixer_damping, electronic_temperature_K,
        max_iterations)`` each, tried in order.
    repeat
        Label the cell tiled ``repeat x repeat`` in-plane and divide the energy by ``repeat**2``.
    """

    method: str = "GFN1-xTB"
    electronic_temperature: float = 300.0
    mixer_damping: float = 0.1
    max_iterations: int = 250
    accuracy: float = 1.0
    retries: tuple[tuple[float, float, int], ...] = ((0.05, 300.0, 500), (0.02, 300.0, 1000))
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise InputError(f"method: expected one of {', '.join(_METHODS)}, got {self.method!r}")
        retries = tuple(tuple(r) for r in self.retries)
        object.__setattr__(self, "retries", retries)
        for damping, temp, iters in ((self.mixer_damping, self.electronic_temperature, self.max_iterations),
                                     *retries):
            _check_attempt(damping, temp, iters)
        if not (math.isfinite(self.accuracy) and self.accuracy > 0):
            raise InputError(f"accuracy: expected a positive number, got {self.accuracy!r}")
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int) or self.repeat < 1:
            raise InputError(f"repeat: expected an int >= 1, got {self.repeat!r}")

    @property
    def attempts(self) -> tuple[tuple[float, float, int], ...]:
        """``(mixer_damping, electronic_temperature_K, max_iterations)`` of every attempt, in order."""
        return ((self.mixer_damping, self.electronic_temperature, self.max_iterations), *self.retries)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["retries"] = [list(r) for r in self.retries]
        d["periodic"] = [True, True, False]
        d["kpoints"] = "Gamma"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LabelSettings":
        d = {k: v for k, v in d.items() if k not in ("periodic", "kpoints")}
        if "retries" in d:
            d["retries"] = tuple(tuple(r) for r in d["retries"])
        return cls(**d)

    def describe(self) -> str:
        """One line for metadata (``ednn.label_method``)."""
        n = self.repeat
        tiled = f", labelled on the {n}x{n} tiled cell / {n * n}" if n > 1 else ""
        return (
            f"{self.method} (tblite {tblite_version()}), periodic x-y, Gamma point, electronic temperature "
            f"{self.electronic_temperature:g} K{tiled}; total energy in eV"
        )


def _check_attempt(damping: Any, temp: Any, iters: Any) -> None:
    if not (isinstance(damping, (int, float)) and 0 < damping <= 1):
        raise InputError(f"mixer_damping: expected a value in (0, 1], got {damping!r}")
    if not (isinstance(temp, (int, float)) and math.isfinite(temp) and temp > 0):
        raise InputError(f"electronic_temperature: expected a positive value in K, got {temp!r}")
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise InputError(f"max_iterations: expected an int >= 1, got {iters!r}")


@dataclass(frozen=True)
class Label:
    """A converged label: energy (eV) and how it was obtained."""

    energy: float
    mixer_damping: float
    electronic_temperature: float
    attempts: int
    seconds: float


def tblite_version() -> str:
    try:
        from importlib.metadata import version

        return version("tblite")
    except Exception:
        return "unknown"


def xtb_energy(
    numbers: np.ndarray,
    positions: np.ndarray,
    cell: np.ndarray,
    *,
    method: str = "GFN1-xTB",
    mixer_damping: float = 0.1,
    electronic_temperature: float = 300.0,
    max_iterations: int = 250,
    accuracy: float = 1.0,
) -> float:
    """One tblite single point, periodic in x and y, at Γ: the total energy in eV.

    ``positions`` (n, 3) and ``cell`` (3, 3) in Angstrom. Raises ``tblite``'s runtime error when
    the SCF does not converge within ``max_iterations``.
    """
    res = _singlepoint(numbers, positions, cell, {"method": method, "mixer_damping": mixer_damping,
                                                   "electronic_temperature": electronic_temperature,
                                                   "max_iterations": max_iterations, "accuracy": accuracy})
    return float(res.get("energy")) * HARTREE_EV


def xtb_charges(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, **settings: Any) -> tuple[float, np.ndarray]:
    """The single point of :func:`xtb_energy` (same arguments and keyword settings) with its atomic
    partial charges: ``(energy in eV, charges (n,) in e)``, positive where electrons left."""
    res = _singlepoint(numbers, positions, cell, settings)
    return float(res.get("energy")) * HARTREE_EV, np.asarray(res.get("charges"), dtype=np.float64)


#: keyword settings of :func:`xtb_energy` and their defaults
_SINGLEPOINT = {"method": "GFN1-xTB", "mixer_damping": 0.1, "electronic_temperature": 300.0, "max_iterations": 250,
                "accuracy": 1.0}


def _singlepoint(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, settings: dict[str, Any]) -> Any:
    from tblite.interface import Calculator

    unknown = sorted(set(settings) - set(_SINGLEPOINT))
    if unknown:
        raise InputError(f"settings: expected keywords among {sorted(_SINGLEPOINT)}, got {unknown}")
    s = {**_SINGLEPOINT, **settings}
    calc = Calculator(
        s["method"],
        np.asarray(numbers, dtype=np.int32),
        np.asarray(positions, dtype=np.float64) / BOHR_ANGSTROM,
        lattice=np.asarray(cell, dtype=np.float64) / BOHR_ANGSTROM,
        periodic=np.array([True, True, False]),
        color=False,
        logger=_quiet,
    )
    calc.set("verbosity", 0)
    calc.set("accuracy", float(s["accuracy"]))
    calc.set("max-iter", int(s["max_iterations"]))
    calc.set("mixer-damping", float(s["mixer_damping"]))
    calc.set("temperature", float(s["electronic_temperature"]) * _KELVIN_HARTREE)
    return calc.singlepoint()


def _quiet(message: str) -> None:
    pass


def label(atoms: Any, settings: LabelSettings | None = None) -> Label:
    """GFN1-xTB total energy (eV) of a sheet (``ase.Atoms``), retrying unconverged SCFs.

    The sheet must be periodic along x and y with a cell whose z vector leaves vacuum; keep its
    length the same for every label of a dataset (the energy depends on it, see the module notes).
    Raises :class:`LabelError` when no attempt converges (the message lists every attempt) and
    :class:`~ednn.InputError` for an unusable structure.
    """
    s = settings or LabelSettings()
    if len(atoms) == 0:
        raise InputError("atoms: expected at least one atom, got an empty structure")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if not (pbc[0] and pbc[1]):
        raise InputError(f"atoms.pbc: expected periodic x and y (a sheet), got {pbc.tolist()}")
    if abs(atoms.cell.volume) < 1e-9:
        raise InputError("atoms.cell: expected three linearly independent cell vectors (z sets the vacuum), got a "
                         f"singular cell {atoms.cell.array.tolist()}")
    work = atoms.repeat((s.repeat, s.repeat, 1)) if s.repeat > 1 else atoms
    numbers, pos, cell = work.numbers, work.get_positions(), work.cell.array
    errors = []
    t0 = time.perf_counter()
    for k, (damping, temp, iters) in enumerate(s.attempts, start=1):
        try:
            e = xtb_energy(numbers, pos, cell, method=s.method, mixer_damping=damping,
                           electronic_temperature=temp, max_iterations=iters, accuracy=s.accuracy)
        except RuntimeError as exc:  # TBLiteRuntimeError: "SCF not converged in N cycles", ...
            errors.append(f"damping {damping:g}, {temp:g} K, {iters} cycles: {exc}")
            continue
        if not math.isfinite(e):
            errors.append(f"damping {damping:g}, {temp:g} K, {iters} cycles: non-finite energy {e!r}")
            continue
        return Label(e / s.repeat**2, float(damping), float(temp), k, time.perf_counter() - t0)
    raise LabelError("; ".join(errors))


# --------------------------------------------------------------------------- BLAS
_BLAS_CANDIDATES = {
    "openblas": [
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib64/libopenblas.so.0",
    ],
    "mkl": [str(Path(sys.prefix) / "lib" / f"libmkl_rt.so.{v}") for v in (2, 3)],
}


def blas_preload_path(blas: str | os.PathLike[str] | None) -> str | None:
    """The shared library to ``LD_PRELOAD`` for ``blas``: None, ``"openblas"``, ``"mkl"`` or a path."""
    if blas is None or blas in ("", "none", "reference"):
        return None
    name = str(blas)
    if name in _BLAS_CANDIDATES:
        for cand in _BLAS_CANDIDATES[name]:
            if Path(cand).is_file():
                return cand
        hint = "apt-get install libopenblas0-pthread" if name == "openblas" else "pip install mkl"
        looked = ", ".join(_BLAS_CANDIDATES[name])
        raise InputError(f"blas: expected {name} to be installed ({hint}); looked for {looked}")
    if not Path(name).is_file():
        raise InputError(f"blas: expected 'openblas', 'mkl', 'none' or the path of a BLAS library, got {name!r} "
                         "(no such file)")
    return name


def worker_env(threads: int, preload: str | None = None) -> dict[str, str]:
    """Environment variables for a labelling process: ``threads`` OpenMP/BLAS threads, a deep OpenMP
    stack (large cells need it; an ``OMP_STACKSIZE`` already set is kept) and ``preload`` (a library
    path from :func:`blas_preload_path`) prepended to ``LD_PRELOAD``."""
    env = {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env["OMP_STACKSIZE"] = os.environ.get("OMP_STACKSIZE", "512M")
    if preload:
        env["LD_PRELOAD"] = ":".join(p for p in (preload, os.environ.get("LD_PRELOAD", "")) if p)
    return env


def blas_in_use() -> str:
    """Which optimised BLAS this process has mapped (``openblas``, ``mkl``) or ``reference``."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown"
    if "libmkl_rt" in maps:
        return "mkl"
    if "libopenblas" in maps:
        return "openblas"
    return "reference"


def settings_from_args(
    *,
    method: str = "GFN1-xTB",
    electronic_temperature: float = 300.0,
    mixer_damping: float = 0.1,
    max_iterations: int = 250,
    retry_dampings: Sequence[float] = (0.05, 0.02),
    retry_temperatures: Sequence[float] = (),
    repeat: int = 1,
) -> LabelSettings:
    """:class:`LabelSettings` from command-line style lists: damping retries, then temperature retries.

    Damping retries keep the electronic temperature and double the cycles each time; temperature
    retries (which change what the energy means) use the first damping and the first cycles.
    """
    retries = []
    iters = max_iterations
    for d in retry_dampings:
        iters *= 2
        retries.append((float(d), float(electronic_temperature), int(iters)))
    for t in retry_temperatures:
        retries.append((float(mixer_damping), float(t), int(max_iterations)))
    return LabelSettings(method=method, electronic_temperature=float(electronic_temperature),
                         mixer_damping=float(mixer_damping), max_iterations=int(max_iterations),
                         retries=tuple(retries), repeat=int(repeat))
