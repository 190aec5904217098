"""ednn — Extensive Deep Neural Networks (Mills et al., Chem. Sci. 2019, 10, 4129).

Extensive properties (energy, magnetisation, particle count, ...) of large periodic grids from a
network that sees one focus + context tile at a time; the tile contributions are summed.

>>> import numpy as np, ednn
>>> spins = np.random.default_rng(0).choice([-1, 1], size=(128, 128)).astype(np.int8)
>>> energy = ednn.predict(ednn.models.path("ising-exact"), spins)
"""

from __future__ import annotations

from . import atoms, models, reference
from ._ednn import __version__
from .errors import InputError, MissingExtraError, ModelFileError
from .inference import Accumulator
from .info import build_info
from .model import Model, load_model, metadata_dict
from .predict import predict
from .rasterize import rasterize
from .tiling import DeviceArray, tile, tile_shape

__all__ = [
    "__version__",
    "Accumulator",
    "atoms",
    "DeviceArray",
    "InputError",
    "MissingExtraError",
    "Model",
    "ModelFileError",
    "build_info",
    "load_model",
    "metadata_dict",
    "models",
    "predict",
    "rasterize",
    "reference",
    "tile",
    "tile_shape",
]
