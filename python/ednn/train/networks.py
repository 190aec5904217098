"""Per-tile networks (extra ``train``): the paper's :class:`IsingDNN` and :class:`PaperCNN`, the
CPU-sized :class:`SmallCNN`, the translation-equivariant :class:`DensityCNN`, and
:class:`FocusMoments` (a fixed per-species term in the graph).

Each maps tiles ``(N, C, t_1..t_d)`` to contributions ``(N, K)``; :class:`ednn.torch.EDNN` tiles a
grid and sums them. All four are re-exported by :mod:`ednn.torch`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._checks import check_ndim, per_axis
from ..errors import InputError

__all__ = ["IsingDNN", "PaperCNN", "SmallCNN", "DensityCNN", "FocusMoments", "sums_per_pixel"]


class IsingDNN(nn.Module):
    """The paper's fully-connected per-tile network (used for the Ising model).

    Flattened tile ``C * prod(t)`` -> ``32 * prod(t)`` -> 64 -> 64 -> 1, ReLU between layers and a
    linear output; ``t = f + 2c`` per axis (``32 (f + 2c)^2`` in two dimensions, as in the paper).
    """

    def __init__(
        self, focus: int | Sequence[int] = 1, context: int | Sequence[int] = 1, channels: int = 1, ndim: int = 2
    ) -> None:
        super().__init__()
        d = check_ndim(ndim)
        f = per_axis("focus", focus, d, 1)
        c = per_axis("context", context, d, 0)
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise InputError(f"channels: expected a positive int, got {channels!r}")
        self.tile = tuple(fk + 2 * ck for fk, ck in zip(f, c))
        self.channels = channels
        size = math.prod(self.tile)
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * size, 32 * size),
            nn.ReLU(),
            nn.Linear(32 * size, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _conv_out(n: int, kernel: int, stride: int, pad: int) -> int:
    return (n + 2 * pad - kernel) // stride + 1


class PaperCNN(nn.Module):
    """The paper's convolutional per-tile network (section 2.1), for 2-D tiles.

    13 convolutions, each followed by ReLU:

    * 2 reducing: 3x3, 64 filters, stride 2 (padding 1);
    * 6 non-reducing: 4x4, 16 filters, stride 1, "same" padding (the even kernel is padded by 1
      before and 2 after on each axis);
    * 1 reducing: 3x3, 64 filters, stride 2 (padding 1);
    * 4 non-reducing: 3x3, 32 filters, stride 1 (padding 1);

    then flatten -> fully connected 1024 (ReLU) -> fully connected ``outputs``. A 128 x 128 tile is
    reduced to 32 x 16 x 16 features.
    """

    def __init__(self, tile: int | Sequence[int] = 128, channels: int = 1, outputs: int = 1) -> None:
        super().__init__()
        t = per_axis("tile", tile, 2, 1)
        for name, v in (("channels", channels), ("outputs", outputs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected a positive int, got {v!r}")
        self.tile = t
        layers: list[nn.Module] = []
        cin = channels
        h, w = t

        def reduce(cout: int) -> None:
            nonlocal cin, h, w
            layers.extend([nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU()])
            cin, h, w = cout, _conv_out(h, 3, 2, 1), _conv_out(w, 3, 2, 1)

        for _ in range(2):
            reduce(64)
        for _ in range(6):
            # (left, right, top, bottom): the "same" padding of an even kernel at stride 1.
            layers.extend([nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(cin, 16, 4), nn.ReLU()])
            cin = 16
        reduce(64)
        for _ in range(4):
            layers.extend([nn.Conv2d(cin, 32, 3, padding=1), nn.ReLU()])
            cin = 32
        self.features = nn.Sequential(*layers)
        self.flat_features = cin * h * w
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(self.flat_features, 1024), nn.ReLU(), nn.Linear(1024, outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SmallCNN(nn.Module):
    """A CPU-friendly per-tile CNN for Eq. 2 images (same tiling idea as :class:`PaperCNN`).

    Optional ``pool`` x ``pool`` average pooling; optional pixel powers: with ``powers = p > 1`` the
    image ``V`` (channel 0; further channels pass unchanged) becomes ``p`` channels
    ``V (V / power_scale)^(k-1)``, k = 1..p, so that the peak
    heights Z (5, 6, 7 for B, C, N) — which a ReLU network otherwise has to resolve from one
    intensity — are linearly separable per pixel (as the moments of :class:`FocusMoments` are per
    tile). Then four stride-2 3×3 convolutions (16, 32, 32, 32 filters, ReLU) that reduce the tile
    by 16 per axis, FC 64 (ReLU) and FC ``outputs``. About 8 M multiply-adds per 128² tile (2 M per
    64² tile), against 0.10 G for the paper's network on a 128² tile (counted from the graph).
    """

    def __init__(self, tile: int | Sequence[int] = 128, channels: int = 1, outputs: int = 1, pool: int = 1,
                 powers: int = 1, power_scale: float = 6.0) -> None:
        super().__init__()
        t = (tile, tile) if isinstance(tile, int) else tuple(int(v) for v in tile)
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1 or any(v % pool for v in t):
            raise InputError(f"pool: expected a positive int dividing the tile {t}, got {pool!r}")
        if isinstance(powers, bool) or not isinstance(powers, int) or not 1 <= powers <= 4:
            raise InputError(f"powers: expected an int in 1..4, got {powers!r}")
        if not (isinstance(power_scale, (int, float)) and power_scale > 0):
            raise InputError(f"power_scale: expected a positive number, got {power_scale!r}")
        self.powers, self.power_scale = powers, float(power_scale)
        layers: list[nn.Module] = [nn.AvgPool2d(pool)] if pool > 1 else []
        c_in, size = channels + powers - 1, [v // pool for v in t]
        for c_out in (16, 32, 32, 32):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
            c_in = c_out
            size = [_conv_out(s, 3, 2, 1) for s in size]
        self.features = nn.Sequential(*layers)
        self.flat_features = c_in * size[0] * size[1]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(self.flat_features, 64), nn.ReLU(), nn.Linear(64, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(_pixel_powers(x, self.powers, self.power_scale)))


def _pixel_powers(x: torch.Tensor, powers: int, scale: float) -> torch.Tensor:
    """``(N, C, ...)`` -> ``(N, C + powers - 1, ...)``: channel 0 ``V`` becomes ``V (V / scale)^(k-1)``,
    k = 1..``powers``; further channels pass unchanged."""
    if powers == 1:
        return x
    v = x[:, :1]
    r = v / scale
    chans, p = [v], v
    for _ in range(powers - 1):
        p = p * r
        chans.append(p)
    return torch.cat(chans + [x[:, 1:]], dim=1)


class DensityCNN(nn.Module):
    """A per-tile network that is a sum of per-pixel energy densities over the tile's focus.

    The tile ``(N, C, f_1 + 2c_1, f_2 + 2c_2)`` goes through pixel powers (as :class:`SmallCNN`),
    a ``stride`` x ``stride`` patch convolution (one output pixel per ``stride``² input pixels),
    3x3 convolutions with ``dilations`` and no padding, and a 1x1 head: a density map on the coarse
    grid whose value at a pixel depends only on the input within ``stride * (1 + sum(dilations))``
    pixels of it. Its sum over the focus (``f_k / stride`` coarse pixels per axis) is the tile's
    contribution ``(N, outputs)``, divided by the number of coarse focus pixels (a constant, so that
    a tile's output is O(1) as that of a per-tile network).

    So the sum over all tiles of a periodic grid is the sum of one density over every coarse pixel
    of the grid, whatever the tiling: shifting the grid by a multiple of ``stride`` pixels changes
    nothing (exactly, not learned), and only shifts by fractions of ``stride`` pixels are left to
    learn (by random translations in training, ``augment: true``). The context must hold the
    receptive field: ``sum(dilations) <= c / stride``. :meth:`periodic_sum` evaluates a whole
    periodic grid at once (no overlap between tiles: what training uses); it equals the sum over
    the tiles to float rounding.

    Smooth activations (SiLU) keep the density a smooth function of the image, which is what lets
    the sub-``stride`` shifts be learned.
    """

    def __init__(self, focus: int | Sequence[int] = 32, context: int | Sequence[int] = 16, channels: int = 1,
                 outputs: int = 1, powers: int = 3, power_scale: float = 6.0, stride: int = 2,
                 widths: Sequence[int] = (16, 16, 32, 32), dilations: Sequence[int] = (1, 2, 2, 3),
                 head: int = 32) -> None:
        super().__init__()
        f = per_axis("focus", focus, 2, 1)
        c = per_axis("context", context, 2, 0)
        for name, v in (("channels", channels), ("outputs", outputs), ("stride", stride), ("head", head)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected a positive int, got {v!r}")
        if isinstance(powers, bool) or not isinstance(powers, int) or not 1 <= powers <= 4:
            raise InputError(f"powers: expected an int in 1..4, got {powers!r}")
        widths, dilations = [int(v) for v in widths], [int(v) for v in dilations]
        if not widths or len(widths) != len(dilations) or min(widths) < 1 or min(dilations) < 1:
            raise InputError(f"widths, dilations: expected equal-length lists of positive ints, got {widths}, {dilations}")
        if any(v % stride for v in (*f, *c)):
            raise InputError(f"focus, context: expected multiples of the stride {stride}, got {f}, {c}")
        reach = sum(dilations)
        if reach > min(c) // stride:
            raise InputError(f"dilations: expected a receptive field within the context (sum <= {min(c) // stride} "
                             f"for context {c} and stride {stride}), got sum {reach}")
        self.focus, self.context, self.stride, self.reach = f, c, stride, reach
        self.tile_context = c  # the context of the tiles forward() receives (see average_phases)
        self.phases = False
        self.mirrors = False
        self.powers, self.power_scale = powers, float(power_scale)
        layers: list[nn.Module] = [nn.Conv2d(channels + powers - 1, widths[0], stride, stride=stride), nn.SiLU()]
        c_in = widths[0]
        for w, d in zip(widths, dilations):
            layers += [nn.Conv2d(c_in, w, 3, dilation=d), nn.SiLU()]
            c_in = w
        layers += [nn.Conv2d(c_in, head, 1), nn.SiLU(), nn.Conv2d(head, outputs, 1)]
        self.layers = nn.Sequential(*layers)
        # densities are summed with weight 1 / (coarse pixels per focus): a tile's output is their mean,
        # O(1) like that of a per-tile network, so learning rates carry over (a constant: sums stay exact)
        self.norm = 1.0 / ((f[0] // stride) * (f[1] // stride))

    def density(self, x: torch.Tensor, region: Sequence[int]) -> torch.Tensor:
        """Coarse densities ``(N, outputs, r_1 / stride, r_2 / stride)`` of the central ``region``
        ``(r_1, r_2)`` of ``x`` ``(N, C, r_1 + 2c_1, r_2 + 2c_2)``."""
        y = self.layers(_pixel_powers(x, self.powers, self.power_scale))
        s = self.stride
        lo = [ck // s - self.reach for ck in self.context]
        return y[:, :, lo[0] : lo[0] + region[0] // s, lo[1] : lo[1] + region[1] // s]

    def average_phases(self) -> None:
        """Make :meth:`forward` the mean over all ``stride``² sub-lattices of density points (phases).

        One phase holds the density points on every ``stride``-th pixel; the ``stride``² phases
        together hold one point per pixel. Their mean over a tile's focus is exact under whole-pixel
        shifts of the grid (not only whole ``stride`` shifts), and averages out what is left of
        the network's response to the pixel grid. The tiles then need ``stride - 1`` more pixels of
        context per side (:attr:`tile_context`); the cost per tile is ``stride``² times one phase.
        """
        self.phases = True
        self.tile_context = tuple(ck + self.stride - 1 for ck in self.context)

    def average_mirrors(self) -> None:
        """Make :meth:`forward` the mean over the tile and its three mirror images (x, y, both).

        Flipping every tile about its own centre gives the tiles of the grid flipped as a whole, so
        the sum over the tiles becomes the mean of the energies of the grid and its mirror images:
        exactly invariant under the mirrors and the 180° turn of the grid (with :meth:`average_phases`,
        about every line through a pixel or between two). Four times the cost per tile.
        """
        self.mirrors = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mirrors:
            n = x.shape[0]
            x = torch.cat([x, x.flip(2), x.flip(3), x.flip(2, 3)], dim=0)
            return self._phases(x).reshape(4, n, -1).mean(dim=0)
        return self._phases(x)

    def _phases(self, x: torch.Tensor) -> torch.Tensor:
        if not self.phases:
            return self.density(x, self.focus).sum(dim=(2, 3)) * self.norm
        # phase (a0, a1): the sub-tile whose focus starts a pixels further, every phase in one batch
        s, (f0, f1), (c0, c1) = self.stride, self.focus, self.context
        o0, o1 = (t - c for t, c in zip(self.tile_context, self.context))
        n0, n1 = f0 + 2 * c0, f1 + 2 * c1
        subs = [x[:, :, o0 + a0 : o0 + a0 + n0, o1 + a1 : o1 + a1 + n1] for a0 in range(s) for a1 in range(s)]
        y = self.density(torch.cat(subs, dim=0), self.focus).sum(dim=(2, 3)) * self.norm
        return y.reshape(s * s, x.shape[0], -1).mean(dim=0)

    def periodic_sum(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, outputs)``: the sum over all tiles of periodic grids ``x`` ``(B, C, S_1, S_2)``
        (each ``S_k`` a multiple of the focus), computed once per pixel."""
        (c0, c1), shape = self.context, tuple(x.shape[2:])
        # wrap by gathering rows (i - c) mod S, as the tiling does: any context, even one wider than the grid
        i0 = torch.remainder(torch.arange(-c0, shape[0] + c0, device=x.device), shape[0])
        i1 = torch.remainder(torch.arange(-c1, shape[1] + c1, device=x.device), shape[1])
        return self.density(x.index_select(2, i0).index_select(3, i1), shape).sum(dim=(2, 3)) * self.norm


def sums_per_pixel(net: nn.Module) -> bool:
    """Whether ``net`` (or the network inside a :class:`FocusMoments`) has ``periodic_sum``: the
    sum over all tiles of a periodic grid computed once per pixel."""
    inner = net.net if isinstance(net, FocusMoments) else net
    return callable(getattr(inner, "periodic_sum", None))


class FocusMoments(nn.Module):
    """A per-tile network plus a fixed linear term in the moments of the tile's focus region.

    ``forward(x) = net(x) + (sum_k a_k * sum_focus x^k) / scale`` for ``k = 1..len(a)``, where
    ``sum_focus`` runs over the tile's focus (the centre ``f`` points of every axis, i.e. the tile
    without its context). The focus regions of a grid's tiles partition the grid, so the term sums
    to ``sum_k a_k M_k / scale`` with ``M_k = sum_grid x^k``: it is extensive, and exact whatever the
    tiling.

    For Eq. 2 images the moments count atoms by species: a well-sampled Gaussian of height ``Z``
    gives ``M_k = Z^k 2 pi gamma^2 / (k dA)`` (``dA`` the area of a grid cell; overlaps of bonded
    atoms change ``M_2`` by ~1e-5 relatively), so with as many moments as species the term is any
    per-species reference energy ``sum_s mu_s n_s``. Fitted once by least squares on the training
    labels (:func:`ednn.train.baseline.fit_moment_baseline`), it takes the composition out of what the network has to
    learn. The moments are computed in float64 (the least-squares coefficients of ``V, V^2, V^3``
    for Z = 5, 6, 7 cancel to a few parts in 1e4) and the result is returned in ``net``'s dtype.

    Parameters
    ----------
    net
        Per-tile network ``(N, C, t_1, t_2) -> (N, K)``.
    focus, context
        Tile geometry of the EDNN (two axes).
    coefficients
        ``a`` ``(n_moments,)`` or ``(n_moments, K)``; moments are taken of channel 0.
    scale
        Divides the term (the EDNN's output scale, so that ``y * scale + offset`` restores units).
    """

    def __init__(
        self, net: nn.Module, focus: int | Sequence[int], context: int | Sequence[int],
        coefficients: Any, scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.net = net
        self.focus = per_axis("focus", focus, 2, 1)
        self.context = per_axis("context", context, 2, 0)
        a = torch.as_tensor(coefficients, dtype=torch.float64)
        if a.dim() == 1:
            a = a[:, None]
        if a.dim() != 2 or a.shape[0] < 1:
            raise InputError(f"coefficients: expected shape (n_moments,) or (n_moments, K), got {tuple(a.shape)}")
        scale = float(scale)
        if not (math.isfinite(scale) and scale > 0):
            raise InputError(f"scale: expected a positive finite number, got {scale!r}")
        self.register_buffer("coefficients", a.clone())
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float64))

    def _apply(self, fn: Any, recurse: bool = True) -> "FocusMoments":
        # .to(float32) / .half() move the network but keep the fixed term's buffers in float64
        keep = {name: getattr(self, name) for name in ("coefficients", "scale")}
        super()._apply(fn, recurse)
        for name, b in keep.items():
            setattr(self, name, b.to(device=getattr(self, name).device, dtype=torch.float64))
        return self

    def moments(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, n_moments)`` float64: sums over each tile's focus of ``x^1 .. x^n`` (channel 0)."""
        (f0, f1), (c0, c1) = self.focus, self.context
        return self._power_sums(x[:, 0, c0 : c0 + f0, c1 : c1 + f1])

    def _power_sums(self, v: torch.Tensor) -> torch.Tensor:
        """``(N, n_moments)`` float64: sums over axes 1, 2 of ``v^1 .. v^n`` for ``v`` ``(N, a, b)``."""
        v = v.to(torch.float64)
        out, p = [], v
        for k in range(self.coefficients.shape[0]):
            if k:
                p = p * v
            out.append(p.sum(dim=(1, 2)))
        return torch.stack(out, dim=1)

    def baseline(self, x: torch.Tensor) -> torch.Tensor:
        """The fixed term ``(N, K)`` in float64, in output units (times ``scale``)."""
        return self.moments(x) @ self.coefficients

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        return y + (self.baseline(x) / self.scale).to(y.dtype)

    def periodic_sum(self, x: torch.Tensor) -> torch.Tensor:
        """The sum over all tiles of periodic grids ``x`` ``(B, C, S_1, S_2)``, for a ``net`` that has
        ``periodic_sum`` (:class:`DensityCNN`): the moments of the whole grid are the sum of the
        focus moments (the focus regions partition it)."""
        y = self.net.periodic_sum(x)
        return y + ((self._power_sums(x[:, 0]) @ self.coefficients) / self.scale).to(y.dtype)

    def extra_repr(self) -> str:
        return f"moments={self.coefficients.shape[0]}, focus={self.focus}, context={self.context}"
