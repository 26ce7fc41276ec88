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

import jax.numpy as jnp
from jaxtyping import Array, Float

from ._constants import check_constants, constant, ConstantSpec
from ._s2f import DecayModulatedS2F, kernel_step, S2F, S2FState


class AdaptiveS2F(DecayModulatedS2F):
    """S2F sensor whose decays slow down with the latent (see module docstring)::

        dFF = rho_rel * (Fm / (1 + exp(-beta (c - Ca0))) + F0),   c = c1 + r c2

    Built from an :class:`jaxgeci.S2F` (its constants, read-out, baseline convention, noise,
    location and name) plus ``c_half``: ``AdaptiveS2F(s2f("jGCaMP8f"), c_half=10.0)``, or
    from the constants directly, ``AdaptiveS2F(tau_r=..., ..., F0=..., c_half=10.0)``
    (keywords of :class:`jaxgeci.S2F`).

    Attributes:
        base: the S2F sensor with the same constants (the ``c_half -> inf`` limit).
        c_half: latent at which the decay rates are halved (dimensionless), > 0.
    """

    base: S2F
    c_half: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1"))

    def __init__(self, base: S2F | None = None, *, c_half, **s2f_constants):
        if base is None:
            base = S2F(**s2f_constants)
        elif s2f_constants:
            raise TypeError(f"AdaptiveS2F: give an S2F base or its constants, not both (got {sorted(s2f_constants)}).")
        if not isinstance(base, S2F):
            raise TypeError(f"AdaptiveS2F.base must be a jaxgeci.S2F, got {type(base).__name__}.")
        self.base = base
        self.c_half = c_half

    def __check_init__(self):
        check_constants(self)

    @classmethod
    def from_s2f(cls, sensor: S2F, c_half) -> AdaptiveS2F:
        """An adaptive sensor with the constants of ``sensor`` and ``c_half``."""
        return cls(sensor, c_half=c_half)

    @property
    def params(self) -> dict:
        """The constants in a flat dict (SI), plus ``sigma_noise``."""
        return {**self.base.params, "c_half": self.c_half}

    def replace(self, **params) -> AdaptiveS2F:
        """A copy with some constants (keys of :attr:`params`) or the base's ``location``,
        ``name``, ``dff_baseline`` replaced; validated like the constructor."""
        c_half = params.pop("c_half", self.c_half)
        return AdaptiveS2F(self.base.replace(**params), c_half=c_half)

    def init(self, n_neurons: int) -> S2FState:
        return self.base.init(n_neurons)

    def trace_names(self) -> tuple[str, ...]:
        return self.base.trace_names()

    def check_run(self, dt, method: str = "cleo") -> str:
        """Validate ``dt`` (s) and ``method``; every method resolves to the same update."""
        return self.base.check_run(dt, method)

    def advance(self, state: S2FState, spikes_k, dt, ca_k=None, *, method="cleo") -> S2FState:
        """One step ``k -> k+1``: S2F's exact update with the decay rates divided by
        ``1 + c_k/c_half`` (``c_k`` the latent at the start of the step)."""
        b = self.base
        n = jnp.asarray(spikes_k, dtype=state.c1.dtype)
        slow = 1.0 + b.latent(state) / self.c_half
        return kernel_step(state, n, dt, b.tau_r, b.tau_d1 * slow, b.tau_d2 * slow)

    def observe(self, state: S2FState, rho_rel=1.0, ca=None) -> dict:
        return self.base.observe(state, rho_rel, ca)
