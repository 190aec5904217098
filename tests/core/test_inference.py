"""Float64 accumulation of tile contributions."""

from __future__ import annotations

import numpy as np

from ednn import Accumulator


def test_ten_million_equal_contributions_do_not_drift():
    v = np.float32(0.1)  # not representable: every addition rounds
    n, batch = 10_000_000, 4096
    acc = Accumulator(1)
    block = np.full((batch, 1), v, dtype=np.float32)
    full, rest = divmod(n, batch)
    for _ in range(full):
        acc.add(block)
    acc.add(block[:rest])
    exact = n * float(v)  # float(v) is exact; n * float(v) is one rounding away from the true sum
    assert acc.count == n
    assert abs(acc.total[0] - exact) <= 2 * np.spacing(exact)
    # The same stream summed naively in float32 drifts visibly: the test above can tell them apart.
    naive = np.float32(0)
    for _ in range(full):
        naive = np.float32(naive + block.sum(dtype=np.float32))
    assert abs(float(naive) - exact) > 1e-6 * exact


def test_compensation_recovers_small_terms():
    acc = Accumulator(2)
    acc.add_sum(np.array([1e16, -1e16]))
    for _ in range(1000):
        acc.add_sum(np.array([1.0, 1.0]))
    acc.add_sum(np.array([-1e16, 1e16]))
    np.testing.assert_array_equal(acc.total, [1000.0, 1000.0])


def test_columns_are_independent():
    acc = Accumulator(3)
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    acc.add(x)
    acc.add(x)
    np.testing.assert_array_equal(acc.total, 2 * x.sum(axis=0, dtype=np.float64))
