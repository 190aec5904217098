"""The per-tile network a training config describes (shared by training, export and model files)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["build_network", "density_shape", "n_channels"]


def density_shape(cfg: Any) -> dict[str, Any]:
    """``widths`` / ``dilations`` keyword arguments of :class:`~ednn.train.networks.DensityCNN` set in ``cfg``."""
    return {k: getattr(cfg, k) for k in ("widths", "dilations") if getattr(cfg, k) is not None}


def build_network(cfg: Any, tile: int, moments: int = 0, coefficients: Any = None, scale: float = 1.0) -> Any:
    """The per-tile network of ``cfg`` (ising-dnn, paper-cnn, small-cnn or density-cnn).

    With ``moments > 0`` it is wrapped in :class:`ednn.torch.FocusMoments` with ``coefficients``
    (zeros when None, e.g. before loading a checkpoint) and ``scale``.
    """
    from .networks import DensityCNN, FocusMoments, IsingDNN, PaperCNN, SmallCNN

    if cfg.network == "ising-dnn":
        net = IsingDNN(cfg.focus, cfg.context, channels=1)
    elif cfg.network == "density-cnn":
        net = DensityCNN(cfg.focus, cfg.context, channels=n_channels(cfg), outputs=len(cfg.outputs), powers=cfg.powers,
                         **density_shape(cfg))
    elif cfg.network == "small-cnn":
        net = SmallCNN(tile=tile, channels=n_channels(cfg), outputs=len(cfg.outputs), pool=cfg.pool, powers=cfg.powers)
    else:
        net = PaperCNN(tile=tile, channels=n_channels(cfg), outputs=len(cfg.outputs))
    if moments:
        a = np.zeros(moments) if coefficients is None else np.asarray(coefficients, dtype=np.float64)
        net = FocusMoments(net, cfg.focus, cfg.context, a, scale)
    return net


def n_channels(cfg: Any) -> int:
    """Input channels of the network of ``cfg`` (1 unless ``channels`` lists more)."""
    return 1 if cfg.channels is None else len(cfg.channels)
