"""``ednn train``: configuration, training loop, checkpoints and export (extra ``train``).

A run is described by a YAML file; every key is checked before any training starts::

    data: ising-8.npz        # `ednn data ising` (NPZ) or `ednn data sheets|porous` (HDF5, imaged on the fly)
    network: ising-dnn       # ising-dnn (the paper's FC network), paper-cnn, small-cnn or density-cnn
    focus: 1
    context: 1
    learning_rate: 1.0e-3    # Adam
    batch_size: 256          # examples per step
    epochs: 40
    seed: 0
    device: auto             # auto | cpu | cuda
    validation_split: 0.1    # fraction of Markov chains held out
    output_dir: runs/ising-c1
    tile_dedup: auto         # sum the network over distinct tiles x counts (exact; fast on spins)
    baseline: auto           # atoms: a fixed per-species term (focus moments, least squares) + the network
    augment: false           # atoms: image every training sheet again each epoch after a random rigid move
    init: runs/a/best.pt     # fine-tune: start from another run's network, per-species term and output scaling
                             # (a checkpoint, a model file with this config's network, or a shipped model's name;
                             # a density-cnn's widths may grow: ednn.train.widen keeps what it computes)

Relative paths are taken relative to the YAML file's folder.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .._checks import check_divisible, per_axis
from ..atoms.recipe import check_channels
from ..errors import InputError
from .build import build_network, density_shape, n_channels  # noqa: F401 (re-exported)
from .data import load_training_data

__all__ = ["TrainConfig", "load_config", "read_config", "NETWORKS", "density_shape", "build_network", "n_channels", "load_init",
           "check_init"]

NETWORKS = ("ising-dnn", "paper-cnn", "small-cnn", "density-cnn")


@dataclass
class TrainConfig:
    """Settings of one training run (see the module docstring for the YAML form)."""

    data: str
    network: str = "ising-dnn"
    focus: Any = 1
    context: Any = 1
    learning_rate: float = 1e-3
    batch_size: int = 256
    epochs: int = 40
    seed: int = 0
    device: str = "auto"
    validation_split: float = 0.1
    output_dir: str = "runs/ednn"
    checkpoint_every: int = 5
    threads: int | None = None
    outputs: list[str] = field(default_factory=lambda: ["energy"])
    units: str | None = "J"
    description: str | None = None
    lr_decay: float = 1.0  # multiplicative learning-rate decay per epoch (1 = constant)
    tile_dedup: Any = "auto"  # sum over distinct tiles x counts (exact; fast for discrete grids)
    # atoms: the network learns the label minus a fixed least-squares term in the image moments
    # sum V^k (k = 1..n), which is a per-species reference energy (ednn.torch.FocusMoments).
    # auto: n = number of species in the data for atoms, none for spins; none; or n itself.
    baseline: Any = "auto"
    downsample: int = 1  # atoms: image at this multiple of the file's grid spacing
    pool: int = 1  # small-cnn: average-pool the tile by this factor before the convolutions
    powers: int = 1  # small-cnn, density-cnn: V, V^2, ... as input channels (species separable per pixel)
    # atoms: input channels (ednn.atoms.bonds): [V] (the Eq. 2 image) or [V, bond_dz2] (+ bond heights)
    channels: Any = None
    # atoms (sheets): image the atoms at their flattened in-plane positions (ednn.atoms.bonds.flatten), so
    # that out-of-plane ripples do not look like in-plane strain
    flatten: bool = False
    # atoms: every epoch, image every training sheet again after a random translation (any vector) and
    # random mirrors x -> -x, y -> -y (ednn.train.augment), so that the network learns what the pixel
    # grid hides: that moving or mirroring a sheet does not change its energy
    augment: bool = False
    # density-cnn: filters and dilations of its 3x3 convolutions (default [16, 16, 32, 32] and
    # [1, 2, 2, 3]; the dilations must sum to at most context / 2)
    widths: Any = None
    dilations: Any = None
    # fine-tuning: start from this checkpoint of another run (its network weights, per-species term and
    # output scaling, all kept as they are); the network settings must be the same and the data imaged
    # the same way (grid spacing, gamma, positions), its species among the checkpoint's
    init: str | None = None

    @property
    def out(self) -> Path:
        return Path(self.output_dir)


def _fail(key: str, expected: str, got: Any) -> InputError:
    return InputError(f"config {key}: expected {expected}, got {got!r}")


def _check(cfg: TrainConfig, base: Path | None) -> TrainConfig:
    def pos_int(key: str) -> None:
        v = getattr(cfg, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _fail(key, "a positive integer", v)

    for key in ("batch_size", "epochs", "checkpoint_every", "downsample", "pool", "powers"):
        pos_int(key)
    if cfg.threads is not None:
        pos_int("threads")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int):
        raise _fail("seed", "an integer", cfg.seed)
    if cfg.network not in NETWORKS:
        raise _fail("network", f"one of {', '.join(NETWORKS)}", cfg.network)
    cfg.channels = list(check_channels(cfg.channels, "config channels"))
    if not isinstance(cfg.flatten, bool):
        raise _fail("flatten", "true or false", cfg.flatten)
    if cfg.network != "small-cnn" and cfg.pool != 1:
        raise _fail("pool", f"1 for network {cfg.network} (a small-cnn option)", cfg.pool)
    if cfg.network not in ("small-cnn", "density-cnn") and cfg.powers != 1:
        raise _fail("powers", f"1 for network {cfg.network} (a small-cnn / density-cnn option)", cfg.powers)
    if not isinstance(cfg.augment, bool):
        raise _fail("augment", "true or false", cfg.augment)
    if cfg.device not in ("auto", "cpu", "cuda") and not str(cfg.device).startswith("cuda:"):
        raise _fail("device", "auto, cpu or cuda[:N]", cfg.device)
    try:
        cfg.learning_rate = float(cfg.learning_rate)
        cfg.validation_split = float(cfg.validation_split)
        cfg.lr_decay = float(cfg.lr_decay)
    except (TypeError, ValueError) as exc:
        raise InputError(f"config: expected numbers for learning_rate, validation_split, lr_decay ({exc})") from None
    if not (cfg.learning_rate > 0 and math.isfinite(cfg.learning_rate)):
        raise _fail("learning_rate", "a positive number", cfg.learning_rate)
    if not 0 <= cfg.validation_split < 1:
        raise _fail("validation_split", "a fraction in [0, 1)", cfg.validation_split)
    if not 0 < cfg.lr_decay <= 1:
        raise _fail("lr_decay", "a factor in (0, 1]", cfg.lr_decay)
    if cfg.tile_dedup not in ("auto", True, False):
        raise _fail("tile_dedup", "auto, true or false", cfg.tile_dedup)
    if cfg.baseline is None or cfg.baseline is False:
        cfg.baseline = "none"
    if not (cfg.baseline in ("auto", "none") or (isinstance(cfg.baseline, int) and not isinstance(cfg.baseline, bool) and 1 <= cfg.baseline <= 8)):
        raise _fail("baseline", "auto, none or a number of moments 1..8", cfg.baseline)
    if isinstance(cfg.outputs, str):
        cfg.outputs = [cfg.outputs]
    # relative paths in a config file are relative to that file's folder
    data = Path(cfg.data)
    if base is not None and not data.is_absolute():
        data = base / data
    if not data.is_file():
        raise _fail("data", "an existing dataset file", cfg.data)
    cfg.data = str(data)
    if base is not None and not Path(cfg.output_dir).is_absolute():
        cfg.output_dir = str(base / cfg.output_dir)
    # geometry against the data: f must divide L
    ds = load_training_data(cfg.data, cfg.downsample, cfg.channels, cfg.flatten)
    f = per_axis("focus", cfg.focus, 2, 1)
    per_axis("context", cfg.context, 2, 0)
    try:
        check_divisible(ds.shape, f, what=f"data ({cfg.data})")
    except InputError as exc:
        raise InputError(f"config focus: {exc}") from None
    if cfg.augment and ds.sheets is None:
        raise _fail("augment", f"false for {ds.kind} data (random moves are for atomic sheets)", cfg.augment)
    if cfg.network != "density-cnn" and (cfg.widths is not None or cfg.dilations is not None):
        raise _fail("widths/dilations", f"nothing for network {cfg.network} (density-cnn options)",
                    (cfg.widths, cfg.dilations))
    if cfg.network == "density-cnn":
        from .networks import DensityCNN

        for key in ("widths", "dilations"):
            v = getattr(cfg, key)
            if v is not None and not (isinstance(v, list) and v and all(isinstance(k, int) and not isinstance(k, bool) for k in v)):
                raise _fail(key, "a list of positive integers", v)
        DensityCNN(cfg.focus, cfg.context, channels=len(cfg.channels), outputs=len(cfg.outputs) or 1,
                   powers=cfg.powers, **density_shape(cfg))  # raises when the focus/context do not fit the network
    if cfg.init is not None:
        init = Path(str(cfg.init))
        if base is not None and not init.is_absolute():
            init = base / init
        if not init.exists():  # a shipped model's name (``init: sheets``) when no such file is there
            from ..model import _shipped_file

            init = _shipped_file(str(cfg.init)) or init
        cfg.init = str(init)
        check_init(cfg, ds.kind, ds.metadata)
    return cfg


#: Settings a fine-tuning run shares with the checkpoint it starts from (``init``).
_INIT_SAME = ("network", "focus", "context", "widths", "dilations", "powers", "pool", "channels", "downsample",
              "flatten", "outputs")
#: Data metadata that fixes how atoms are imaged; it must be the same in both runs.
_INIT_IMAGING = ("spacing", "gamma", "positions", "flatten_cutoff")


def _grows(theirs: Any, mine: Any) -> bool:
    """Whether ``mine`` (this run's density-cnn widths) has as many layers as ``theirs``, none narrower."""
    return (isinstance(theirs, list) and isinstance(mine, list) and len(theirs) == len(mine)
            and all(a <= b for a, b in zip(theirs, mine)))


def load_init(path: str, cfg: TrainConfig | None = None) -> dict[str, Any]:
    """The training checkpoint at ``path`` (an ``init`` of a fine-tuning run).

    ``path`` may be an exported model file (``.onnx``: a shipped model too), whose weights are read
    under ``cfg``, the run's own config (:func:`~ednn.train.recover.checkpoint_from_model`: the
    network the config builds must give the file's outputs).
    """
    import torch

    from .recover import checkpoint_from_model, is_model_file, model_widths

    if not Path(path).is_file():
        raise _fail("init", "an existing training checkpoint or model file", path)
    if is_model_file(path):
        if cfg is None:
            raise _fail("init", "a training checkpoint (a model file needs the run's config)", path)
        try:
            file_widths = model_widths(path) if cfg.network == "density-cnn" else None
            if file_widths is not None and file_widths != cfg.widths and _grows(file_widths, cfg.widths):
                # a wider run from a narrower model file: read the file under its own widths (ednn.train.widen)
                return checkpoint_from_model(path, replace(cfg, widths=file_widths))
            return checkpoint_from_model(path, cfg)
        except InputError as exc:
            raise _fail("init", f"a model file of this run's network ({exc})", path) from None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # any unreadable file
        raise _fail("init", "a training checkpoint (torch.save of ednn train)", f"{path} ({type(exc).__name__})") from None
    if not isinstance(ck, dict) or not {"config", "model", "output_scale", "output_offset"} <= set(ck):
        raise _fail("init", "a training checkpoint of ednn train", path)
    return ck


def check_init(cfg: TrainConfig, kind: str, metadata: dict[str, Any]) -> None:
    """Refuse an ``init`` checkpoint whose network or imaging differs from ``cfg`` and its data."""
    ck = load_init(str(cfg.init), cfg)
    theirs = dict(ck["config"])
    theirs["channels"] = list(check_channels(theirs.get("channels"), "init channels"))
    for key in _INIT_SAME:
        mine, other = getattr(cfg, key), theirs.get(key, getattr(TrainConfig, key, None))
        if key in ("focus", "context"):
            mine, other = per_axis(key, mine, 2, 0), per_axis(key, other, 2, 0)
        if key == "widths" and _grows(other, mine):
            continue  # a wider network keeps the checkpoint's weights (ednn.train.widen)
        if mine != other:
            raise _fail("init", f"a checkpoint with {key} {mine!r} like this run", f"{cfg.init} with {key} {other!r}")
    if ck.get("data_kind", "ising") != kind:
        raise _fail("init", f"a checkpoint trained on {kind} data", f"{cfg.init} trained on {ck.get('data_kind')} data")
    dmeta = ck.get("data_metadata", {})
    for key in _INIT_IMAGING:
        if dmeta.get(key) != metadata.get(key):
            raise _fail("init", f"a checkpoint whose data has {key} {metadata.get(key)!r} like {cfg.data}",
                        f"{cfg.init} with {key} {dmeta.get(key)!r}")
    unknown = sorted(set(metadata.get("species", [])) - set(dmeta.get("species", [])))
    if unknown:
        raise _fail("init", f"a checkpoint that knows the data's species {metadata.get('species')}",
                    f"{cfg.init} with species {dmeta.get('species')} (missing {unknown})")


def _raw_config(source: str | os.PathLike[str] | dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """The keys of a YAML file (or a dict) and the folder its relative paths start from."""
    if isinstance(source, dict):
        return dict(source), None
    import yaml

    path = Path(source)
    if not path.is_file():
        raise InputError(f"config: expected an existing YAML file, got {str(source)!r} (no such file)")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise InputError(f"config: expected a mapping of keys to values in {str(source)!r}, got {type(raw).__name__}")
    return raw, path.parent


def _known_keys(raw: dict[str, Any]) -> None:
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"config: unknown key(s) {', '.join(map(repr, unknown))}; expected some of {', '.join(sorted(known))}")


def read_config(source: str | os.PathLike[str] | dict[str, Any]) -> TrainConfig:
    """The config of a YAML file (or a dict) as written, its data not read nor checked: what a model
    file needs to be rebuilt (:func:`ednn.train.recover.checkpoint_from_model`)."""
    if isinstance(source, TrainConfig):
        return source
    raw, _ = _raw_config(source)
    _known_keys(raw)
    raw.setdefault("data", "")
    cfg = TrainConfig(**raw)
    cfg.channels = list(check_channels(cfg.channels, "config channels"))
    return cfg


def load_config(source: str | os.PathLike[str] | dict[str, Any], **overrides: Any) -> TrainConfig:
    """Read and check a YAML file (or a dict); unknown keys, bad values and missing files raise."""
    raw, base = _raw_config(source)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    _known_keys(raw)
    if "data" not in raw:
        raise InputError("config data: expected a dataset path, got nothing (the key is required)")
    return _check(TrainConfig(**raw), base)
