"""S2F with activity-dependent decay: the Zhang et al. 2023 kernel whose decay slows down when
the latent is high (a fitting model family, ``--model s2f-adaptive``).

Motivation (measured on the jGCaMP8 ground truth, ``fitting/README.md``): after isolated
spikes jGCaMP8f transients halve in ~50 ms, but after bursts the data decay far more slowly.
One linear kernel (S2F) must compromise: the fitted S2F decays 2.8x too slowly after single
spikes and still too fast after bursts. Here every decay rate is divided by ``1 + c/c_half``,
with ``c`` the latent at the start of the step::

    d(exp. accumulator)/dt = -(1/tau) / (1 + c/c_half) * accumulator      (tau = tau_d1, tau_d2)

so ``c << c_half`` (one spike) decays with the S2F time constants and a burst that drives
``c`` to several ``c_half`` decays several times slower (as extrusion or unbinding that
saturates). ``c_half -> inf`` is exactly :class:`jaxgeci.S2F` (tested). The rise
(``tau_r``) and the sigmoid read-out are S2F's. The update is the S2F exponential update with
the rate frozen over the step at its start value (first order in ``dt/tau * dc/c_half``; at
dt = 1 ms this differs from dt = 0.25 ms by < 1e-4 in EV on the real data).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._s2f import check_exact_run, kernel_step, rest_state, S2F, S2FState, sigmoid_readout
from ._sensor import LOCATIONS, Sensor
from ._validation import as_float_array, check_constant


class AdaptiveS2F(Sensor):
    """S2F sensor whose decays slow down with the latent (see module docstring)::

        dFF = rho_rel * (Fm / (1 + exp(-beta (c - Ca0))) + F0),   c = c1 + r c2

    Attributes:
        tau_r, tau_d1, tau_d2, r, Fm, Ca0, beta, F0: as :class:`jaxgeci.S2F` (s or
            dimensionless).
        c_half: latent at which the decay rates are halved (dimensionless), > 0.
        sigma_noise: ΔF/F noise std of one in-focus ROI (dimensionless).
        location, name: as :class:`jaxgeci.S2F`.
    """

    tau_r: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    tau_d1: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    tau_d2: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    r: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    Fm: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    Ca0: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    beta: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    F0: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    c_half: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True)
    sigma_noise: Float[Array, "*neurons"] = eqx.field(converter=as_float_array, kw_only=True, default=0.0)
    location: str = eqx.field(static=True, kw_only=True, default="cytoplasm")
    name: str = eqx.field(static=True, kw_only=True, default="")

    def __check_init__(self):
        # the S2F constants are validated by building the equivalent S2F
        self.base
        check_constant("c_half", self.c_half, unit="1", owner="AdaptiveS2F")
        if self.location not in LOCATIONS:
            raise ValueError(f"AdaptiveS2F.location must be one of {LOCATIONS}, got {self.location!r}.")

    @classmethod
    def from_s2f(cls, sensor: S2F, c_half) -> AdaptiveS2F:
        """An adaptive sensor with the constants of ``sensor`` and ``c_half``."""
        return cls(**sensor.params, c_half=c_half, location=sensor.location, name=sensor.name)

    @property
    def base(self) -> S2F:
        """The S2F sensor with the same constants (the ``c_half -> inf`` limit)."""
        p = {k: getattr(self, k) for k in ("tau_r", "tau_d1", "tau_d2", "r", "Fm", "Ca0", "beta", "F0")}
        return S2F(**p, sigma_noise=self.sigma_noise, location=self.location, name=self.name)

    @property
    def params(self) -> dict:
        """The constants in a flat dict (SI), plus ``sigma_noise``."""
        return {**self.base.params, "c_half": self.c_half}

    def replace(self, **params) -> AdaptiveS2F:
        """A copy with some constants (keys of :attr:`params`), ``location`` or ``name``."""
        unknown = set(params) - set(self.params) - {"location", "name"}
        if unknown:
            raise ValueError(f"replace() got unknown constant(s) {sorted(unknown)}.")
        return dataclasses.replace(self, **params)

    @property
    def dFF_1AP(self):
        """Not derived for the adaptive model (the single-spike peak depends on the decay's
        adaptation); ``None``."""
        return None

    def init(self, n_neurons: int) -> S2FState:
        return rest_state(n_neurons, jnp.result_type(self.tau_r))

    def trace_names(self) -> tuple[str, ...]:
        return ("dFF", "c")

    def check_run(self, dt, method: str = "cleo") -> str:
        """Validate ``dt`` (s) and ``method``; every method resolves to the same update."""
        return check_exact_run(dt, method)

    def advance(self, state: S2FState, spikes_k, dt, ca_k=None, *, method="cleo") -> S2FState:
        """One step ``k -> k+1``: S2F's exact update with the decay rates divided by
        ``1 + c_k/c_half`` (``c_k`` the latent at the start of the step)."""
        n = jnp.asarray(spikes_k, dtype=state.c1.dtype)
        slow = 1.0 + (state.c1 + self.r * state.c2) / self.c_half
        return kernel_step(state, n, dt, self.tau_r, self.tau_d1 * slow, self.tau_d2 * slow)

    def observe(self, state: S2FState, rho_rel=1.0, ca=None) -> dict:
        c = state.c1 + self.r * state.c2
        return {"dFF": rho_rel * sigmoid_readout(c, self.Fm, self.beta, self.Ca0, self.F0), "c": c}
