"""Training EDNNs with PyTorch (extra ``train``).

* :mod:`ednn.train.config` — the YAML run description, checked before any work;
* :mod:`ednn.train.loop` — the training loop and checkpoints;
* :mod:`ednn.train.export` — :func:`~ednn.train.export.export_checkpoint`, the model file of a checkpoint;
* :mod:`ednn.train.data` — grids and targets of a dataset (Ising NPZ, atoms HDF5 imaged on the fly);
* :mod:`ednn.train.networks` — the per-tile networks; :mod:`ednn.train.baseline` — the per-species term;
* :mod:`ednn.train.dedup` — exact sums over distinct tiles (spins).

The submodules are imported on their own; :mod:`ednn.torch` holds the user-facing torch API.
"""

__all__: list[str] = []
