"""What an atoms model can know: the elements it was trained on and atoms no closer than a bond.

A model that has never seen silicon or gold gives them whatever its per-species term and network
make of a taller Gaussian, and two atoms 0.05 Å apart look like one heavier atom: the answer is
meaningless, and silent. :func:`check_atoms` refuses both before any work, naming what is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from .bonds import bonds

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["MIN_DISTANCE", "BROKEN_DISTANCE", "DISTANCE_CHECK_ATOMS", "model_species", "check_atoms", "broken_pair"]

#: Closest approach (Angstrom) accepted: well below any bond (B-N 1.45, C-C 1.42 Å) and far above
#: rounding, so that only overlapping or duplicated atoms are refused.
MIN_DISTANCE = 0.5
#: Training data: a snapshot with two atoms closer than this (Angstrom) is broken (no bond is shorter
#: than ~1.2 Å; a molecular-dynamics run that drives a pair to 0.2-0.7 Å gives labels some eV/atom above
#: its neighbours): it is neither labelled (ednn.data) nor trained on (ednn.train).
BROKEN_DISTANCE = 1.0
#: Systems up to this many atoms get the distance check (a cell-list search, about 1 s at 10^6 atoms);
#: larger ones only the element check, which is O(N) and cheap.
DISTANCE_CHECK_ATOMS = 1_000_000


def model_species(model: Model) -> frozenset[int] | None:
    """Atomic numbers in the model's ``ednn.species`` metadata, or None when it does not say."""
    text = model.metadata.get("ednn.species")
    if text is None:
        return None
    try:
        return frozenset(int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"metadata ednn.species: expected comma-separated atomic numbers, got {text!r}") from None


def check_atoms(model: Model, numbers: Any, positions: Any, cell: Any, *,
                min_distance: float | None = MIN_DISTANCE) -> None:
    """Refuse elements outside ``ednn.species`` and (2-D models, up to :data:`DISTANCE_CHECK_ATOMS`
    atoms) two atoms closer than ``min_distance`` in 3-D (None: no distance check, e.g. for
    non-interacting test particles); :class:`~ednn.InputError` names them."""
    z = np.asarray(numbers, dtype=np.float64)
    known = model_species(model)
    if known is not None and z.size:
        finite = np.isfinite(z)  # non-finite numbers are the rasterizer's checks' to name
        zi = np.rint(np.where(finite, z, 0.0)).astype(np.int64)
        bad_values = finite & ((zi != z) | (zi < 0) | (zi > 200))
        zi = np.where(finite, zi, next(iter(known)))
        counts = np.bincount(np.where(bad_values, 0, zi), minlength=201)
        unknown = sorted(int(v) for v in np.flatnonzero(counts) if int(v) not in known)
        if bad_values.any() or unknown:
            first = int(np.flatnonzero(bad_values | ~np.isin(zi, sorted(known)))[0])
            raise InputError(
                f"numbers: expected elements the model was trained on (Z in {sorted(known)}, ednn.species), got "
                f"Z = {float(z[first]):g} at atom {first}" + (f" (unknown here: {', '.join(map(str, unknown))})" if unknown else "")
            )
    p = np.asarray(positions, dtype=np.float64)
    if (min_distance is None or model.ndim != 2 or p.ndim != 2 or p.shape[1] != 3 or len(p) < 2
            or len(p) > DISTANCE_CHECK_ATOMS or not np.all(np.isfinite(p))):
        return
    pair = _closest_pair(p, cell, min_distance)
    if pair is not None:
        raise InputError(f"positions: expected atoms at least {min_distance} Angstrom apart, got atoms {pair[0]} and "
                         f"{pair[1]} at {pair[2]:.4g} Angstrom (overlapping or duplicated atoms)")


def _closest_pair(positions: np.ndarray, cell: Any, distance: float) -> tuple[int, int, float] | None:
    """The closest pair ``(i, j, r)`` of atoms closer than ``distance`` (3-D, periodic in the cell's
    periodic directions), or None: ``positions`` ``(n, 3)`` float64, ``cell`` ``(3, 3)``."""
    i, j, d = bonds(positions, cell, distance)
    if not len(i):
        return None
    k = int(np.argmin(np.einsum("kc,kc->k", d, d)))
    return int(i[k]), int(j[k]), float(np.sqrt(d[k] @ d[k]))


def broken_pair(positions: Any, cell: Any, distance: float = BROKEN_DISTANCE) -> str | None:
    """None, or a description of the closest pair of atoms closer than ``distance`` (3-D, periodic in the
    cell's periodic directions): ``positions`` ``(n, 3)``, ``cell`` ``(3, 3)``."""
    pair = _closest_pair(np.asarray(positions, dtype=np.float64), cell, distance)
    if pair is None:
        return None
    return f"atoms {pair[0]} and {pair[1]} at {pair[2]:.4g} Angstrom (closer than {distance} Angstrom)"
