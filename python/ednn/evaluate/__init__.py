"""Judging models: error metrics and plots (:mod:`.metrics`), the Ising evaluation (:mod:`.ising`,
``ednn evaluate``) and the atoms size study (:mod:`.sizes`, ``ednn atoms evaluate``)."""

__all__: list[str] = []
