"""Excitation submodels: the factor by which excitation light scales fluorescence."""

from __future__ import annotations

import abc

import equinox as eqx


class ExcitationModel(eqx.Module):
    """Abstract base: the dimensionless excitation factor multiplying ΔF/F."""

    @abc.abstractmethod
    def factor(self, n_neurons: int):
        """Excitation factor (dimensionless), scalar or ``(neurons,)``."""


class NullExcitation(ExcitationModel):
    """Excitation is not modelled: factor 1 (every preset; all of Cleo's reference data)."""

    def factor(self, n_neurons):
        return 1.0


class LightExcitation(ExcitationModel):
    """Light-dependent excitation (Cleo's ``LightExcitation``).

    Cleo 0.20 leaves this unimplemented (its factor is a placeholder ``some_function``).
    The slot is kept so the model structure matches Cleo, but constructing it raises
    ``NotImplementedError`` until the excitation spectrum/irradiance model is defined.
    """

    def __init__(self):
        raise NotImplementedError(
            "LightExcitation is not implemented yet (Cleo 0.20 leaves it unimplemented too): "
            "there is no irradiance -> excitation model to reproduce. Use "
            "light_dependent=False (NullExcitation, factor 1)."
        )

    def factor(self, n_neurons):  # pragma: no cover - unreachable
        raise NotImplementedError
