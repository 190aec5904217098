"""The ``metadata_props`` of an ONNX file, read without ONNX Runtime and without reading the graph.

An ONNX file is one protobuf ``ModelProto``. Its top-level fields are scanned in order: each
``metadata_props`` entry (field 14, a ``StringStringEntryProto`` with key = 1, value = 2) is read,
and every other field is skipped by its length, so the graph (field 7) and its weights are never
read into memory. :class:`ednn.Model` checks the ``ednn.*`` metadata found here before it lets ONNX
Runtime build a session, so a file that is not an EDNN model, or whose tiles exceed the limits, is
refused at the cost of a few reads. The scan and its messages are the C++ predictor's
(``scan_metadata`` in csrc/predictor/metadata.cpp).
"""

from __future__ import annotations

import os
from typing import BinaryIO

__all__ = ["scan_metadata", "ScanError", "MAX_METADATA_ENTRY_BYTES"]

#: Largest ``metadata_props`` entry read (16 MiB); a larger one is refused unread.
MAX_METADATA_ENTRY_BYTES = 16 << 20


class ScanError(Exception):
    """The file is not a ``ModelProto`` (the message says why)."""


class _Reader:
    def __init__(self, f: BinaryIO | None, data: bytes | None, size: int) -> None:
        self.f, self.data, self.pos, self.size = f, data, 0, size

    @property
    def remaining(self) -> int:
        return self.size - self.pos

    def read(self, n: int) -> bytes:
        if self.data is not None:
            out = self.data[self.pos:self.pos + n]
        else:
            out = self.f.read(n)  # type: ignore[union-attr]
            if len(out) != n:
                raise ScanError("could not read the file")
        self.pos += n
        return out

    def skip(self, n: int) -> None:
        if self.f is not None:
            self.f.seek(n, os.SEEK_CUR)
        self.pos += n

    def need(self, n: int) -> None:
        if n > self.remaining:
            raise ScanError("truncated file")

    def varint(self) -> int:
        v = 0
        for i in range(10):
            if self.remaining == 0:
                raise ScanError("truncated file")
            b = self.read(1)[0]
            v |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                return v & 0xFFFFFFFFFFFFFFFF
        raise ScanError("malformed protobuf (a varint longer than 10 bytes)")

    def tag(self) -> tuple[int, int] | None:
        if self.remaining == 0:  # a clean end: no byte left before a tag
            return None
        t = self.varint()
        if t >> 3 == 0:
            raise ScanError("malformed protobuf (field number 0)")
        return t >> 3, t & 7

    def skip_scalar(self, wire_type: int) -> None:
        if wire_type == 0:
            self.varint()
        elif wire_type in (1, 5):
            n = 8 if wire_type == 1 else 4
            self.need(n)
            self.skip(n)
        else:
            raise ScanError(f"malformed protobuf (wire type {wire_type})")


def _entry(payload: bytes) -> tuple[str, str]:
    r = _Reader(None, payload, len(payload))
    key, value = b"", b""
    try:
        while (tag := r.tag()) is not None:
            field, wire_type = tag
            if wire_type == 2:
                n = r.varint()
                r.need(n)
                v = r.read(n)
                if field == 1:
                    key = v
                elif field == 2:
                    value = v
            else:
                r.skip_scalar(wire_type)
    except ScanError:
        raise ScanError("malformed protobuf (a metadata_props entry)") from None
    try:
        return key.decode("utf-8"), value.decode("utf-8")
    except UnicodeDecodeError:
        raise ScanError("a metadata_props entry that is not UTF-8") from None


def scan_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """``metadata_props`` of the ONNX file at ``path`` as a dict (a repeated key: the last wins, as
    in ONNX Runtime). Raises :class:`ScanError` for a file that is not a ``ModelProto``: truncated,
    malformed, without a graph, or with an entry over 16 MiB or not in UTF-8."""
    meta: dict[str, str] = {}
    graph = False
    try:
        with open(path, "rb") as f:
            r = _Reader(f, None, os.fstat(f.fileno()).st_size)
            while (tag := r.tag()) is not None:
                field, wire_type = tag
                if wire_type != 2:
                    r.skip_scalar(wire_type)
                    continue
                n = r.varint()
                if field == 14 and n > MAX_METADATA_ENTRY_BYTES:
                    raise ScanError(f"a metadata_props entry of {n} bytes (more than 16 MiB)")
                r.need(n)
                if field == 14:
                    k, v = _entry(r.read(n))
                    meta[k] = v
                else:
                    graph = graph or field == 7
                    r.skip(n)
    except OSError as exc:
        raise ScanError(f"could not read the file ({exc.strerror or exc})") from None
    if not graph:
        raise ScanError("no graph")
    return meta
