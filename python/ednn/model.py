"""The EDNN model file: one ONNX file holding the per-tile network and ``ednn.*`` metadata.

Contract (format version 1)
---------------------------
* input ``(N, C, t_1..t_d)`` float32 tiles, output ``(N, K)`` float32 tile contributions;
* ``metadata_props``: ``ednn.format_version`` = ``"1"``, ``ednn.focus``, ``ednn.context``,
  ``ednn.ndim``, ``ednn.channels``, ``ednn.outputs`` (comma-separated names of the K quantities).
  Integers are ASCII decimal digits (no sign); per-axis values are comma-separated, one value
  applies to every axis. Limits (as in the C API, ``ednn.h``): ``ednn.ndim`` 1..3, focus and
  channels 1..2^24, context 0..2^24, and one tile ``C * t_1..t_d`` at most 2^24 elements;
* optional: ``ednn.units``, ``ednn.spacing`` (length of one grid cell; one value or one per axis),
  ``ednn.description``,
  ``ednn.input_scale`` / ``ednn.input_offset`` (per channel: the network sees ``x * scale + offset``),
  ``ednn.output_scale`` / ``ednn.output_offset`` (per output: a tile contributes
  ``y * scale + offset``), ``ednn.batch_tiles`` (1..2^24: the default number of tiles per ONNX
  Runtime call, for networks whose activations are large beside their input tiles; the exporter
  writes it, :func:`ednn.torch.export_onnx`), and any other ``ednn.*`` key (kept in
  :attr:`Model.metadata`).
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import MAX_TILE_ELEMENTS, check_threads, parse_floats, parse_ints, strip_blanks
from ._modelfile import ScanError, scan_metadata
from .errors import InputError, ModelFileError

__all__ = ["Model", "FORMAT_VERSION", "REQUIRED_KEYS", "load_model", "metadata_dict", "default_providers"]

FORMAT_VERSION = "1"
REQUIRED_KEYS = (
    "ednn.format_version",
    "ednn.focus",
    "ednn.context",
    "ednn.ndim",
    "ednn.channels",
    "ednn.outputs",
)


def metadata_dict(
    *,
    focus: int | Sequence[int],
    context: int | Sequence[int],
    ndim: int,
    channels: int,
    outputs: Sequence[str] | str,
    **optional: Any,
) -> dict[str, str]:
    """The ``ednn.*`` metadata for a model file, as strings (optional keys without the prefix)."""

    def fmt(v: Any) -> str:
        if isinstance(v, (list, tuple, np.ndarray)):
            return ",".join(fmt(x) for x in v)
        if isinstance(v, float):
            return repr(v)
        return str(v)

    names = [outputs] if isinstance(outputs, str) else list(outputs)
    meta = {
        "ednn.format_version": FORMAT_VERSION,
        "ednn.focus": fmt(focus),
        "ednn.context": fmt(context),
        "ednn.ndim": str(int(ndim)),
        "ednn.channels": str(int(channels)),
        "ednn.outputs": ",".join(names),
    }
    for k, v in optional.items():
        if v is not None:
            meta[k if k.startswith("ednn.") else f"ednn.{k}"] = fmt(v)
    return meta


def default_providers() -> list[str]:
    """CUDA execution provider when onnxruntime-gpu sees a GPU, else CPU."""
    import onnxruntime as ort

    avail = ort.get_available_providers()
    if "CUDAExecutionProvider" in avail:
        from . import _ednn

        if _ednn.cuda_device_count() > 0 or _cuda_visible_via_ort():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _cuda_visible_via_ort() -> bool:
    try:
        import onnxruntime as ort

        return bool(getattr(ort, "get_device", lambda: "CPU")() == "GPU")
    except Exception:  # pragma: no cover - depends on the onnxruntime build
        return False


def _session_options(threads: int | None) -> Any:
    """Session options of ednn's ONNX Runtime sessions.

    Intra-op threads do not spin between runs: ednn.predict cuts the next tile batch on the CPU
    while a batch runs, and spinning workers would take the cores it needs on small machines.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return opts


