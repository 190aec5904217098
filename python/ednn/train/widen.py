"""Grow a trained density network without changing what it computes (``init:`` of a wider run).

A :class:`~ednn.train.networks.DensityCNN` whose ``widths`` are larger than those of the checkpoint it
starts from keeps every trained weight: the old channels compute exactly what they computed, the new
channels get fresh weights in and **zero weights out**, so the grown network gives the checkpoint's
outputs to float rounding, and training goes on from there with more room (the zero weights get
gradients from the first step). Only ``widths`` may grow; the number of layers, dilations, the head
and everything else must be the same.
"""

from __future__ import annotations

from typing import Any

__all__ = ["widen_state"]


def widen_state(old: dict[str, Any], fresh: dict[str, Any], scale: float = 0.5) -> dict[str, Any]:
    """The state dict of the wider network ``fresh`` (its own initialisation) holding ``old``'s weights.

    For every tensor of ``fresh``: equal shapes take ``old``'s; a wider convolution weight ``(o, i, k, k)``
    takes ``old``'s in its leading block, zeros for old outputs from new inputs, and its own initial
    weights times ``scale`` for the new outputs; a wider bias takes ``old``'s leading entries. Raises
    ``ValueError`` (``InputError``) where a tensor is missing, narrower or of another rank.
    """
    from ..errors import InputError

    out: dict[str, Any] = {}
    for key, new in fresh.items():
        if key not in old:
            raise InputError(f"init: expected a checkpoint with the tensor {key!r} of this run's network, got none")
        o = old[key]
        if tuple(o.shape) == tuple(new.shape):
            out[key] = o.detach().clone()
            continue
        grows = o.ndim == new.ndim and all(a <= b for a, b in zip(o.shape, new.shape))
        if not grows or o.ndim not in (1, 4) or tuple(o.shape[2:]) != tuple(new.shape[2:]):
            raise InputError(f"init: expected a checkpoint whose {key} fits in this run's {tuple(new.shape)} "
                             f"(widths may only grow), got {tuple(o.shape)}")
        w = new.detach().clone()
        if o.ndim == 4:
            n_out, n_in = o.shape[:2]
            w[:n_out, :n_in] = o
            w[:n_out, n_in:] = 0.0  # the old channels ignore the new ones: the same outputs
            w[n_out:] *= scale
        else:
            w[: o.shape[0]] = o
        out[key] = w
    return out
