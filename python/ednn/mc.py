"""Metropolis Monte Carlo of atomic sheets with EDNN energies, re-evaluating only what a move changes.

The paper (section 3.4, Fig. 13) runs Metropolis Monte Carlo of graphene with the EDNN as the
energy. A single-atom move changes the Eq. 2 image only within the rasterizer's cutoff
(:data:`ednn.rasterize.CUTOFF_GAMMAS` γ) of the atom's old and new positions, so only the tiles
whose window (focus + context) overlaps those two discs change their contribution. :class:`LocalEnergy`
keeps every tile's contribution; a trial move re-rasterizes one window covering the touched tiles
(the compiled rasterizer's window mode, from the atoms of the few cells of a cell list around it),
cuts those tiles, runs the network on them (:func:`ednn.inference.run_tiles`) and returns the energy
change. The cost of a step does not depend on the size of the sheet.

:func:`run` is the Metropolis loop: single-atom moves in the plane (uniform in a square of half
width ``step``, adapted towards a target acceptance during the first ``adapt`` steps and then
fixed, so that the chain satisfies detailed balance), a running energy checked against a full
evaluation (:func:`ednn.atoms.predict`) every ``check_every`` steps, ASE-readable frames (extxyz).

Moves stay in the plane. A model trained on flattened sheets (``ednn.positions = flattened``,
the shipped ``sheets`` model) sees a flat sheet exactly as given — flattening a flat sheet is the
identity — so it is used on flat sheets (all atoms at one height) and stays exact and local; the
flattening of a rippled sheet is a global least-squares solve that a local move would change
everywhere, and such a sheet is refused.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import cell_lengths, check_optional_positive_int
from .atoms.domain import MIN_DISTANCE, check_atoms
from .atoms.predict import _unpack
from .atoms.recipe import ImageRecipe
from .errors import InputError
from .inference import default_batch_size, run_tiles
from .model import Model, load_model
from .progress import progress_bar
from .rasterize import CUTOFF_GAMMAS, prepare, rasterize

__all__ = ["LocalEnergy", "MCResult", "run", "KB_EV"]

#: Boltzmann constant in eV / K.
KB_EV = 8.617333262e-5


class LocalEnergy:
    """The EDNN energy of a periodic sheet, kept per tile, with O(1) updates after single-atom moves.

    Parameters
    ----------
    model
        A 2-D one-channel atoms model (path, shipped name via :func:`ednn.models.path`, or
        :class:`ednn.Model`) with one output, in eV.
    atoms, numbers, cell
        An ``ase.Atoms`` or ``(n, 3)`` positions with ``numbers`` and a rectangular ``cell``, as for
        :func:`ednn.atoms.predict`; elements outside the model's ``ednn.species`` are refused.
    providers, threads, batch_size
        As for :func:`ednn.atoms.predict`.
    min_distance
        Closest approach (Angstrom) of two atoms, refused in the start configuration and never
        reached by a move (a hard core: such a move has infinite energy; the model knows nothing of
        overlapping atoms). None: no such limit (non-interacting test particles).

    Attributes
    ----------
    positions
        ``(n, 3)`` float64, the current configuration (x and y wrapped into the cell).
    energy
        The running energy (eV): the sum of the tile contributions, updated by :meth:`accept`.
    """

    def __init__(self, model: str | os.PathLike[str] | Model, atoms: Any, numbers: Any = None, cell: Any = None, *,
                 providers: Sequence[Any] | None = None, threads: int | None = None,
                 batch_size: int | None = None, min_distance: float | None = MIN_DISTANCE) -> None:
        m = load_model(model)
        if m.ndim != 2 or m.n_outputs != 1:
            raise InputError(f"model: expected a 2-D model with one output (the energy of a sheet), got "
                             f"ednn.ndim={m.ndim} and outputs {', '.join(m.outputs)}")
        if (m.units or "eV") != "eV":
            raise InputError(f"model: expected energies in eV (ednn.units), got {m.units!r}")
        for name, v in (("threads", threads), ("batch_size", batch_size)):
            check_optional_positive_int(name, v)
        recipe = ImageRecipe.from_model(m)
        if recipe.channels != ("V",):
            raise InputError(f"model: expected the Eq. 2 image as the only input channel, got {list(recipe.channels)}")
        pos, z, cell_in = _unpack(atoms, numbers, cell, 2)
        lengths = np.asarray(cell_lengths(cell_in, 2))
        grid = recipe.grid_shape(lengths, m.focus)
        sysm = prepare(pos, z, cell_in, grid, recipe.gamma, None, None)  # finite positions, matching lengths
        p = np.array(pos, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise InputError(f"positions: expected shape (n, 3), got {p.shape}")
        check_atoms(m, sysm.numbers, pos, cell_in, min_distance=min_distance)
        self.min_distance = min_distance
        if recipe.flatten and np.ptp(p[:, 2]) > 0:
            raise InputError(
                "atoms: expected a flat sheet (every atom at one height) for a model on flattened sheets: the "
                f"heights span {np.ptp(p[:, 2]):.3g} Angstrom; flattening a rippled sheet is a global solve that "
                "a local move would change everywhere (flatten it first with ednn.atoms.flatten, then keep z)"
            )
        p[:, :2] = np.mod(p[:, :2], lengths)
        self.model, self.recipe = m, recipe
        self.positions = p
        self.numbers = np.asarray(sysm.numbers, dtype=np.float64)
        self.lengths = lengths
        self.grid = grid
        self.h = lengths / np.asarray(grid)
        self.f, self.c = np.asarray(m.focus), np.asarray(m.context)
        self.n_tiles = np.asarray(grid) // self.f
        self.rc = recipe.gamma * CUTOFF_GAMMAS * (1.0 + 1e-6)
        self._providers, self._threads = providers, threads
        self._batch = batch_size or default_batch_size(m, int(np.prod(self.n_tiles)))
        # cell list over focus regions: the atoms that can reach a window are a few cells around it
        self._cell_len = self.f * self.h
        self._reach = np.ceil((self.c * self.h + self.rc) / self._cell_len).astype(int)
        self._members: list[list[int]] = [[] for _ in range(int(np.prod(self.n_tiles)))]
        self._cell_of = np.empty(len(p), dtype=np.int64)
        for i in range(len(p)):
            k = self._cell_index(p[i, :2])
            self._cell_of[i] = k
            self._members[k].append(i)
        self.contrib = np.zeros(int(np.prod(self.n_tiles)), dtype=np.float64)
        rows = int(max(1, (1 << 22) // (self.n_tiles[1] * m.focus[0] * m.focus[1] * 4)))  # ~16 MiB windows
        for i0 in range(0, int(self.n_tiles[0]), rows):
            flat, values = self._evaluate(i0, min(rows, int(self.n_tiles[0]) - i0), 0, int(self.n_tiles[1]))
            self.contrib[flat] = values
        self.energy = math.fsum(self.contrib)
        self._pending: tuple[int, np.ndarray, np.ndarray, np.ndarray, float] | None = None

    # ------------------------------------------------------------------ geometry
    def _cell_index(self, xy: np.ndarray) -> int:
        b = np.minimum((np.mod(xy, self.lengths) / self._cell_len).astype(int), self.n_tiles - 1)
        return int(b[0] * self.n_tiles[1] + b[1])

    def _near(self, i0: int, ni: int, j0: int, nj: int) -> np.ndarray:
        """Sorted indices of the atoms in the cells that can reach the window of tiles [i0, i0+ni) x [j0, j0+nj)."""
        n0, n1 = (int(v) for v in self.n_tiles)
        r0, r1 = (int(v) for v in self._reach)
        rows = {(i0 + d) % n0 for d in range(-r0, ni + r0)}
        cols = {(j0 + d) % n1 for d in range(-r1, nj + r1)}
        idx = [a for i in rows for j in cols for a in self._members[i * n1 + j]]
        return np.unique(np.asarray(idx, dtype=np.int64))

    def _overlaps(self, i: int, xy: np.ndarray) -> bool:
        """Whether atom ``i`` at in-plane ``xy`` would be closer than ``min_distance`` to another atom."""
        n0, n1 = (int(v) for v in self.n_tiles)
        b = np.minimum((xy / self._cell_len).astype(int), self.n_tiles - 1)
        near = [a for di in (-1, 0, 1) for dj in (-1, 0, 1)
                for a in self._members[((b[0] + di) % n0) * n1 + (b[1] + dj) % n1] if a != i]
        if not near:
            return False
        d = self.positions[near] - np.array([xy[0], xy[1], self.positions[i, 2]])
        d[:, :2] -= self.lengths * np.round(d[:, :2] / self.lengths)
        return bool(np.min(np.einsum("kc,kc->k", d, d)) < self.min_distance**2)

    def _touched(self, xy: np.ndarray) -> tuple[int, int, int, int]:
        """Tile block (i0, ni, j0, nj), periodic, whose windows the image around ``xy`` reaches."""
        out = []
        for k in range(2):
            lo = (xy[k] - self.rc) / self.h[k]  # grid coordinates of the disc's extent
            hi = (xy[k] + self.rc) / self.h[k]
            # tile t's window covers grid points [t f - c, t f + f + c - 1]
            t_lo = math.ceil((lo - self.f[k] - self.c[k] + 1) / self.f[k])
            t_hi = math.floor((hi + self.c[k]) / self.f[k])
            out += [t_lo, min(t_hi - t_lo + 1, int(self.n_tiles[k]))]
        return out[0], out[1], out[2], out[3]

    def _evaluate(self, i0: int, ni: int, j0: int, nj: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices and contributions of the tiles [i0, i0+ni) x [j0, j0+nj) (periodic)."""
        pos = self.positions
        f, c = self.f, self.c
        origin = [i0 * f[0] - c[0], j0 * f[1] - c[1]]
        window = [ni * f[0] + 2 * c[0], nj * f[1] + 2 * c[1]]
        idx = self._near(i0, ni, j0, nj)
        w = np.empty((1, *window), dtype=np.float32)
        rasterize(pos[idx, :2], self.numbers[idx], self.lengths, self.grid, gamma=self.recipe.gamma, origin=origin,
                  window_shape=window, threads=self._threads, out=w[0])
        self.model.scale_input(w)
        t = self.model.tile
        view = np.lib.stride_tricks.sliding_window_view(w, (1, *t))[0, ::f[0], ::f[1]]
        tiles = np.ascontiguousarray(view.reshape((-1, 1, *t)))
        ii = np.mod(i0 + np.arange(ni), self.n_tiles[0])
        jj = np.mod(j0 + np.arange(nj), self.n_tiles[1])
        flat = (ii[:, None] * self.n_tiles[1] + jj[None, :]).reshape(-1)
        values = np.empty((len(flat), 1), dtype=np.float64)
        run_tiles(self.model, [0], lambda _, slot: (0, tiles, np.arange(len(flat))), groups=1, total=len(flat),
                  batch_size=self._batch, providers=self._providers, threads=self._threads, per_tile=values)
        return flat, values[:, 0]

    # ------------------------------------------------------------------ moves
    def propose(self, i: int, xy: Sequence[float]) -> float:
        """Energy change (eV) if atom ``i`` moved to in-plane position ``xy``; :meth:`accept` applies it.

        ``math.inf`` (nothing to accept) when the move would bring it within ``min_distance`` of another atom.
        """
        if not 0 <= i < len(self.positions):
            raise InputError(f"i: expected an atom index in [0, {len(self.positions)}), got {i}")
        new = np.mod(np.asarray(xy, dtype=np.float64), self.lengths)
        self._pending = None
        if self.min_distance is not None and self._overlaps(i, new):
            return math.inf
        old = self.positions[i, :2].copy()
        blocks = [self._touched(old), self._touched(new)]
        self.positions[i, :2] = new  # evaluated in place, put back below
        k = self._cell_index(new)
        moved = k != self._cell_of[i]
        if moved:  # the atom may now be found from the cells around its new place
            self._members[k].append(i)
        try:
            parts = [self._evaluate(*blk) for blk in _merge(blocks, self.n_tiles)]
        finally:
            if moved:
                self._members[k].pop()
            self.positions[i, :2] = old
        flat = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
        flat, first = np.unique(flat, return_index=True)
        values = values[first]
        delta = math.fsum(values) - math.fsum(self.contrib[flat])
        self._pending = (i, new, flat, values, delta)
        return delta

    def accept(self) -> None:
        """Apply the last :meth:`propose`."""
        if self._pending is None:
            raise InputError("accept: expected a proposed move first, got none")
        i, new, flat, values, delta = self._pending
        k = self._cell_index(new)
        if k != self._cell_of[i]:
            self._members[self._cell_of[i]].remove(i)
            self._members[k].append(i)
            self._cell_of[i] = k
        self.positions[i, :2] = new
        self.contrib[flat] = values
        self.energy += delta
        self._pending = None

    def full_energy(self) -> float:
        """A full evaluation of the current configuration with :func:`ednn.atoms.predict` (eV)."""
        from .atoms.predict import predict

        cell = np.diag([self.lengths[0], self.lengths[1], 1.0])
        return float(predict(self.model, self.positions, self.numbers, cell, providers=self._providers,
                             threads=self._threads, min_distance=None))