@dataclass
class Model:
    """A validated EDNN model file.

    ``Model(path)`` reads the ONNX file's ``ednn.*`` metadata and checks it against the network's
    input and output. ONNX Runtime sessions are created on demand and cached per providers/threads.
    """

    path: Path
    focus: tuple[int, ...] = field(init=False)
    context: tuple[int, ...] = field(init=False)
    ndim: int = field(init=False)
    channels: int = field(init=False)
    outputs: tuple[str, ...] = field(init=False)
    units: str | None = field(init=False)
    spacing: tuple[float, ...] | None = field(init=False)
    description: str | None = field(init=False)
    metadata: dict[str, str] = field(init=False)
    input_name: str = field(init=False)
    input_scale: np.ndarray | None = field(init=False)
    input_offset: np.ndarray | None = field(init=False)
    output_scale: np.ndarray | None = field(init=False)
    output_offset: np.ndarray | None = field(init=False)
    batch_tiles: int | None = field(init=False)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"model: expected an existing ONNX file, got {str(path)!r} (no such file)")
        self._sessions: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        # the metadata first, from a scan of the file: a file that is not a valid EDNN model (or
        # whose tiles exceed the limits) is refused before ONNX Runtime reads its graph and weights
        try:
            scanned = scan_metadata(self.path)
        except ScanError as exc:
            raise ModelFileError(f"model: {str(path)!r} is not a readable ONNX model: {exc}") from None
        self._read_metadata(scanned)
        try:
            sess = ort.InferenceSession(str(self.path), _session_options(None), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelFileError(f"model: {str(path)!r} is not a readable ONNX model: {exc}") from None
        self._sessions[(("CPUExecutionProvider",), None)] = sess
        meta = dict(sess.get_modelmeta().custom_metadata_map)
        if meta != scanned:  # checked again only where ONNX Runtime reads the file differently
            self._read_metadata(meta)
        self._check_signature(sess)

    def _read_metadata(self, meta: dict[str, str]) -> None:
        """The ``ednn.*`` fields from ``meta``, checked in the order (and with the messages) of the
        C++ predictor's ``read_metadata_info``; raises :class:`~ednn.ModelFileError`."""
        path = str(self.path)
        self.metadata = meta
        missing = [k for k in REQUIRED_KEYS if k not in meta]
        if missing:
            raise ModelFileError(
                f"model: {path!r} is not an EDNN model file: metadata key {missing[0]!r} is missing"
                + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else "")
            )
        if strip_blanks(meta["ednn.format_version"]) != FORMAT_VERSION:
            raise ModelFileError(
                f"metadata ednn.format_version: expected {FORMAT_VERSION!r}, got {meta['ednn.format_version']!r}"
            )
        (self.ndim,) = parse_ints("ednn.ndim", meta["ednn.ndim"], 1, 1, 3)
        self.focus = parse_ints("ednn.focus", meta["ednn.focus"], self.ndim, 1)
        self.context = parse_ints("ednn.context", meta["ednn.context"], self.ndim, 0)
        (self.channels,) = parse_ints("ednn.channels", meta["ednn.channels"], 1, 1)
        if self.channels * math.prod(self.tile) > MAX_TILE_ELEMENTS:
            raise ModelFileError(f"model: a tile of {self.channels} channel(s) x {self.tile} cells: more than the "
                                 f"{MAX_TILE_ELEMENTS} elements a tile may have")
        self.outputs = tuple(strip_blanks(s) for s in meta["ednn.outputs"].split(","))
        if not all(self.outputs):
            raise ModelFileError(f"metadata ednn.outputs: expected comma-separated names, got {meta['ednn.outputs']!r}")
        self.units = meta.get("ednn.units")
        self.description = meta.get("ednn.description")
        self.spacing = None
        if "ednn.spacing" in meta:  # one value for every axis, or one per axis
            self.spacing = tuple(float(v) for v in parse_floats("ednn.spacing", meta["ednn.spacing"], self.ndim))
        k = len(self.outputs)
        get = meta.get
        self.input_scale = parse_floats("ednn.input_scale", get("ednn.input_scale"), self.channels) if "ednn.input_scale" in meta else None
        self.input_offset = parse_floats("ednn.input_offset", get("ednn.input_offset"), self.channels) if "ednn.input_offset" in meta else None
        self.output_scale = parse_floats("ednn.output_scale", get("ednn.output_scale"), k) if "ednn.output_scale" in meta else None
        self.output_offset = parse_floats("ednn.output_offset", get("ednn.output_offset"), k) if "ednn.output_offset" in meta else None
        self.batch_tiles = parse_ints("ednn.batch_tiles", meta["ednn.batch_tiles"], 1, 1)[0] if "ednn.batch_tiles" in meta else None

    # ------------------------------------------------------------------ checks
    def _check_signature(self, sess: Any) -> None:
        ins, outs = sess.get_inputs(), sess.get_outputs()
        if len(ins) != 1 or len(outs) != 1:
            raise ModelFileError(
                f"model: expected one input and one output, got {len(ins)} inputs and {len(outs)} outputs"
            )
        inp, out = ins[0], outs[0]
        self.input_name = inp.name
        if inp.type != "tensor(float)":
            raise ModelFileError(f"model input: expected tensor(float), got {inp.type}")
        want = (None, self.channels) + self.tile
        if len(inp.shape) != len(want):
            raise ModelFileError(
                f"model input: expected rank {len(want)} (N, C, t_1..t_d) for ednn.ndim={self.ndim}, got shape {inp.shape}"
            )
        for axis, (got, exp) in enumerate(zip(inp.shape, want)):
            if exp is not None and isinstance(got, int) and got != exp:
                raise ModelFileError(
                    f"model input: axis {axis} has size {got}, expected {exp} from the metadata "
                    f"(channels={self.channels}, tile={self.tile})"
                )
        if out.type != "tensor(float)" or len(out.shape) != 2:
            raise ModelFileError(f"model output: expected a (N, K) float tensor, got {out.type} {out.shape}")
        if isinstance(out.shape[1], int) and out.shape[1] != len(self.outputs):
            raise ModelFileError(
                f"model output: expected K={len(self.outputs)} columns ({', '.join(self.outputs)}), got {out.shape[1]}"
            )

    # ------------------------------------------------------------------ properties
    @property
    def scales_input(self) -> bool:
        """Whether the model has ``ednn.input_scale`` or ``ednn.input_offset`` (see :meth:`scale_input`)."""
        return self.input_scale is not None or self.input_offset is not None

    def scale_input(self, x: np.ndarray, channels: slice | int = slice(None)) -> np.ndarray:
        """Apply the input scaling in place to float32 ``x`` ``(C, S...)`` (or the channels selected by
        ``channels``, e.g. one channel ``k`` with ``x`` ``(S...)``) and return it: ``x * scale + offset``.
        """
        shape = () if isinstance(channels, int) else (-1,) + (1,) * (x.ndim - 1)
        if self.input_scale is not None:
            x *= self.input_scale.astype(np.float32)[channels].reshape(shape)
        if self.input_offset is not None:
            x += self.input_offset.astype(np.float32)[channels].reshape(shape)
        return x

    @property
    def tile(self) -> tuple[int, ...]:
        """Tile extent ``t_k = f_k + 2 c_k`` per axis."""
        return tuple(f + 2 * c for f, c in zip(self.focus, self.context))

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def session(self, providers: Sequence[Any] | None = None, threads: int | None = None) -> Any:
        """A cached ``onnxruntime.InferenceSession`` for these providers and thread count (at most
        ``ednn_max_threads()``)."""
        import onnxruntime as ort

        check_threads(threads)

        provs = tuple(providers) if providers is not None else tuple(default_providers())
        key = (tuple(p if isinstance(p, str) else repr(p) for p in provs), threads)
        with self._lock:
            sess = self._sessions.get(key)
            if sess is None:
                sess = ort.InferenceSession(str(self.path), _session_options(threads), providers=list(provs))
                self._sessions[key] = sess
            return sess

    def summary(self) -> str:
        """Human-readable description of the model file."""
        lines = [
            f"EDNN model   {self.path}",
            f"  ndim       {self.ndim}",
            f"  focus      {self.focus}",
            f"  context    {self.context}",
            f"  tile       {self.tile}",
            f"  channels   {self.channels}",
            f"  outputs    {', '.join(self.outputs)}",
        ]
        if self.units:
            lines.append(f"  units      {self.units}")
        if self.spacing is not None:
            lines.append(f"  spacing    {self.spacing}")
        if self.description:
            lines.append(f"  about      {self.description}")
        shown = {*REQUIRED_KEYS, "ednn.units", "ednn.spacing", "ednn.description"}
        for k in sorted(self.metadata):
            if k not in shown:
                lines.append(f"  {k.removeprefix('ednn.'):<10} {self.metadata[k]}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Model({str(self.path)!r}, ndim={self.ndim}, focus={self.focus}, context={self.context}, "
            f"channels={self.channels}, outputs={self.outputs})"
        )


