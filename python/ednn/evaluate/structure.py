"""Radial distribution functions of periodic sheets (paper Fig. 13) and their peaks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["rdf", "peaks"]


def rdf(frames: Iterable[tuple[Any, Sequence[float]]], *, r_max: float = 6.0, dr: float = 0.02
        ) -> tuple[np.ndarray, np.ndarray]:
    """g(r) of a sheet, averaged over frames: pair distances (3-D, minimum image along x and y) in
    shells of width ``dr`` up to ``r_max``, normalised by the ideal 2-D gas of the same areal density
    (``N / A * 2 pi r dr`` neighbours per atom), so that g -> 1 far away for a flat sheet.

    ``frames``: ``(positions (n, 3), cell lengths (Lx, Ly))`` per frame; ``r_max`` at most half the
    shorter edge. Returns the shell centres ``(m,)`` and g ``(m,)``.
    """
    edges = np.arange(0.0, r_max + dr / 2, dr)
    counts = np.zeros(len(edges) - 1)
    norm = 0.0
    n_frames = 0
    for pos, lengths in frames:
        p = np.asarray(pos, dtype=np.float64)
        L = np.asarray(lengths, dtype=np.float64)[:2]
        if p.ndim != 2 or p.shape[1] != 3 or len(p) < 2:
            raise InputError(f"frames: expected (n, 3) positions with n >= 2, got {p.shape}")
        if r_max > L.min() / 2:
            raise InputError(f"r_max: expected at most half the shorter cell edge ({L.min() / 2:.4g}), got {r_max}")
        d = p[None, :, :] - p[:, None, :]
        d[..., :2] -= L * np.round(d[..., :2] / L)
        r = np.sqrt(np.einsum("ijk,ijk->ij", d, d))[np.triu_indices(len(p), 1)]
        counts += 2.0 * np.histogram(r, edges)[0]  # each pair seen from both atoms
        norm += len(p) * len(p) / (L[0] * L[1])  # atoms x areal density
        n_frames += 1
    if n_frames == 0:
        raise InputError("frames: expected at least one frame, got none")
    centres = 0.5 * (edges[1:] + edges[:-1])
    shell = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    return centres, counts / (norm * shell)


def peaks(r: np.ndarray, g: np.ndarray, count: int = 3, *, min_height: float = 1.0,
          smooth: int = 2) -> list[tuple[float, float]]:
    """The first ``count`` maxima of g above ``min_height``: ``(position, height)``, after a running
    mean over ``2 smooth + 1`` shells; the position is refined by a parabola through the three shells
    around the maximum."""
    k = 2 * smooth + 1
    gs = np.convolve(g, np.ones(k) / k, mode="same") if smooth else np.asarray(g, dtype=np.float64)
    out = []
    for i in range(1, len(gs) - 1):
        if gs[i] > min_height and gs[i] >= gs[i - 1] and gs[i] > gs[i + 1]:
            a, b, c = gs[i - 1], gs[i], gs[i + 1]
            den = a - 2 * b + c
            shift = 0.5 * (a - c) / den if den else 0.0
            out.append((float(r[i] + shift * (r[1] - r[0])), float(b - 0.25 * (a - c) * shift)))
            if len(out) == count:
                break
    return out