def _merge(blocks: list[tuple[int, int, int, int]], n_tiles: np.ndarray) -> list[tuple[int, int, int, int]]:
    """One block covering both when they overlap or touch (periodic), else both."""
    (a0, an, b0, bn), (c0, cn, d0, dn) = blocks

    def span(s0: int, sn: int, t0: int, tn: int, n: int) -> tuple[int, int] | None:
        # smallest periodic interval holding [s0, s0+sn) and [t0, t0+tn), if not longer than their sum
        best = None
        for shift in (-n, 0, n):
            lo, hi = min(s0, t0 + shift), max(s0 + sn, t0 + shift + tn)
            if hi - lo <= sn + tn and (best is None or hi - lo < best[1]):
                best = (lo, hi - lo)
        return None if best is None else (best[0], min(best[1], n))

    r = span(a0, an, c0, cn, int(n_tiles[0]))
    s = span(b0, bn, d0, dn, int(n_tiles[1]))
    if r is not None and s is not None:
        return [(r[0], r[1], s[0], s[1])]
    return blocks


@dataclass
class MCResult:
    """What :func:`run` did: final energy (eV), acceptance, step size, timing and the checks."""

    energy: float
    steps: int
    accepted: int
    step: float
    seconds: float
    checks: list[tuple[int, float, float]] = field(default_factory=list)  # (step, running, full)
    energies: np.ndarray = field(default_factory=lambda: np.zeros(0))  # running energy after every step
    frames: list[np.ndarray] = field(default_factory=list)  # positions every record_every steps after adapt

    @property
    def acceptance(self) -> float:
        return self.accepted / max(self.steps, 1)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(self.steps, 1)


