"""Datasets to train on.

* :mod:`ednn.data.ising` — 2-D Ising lattices with exact energies (NumPy only);
* :mod:`ednn.data.sheets` — graphene / h-BN / porous sheets and the dataset generator settings;
* :mod:`ednn.data.md` — their thermal displacements (Tersoff MD in LAMMPS or ASE, or a rattle);
* :mod:`ednn.data.xtb` — GFN1-xTB labels with tblite;
* :mod:`ednn.data.atoms_h5` — labelled sheets in HDF5: parallel, resumable labelling and reading.

The submodules are imported on their own (the atoms ones need the ``atoms`` extra).
"""

__all__: list[str] = []
