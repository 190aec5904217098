"""Random rigid moves of atomic sheets for training (``augment: true`` in an ``ednn train`` config).

The physics of a periodic sheet does not change when it is moved rigidly in the plane by any vector,
mirrored (x -> -x, y -> -y) or turned by 180° (both mirrors): all map the rectangular periodic cell
onto itself. A network sees a pixel grid, which is only invariant under whole-pixel moves, so every
epoch images every training sheet again after a random move: a translation uniform over the cell and
each mirror with probability 1/2. The draws come from ``numpy.random.default_rng([seed, epoch])``, so
a resumed run images the same epochs the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SheetImages"]


@dataclass
class SheetImages:
    """What is needed to image the training sheets again after random moves.

    ``positions`` / ``numbers``: per sample, ``(n_i, 3)`` positions as the recipe images them
    (already flattened when it flattens) and ``(n_i,)`` atomic numbers; ``cells`` ``(N, 3, 3)``;
    ``recipe`` images them (without flattening again); ``shape`` the image shape ``(S_1, S_2)``.
    """

    positions: list[np.ndarray]
    numbers: list[np.ndarray]
    cells: np.ndarray
    recipe: Any  # the ednn.atoms.recipe.ImageRecipe the images are made with
    shape: tuple[int, int]

    @classmethod
    def build(cls, positions: list[np.ndarray], numbers: list[np.ndarray], cells: np.ndarray,
              recipe: Any, shape: tuple[int, int]) -> SheetImages:
        """From imaged positions (flattened by ``recipe`` if it flattens) and the recipe itself."""
        return cls(positions, numbers, np.asarray(cells, dtype=np.float64),
                   dataclasses.replace(recipe, flatten=False), tuple(shape))

    def moved(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """Positions ``(n_i, 3)`` of sample ``i`` after a random mirror/translation in the x-y plane."""
        p = self.positions[i].copy()
        lengths = np.diag(self.cells[i])[:2]
        for k in range(2):
            if rng.random() < 0.5:
                p[:, k] = -p[:, k]
            p[:, k] = np.mod(p[:, k] + rng.random() * lengths[k], lengths[k])
        return p

    def images(self, indices: np.ndarray, seed: int, epoch: int, out: np.ndarray) -> None:
        """Write the images of randomly moved samples ``indices`` into ``out[indices]`` ``(N, C, S_1, S_2)``."""
        rng = np.random.default_rng([seed, epoch])
        for i in indices:
            out[i] = self.recipe.image(self.moved(int(i), rng), self.numbers[i], self.cells[i], self.shape,
                                       dtype=out.dtype, threads=1)
