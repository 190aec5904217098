"""Atoms: the Eq. 2 image of atomic systems and the energies of EDNN models on it.

* :func:`predict` — extensive quantities of an ``ase.Atoms`` (or positions, numbers, cell),
  streamed window by window (:mod:`ednn.atoms.predict`); :func:`image` — the whole input grid;
* :class:`ImageRecipe` — spacing, γ, channels and flattening of a model's input, shared by training
  and inference (:mod:`ednn.atoms.recipe`);
* :mod:`ednn.atoms.cells` — any 2-D periodic cell (hexagonal too) as a rectangular supercell of whole
  focus lengths (:func:`predict` uses it for cells that do not fit as given);
* :mod:`ednn.atoms.bonds` — bonds, the flattening of rippled sheets (:func:`flatten`), the
  bond-height channel;
* :mod:`ednn.atoms.calculator` — ``EDNNCalculator``, an ASE calculator (extra ``atoms``; imported
  on its own, so that ``import ednn`` never needs ASE).
"""

from __future__ import annotations

from .bonds import flatten
from .predict import DEFAULT_MAX_WINDOW, image, predict
from .recipe import ImageRecipe

__all__ = ["predict", "image", "flatten", "ImageRecipe", "DEFAULT_MAX_WINDOW"]
