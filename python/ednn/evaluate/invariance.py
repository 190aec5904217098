"""Metamorphic checks of an atoms model: moves that cannot change a periodic sheet's energy.

A rigid in-plane translation by any vector, the mirrors x -> -x and y -> -y, the 180° turn (both
mirrors), the order of the atoms and the periodic image each atom is given in all map a sheet in
its rectangular periodic cell onto the same physical sheet. A model of the physics gives the same
energy for all of them; a network on a pixel grid only does so by construction for whole-pixel
moves (or whole-tile moves), and by learning for the rest. :func:`invariance_spread` measures how
far it is from that.

>>> from ednn.evaluate.invariance import probe_sheets, invariance_spread
>>> r = invariance_spread(ednn.models.path("sheets"), probe_sheets(seed=0), draws=8)
>>> r["median"], r["worst"]          # meV/atom, over sheets, of max - min E/atom over the moves
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MOVES", "moved", "probe_sheets", "probe_porous", "probe_family", "invariance_spread"]

#: The moves :func:`moved` knows.
MOVES = ("translate", "mirror_x", "mirror_y", "turn", "permute", "image")


def moved(atoms: Any, move: str, rng: np.random.Generator) -> Any:
    """A copy of ``atoms`` (``ase.Atoms`` in a rectangular cell periodic in x and y) after ``move``.

    ``translate``: by a vector uniform over the cell, wrapped back into it; ``mirror_x`` / ``mirror_y``:
    x -> -x (y -> -y), wrapped; ``turn``: both mirrors; ``permute``: atoms in a random order;
    ``image``: every atom moved by a random whole number (-2..2) of cell vectors along x and y (not
    wrapped). Every move is combined with nothing else, so a failure names its move.
    """
    if move not in MOVES:
        from ..errors import InputError

        raise InputError(f"move: expected one of {', '.join(MOVES)}, got {move!r}")
    a = atoms.copy()
    p = a.get_positions()
    lengths = np.diag(a.cell.array)[:2]
    if move == "translate":
        p[:, :2] = np.mod(p[:, :2] + rng.random(2) * lengths, lengths)
    elif move in ("mirror_x", "mirror_y", "turn"):
        axes = {"mirror_x": (0,), "mirror_y": (1,), "turn": (0, 1)}[move]
        for k in axes:
            p[:, k] = np.mod(-p[:, k], lengths[k])
    elif move == "permute":
        order = rng.permutation(len(a))
        a = a[order]
        p = p[order]
    else:
        p[:, :2] += rng.integers(-2, 3, size=(len(p), 2)) * lengths
    a.set_positions(p)
    return a


def probe_sheets(seed: int = 0, repeats: Sequence[int] = (1, 2, 4), sigmas: Sequence[float] = (0.0, 0.04)) -> list[Any]:
    """Sheets to move: every family (graphene, h-BN, hetero), pristine and with one vacancy per 60-site
    block, at each ``repeat`` (60, 240, 960 sites for 1, 2, 4), each with independent Gaussian
    displacements of every Cartesian component with one of ``sigmas`` (Å), the first sheet of a
    family and repeat taking ``sigmas[0]``, then in turn. Made with :mod:`ednn.data.sheets`."""
    from ..data.sheets import hexagonal_sheet

    rng = np.random.default_rng(seed)
    out, k = [], 0
    for repeat in repeats:
        for family in ("graphene", "hbn", "hetero"):
            for vacancies in (0, 1):
                a = hexagonal_sheet(family, rng, repeat=repeat, vacancies=vacancies)
                sigma = float(sigmas[k % len(sigmas)])
                k += 1
                if sigma:
                    a.set_positions(a.get_positions() + rng.normal(0.0, sigma, size=(len(a), 3)))
                    a.wrap()
                out.append(a)
    return out


def probe_porous(seed: int = 0, cells: Sequence[Sequence[int]] = ((6, 10), (6, 10), (12, 20)),
                 sigmas: Sequence[float] = (0.0, 0.04)) -> list[Any]:
    """Porous graphene sheets to move (:func:`ednn.data.sheets.porous_graphene`): one per entry of
    ``cells`` (rectangular 4-atom cells; (6, 10) is 240 sites, (12, 20) 960), one to three pores per
    240 sites of radius 1.5-5 Å, with Gaussian displacements of every Cartesian component with
    ``sigmas`` in turn (Å)."""
    from ..data.sheets import porous_graphene

    rng = np.random.default_rng(seed)
    out = []
    for k, c in enumerate(cells):
        n = max(1, round(c[0] * c[1] / 60))  # 240-site blocks
        a = porous_graphene(rng, cells=c, pores=(n, 3 * n))
        sigma = float(sigmas[k % len(sigmas)])
        if sigma:
            a.set_positions(a.get_positions() + rng.normal(0.0, sigma, size=(len(a), 3)))
            a.wrap()
        out.append(a)
    return out


def probe_family(model: str | os.PathLike[str] | Any) -> str:
    """``"porous"`` for a carbon-only model (``ednn.species`` 6: :func:`probe_porous` fits it), else
    ``"sheets"`` (:func:`probe_sheets`: B, C and N)."""
    from ..model import load_model

    return "porous" if load_model(model).metadata.get("ednn.species", "").strip() == "6" else "sheets"


def invariance_spread(model: str | os.PathLike[str] | Any, sheets: Sequence[Any], *, draws: int = 8,
                      moves: Sequence[str] = MOVES, seed: int = 0, threads: int | None = None) -> dict[str, Any]:
    """How much moves that cannot change the physics change ``model``'s energy per atom.

    For every sheet: the energy per atom of the sheet as given and of ``draws`` random draws of every
    move in ``moves`` (mirrors and the turn are deterministic: drawn once each). Returns (all in
    meV/atom) ``spread`` ``(n_sheets,)`` = max - min over the sheet's energies, ``median`` and
    ``worst`` over the sheets, ``by_move`` (the largest deviation from the sheet as given, per
    move), ``natoms`` ``(n_sheets,)``.
    """
    from ..atoms.predict import predict
    from ..model import Model

    m = model if isinstance(model, Model) else Model(model)
    rng = np.random.default_rng(seed)
    spread, natoms = [], []
    by_move = {mv: 0.0 for mv in moves}
    for a in sheets:
        n = len(a)
        e0 = float(predict(m, a, threads=threads)) / n
        es = [e0]
        for mv in moves:
            for _ in range(1 if mv in ("mirror_x", "mirror_y", "turn") else draws):
                e = float(predict(m, moved(a, mv, rng), threads=threads)) / n
                es.append(e)
                by_move[mv] = max(by_move[mv], abs(e - e0) * 1e3)
        spread.append((max(es) - min(es)) * 1e3)
        natoms.append(n)
    s = np.asarray(spread)
    return {"spread": s, "median": float(np.median(s)), "worst": float(s.max()), "by_move": by_move,
            "natoms": np.asarray(natoms)}