#: Models kept by :func:`load_model`, least recently used first; at most :data:`CACHE_SIZE`, and one
#: per path (a rewritten file replaces its old entry).
_CACHE: OrderedDict[tuple[str, int, int], Model] = OrderedDict()
_CACHE_LOCK = threading.Lock()
#: Most models :func:`load_model` keeps (each holds its ONNX Runtime sessions).
CACHE_SIZE = 16


def _shipped_models() -> dict[str, Path]:
    """The model files shipped with the package (``ednn/models/*.onnx``) by name, sorted."""
    root = Path(__file__).parent / "models"
    return {f.name[: -len(".onnx")]: f for f in sorted(root.glob("*.onnx"))}


def _shipped_file(model: Any) -> Path | None:
    """The shipped model file that ``model`` names: a string that is no existing file but a shipped
    model's name (the one rule of :func:`load_model` and :func:`ednn.models.resolve`); else None."""
    if isinstance(model, str) and not os.path.exists(model):
        return _shipped_models().get(model)
    return None


def load_model(model: str | os.PathLike[str] | Model) -> Model:
    """A :class:`Model`, cached per path (reloaded when the file changes; the :data:`CACHE_SIZE` most
    recently used models are kept). A string that is no file but a shipped model's name
    (``ednn.models.available()``, e.g. ``"sheets"``) is that model's file, as on the command line."""
    if isinstance(model, Model):
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise InputError(f"model: expected a path or an ednn.Model, got {type(model).__name__}")
    p = Path(model)
    try:
        st = p.stat()
    except OSError:
        shipped = _shipped_file(model)
        if shipped is None:
            raise InputError(f"model: expected an existing ONNX file or a shipped model's name "
                             f"({', '.join(_shipped_models())}), got {str(model)!r} (no such file)") from None
        p = shipped
        st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    with _CACHE_LOCK:
        m = _CACHE.get(key)
        if m is not None:
            _CACHE.move_to_end(key)
            return m
    m = Model(p)
    with _CACHE_LOCK:
        for old in [k for k in _CACHE if k[0] == key[0]]:  # earlier versions of the file
            del _CACHE[old]
        _CACHE[key] = m
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return m
