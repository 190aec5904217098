"""Training data for ``ednn train``: Ising lattices (NPZ) or labelled atomic sheets (HDF5)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atoms.bonds import check_channels
from ..atoms.domain import BROKEN_DISTANCE, broken_pair
from ..atoms.recipe import ImageRecipe
from ..errors import InputError
from .augment import SheetImages

__all__ = ["TrainingData", "load_training_data", "broken_samples", "TRAIN_MIN_DISTANCE"]

#: Atoms samples with two atoms closer than this (Angstrom) are left out of training
#: (:data:`ednn.atoms.domain.BROKEN_DISTANCE`): the rare broken molecular-dynamics snapshot, labelled
#: some eV/atom above its neighbours, would dominate a squared loss.
TRAIN_MIN_DISTANCE = BROKEN_DISTANCE


@dataclass
class TrainingData:
    """Grids, targets and split groups of one data set.

    ``grids`` ``(N, C, S_1, S_2)`` (int8 spins or float32 Eq. 2 images); ``targets`` ``(N,)`` float64
    totals; ``groups`` ``(N,)``: samples of one group (Markov chain, MD trajectory) are correlated and
    are kept on one side of the train/validation split; ``metadata``: ``ednn.*`` keys for the model
    file (units, label method, spacing, gamma, species).
    """

    kind: str
    grids: np.ndarray
    targets: np.ndarray
    groups: np.ndarray
    units: str
    discrete: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    #: atoms: the sheets themselves, to image them again after random moves (``augment``)
    sheets: SheetImages | None = None
    #: atoms: indices (in the file) of samples left out as unphysical (:data:`TRAIN_MIN_DISTANCE`)
    dropped: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.grids.shape[2:])


_CACHE: dict[tuple[Any, ...], TrainingData] = {}


def broken_samples(ds: Any) -> tuple[int, ...]:
    """Indices of the samples of an atoms dataset (:class:`ednn.data.atoms_h5.AtomsDataset`) left out
    of training and evaluation: every snapshot with two atoms closer than :data:`TRAIN_MIN_DISTANCE`,
    and every later snapshot of its trajectory (the dynamics went on from a broken sheet: its later
    snapshots are damaged sheets, some eV/atom above their kind, even where no pair is that close)."""
    index = np.asarray(ds.columns["index"])
    traj = np.asarray(ds.columns["trajectory"])
    first_break: dict[int, int] = {}
    for i in range(len(ds)):
        if broken_pair(ds.positions(i), ds.cells[i], TRAIN_MIN_DISTANCE):
            t = int(traj[i])
            first_break[t] = min(first_break.get(t, int(index[i])), int(index[i]))
    return tuple(i for i in range(len(ds)) if int(traj[i]) in first_break and int(index[i]) >= first_break[int(traj[i])])


def load_training_data(path: str | os.PathLike[str], downsample: int = 1,
                       channels: Any = None, flatten: bool = False) -> TrainingData:
    """Read an Ising NPZ (``ednn data ising``) or an atoms HDF5 (``ednn data sheets|porous``).

    Atoms are imaged at ``downsample`` times the file's grid spacing (``image_spacing``): 2 gives the
    60-site cell a 128 x 128 image at ~0.1 Å, still 2 points per gamma = 0.2 Å. ``channels``: input
    channels of atoms images (:mod:`ednn.atoms.bonds`; default ``["V"]``, the Eq. 2 image alone).
    ``flatten``: image the sheets at their flattened in-plane positions (:func:`ednn.atoms.bonds.flatten`).
    """
    if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample < 1:
        raise InputError(f"downsample: expected a positive int, got {downsample!r}")
    p = Path(path)
    if not p.is_file():
        raise InputError(f"data: expected an existing dataset file, got {str(path)!r} (no such file)")
    names = check_channels(channels)
    if not isinstance(flatten, bool):
        raise InputError(f"flatten: expected true or false, got {flatten!r}")
    key = (str(p.resolve()), p.stat().st_mtime_ns, downsample, names, flatten)
    if key in _CACHE:
        return _CACHE[key]
    if p.suffix == ".npz":
        from ..data.ising import load

        if downsample != 1:
            raise InputError(f"downsample: expected 1 for Ising data (spins are not images), got {downsample}")
        if names != ("V",):
            raise InputError(f"channels: expected one channel for Ising data (the spins), got {list(names)}")
        if flatten:
            raise InputError("flatten: expected false for Ising data (spins have no positions), got True")
        ds = load(p)
        data = TrainingData(
            "ising", ds.spins[:, None], ds.energy.astype(np.float64), np.asarray(ds.chain), "J", True,
            {"label_method": "exact nearest-neighbour Ising energy, J=1"},
        )
    elif p.suffix in (".h5", ".hdf5"):
        from ..data.atoms_h5 import load as load_atoms

        ds = load_atoms(p)
        if len(ds) == 0:
            raise InputError(f"data: expected labelled samples in {str(path)!r}, got none")
        dropped = broken_samples(ds)
        left_out = set(dropped)
        keep = [i for i in range(len(ds)) if i not in left_out]
        if not keep:
            raise InputError(f"data: expected samples with atoms at least {TRAIN_MIN_DISTANCE} Angstrom apart in "
                             f"{str(path)!r}, got none")
        recipe = ImageRecipe.from_dataset(ds.attrs, downsample, names, flatten)
        try:
            shapes = {recipe.grid_shape(np.diag(ds.cells[i])[:2]) for i in keep}
        except InputError as exc:
            raise InputError(
                f"downsample: expected a factor that leaves a whole number of grid points per cell edge, got {downsample} ({exc})"
            ) from None
        if len(shapes) != 1:
            raise InputError(f"data: expected cells of one size (one image shape), got image shapes {sorted(shapes)}")
        (shape,) = shapes
        # positions as imaged (flattened once here when the recipe flattens), kept for random moves
        imaged = [recipe.positions(ds.positions(i), ds.cells[i]) for i in keep]
        sheets = SheetImages.build(imaged, [ds.numbers(i) for i in keep], ds.cells[keep], recipe, shape)
        images = np.stack([sheets.recipe.image(imaged[k], sheets.numbers[k], sheets.cells[k], shape)
                           for k in range(len(keep))])
        species = sorted({int(z) for i in keep for z in ds.numbers(i)})
        a = ds.attrs
        data = TrainingData(
            "atoms", images, np.asarray(ds.energy, dtype=np.float64)[keep], np.asarray(ds.columns["trajectory"])[keep],
            str(a.get("energy_units", "eV")), False,
            {
                "label_method": str(a.get("label_method", "")),
                "species": species,
                "energy_convention": str(a.get("energy_convention", "")),
                **recipe.to_metadata(),
            },
            sheets,
            dropped,
        )
    else:
        raise InputError(f"data: expected a .npz (Ising) or .h5 (atoms) dataset, got {p.name!r}")
    _CACHE.clear()
    _CACHE[key] = data
    return data
