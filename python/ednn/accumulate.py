"""Float64 accumulation of tile contributions that does not drift over millions of tiles."""

from __future__ import annotations

import numpy as np

__all__ = ["Accumulator"]


class Accumulator:
    """Running sum of ``(N, K)`` contribution batches, per column, in float64.

    Each batch is summed pairwise in float64 (NumPy's ``sum`` with ``dtype=float64``), and the batch
    sums are added with Neumaier's compensated summation, so the error stays at a few ulp of the
    total however many batches arrive.
    """

    def __init__(self, k: int) -> None:
        self._sum = np.zeros(k, dtype=np.float64)
        self._comp = np.zeros(k, dtype=np.float64)
        self.count = 0

    def add(self, values: np.ndarray) -> None:
        """Add a batch of contributions, ``values`` ``(N, K)`` (any float dtype)."""
        v = np.asarray(values)
        if v.ndim != 2 or v.shape[1] != self._sum.shape[0]:
            raise ValueError(f"values: expected shape (N, {self._sum.shape[0]}), got {v.shape}")
        self.add_sum(v.sum(axis=0, dtype=np.float64), v.shape[0])

    def add_sum(self, batch_sum: np.ndarray, count: int = 0) -> None:
        """Add an already reduced float64 batch sum ``(K,)``."""
        x = np.asarray(batch_sum, dtype=np.float64)
        t = self._sum + x
        big = np.abs(self._sum) >= np.abs(x)
        self._comp += np.where(big, (self._sum - t) + x, (x - t) + self._sum)
        self._sum = t
        self.count += count

    @property
    def total(self) -> np.ndarray:
        """The float64 sum ``(K,)``."""
        return self._sum + self._comp
