"""An ASE calculator backed by an EDNN model: ``atoms.calc = EDNNCalculator(model)``.

>>> from ednn.atoms.calculator import EDNNCalculator          # doctest: +SKIP
>>> atoms.calc = EDNNCalculator("sheets.onnx")  # doctest: +SKIP
>>> atoms.get_potential_energy()                # doctest: +SKIP

It gives ``energy`` and ``free_energy`` (the same number) in eV, converted from the model's
``ednn.units``; there are no forces or stresses (the model maps an image to an energy), so ASE
raises ``PropertyNotImplementedError`` for them. Monte Carlo, not MD, is the natural use.

Any 2-D periodic cell with an orthogonal supercell is taken (hexagonal ``ase.build.graphene`` cells
too): :func:`ednn.atoms.predict` evaluates the smallest rectangular supercell that fits the model
(:mod:`ednn.atoms.cells`) and divides by its copies, so ``energy`` is always that of the atoms given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import InputError, require_extra

require_extra("atoms", "ednn.atoms.calculator", "ase")

from ase.calculators.calculator import Calculator, all_changes  # noqa: E402
from ase.units import Hartree, Rydberg, kcal, kJ, mol  # noqa: E402

from ..model import Model, load_model  # noqa: E402
from .cells import check_strain  # noqa: E402
from .predict import predict  # noqa: E402
from .recipe import ImageRecipe, check_flatten  # noqa: E402

__all__ = ["EDNNCalculator", "ENERGY_UNITS"]

#: Energy units understood in ``ednn.units``, in eV.
ENERGY_UNITS = {
    "eV": 1.0,
    "meV": 1e-3,
    "Hartree": Hartree,
    "Ha": Hartree,
    "Eh": Hartree,
    "Ry": Rydberg,
    "Rydberg": Rydberg,
    "kcal/mol": kcal / mol,
    "kJ/mol": kJ / mol,
}


class EDNNCalculator(Calculator):
    """ASE calculator: the energy of a periodic structure from an EDNN model (via :func:`ednn.atoms.predict`).

    Parameters
    ----------
    model
        EDNN model file or :class:`ednn.Model` (one input channel, ``ednn.spacing`` and ``ednn.gamma``
        in its metadata, or pass ``spacing`` / ``gamma``).
    output
        Which output is the energy: default ``"energy"`` if the model has it, else its only output.
    units
        Energy units of the model's output, overriding ``ednn.units`` (one of :data:`ENERGY_UNITS`).
        A model without ``ednn.units`` needs it.
    spacing, gamma, batch_size, max_window, providers, threads, strain, flatten
        Passed to :func:`ednn.atoms.predict` (``flatten``: how a model on flattened sheets flattens;
        ``strain``: None for exact fits of the cell only, or the
        largest relative change of an edge accepted to fit it, an approximation: docs/cells.md).
    """

    implemented_properties = ["energy", "free_energy"]

    def __init__(
        self,
        model: str | os.PathLike[str] | Model,
        *,
        output: str | None = None,
        units: str | None = None,
        spacing: float | Sequence[float] | None = None,
        gamma: float | None = None,
        batch_size: int | None = None,
        max_window: int | None = None,
        providers: Sequence[Any] | None = None,
        threads: int | None = None,
        strain: float | None = None,
        flatten: str = "auto",
        **kwargs: Any,
    ) -> None:
        check_strain(strain)
        check_flatten(flatten)
        super().__init__(**kwargs)
        m = load_model(model)
        self.model = m
        if output is None:
            if "energy" in m.outputs:
                output = "energy"
            elif m.n_outputs == 1:
                output = m.outputs[0]
            else:
                raise InputError(f"output: expected the name of the energy output, one of {', '.join(m.outputs)}; "
                                 "the model has no output called 'energy'")
        if output not in m.outputs:
            raise InputError(f"output: expected one of {', '.join(m.outputs)}, got {output!r}")
        self.output_index = m.outputs.index(output)
        u = units if units is not None else m.units
        if u is None:
            raise InputError(f"units: the model {str(m.path)!r} has no ednn.units metadata; pass units= (one of "
                             f"{', '.join(ENERGY_UNITS)})")
        if u not in ENERGY_UNITS:
            raise InputError(f"units: expected one of {', '.join(ENERGY_UNITS)}, got {u!r}")
        self.to_ev = float(ENERGY_UNITS[u])
        # resolve now so that a model without spacing / gamma fails here, not at the first energy
        self.recipe = ImageRecipe.from_model(m, spacing, gamma)
        self._kw = {"batch_size": batch_size, "max_window": max_window, "providers": providers, "threads": threads,
                    "strain": strain, "flatten": flatten}

    def calculate(self, atoms: Any = None, properties: Sequence[str] = ("energy",),
                  system_changes: Sequence[str] = all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        y = predict(self.model, self.atoms, spacing=self.recipe.spacing, gamma=self.recipe.gamma, **self._kw)
        value = y if isinstance(y, float) else float(y[self.output_index])
        energy = value * self.to_ev
        self.results = {"energy": energy, "free_energy": energy}
