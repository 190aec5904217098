"""Benchmark helpers: medians are collected per group so that ratios are taken within one run."""

from __future__ import annotations

from typing import Any

import pytest

MEDIANS: dict[str, float] = {}


@pytest.fixture
def record(benchmark: Any):
    """Run ``benchmark`` and remember its median (seconds) under ``name``."""

    def run(name: str, fn: Any, *args: Any, rounds: int = 7, warmup: int = 1, **kwargs: Any) -> Any:
        if benchmark.disabled:
            pytest.skip("benchmarks are disabled: run with --benchmark-enable")
        benchmark.group = name.split(":")[0]
        benchmark.name = name
        result = benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=rounds, warmup_rounds=warmup, iterations=1)
        MEDIANS[name] = benchmark.stats.stats.median
        return result

    return run


def ratio(num: str, den: str) -> float:
    """MEDIANS[num] / MEDIANS[den]; skips when either benchmark did not run."""
    if num not in MEDIANS or den not in MEDIANS:
        pytest.skip(f"needs both {num} and {den} in the same run")
    return MEDIANS[num] / MEDIANS[den]
