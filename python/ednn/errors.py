"""Exceptions raised by ednn.

Every check on user input raises :class:`InputError`, a :class:`ValueError` subclass whose message
names the argument, the expected value and the actual one. The compiled core raises the same class.
"""

from __future__ import annotations

from ._ednn import InputError

__all__ = ["InputError", "ModelFileError"]


class ModelFileError(InputError):
    """An ONNX file that is not a valid EDNN model (missing or malformed ``ednn.*`` metadata)."""
