"""The abstract :class:`Sensor` contract shared by every indicator model (GECI, S2F, ...).

Stepping contract (DESIGN §3)::

    state = sensor.init(n_neurons)                          # state at t_0
    state = sensor.advance(state, spikes_k, dt, ca_k=None)  # step k -> k+1
    dff   = sensor.readout(state, rho_rel=1.0, ca=None)     # ΔF/F of the current state

``simulate``, closed-loop stepping and the ``Scope`` all call these same methods.
"""

import abc
import enum
from typing import ClassVar

import equinox as eqx

from ._validation import check_dt


METHODS = ("cleo", "euler", "accurate", "exact")
"""The method names a user may pass (``"exact"`` is an alias of ``"accurate"``)."""


class Method(str, enum.Enum):
    """A resolved integration method: what :meth:`Sensor.check_run` returns at a public entry
    and the loop passes down as a static value (a ``str`` subclass, so ``m == "euler"``
    holds); a sensor's ``advance`` takes it as given, without validating names again."""

    EULER = "euler"
    ACCURATE = "accurate"


LOCATIONS = ("cytoplasm", "membrane")
"""Where an indicator sits; sets the Scope's noise focus factor (pixel count ~ r^2 or r)."""


class Sensor(eqx.Module):
    """Abstract base class of all sensors (Cleo's ``Sensor``).

    Concrete sensors provide ``sigma_noise`` (ΔF/F noise std of one ROI, dimensionless),
    ``dFF_1AP`` (ΔF/F of one action potential, dimensionless, or ``None`` if unknown),
    ``location`` ("cytoplasm" or "membrane") and ``name`` (display name).
    """

    sigma_noise: eqx.AbstractVar[object]
    dFF_1AP: eqx.AbstractVar[object]
    location: eqx.AbstractVar[str]
    name: eqx.AbstractVar[str]

    small_step: ClassVar[bool] = False
    """Performance hint for the loop's adjoint: ``True`` when one step is a few multiply-adds
    per neuron (no per-neuron transcendental functions), so that unrolling the reverse scan as
    much as the forward one pays (``jaxgeci._driver.ReverseAdjoint``)."""

    @abc.abstractmethod
    def init(self, n_neurons: int):
        """State at ``t_0`` for ``n_neurons`` neurons (at rest)."""

    @abc.abstractmethod
    def advance(self, state, spikes_k, dt: float, ca_k=None, *, method: str = "cleo"):
        """Advance ``state`` from step ``k`` to ``k+1``.

        Args:
            state: the state at the start of step ``k``.
            spikes_k: spike counts of step ``k``, ``(neurons,)``.
            dt: time step (s).
            ca_k: neuron-supplied Ca (M) of step ``k``, ``(neurons,)``, for pre-existing Ca.
            method: integration method, see :func:`jaxgeci.simulate`.
        """

    @abc.abstractmethod
    def observe(self, state, rho_rel=1.0, ca=None) -> dict:
        """All observables of ``state`` as a dict of ``(neurons,)`` arrays; always has
        ``"dFF"`` (dimensionless)."""

    def readout(self, state, rho_rel=1.0, ca=None):
        """ΔF/F (dimensionless) of the current state, ``(neurons,)``.

        Args:
            state: sensor state.
            rho_rel: relative expression level, scalar or ``(neurons,)`` (dimensionless).
            ca: the neuron's current Ca (M), needed only for pre-existing Ca without binding
                kinetics.
        """
        return self.observe(state, rho_rel, ca)["dFF"]

    @property
    def needs_ca_input(self) -> bool:
        """True if the sensor reads Ca from the neuron model (``ca_pre``)."""
        return False

    def trace_names(self) -> tuple[str, ...]:
        """Names of the traces :meth:`observe` returns."""
        return ("dFF",)

    def check_run(self, dt, method: str = "cleo") -> Method:
        """Validate a run's ``dt`` (s) and ``method`` before anything is traced and return
        the resolved :class:`Method` (``"euler"`` or ``"accurate"``)."""
        check_dt(dt)
        if isinstance(method, Method):
            return method
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
        return Method.ACCURATE if method in ("accurate", "exact") else Method.EULER

    @property
    def snr(self):
        """Signal-to-noise ratio of one action potential, ``dFF_1AP / sigma_noise``.

        Raises:
            TypeError: if ``dFF_1AP`` is unknown (``None``), as in Cleo.
        """
        if self.dFF_1AP is None:
            raise TypeError(f"{self.name or type(self).__name__} has no dFF_1AP (None): SNR is unknown.")
        return self.dFF_1AP / self.sigma_noise
