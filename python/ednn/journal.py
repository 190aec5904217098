"""A run's journal: the raw sum of every finished block of tiles, on disk, so that a long prediction
(a sheet of tens of millions of atoms: hours on two cores) survives being stopped and continues where
it stopped.

The file is JSON lines: a header naming the run (:func:`fingerprint`: model file, input, grid and
block decomposition) and one line per finished block, ``{"block": i, "tiles": n, "sum": [...]}``,
its raw float64 sums written exactly (``float.hex``). Each line is flushed and synced before the
next block starts; a line cut short by a kill is dropped when the journal is opened again. The
answer is the compensated sum of the blocks' sums in block order, so it is the same bit for bit
however often the run was stopped, and equal to the answer without a journal to rounding.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .inference import Accumulator

__all__ = ["Journal", "fingerprint"]

_FORMAT = "ednn-journal-1"


def fingerprint(model_path: str | os.PathLike[str], arrays: dict[str, np.ndarray], **settings: Any) -> dict[str, Any]:
    """What makes a run the same run: the model file's SHA-256, each array's SHA-256 (with its dtype
    and shape), and ``settings`` (JSON values: grid, gamma, blocks...)."""
    h = hashlib.sha256()
    with open(model_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    out: dict[str, Any] = {"model_sha256": h.hexdigest()}
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        ah = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
        ah.update(memoryview(a.reshape(-1)).cast("B"))
        out[f"{name}_sha256"] = ah.hexdigest()
    out.update(json.loads(json.dumps(settings)))  # tuples as lists, as they come back from the file
    return out


class Journal:
    """The journal at ``path`` of the run ``run`` (:func:`fingerprint`) with ``blocks`` blocks of
    ``outputs`` raw sums each: created when missing, continued when it is this run's, refused (with
    :class:`~ednn.InputError`, before anything is written) when it is another run's."""

    def __init__(self, path: str | os.PathLike[str], run: dict[str, Any], blocks: int, outputs: int) -> None:
        self.path = Path(path)
        self.blocks, self.outputs = int(blocks), int(outputs)
        self.done: dict[int, tuple[int, np.ndarray]] = {}
        header = {"format": _FORMAT, "run": run, "blocks": self.blocks, "outputs": self.outputs}
        if self.path.exists() and self.path.stat().st_size > 0:  # (an empty file: killed before its header)
            keep = self._read(header)
            with open(self.path, "r+b") as fh:  # drop a last line cut short by a kill
                fh.truncate(keep)
        else:
            if not self.path.parent.is_dir():
                raise InputError(f"journal: expected a file in an existing folder, got {str(path)!r}")
            with open(self.path, "w") as fh:
                fh.write(json.dumps(header) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _read(self, header: dict[str, Any]) -> int:
        """Load the finished blocks; returns the byte length of the complete lines."""
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        try:
            head = json.loads(lines[0])
        except (ValueError, UnicodeDecodeError):
            head = None
        if not isinstance(head, dict) or head.get("format") != _FORMAT:
            raise InputError(f"journal: expected an ednn journal or no file, got {str(self.path)!r} (another file)")
        if head != header:
            theirs = head.get("run", {}) if isinstance(head.get("run"), dict) else {}
            diff = sorted(k for k in set(theirs) | set(header["run"]) if theirs.get(k) != header["run"].get(k))
            if head.get("blocks") != header["blocks"] or head.get("outputs") != header["outputs"]:
                diff.append("blocks")
            raise InputError(f"journal: expected the journal of this run or no file, got {str(self.path)!r}, the "
                             f"journal of another run (it differs in {', '.join(diff)}); remove it or choose another file")
        keep = len(lines[0]) + 1
        for line in lines[1:]:
            if not line:
                break
            try:
                row = json.loads(line)
                i, n = int(row["block"]), int(row["tiles"])
                s = np.array([float.fromhex(v) for v in row["sum"]], dtype=np.float64)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                break  # a line cut short: it and anything after it are dropped
            if not 0 <= i < self.blocks or s.shape != (self.outputs,):
                break
            self.done[i] = (n, s)
            keep += len(line) + 1
        return min(keep, len(raw))

    def record(self, block: int, tiles: int, sums: np.ndarray) -> None:
        """Append a finished block's raw sums ``(outputs,)`` over ``tiles`` tiles; synced to disk."""
        s = np.asarray(sums, dtype=np.float64).reshape(self.outputs)
        self.done[int(block)] = (int(tiles), s)
        line = json.dumps({"block": int(block), "tiles": int(tiles), "sum": [float(v).hex() for v in s]})
        with open(self.path, "a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    @property
    def tiles_done(self) -> int:
        return sum(n for n, _ in self.done.values())

    def total(self) -> tuple[np.ndarray, int]:
        """The raw sums ``(outputs,)`` over every block, compensated, in block order, and the tiles."""
        missing = [i for i in range(self.blocks) if i not in self.done]
        if missing:  # pragma: no cover - a bookkeeping error, not an input error
            raise RuntimeError(f"journal: blocks {missing[:5]} not finished")
        acc = Accumulator(self.outputs)
        for i in range(self.blocks):
            n, s = self.done[i]
            acc.add_sum(s, n)
        return acc.total, acc.count
