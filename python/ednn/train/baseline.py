"""The fixed per-species term of atoms models: least squares in the image moments (sum V^k).

:class:`ednn.torch.FocusMoments` evaluates it per tile in the model graph; here it is fitted on the
training labels, and its coefficients are turned into per-species reference energies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["fit_moment_baseline", "moment_matrix", "solve_moments", "species_energies"]


def species_energies(coefficients: Any, species: list[int], spacing: list[float], gamma: float) -> dict[str, float]:
    """Per-species reference energies implied by moment coefficients (isolated, well-sampled Gaussians)."""
    dA = float(np.prod(spacing)) if len(spacing) > 1 else float(spacing[0]) ** 2
    a = np.asarray(coefficients, dtype=np.float64).ravel()
    k = np.arange(1, len(a) + 1)
    return {str(z): float(np.sum(a * float(z) ** k * 2 * np.pi * gamma**2 / (k * dA))) for z in species}


def moment_matrix(images: np.ndarray, n_moments: int) -> np.ndarray:
    """``(N, n)`` float64 sums of ``images[i]^k``, k = 1..n."""
    M = np.empty((images.shape[0], n_moments))
    for i in range(images.shape[0]):
        v = images[i].astype(np.float64).ravel()
        p = v.copy()
        for k in range(n_moments):
            if k:
                p *= v
            M[i, k] = p.sum()
    return M


def fit_moment_baseline(images: Any, targets: Any, n_moments: int) -> np.ndarray:
    """Least-squares ``a`` ``(n_moments,)`` with ``targets ~ sum_k a_k sum(images^k)``, no intercept.

    ``images`` ``(N, ...)`` (moments in float64), ``targets`` ``(N,)``. Columns are scaled to unit
    norm for the solve. The term is :class:`ednn.torch.FocusMoments`' per-species reference energy.
    """
    x = np.asarray(images)
    y = np.asarray(targets, dtype=np.float64)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise InputError(f"images, targets: expected the same non-zero length, got {x.shape[0]} and {y.shape[0]}")
    if isinstance(n_moments, bool) or not isinstance(n_moments, int) or n_moments < 1:
        raise InputError(f"n_moments: expected a positive int, got {n_moments!r}")
    return solve_moments(moment_matrix(x, n_moments), y)


def solve_moments(M: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares ``M a ~ y`` with the columns of ``M`` scaled to unit norm for the solve."""
    norm = np.linalg.norm(M, axis=0)
    norm[norm == 0] = 1.0
    sol, *_ = np.linalg.lstsq(M / norm, y, rcond=None)
    return sol / norm