def run(
    energy: LocalEnergy,
    *,
    temperature: float,
    steps: int,
    seed: int = 0,
    step: float = 0.05,
    target_acceptance: float = 0.4,
    adapt: int | None = None,
    check_every: int = 0,
    rtol: float = 1e-9,
    trajectory: str | os.PathLike[str] | None = None,
    write_every: int = 100,
    record_every: int = 0,
    progress: bool = True,
) -> MCResult:
    """Metropolis Monte Carlo at ``temperature`` (K) with single-atom in-plane moves.

    Each step picks an atom uniformly and proposes a displacement uniform in
    ``[-step, step]^2`` (Angstrom); it is accepted with probability ``min(1, exp(-ΔE / k T))``.
    During the first ``adapt`` steps (default ``steps // 5``) the step size is scaled every 100
    steps towards ``target_acceptance``; after that it stays fixed. Every ``check_every`` steps
    (0: never) the running energy is compared with a full evaluation and must agree to ``rtol``
    (relative), else ``RuntimeError``. ``trajectory``: extxyz frames every ``write_every`` steps
    (needs ASE): the running energy as the frame's energy, the step and the acceptance so far in its info.
    ``record_every``: keep a copy of the positions every that many steps once the adaptation is
    over (0: none), in :attr:`MCResult.frames`.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            math.isfinite(temperature) and temperature > 0):
        raise InputError(f"temperature: expected a finite temperature > 0 K, got {temperature!r}")
    for name, v, lo in (("steps", steps, 0), ("check_every", check_every, 0), ("write_every", write_every, 1),
                        ("record_every", record_every, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise InputError(f"{name}: expected an int >= {lo}, got {v!r}")
    if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
        raise InputError(f"step: expected a positive step size in Angstrom, got {step!r}")
    if not 0 < target_acceptance < 1:
        raise InputError(f"target_acceptance: expected a value in (0, 1), got {target_acceptance!r}")
    adapt = steps // 5 if adapt is None else adapt
    writer = _Writer(trajectory, energy) if trajectory is not None else None
    rng = np.random.default_rng(seed)
    kT = KB_EV * float(temperature)
    n = len(energy.positions)
    accepted = window_acc = 0
    checks: list[tuple[int, float, float]] = []
    frames: list[np.ndarray] = []
    energies = np.empty(steps)
    t0 = time.perf_counter()
    with progress_bar(steps, "ednn mc", "steps", enable=progress) as bar:
        for s in range(steps):
            i = int(rng.integers(n))
            xy = energy.positions[i, :2] + rng.uniform(-step, step, 2)
            dE = energy.propose(i, xy)
            if dE <= 0 or (dE < math.inf and rng.random() < math.exp(-dE / kT)):
                energy.accept()
                accepted += 1
                window_acc += 1
            energies[s] = energy.energy
            if s < adapt and (s + 1) % 100 == 0:
                rate = window_acc / 100
                step *= float(np.clip(math.exp(rate - target_acceptance), 0.5, 2.0))
                window_acc = 0
            if check_every and (s + 1) % check_every == 0:
                full = energy.full_energy()
                checks.append((s + 1, energy.energy, full))
                if abs(energy.energy - full) > rtol * abs(full):
                    raise RuntimeError(f"step {s + 1}: running energy {energy.energy!r} eV differs from a full "
                                       f"evaluation {full!r} eV by more than {rtol:g} relative")
            if record_every and s >= adapt and (s + 1 - adapt) % record_every == 0:
                frames.append(energy.positions.copy())
            if writer is not None and (s + 1) % write_every == 0:
                writer.write(s + 1, accepted / (s + 1), step)
            bar.update(1)
            if (s + 1) % 500 == 0:
                bar.set_postfix_str(f"acceptance {accepted / (s + 1):.2f}, step {step:.3g} A")
    return MCResult(energy.energy, steps, accepted, step, time.perf_counter() - t0, checks, energies, frames)


class _Writer:
    def __init__(self, path: str | os.PathLike[str], energy: LocalEnergy) -> None:
        from .errors import require_extra

        require_extra("atoms", "ednn.mc trajectories", "ase")
        self.path, self.energy = Path(path), energy

    def write(self, s: int, acceptance: float, step: float) -> None:
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator
        from ase.io import write

        e = self.energy
        a = Atoms(numbers=e.numbers.astype(int), positions=e.positions, pbc=[True, True, False],
                  cell=[e.lengths[0], e.lengths[1], max(20.0, float(np.ptp(e.positions[:, 2])) + 20.0)])
        a.info.update(step=s, acceptance=acceptance, step_size=step)
        a.calc = SinglePointCalculator(a, energy=e.energy)  # read back as atoms.get_potential_energy()
        write(self.path, a, format="extxyz", append=True)
