"""Calcium submodels: how a GECI obtains free [Ca2+] (M) from spikes or from the neuron model.

Both models hold ``Ca_rest`` (M), which is the GECI's **single source of truth** for the resting
concentration: the binding model and the Hill baseline read it from here (see
:class:`jaxgeci.GECI`), so fitting ``Ca_rest`` moves every use at once.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from . import _series as series
from ._constants import check_constants, constant, ConstantSpec


CA_REST = ConstantSpec(unit="M", upper=1.0, plausible=(1e-9, 1e-5))
"""Resting free [Ca2+] (M), shared by both calcium models (physiological: 30-100 nM)."""


class CalciumModel(eqx.Module):
    """Abstract base: how free Ca2+ (M) evolves.

    The state is the deviation from rest, ``dCa = Ca - Ca_rest`` (M), not ``Ca`` itself: in
    float32 an absolute Ca of ~1e-7 M has an ulp of ~7e-15 M, 6e-7 of a single spike's
    excursion, and the rounding of the stored value every step set the float32 error floor
    of the accurate step (3e-6 of the excursion at dt = 2 ms, against 3e-7 stored as a
    deviation; tests/test_float32_accuracy.py). The deviation also decays to exactly 0.

    Concrete models implement :meth:`step`, which advances one time step and returns the new
    deviation together with the two end points ``(x0, x1)`` of the deviation's trajectory over
    the step, which drive the binding/activation model.
    """

    Ca_rest: eqx.AbstractVar[Float[Array, "*neurons"]]

    def init(self, n_neurons: int) -> Float[Array, " neurons"]:
        """Initial ``dCa = Ca - Ca_rest`` (M), ``(n_neurons,)``: zeros (at rest)."""
        return jnp.zeros((n_neurons,), dtype=jnp.result_type(self.Ca_rest))

    @abc.abstractmethod
    def step(self, dCa, n_spikes, dt: float, *, K_d, ca_in, method: str):
        """Advance one step.

        Args:
            dCa: free Ca above rest at the start of the step, ``Ca - Ca_rest`` (M), ``(neurons,)``.
            n_spikes: spike counts of this step, ``(neurons,)``.
            dt: time step (s).
            K_d: the GECI's dissociation constant (M) (used by the buffer term).
            ca_in: neuron-supplied Ca for this step (M) or ``None``.
            method: ``"euler"`` (Brian2's forward Euler) or ``"accurate"``.

        Returns:
            ``(dCa_next, x0, x1)``: ``Ca - Ca_rest`` at the start of the next step, and at the
            start and end of the step's trajectory (M).
        """


class DynamicCalcium(CalciumModel):
    """Free Ca2+ relaxing to rest with buffering, bumped by every spike (Lütke et al. 2013,
    eqs. 8-9; Song et al. 2021)::

        dCa/dt = -gamma (Ca - Ca_rest) / (1 + kappa_S + kappa_B(Ca))
        on spike: Ca += dCa_T / (1 + kappa_S + kappa_B(Ca))
        kappa_B(c) = B_T K_d / (c + K_d)**2     (K_d: the GECI's, in M)

    ``method="euler"`` is Brian2/Cleo's update (forward Euler, then the spike increment
    evaluated after the ODE update, i.e. at the end of the step), equal to it up to rounding. ``method="accurate"``
    puts the spike at the start of its step (its true time ``t_k``) and relaxes with an
    exponential-midpoint update (second order, unconditionally stable).
    """

    Ca_rest: Float[Array, "*neurons"] = constant(CA_REST)
    """Resting free Ca2+ concentration (M). Default of the presets: 5e-8 M."""
    gamma: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1/s", plausible=(1e-2, 1e5)))
    """Clearance/extrusion rate (1/s). Presets: 292.3 1/s."""
    B_T: Float[Array, "*neurons"] = constant(
        ConstantSpec(unit="M", sign="nonnegative", upper=1.0, plausible=(1e-8, 1e-1))
    )
    """Total indicator (buffer) concentration (M). Presets: 2e-4 M."""
    kappa_S: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1", sign="nonnegative"))
    """Endogenous Ca2+ binding ratio (dimensionless). Presets: 110."""
    dCa_T: Float[Array, "*neurons"] = constant(
        ConstantSpec(unit="M", sign="nonnegative", upper=1.0, plausible=(1e-9, 1e-2))
    )
    """Total Ca2+ concentration increase per spike (M). Presets: 7.6e-6 M."""

    def __check_init__(self):
        check_constants(self)

    def kappa_B(self, Ca, K_d):
        """Indicator buffer capacity ``B_T K_d / (Ca + K_d)**2`` (dimensionless)."""
        return self.B_T * K_d / (Ca + K_d) ** 2

    def _denominator(self, Ca, K_d):
        """``1 + kappa_S + kappa_B(Ca)`` (dimensionless)."""
        return 1.0 + self.kappa_S + self.kappa_B(Ca, K_d)

    def inv_denominator(self, Ca, K_d):
        """``1 / (1 + kappa_S + kappa_B(Ca))`` (dimensionless), with one division:
        ``u**2 / ((1 + kappa_S) u**2 + B_T K_d)``, ``u = Ca + K_d``. Used by the Euler step, whose
        cost is bound by its divisions (4 -> 2 per neuron-step; see benchmarks/README.md)."""
        u2 = (Ca + K_d) ** 2
        return u2 / ((1.0 + self.kappa_S) * u2 + self.B_T * K_d)

    def step(self, dCa, n_spikes, dt, *, K_d, ca_in=None, method="euler"):
        if method == "euler":
            # Brian2's forward Euler written on the deviation x = Ca - Ca_rest: the same
            # update as Brian2's on the absolute Ca (Cleo parity to rounding), with the
            # absolute Ca formed only inside the buffer term. Two adds fewer per neuron-step
            # than converting the state to Ca and back (benchmarks/README.md).
            x_star = dCa - dt * self.gamma * dCa * self.inv_denominator(self.Ca_rest + dCa, K_d)
            x_next = x_star + n_spikes * self.dCa_T * self.inv_denominator(self.Ca_rest + x_star, K_d)
            return x_next, dCa, x_star
        # accurate: spike at the start of the step, then exponential-midpoint relaxation, all in
        # deviations x = Ca - Ca_rest (only the buffer term needs the absolute Ca_rest + x).
        # (Written with the two-division denominator: with inv_denominator this step measured
        # 3.3x slower on XLA:CPU at N = 1e4, dt = 1 ms, for the same fusions and fewer divisions.)
        # The relaxation is applied as an increment, x0 - x0 (1 - exp(-dt rate)) (jaxgeci._series:
        # a series where it would cancel, cheaper than expm1 on XLA:CPU): the factor
        # exp(-dt rate) is 1 - O(1e-6) at small dt and rounds to float32 with a relative error
        # of eps / (dt rate) in its decay, the same every step (1 % at dt = 10 µs); the
        # increment is exact to eps of itself (tests/test_float32_accuracy.py).
        x0 = dCa + n_spikes * self.dCa_T / self._denominator(self.Ca_rest + dCa, K_d)
        rate0 = self.gamma / self._denominator(self.Ca_rest + x0, K_d)
        x_half = x0 - x0 * series.one_minus_exp_neg(0.5 * dt * rate0)
        rate_half = self.gamma / self._denominator(self.Ca_rest + x_half, K_d)
        x_next = x0 - x0 * series.one_minus_exp_neg(dt * rate_half)
        return x_next, x0, x_next

    def euler_rate_bound(self):
        """Largest relaxation rate of the Ca ODE (1/s): ``gamma / (1 + kappa_S)`` (kappa_B >= 0)."""
        return self.gamma / (1.0 + self.kappa_S)


class PreexistingCalcium(CalciumModel):
    """Free Ca2+ is supplied by the neuron model (``ca_pre``, M, one value per step, held
    constant within the step); spikes do not change it.

    Unlike Cleo (reference quirk 2), this model carries ``Ca_rest`` so that the Hill baseline
    ``H(Ca_rest)`` and the binding model always have a resting level.
    """

    Ca_rest: Float[Array, "*neurons"] = constant(CA_REST, default=5e-8)
    """Resting free Ca2+ concentration (M) used for the ΔF/F baseline. Default 5e-8 M."""

    def __check_init__(self):
        check_constants(self)

    def step(self, dCa, n_spikes, dt, *, K_d, ca_in=None, method="euler"):
        if ca_in is None:
            raise ValueError(
                "PreexistingCalcium needs the neuron's Ca for every step: pass ca_pre "
                "(time, neurons) to simulate, or ca_k (neurons,) to advance (M)."
            )
        x_in = jnp.asarray(ca_in, dtype=jnp.result_type(dCa)) - self.Ca_rest
        return x_in, x_in, x_in
