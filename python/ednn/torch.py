"""Training EDNNs with PyTorch (extra ``train``).

* :func:`periodic_tiles` — the periodic focus + context tiling of :func:`ednn.tile`, in differentiable
  torch operations (CPU or CUDA), laid out as one network batch ``(B * n_tiles, C, t_1..t_d)``;
* :class:`EDNN` — wraps any per-tile network: tiles the input, runs the network on every tile, sums
  the contributions per example;
* :class:`IsingDNN` and :class:`PaperCNN` — the fully-connected and convolutional per-tile networks
  of Mills et al. (2019), section 2.1, with :class:`SmallCNN`, :class:`DensityCNN` and :class:`FocusMoments` (defined in
  :mod:`ednn.train.networks`, re-exported here);
* :func:`averaged` — a trained density network's EDNN whose tiles average pixel phases and/or
  mirror images, with any focus (what ``ednn export --average`` writes);
* :func:`export_onnx` — writes the per-tile network as an EDNN model file (one ONNX file with the
  ``ednn.*`` metadata) for :func:`ednn.predict`.

>>> import torch, ednn.torch as et
>>> model = et.EDNN(et.IsingDNN(focus=1, context=1), focus=1, context=1)
>>> energy = model(torch.randint(0, 2, (4, 1, 8, 8)).float() * 2 - 1)   # (4, 1)
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError, require_extra

require_extra("train", "ednn.torch", "torch")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from ._checks import check_divisible, check_ndim, per_axis  # noqa: E402
from ._io import atomic_path, check_new  # noqa: E402
from .model import metadata_dict  # noqa: E402
from .train.averaging import AVERAGES  # noqa: E402
from .train.networks import DensityCNN, FocusMoments, IsingDNN, PaperCNN, SmallCNN, sums_per_pixel  # noqa: E402

__all__ = ["periodic_tiles", "EDNN", "IsingDNN", "PaperCNN", "SmallCNN", "DensityCNN", "FocusMoments",
           "export_onnx", "activation_batch_tiles", "ACTIVATION_BATCH_BYTES", "averaged"]


def periodic_tiles(
    x: torch.Tensor, focus: int | Sequence[int], context: int | Sequence[int], ndim: int = 2
) -> torch.Tensor:
    """Cut a batch of periodic grids into EDNN tiles, as one network batch.

    Parameters
    ----------
    x
        Tensor ``(B, C, S_1..S_d)`` with ``d = ndim``; any dtype and device. Every ``S_k`` must be a
        multiple of ``focus[k]``.
    focus, context
        One int for every axis or one per axis; ``f_k >= 1``, ``c_k >= 0`` (``c_k`` may exceed
        ``S_k``: the grid wraps as many times as needed).
    ndim
        Number of spatial axes, 1, 2 or 3.

    Returns
    -------
    Tensor ``(B * n, C, t_1..t_d)`` with ``n = prod(S_k / f_k)`` and ``t_k = f_k + 2 c_k``. The tiles of
    example ``b`` are rows ``b * n .. (b + 1) * n - 1``, in row-major order over the tile grid
    ``(n_1..n_d)`` — the order of :func:`ednn.tile` — and tile ``i`` holds
    ``x[b, :, (i_1 f_1 - c_1 + j_1) mod S_1, ...]``. Gradients flow back to ``x``.
    """
    d = check_ndim(ndim)
    if not isinstance(x, torch.Tensor):
        raise InputError(f"x: expected a torch.Tensor (B, C, S_1..S_{d}), got {type(x).__name__}")
    if x.dim() != d + 2:
        raise InputError(
            f"x: expected {d + 2} axes (B, C, S_1..S_{d}) for ndim={d}, got shape {tuple(x.shape)}"
        )
    f = per_axis("focus", focus, d, 1)
    c = per_axis("context", context, d, 0)
    spatial = tuple(int(s) for s in x.shape[2:])
    check_divisible(spatial, f, what="x")
    B, C = int(x.shape[0]), int(x.shape[1])
    y = x
    for k in range(d):
        dim = 2 + k
        S, fk, ck = spatial[k], f[k], c[k]
        if ck:
            # Wrap-pad by gathering rows (i - c) mod S, i = 0..S+2c-1: works for any c, even c > S.
            idx = torch.remainder(torch.arange(-ck, S + ck, device=x.device), S)
            y = y.index_select(dim, idx)
        # Windows of t = f + 2c at stride f: axis dim becomes n_k, a trailing axis t_k is appended.
        y = y.unfold(dim, fk + 2 * ck, fk)
    # (B, C, n_1..n_d, t_1..t_d) -> (B, n_1..n_d, C, t_1..t_d)
    order = (0,) + tuple(range(2, 2 + d)) + (1,) + tuple(range(2 + d, 2 + 2 * d))
    n = math.prod(s // fk for s, fk in zip(spatial, f))
    t = tuple(fk + 2 * ck for fk, ck in zip(f, c))
    return y.permute(order).reshape((B * n, C) + t)


class EDNN(nn.Module):
    """An extensive deep neural network: ``net`` applied to every periodic tile, contributions summed.

    Parameters
    ----------
    net
        Any module mapping tiles ``(N, C, t_1..t_d)`` to contributions ``(N, K)``.
    focus, context
        Tile geometry (one int or one per axis), as in :func:`periodic_tiles`.
    ndim
        Number of spatial axes (1..3).

    ``forward(x)`` takes ``(B, C, S_1..S_d)`` (a non-floating ``x``, e.g. int8 spins, is converted to
    float32) and returns ``(B, K)``: for each example, the sum of ``net`` over its tiles. All tiles of
    the batch go through ``net`` as one batch.
    """

    def __init__(
        self, net: nn.Module, focus: int | Sequence[int], context: int | Sequence[int], ndim: int = 2
    ) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise InputError(f"net: expected a torch.nn.Module, got {type(net).__name__}")
        self.ndim = check_ndim(ndim)
        self.focus = per_axis("focus", focus, self.ndim, 1)
        self.context = per_axis("context", context, self.ndim, 0)
        self.net = net

    @property
    def tile(self) -> tuple[int, ...]:
        """Tile extent ``t_k = f_k + 2 c_k`` per axis."""
        return tuple(f + 2 * c for f, c in zip(self.focus, self.context))

    def tiles(self, x: torch.Tensor) -> torch.Tensor:
        """The network batch ``(B * n, C, t...)`` for ``x`` ``(B, C, S...)``."""
        return periodic_tiles(x, self.focus, self.context, self.ndim)

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        """Per-tile outputs ``(B, n, K)`` (their sum over axis 1 is :meth:`forward`)."""
        if isinstance(x, torch.Tensor) and not (x.is_floating_point() or x.is_complex()):
            x = x.to(torch.float32)
        tiles = self.tiles(x)
        B = int(x.shape[0])
        y = self.net(tiles)
        if not isinstance(y, torch.Tensor) or y.dim() != 2 or y.shape[0] != tiles.shape[0]:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise InputError(f"net: expected an output of shape ({tiles.shape[0]}, K) for {tiles.shape[0]} tiles, got {got}")
        return y.reshape(B, -1, y.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ndim == 2 and sums_per_pixel(self.net):
            # a network of per-pixel densities (DensityCNN): the same sum, each pixel computed once
            if not (x.is_floating_point() or x.is_complex()):
                x = x.to(torch.float32)
            check_divisible(tuple(int(s) for s in x.shape[2:]), self.focus, what="x")
            return self.net.periodic_sum(x)
        return self.contributions(x).sum(dim=1)

    def extra_repr(self) -> str:
        return f"focus={self.focus}, context={self.context}, ndim={self.ndim}, tile={self.tile}"


def _export(net: nn.Module, dummy: torch.Tensor, path: str, opset: int, exporter: str) -> None:
    kwargs: dict[str, Any] = dict(input_names=["tiles"], output_names=["contributions"], opset_version=opset)
    with warnings.catch_warnings():
        # The exporters emit deprecation/future warnings about their own internals; they say
        # nothing about the model, which is checked after export.
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(
                net, (dummy,), path, dynamo=False,
                dynamic_axes={"tiles": {0: "N"}, "contributions": {0: "N"}}, **kwargs,
            )
        else:
            torch.onnx.export(
                net, (dummy,), path, dynamo=True, external_data=False, verbose=False,
                dynamic_shapes=({0: torch.export.Dim("N")},), **kwargs,
            )


def _external_tensors(model: Any) -> list[str]:
    from onnx.external_data_helper import uses_external_data

    names = [t.name for t in model.graph.initializer if uses_external_data(t)]
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t") and uses_external_data(attr.t):
                names.append(f"{node.name or node.op_type}.{attr.name}")
    return names


#: Bytes of the largest intermediate tensor of one batch that :func:`activation_batch_tiles` aims at:
#: the density network's 16 averaged sub-tiles ran as fast in batches of 32 tiles (32 MiB) as of 481
#: (the input-size rule's 8 MiB of tiles: 481 MiB per tensor, 3.0 GB peak against 0.46 GB).
ACTIVATION_BATCH_BYTES = 32 << 20


def activation_batch_tiles(proto: Any) -> int | None:
    """Tiles per batch that keep the largest intermediate tensor of an ONNX graph near
    :data:`ACTIVATION_BATCH_BYTES` (float32), at most :data:`ednn.inference.DEFAULT_BATCH_TILES`:
    ONNX shape inference on the graph with one tile; None when it leaves no tensor's shape known."""
    import onnx
    from onnx import shape_inference

    from .inference import DEFAULT_BATCH_TILES

    one = copy.deepcopy(proto)
    for value in (one.graph.input[0], one.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    try:
        inferred = shape_inference.infer_shapes(one)
    except onnx.shape_inference.InferenceError:
        return None
    largest = 0
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            largest = max(largest, math.prod(d.dim_value for d in dims))
    if largest == 0:
        return None
    return max(1, min(DEFAULT_BATCH_TILES, ACTIVATION_BATCH_BYTES // (4 * largest)))


def export_onnx(
    model: EDNN,
    path: str | os.PathLike[str],
    *,
    channels: int,
    outputs: Sequence[str] | str = ("energy",),
    units: str | None = None,
    spacing: float | None = None,
    description: str | None = None,
    opset: int = 17,
    exporter: str = "auto",
    overwrite: bool = False,
    **extra_metadata: Any,
) -> Path:
    """Write ``model.net`` as an EDNN model file: one self-contained ONNX file.

    The graph has input ``tiles`` ``(N, C, t_1..t_d)`` and output ``contributions`` ``(N, K)``, both
    float32 with a dynamic ``N``; focus, context and ndim come from ``model``; ``channels``,
    ``outputs`` (the K names), ``units``, ``spacing``, ``description`` and ``extra_metadata`` (keys
    with or without the ``ednn.`` prefix, e.g. ``input_scale=0.5``) become ``ednn.*`` metadata.
    ``ednn.batch_tiles`` (the default tiles per ONNX Runtime call) is sized from the graph by
    :func:`activation_batch_tiles` unless given.

    ``exporter`` is ``"torchscript"`` (torch's TorchScript-based exporter), ``"dynamo"`` (the
    ``torch.export``-based one) or ``"auto"`` (TorchScript, else dynamo where it fails). The network
    is exported from a float32 CPU copy in eval mode; ``model`` itself is left unchanged. The result
    passes ``onnx.checker`` and is verified to hold no external data. Returns the path written.

    The file appears complete or not at all (written beside ``path``, checked, then renamed into
    place); an existing ``path`` is refused unless ``overwrite``.
    """
    import onnx

    if not isinstance(model, EDNN):
        raise InputError(f"model: expected an ednn.torch.EDNN, got {type(model).__name__}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise InputError(f"channels: expected a positive int, got {channels!r}")
    names = [outputs] if isinstance(outputs, str) else list(outputs)
    if not names or not all(isinstance(s, str) and s.strip() and "," not in s for s in names):
        raise InputError(f"outputs: expected one or more non-empty names without commas, got {outputs!r}")
    if exporter not in ("auto", "torchscript", "dynamo"):
        raise InputError(f"exporter: expected 'auto', 'torchscript' or 'dynamo', got {exporter!r}")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 13:
        raise InputError(f"opset: expected an int >= 13, got {opset!r}")
    path = check_new(path, overwrite=overwrite, name="path")
    if not path.parent.is_dir():
        raise InputError(f"path: expected a file in an existing directory, got {str(path)!r}")

    net = copy.deepcopy(model.net).to(device="cpu", dtype=torch.float32).eval()
    dummy = torch.randn((2, channels) + model.tile, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        try:
            y = net(dummy)
        except Exception as exc:
            raise InputError(
                f"model.net: expected to accept tiles of shape (N, {channels}, {', '.join(map(str, model.tile))}), "
                f"got {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (2, len(names)):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise InputError(f"model.net: expected an output of shape (N, {len(names)}) for outputs {names}, got {got} for N=2")

    meta = metadata_dict(
        focus=model.focus, context=model.context, ndim=model.ndim, channels=channels, outputs=names,
        units=units, spacing=spacing, description=description, **extra_metadata,
    )
    before = set(os.listdir(path.parent))
    with tempfile.TemporaryDirectory(prefix="ednn-export-") as tmp:
        raw = os.path.join(tmp, "net.onnx")
        order = ["torchscript", "dynamo"] if exporter == "auto" else [exporter]
        for i, name in enumerate(order):
            try:
                _export(net, dummy, raw, opset, name)
                break
            except Exception:
                if i == len(order) - 1:
                    raise
        proto = onnx.load(raw)  # pulls any external data files of the export into memory
    for value in (proto.graph.input[0], proto.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    if "ednn.batch_tiles" not in meta:
        hint = activation_batch_tiles(proto)
        if hint is not None:
            meta["ednn.batch_tiles"] = str(hint)
    onnx.helper.set_model_props(proto, meta)
    onnx.checker.check_model(proto)
    with atomic_path(path, overwrite=overwrite, name="path") as tmp:
        onnx.save_model(proto, os.fspath(tmp), save_as_external_data=False)
        written = onnx.load(os.fspath(tmp), load_external_data=False)
        external = _external_tensors(written)
        created = set(os.listdir(path.parent)) - before - {path.name, tmp.name}
        if external or created:
            raise RuntimeError(
                f"export_onnx: {str(path)!r} is not self-contained (external data: {external}, "
                f"new files: {sorted(created)})"
            )
    return path


def averaged(model: EDNN, focus: Sequence[int], average: str = "all") -> EDNN:
    """A trained DensityCNN's EDNN averaged over pixel phases and mirror images (exact under whole-pixel
    shifts, mirrors and the 180° turn; ``DensityCNN.average_phases``/``average_mirrors``), with tiles of
    ``focus`` (the per-pixel weight ``norm`` of training is kept: the sum over a grid is unchanged).

    ``average`` keeps only the phases, only the mirrors or neither (``none``: exact under shifts by
    whole ``stride`` pixels only, the rest as learned; 16 times cheaper than ``all``)."""
    net = model.net
    inner = net.net if isinstance(net, FocusMoments) else net
    if not isinstance(inner, DensityCNN):
        raise InputError(f"model: expected a density-cnn EDNN (only its tiles sum a per-pixel density), got {type(inner).__name__}")
    if average not in AVERAGES:
        raise InputError(f"average: expected one of {', '.join(AVERAGES)}, got {average!r}")
    focus = tuple(int(v) for v in focus)
    if any(f % inner.stride for f in focus):
        raise InputError(f"focus: expected multiples of the network's stride {inner.stride}, got {focus}")
    inner.focus = focus
    if average in ("all", "phases"):
        inner.average_phases()
    if average in ("all", "mirrors"):
        inner.average_mirrors()
    if isinstance(net, FocusMoments):
        net.focus = focus
        net.context = inner.tile_context  # its per-species term sums the focus of the wider tiles
    return EDNN(net, focus, inner.tile_context, ndim=2)
