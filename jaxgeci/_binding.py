"""Binding/activation submodels: free Ca2+ (M) -> the "bound-active" concentration
``CaB_active`` (M) that the Hill read-out sees."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._constants import check_constants, constant, ConstantSpec


_TAU = ConstantSpec(unit="s", plausible=(0.0, 1e3))  # above 1000 s: ms passed as s


class CalBindingActivationModel(eqx.Module):
    """Abstract base: how ``CaB_active`` (M) follows free Ca2+ (M).

    ``init`` gives the model's own state (a tuple of ``(neurons,)`` arrays, possibly empty),
    ``step`` advances it over one step of the Ca trajectory ``c0 -> c1``, and ``active``
    returns ``CaB_active``.
    """

    @abc.abstractmethod
    def init(self, n_neurons: int, dtype) -> tuple: ...

    @abc.abstractmethod
    def step(self, state: tuple, c0, c1, Ca_rest, dt: float, *, method: str) -> tuple: ...

    @abc.abstractmethod
    def active(self, state: tuple, Ca, Ca_rest): ...

    def euler_rate_bound(self):
        """Largest decay rate of the model's linear ODE (1/s); ``None`` if it has none."""
        return None


class NullBindingActivation(CalBindingActivationModel):
    """No binding kinetics: ``CaB_active = Ca``."""

    def init(self, n_neurons, dtype):
        return ()

    def step(self, state, c0, c1, Ca_rest, dt, *, method):
        return ()

    def active(self, state, Ca, Ca_rest):
        return Ca


def _phi1(z):
    """``(1 - exp(-z)) / z`` for z > 0 (the zero-order-hold input weight)."""
    return -jnp.expm1(-z) / z


def _phi2(z):
    """``(z - 1 + exp(-z)) / z**2`` for z > 0 (the first-order-hold slope weight), with a
    Taylor series below 0.1 where the closed form cancels."""
    small = z < 0.1
    zs = jnp.where(small, z, 0.1)
    zl = jnp.where(small, 1.0, z)
    # sum_{k>=0} (-z)^k / (k+2)!, truncated after z^7 (error < 1e-14 for z < 0.1)
    series = 0.5 + zs * (
        -1 / 6 + zs * (1 / 24 + zs * (-1 / 120 + zs * (1 / 720 + zs * (-1 / 5040 + zs * (1 / 40320 - zs / 362880)))))
    )
    closed = (zl + jnp.expm1(-zl)) / zl**2
    return jnp.where(small, series, closed)


class DoubExpCalBindingActivation(CalBindingActivationModel):
    """Double-exponential convolution of ``Ca - Ca_rest`` (NAOMi; Song et al. 2021), written
    as a second-order ODE::

        kap = 1/tau_off,  lam = 1/tau_off + 1/tau_on
        db/dt    = beta
        dbeta/dt = A (lam - kap) (Ca - Ca_rest) - (kap + lam) beta - kap lam b
        CaB_active = Ca_rest + b

    i.e. ``b = h * (Ca - Ca_rest)`` with ``h(t) = A exp(-t/tau_off) (1 - exp(-t/tau_on))``,
    whose DC gain is ``A tau_off**2 / (tau_on + tau_off)``.

    .. note:: The names are Cleo's. With the NAOMi constants ``tau_off`` is ~10-15 ms and
       ``tau_on`` ~1-2 s, so the kernel both **rises and decays on ~tau_off**; ``tau_on`` only
       sets the small difference between the two exponentials.

    ``method="euler"`` is Brian2's simultaneous forward Euler (stable for ``dt < 2/lam``).
    ``method="accurate"`` integrates the linear system exactly, with the Ca input interpolated
    linearly over the step (exactly Brian2's ``'exact'`` zero-order hold when Ca is constant
    within the step, as for pre-existing Ca).
    """

    A: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1/s", sign="nonnegative"))
    """Kernel amplitude (1/s). NAOMi's ``ca_amp`` converted: ``A = ca_amp / (0.01 s)``."""
    tau_on: Float[Array, "*neurons"] = constant(_TAU)
    """Cleo's "binding" time constant (s), ``1 s / t_on``. Sets ``lam - kap = 1/tau_on``."""
    tau_off: Float[Array, "*neurons"] = constant(_TAU)
    """Cleo's "unbinding" time constant (s), ``1 s / t_off``; the kernel's rise *and* decay."""

    def __check_init__(self):
        check_constants(self)

    @property
    def kap(self):
        """Slow rate ``1/tau_off`` (1/s)."""
        return 1.0 / self.tau_off

    @property
    def lam(self):
        """Fast rate ``1/tau_off + 1/tau_on`` (1/s)."""
        return 1.0 / self.tau_off + 1.0 / self.tau_on

    def init(self, n_neurons, dtype):
        z = jnp.zeros((n_neurons,), dtype=dtype)
        return (z, z)

    def euler_rate_bound(self):
        return self.lam

    def step(self, state, c0, c1, Ca_rest, dt, *, method):
        b, beta = state
        kap, lam = self.kap, self.lam
        x0 = c0 - Ca_rest
        if method == "euler":
            b_next = b + dt * beta
            beta_next = beta + dt * (self.A * (lam - kap) * x0 - (kap + lam) * beta - kap * lam * b)
            return (b_next, beta_next)
        # Exact propagator of [[0, 1], [-kap lam, -(kap + lam)]] written with expm1 so that
        # nothing cancels when lam ~ kap (tau_on >> tau_off).
        E1 = jnp.exp(-kap * dt)
        E2 = jnp.exp(-lam * dt)
        D = -E1 * jnp.expm1(-dt / self.tau_on) * self.tau_on  # (E1 - E2) / (lam - kap)
        b_next = (E1 + kap * D) * b + D * beta
        beta_next = -kap * lam * D * b + (E2 - kap * D) * beta
        # Input: modes Y1' = -kap Y1 + A x, Y2' = -lam Y2 + A x, b = Y1 - Y2,
        # beta = -kap Y1 + lam Y2, with x linear from x0 to x1 over the step.
        z1, z2 = kap * dt, lam * dt
        dx = (c1 - Ca_rest) - x0
        dY1 = self.A * dt * (_phi1(z1) * x0 + _phi2(z1) * dx)
        dY2 = self.A * dt * (_phi1(z2) * x0 + _phi2(z2) * dx)
        return (b_next + dY1 - dY2, beta_next - kap * dY1 + lam * dY2)

    def active(self, state, Ca, Ca_rest):
        b, _ = state
        return Ca_rest + b
