"""A training checkpoint rebuilt from an exported model file and the config it was trained with.

The model file (ONNX) is what lasts: it carries the network's weights under their PyTorch names and,
in its ``ednn.*`` metadata, the output scaling and how the atoms were imaged. With the training
config (which fixes the architecture and the training focus), that is everything
:func:`~ednn.train.export.export_checkpoint` and a fine-tuning run (``init``) read from a checkpoint,
so a shipped model can be exported again (another focus, another averaging) or trained further
without the checkpoint it came from.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import per_axis
from ..atoms.recipe import METADATA_KEYS as RECIPE_KEYS
from ..errors import InputError

__all__ = ["checkpoint_from_model", "is_model_file", "model_widths"]

#: metadata read back as numbers or lists (everything else stays a string)
_FLOATS = ("gamma", "flatten_cutoff", "bond_cutoff", "bond_height_unit")


def is_model_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an ONNX model file (by its suffix) rather than a training checkpoint."""
    return Path(path).suffix.lower() == ".onnx"


def model_widths(model: str | os.PathLike[str]) -> list[int] | None:
    """The ``widths`` of the density network in the model file (its 3x3 convolutions' output channels,
    in order), or None when it holds no such network."""
    import onnx

    convs = []
    for t in onnx.load(str(model)).graph.initializer:
        m = re.search(r"(?:^|\.)layers\.(\d+)\.weight$", t.name)
        if m and len(t.dims) == 4 and tuple(t.dims[2:]) == (3, 3):
            convs.append((int(m.group(1)), int(t.dims[0])))
    return [w for _, w in sorted(convs)] or None


def _data_metadata(meta: dict[str, str]) -> dict[str, Any]:
    """The training data's metadata as a checkpoint holds it, from the model's ``ednn.*`` keys."""
    out: dict[str, Any] = {}
    for key in ("label_method", "energy_convention", "domain"):
        if key in meta:
            out[key] = meta[key]
    if "species" in meta:
        out["species"] = [int(v) for v in meta["species"].split(",") if v.strip()]
    for key in RECIPE_KEYS:
        if key not in meta:
            continue
        if key == "spacing":
            out[key] = [float(v) for v in meta[key].split(",")]
        elif key in _FLOATS:
            out[key] = float(meta[key])
        else:
            out[key] = meta[key]
    return out


def checkpoint_from_model(model: str | os.PathLike[str], cfg: Any) -> dict[str, Any]:
    """A checkpoint dict (as ``ednn train`` saves) of the model file ``model`` trained with ``cfg``.

    ``cfg`` is the training config (a :class:`~ednn.train.config.TrainConfig`, e.g. from
    :func:`~ednn.train.config.read_config`): its network,
    focus, context, widths, dilations and powers must be those of the model, which is checked
    weight by weight (names and shapes). The checkpoint holds the network's weights, the output
    scaling, the per-species term and the data metadata; it has no optimizer state (it can start a
    fine-tuning run, ``init``, or be exported, not resume a run).
    """
    import onnx
    import torch

    from ..torch import EDNN
    from .build import build_network

    path = Path(model)
    if not path.is_file():
        raise InputError(f"model: expected an existing .onnx model file, got {str(model)!r} (no such file)")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # any unreadable file
        raise InputError(f"model: expected an ONNX model file, got {str(model)!r} ({type(exc).__name__})") from None
    meta = {p.key.removeprefix("ednn."): p.value for p in proto.metadata_props if p.key.startswith("ednn.")}
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    n_moments = int(weights["coefficients"].shape[0]) if "coefficients" in weights else 0
    ednn_model = EDNN(build_network(cfg, 0, n_moments), cfg.focus, cfg.context, ndim=2)
    state = ednn_model.state_dict()
    names = {k: "net." + k for k in weights}
    wanted = sorted(state)
    have = sorted(names.values())
    if have != wanted:
        raise InputError(f"model: expected the weights of the network of config ({cfg.network}, widths {cfg.widths}, "
                         f"dilations {cfg.dilations}), got a model with weights {sorted(weights)} in {path.name}")
    for name, arr in weights.items():
        if tuple(state[names[name]].shape) != arr.shape:
            raise InputError(f"model: expected weight {name} of shape {tuple(state[names[name]].shape)} "
                             f"(the network of config), got {arr.shape} in {path.name}")
        state[names[name]] = torch.from_numpy(np.array(arr))
    ednn_model.load_state_dict(state)
    focus = per_axis("focus", cfg.focus, 2, 1)
    model_focus = per_axis("focus", [int(v) for v in meta.get("focus", ",".join(map(str, focus))).split(",")], 2, 1)
    area = (model_focus[0] * model_focus[1]) / (focus[0] * focus[1])
    _check_same_outputs(ednn_model, cfg, meta, model_focus, path)
    trained_on = re.search(r"\((\d+)x\d+\)", meta.get("trained_on", ""))
    epochs = re.search(r"epochs=(\d+)", meta.get("training", ""))
    steps = re.search(r"steps=(\d+)", meta.get("training", ""))
    return {
        "model": ednn_model.state_dict(),
        "config": asdict(cfg),
        "tile": list(ednn_model.tile),
        "L": int(trained_on.group(1)) if trained_on else 0,
        "epoch": int(epochs.group(1)) if epochs else 0,
        "step": int(steps.group(1)) if steps else 0,
        "data_kind": "atoms" if "species" in meta or "gamma" in meta else "ising",
        "data_metadata": _data_metadata(meta),
        "output_scale": float(meta.get("output_scale", 1.0)),
        # the file's offset is per exported tile: per training tile it is that over the area ratio
        "output_offset": float(meta.get("output_offset", 0.0)) / area,
        "baseline_moments": n_moments,
    }


def _check_same_outputs(ednn_model: Any, cfg: Any, meta: dict[str, str], model_focus: tuple[int, int],
                        path: Path) -> None:
    """Refuse a config under which the rebuilt network does not give the file's outputs.

    The weights' names and shapes do not fix everything (the training focus sets the per-pixel
    weight of a density network, the dilations its reach): the rebuilt network, averaged as the
    file says, must give the file's contributions on random tiles to float32 rounding.
    """
    import copy

    import onnxruntime as ort
    import torch

    model = copy.deepcopy(ednn_model)
    if cfg.network == "density-cnn":
        from ..torch import averaged

        average = meta.get("averaging", "all").split(":")[0].strip()
        model = averaged(model, model_focus, average)
    net = model.net.to(dtype=torch.float32).eval()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [2] + [int(v) for v in inp.shape[1:]]
    if list(shape[2:]) != list(model.tile):
        raise InputError(f"config: expected the training config of {path.name} (tiles {tuple(shape[2:])}), "
                         f"got one whose network has tiles {tuple(model.tile)}")
    x = np.random.default_rng(0).uniform(0.0, 3.0, shape).astype(np.float32)
    theirs = np.asarray(sess.run(None, {inp.name: x})[0], dtype=np.float64)
    with torch.no_grad():
        mine = net(torch.from_numpy(x)).double().numpy()
    # float32 graphs: the same sums in another order agree to ~1e-6 relative
    tol = 1e-4 * max(1.0, float(np.abs(theirs).max()))
    if mine.shape != theirs.shape or float(np.abs(mine - theirs).max()) > tol:
        raise InputError(f"config: expected the training config of {path.name} (the rebuilt network must give the "
                         f"file's outputs), got one whose network gives {mine.ravel()[:2].tolist()} where the file "
                         f"gives {theirs.ravel()[:2].tolist()} (another training focus, dilations or powers?)")

