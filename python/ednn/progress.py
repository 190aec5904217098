"""Progress bars on stderr for long work.

On a terminal: tqdm when installed, else a small dependency-free bar redrawn in place. When stderr
is not a terminal (a log file, a pipe, a batch job), a bar redrawn with carriage returns would fill
the log with frames, so :class:`_Lines` writes one plain line every :data:`LINE_INTERVAL` seconds
(progress, rate, estimated time left) and one when the work ends.
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["progress_bar", "LINE_INTERVAL"]

#: Seconds between two progress lines when stderr is not a terminal.
LINE_INTERVAL = 5.0


def _eta(done: int, left_work: int, elapsed: float) -> str:
    """Time left for ``left_work`` more at the rate of ``done`` in ``elapsed`` seconds."""
    if done <= 0 or left_work <= 0:
        return "0s"
    left = elapsed * left_work / done
    return f"{left:.0f}s" if left < 120 else f"{left / 60:.1f}min"


class _Bar:
    """Redrawn in place on a terminal."""

    def __init__(self, total: int, desc: str, unit: str, initial: int = 0) -> None:
        self.total, self.desc, self.unit = max(int(total), 1), desc, unit
        self.n = self.n0 = int(initial)  # work done before (a resumed run): not in the rate
        self.postfix = ""
        self.t0 = time.perf_counter()
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self._last > 0.2 or self.n >= self.total:
            self._last = now
            frac = min(self.n / self.total, 1.0)
            rate = (self.n - self.n0) / max(now - self.t0, 1e-9)
            bar = "#" * int(30 * frac)
            eta = _eta(self.n - self.n0, self.total - self.n, now - self.t0)
            sys.stderr.write(
                f"\r{self.desc}: {100 * frac:5.1f}% |{bar:<30}| {self.n}/{self.total} {self.unit} "
                f"[{now - self.t0:6.1f}s, {rate:,.0f} {self.unit}/s, ETA {eta}] "
                f"{self.postfix}"
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


class _Lines(_Bar):
    """One line every ``interval`` seconds and one at the end: for logs and pipes."""

    def __init__(self, total: int, desc: str, unit: str, interval: float | None = None, initial: int = 0) -> None:
        super().__init__(total, desc, unit, initial)
        self.interval = LINE_INTERVAL if interval is None else interval
        self._last = self.t0

    def _line(self, now: float) -> None:
        frac = min(self.n / self.total, 1.0)
        rate = (self.n - self.n0) / max(now - self.t0, 1e-9)
        post = f" {self.postfix}" if self.postfix else ""
        eta = _eta(self.n - self.n0, self.total - self.n, now - self.t0)
        sys.stderr.write(
            f"{self.desc}: {100 * frac:5.1f}% {self.n}/{self.total} {self.unit} in {now - self.t0:.1f}s "
            f"({rate:,.0f} {self.unit}/s, ETA {eta}){post}\n"
        )
        sys.stderr.flush()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._line(now)

    def close(self) -> None:
        self._line(time.perf_counter())


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


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_bar(total: int, desc: str, unit: str = "it", enable: bool = True, initial: int = 0) -> Any:
    """A context-managed progress display with ``update(n)`` and ``set_postfix_str(s)``; ``initial``
    of the ``total`` were done before (a resumed run: the bar starts there, the rate leaves them out).

    A no-op when ``enable`` is False; a bar on a terminal; plain lines every :data:`LINE_INTERVAL`
    seconds otherwise.
    """
    if not enable:
        return _Null()
    if not _is_terminal():
        return _Lines(total, desc, unit, initial=initial)
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True, initial=initial)
    except ImportError:
        return _Bar(total, desc, unit, initial)
