"""``ednn export``: the EDNN model file (ONNX) of a training checkpoint (extra ``train``).

A density network (``network: density-cnn``) is exported averaged over its pixel phases and mirror
images (:meth:`~ednn.torch.DensityCNN.average_phases`, :meth:`~ednn.torch.DensityCNN.average_mirrors`),
and with any focus (a multiple of its stride): its tiles sum one per-pixel density over their focus,
so the sum over a grid does not depend on how the grid is cut into tiles, while the cost per tile of
the context around each focus does. A larger focus costs fewer context pixels per grid pixel (focus
32 and context 31: 8.6 tile pixels per grid pixel; focus 128: 2.2) but only divides larger grids.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from .._checks import per_axis
from .._io import check_new
from ..atoms.recipe import METADATA_KEYS as RECIPE_KEYS
from ..errors import InputError
from .baseline import species_energies
from .averaging import AVERAGES, DESCRIPTIONS
from .config import TrainConfig, build_network, n_channels, read_config

__all__ = ["export_checkpoint", "AVERAGES"]


def export_checkpoint(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False,
                      focus: int | tuple[int, int] | None = None, average: str = "all", config: Any = None,
                      **metadata: Any) -> Path:
    """Write the EDNN model file of a training checkpoint (``best.pt`` / ``last.pt``).

    ``checkpoint`` may also be an exported model file (``.onnx``, e.g. a shipped model) with the
    ``config`` it was trained with (:func:`~ednn.train.recover.checkpoint_from_model`): the same
    weights exported again with another focus or averaging, its ``domain`` kept.

    ``average`` (density-cnn only): ``all`` (default: pixel phases and mirror images, 16 network
    evaluations per tile, exactly invariant under whole-pixel shifts and mirrors), ``phases`` or
    ``mirrors`` (4 each) or ``none`` (1); what is not averaged is left as the network learned it
    (``ednn.averaging`` in the file says which).

    ``focus`` (density-cnn checkpoints only; default: the training config's) sets the focus of the
    exported tiles, one value or one per axis, each a multiple of the network's stride: the energy
    of a grid is the same for every focus that divides it (to float32 rounding), the cost per grid
    pixel falls as the focus grows, and grids must be whole multiples of it.

    The file is written atomically; an existing ``out`` is refused unless ``overwrite``.
    """
    import torch

    from ..torch import EDNN, averaged, export_onnx

    from .recover import checkpoint_from_model, is_model_file

    ck_path = Path(checkpoint)
    if not ck_path.is_file():
        raise InputError(f"checkpoint: expected an existing file, got {str(checkpoint)!r} (no such file)")
    if average not in AVERAGES:
        raise InputError(f"average: expected one of {', '.join(AVERAGES)}, got {average!r}")
    if is_model_file(ck_path) and config is None:
        raise InputError(f"config: expected the training config of model file {ck_path.name} (its weights are in "
                         "the file, its architecture and training focus in the config), got None")
    if config is not None and not is_model_file(ck_path):
        raise InputError(f"config: expected None for a training checkpoint (it holds its config), got {config!r}")
    check_new(out, overwrite=overwrite)
    if is_model_file(ck_path):
        ck = checkpoint_from_model(ck_path, read_config(config))
    else:
        ck = torch.load(ck_path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or "config" not in ck or "model" not in ck:
        raise InputError(f"checkpoint: {str(checkpoint)!r} is not an ednn training checkpoint")
    cfg = TrainConfig(**ck["config"])
    if average != "all" and cfg.network != "density-cnn":
        raise InputError(f"average: expected 'all' for a {cfg.network} checkpoint (only a density-cnn averages), "
                         f"got {average!r}")
    if focus is not None and cfg.network != "density-cnn":
        raise InputError(f"focus: expected None for a {cfg.network} checkpoint (only a density-cnn's tiles sum "
                         f"per pixel, so only its focus may change), got {focus!r}")
    new_focus = per_axis("focus", cfg.focus if focus is None else focus, 2, 1)
    n_moments = int(ck.get("baseline_moments", 0))
    model = EDNN(build_network(cfg, ck["tile"][0], n_moments), cfg.focus, cfg.context, ndim=2)
    model.load_state_dict(ck["model"])
    area = 1.0
    if cfg.network == "density-cnn":
        old = model.focus
        model = averaged(model, new_focus, average)
        area = (new_focus[0] * new_focus[1]) / (old[0] * old[1])
    kind = ck.get("data_kind", "ising")
    dmeta = dict(ck.get("data_metadata", {"label_method": "exact nearest-neighbour Ising energy, J=1"}))
    what = "Ising configurations" if kind == "ising" else "Eq. 2 images of atomic sheets"
    meta = {
        "units": cfg.units if kind == "ising" else "eV",
        "description": cfg.description
        or f"{cfg.network} EDNN (f={cfg.focus}, c={cfg.context}) trained on {ck['L']}x{ck['L']} {what}",
        "trained_on": f"{Path(cfg.data).name} ({ck['L']}x{ck['L']})",
        "training": f"epochs={ck['epoch']} steps={ck['step']} lr={cfg.learning_rate} batch={cfg.batch_size} seed={cfg.seed}",
        "label_method": dmeta.pop("label_method", ""),
    }
    for key in ("species", "energy_convention", *RECIPE_KEYS):  # only known keys reach the model file
        if dmeta.get(key) not in (None, ""):
            meta[key] = dmeta[key]
    if ck.get("output_scale", 1.0) != 1.0 or ck.get("output_offset", 0.0) != 0.0:
        meta["output_scale"] = float(ck["output_scale"])
        # the offset is per tile: a tile of a larger focus stands for that many more pixels
        meta["output_offset"] = float(ck["output_offset"]) * area
    if n_moments:
        a = model.net.coefficients[:, 0].numpy()
        meta["baseline"] = (
            f"per-species term in the graph: sum_k a_k sum_focus V^k, k=1..{n_moments}, "
            f"a={json.dumps([float(v) for v in a])}"
        )
        if dmeta.get("species") and dmeta.get("spacing"):
            mu = species_energies(a, dmeta["species"], dmeta["spacing"], float(dmeta.get("gamma", 0.2)))
            meta["species_energies"] = json.dumps(mu)
    if cfg.network == "density-cnn":
        meta["averaging"] = f"{average}: {DESCRIPTIONS[average]}; {AVERAGES[average]} evaluations per tile"
    if dmeta.get("domain"):  # a re-export of a model file keeps the domain it states
        meta["domain"] = dmeta["domain"]
    meta.update(metadata)
    return export_onnx(model, out, channels=n_channels(cfg), outputs=cfg.outputs, overwrite=overwrite,
                       **copy.deepcopy(meta))
