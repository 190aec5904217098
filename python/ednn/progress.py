"""A small dependency-free progress bar on stderr (tqdm is used instead when installed)."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["progress_bar"]


class _Bar:
    def __init__(self, total: int, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = max(int(total), 1), desc, unit
        self.n = 0
        self.postfix = ""
        self.t0 = time.perf_counter()
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self._last > 0.2 or self.n >= self.total:
            self._last = now
            frac = min(self.n / self.total, 1.0)
            rate = self.n / max(now - self.t0, 1e-9)
            bar = "#" * int(30 * frac)
            sys.stderr.write(
                f"\r{self.desc}: {100 * frac:5.1f}% |{bar:<30}| {self.n}/{self.total} {self.unit} "
                f"[{now - self.t0:6.1f}s, {rate:,.0f} {self.unit}/s] {self.postfix}"
            )
            sys.stderr.flush()

    def set_postfix_str(self, s: str, refresh: bool = False) -> None:
        self.postfix = s

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Null:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str, refresh: bool = False) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Null":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str = "it", enable: bool = True) -> Any:
    """A context-managed bar with ``update(n)``; a no-op when ``enable`` is False."""
    if not enable:
        return _Null()
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True)
    except ImportError:
        return _Bar(total, desc, unit)
