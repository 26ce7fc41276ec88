"""Binding/activation submodels: free Ca2+ (M) -> the "bound-active" concentration
``CaB_active`` (M) that the Hill read-out sees."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._constants import check_constants, constant, ConstantSpec


class CalBindingActivationModel(eqx.Module):
    """Abstract base: how ``CaB_active`` (M) follows free Ca2+ (M).

    ``init`` gives the model's own state (a tuple of ``(neurons,)`` arrays, possibly empty),
    ``step`` advances it over one step of the trajectory ``x0 -> x1`` of ``Ca - Ca_rest`` (M),
    and ``active_above_rest`` returns ``CaB_active - Ca_rest`` (M) from the state and
    ``dCa = Ca - Ca_rest`` (M) (a deviation, so that the Hill read-out can take the rise above
    rest without cancellation).
    """

    @abc.abstractmethod
    def init(self, n_neurons: int, dtype) -> tuple: ...

    @abc.abstractmethod
    def step(self, state: tuple, x0, x1, dt: float, *, method: str) -> tuple: ...

    @abc.abstractmethod
    def active_above_rest(self, state: tuple, dCa): ...

    def euler_rate_bound(self):
        """Largest decay rate of the model's linear ODE (1/s); ``None`` if it has none."""
        return None


class NullBindingActivation(CalBindingActivationModel):
    """No binding kinetics: ``CaB_active = Ca``."""

    def init(self, n_neurons, dtype):
        return ()

    def step(self, state, x0, x1, dt, *, method):
        return ()

    def active_above_rest(self, state, dCa):
        return dCa


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


# 8-point Gauss-Legendre rule on [0, 1]: exact to ~1e-23 for exp(-z u) with z <= 1
_GL_U = [float(x) for x in 0.5 * (np.polynomial.legendre.leggauss(8)[0] + 1.0)]
_GL_W = [float(w) for w in 0.5 * np.polynomial.legendre.leggauss(8)[1]]


def _dphi(z1, delta):
    """Divided differences ``g_k = (phi_k(z1) - phi_k(z1 + delta)) / delta`` (k = 1, 2) for
    z1, delta > 0, without cancellation when delta << z1.

    With ``phi1(z) = int_0^1 exp(-z u) du`` and ``phi2(z) = int_0^1 (1 - u) exp(-z u) du``::

        g1 = int_0^1 u exp(-z1 u) phi1(delta u) du,   g2 = int_0^1 (1 - u) u exp(-z1 u) phi1(delta u) du

    (positive integrands), evaluated by Gauss-Legendre for ``z1 + delta <= 1`` and by the
    closed forms above that (where the difference loses at most a factor ~2)."""
    z2 = z1 + delta
    small = z2 <= 1.0
    zq = jnp.where(small, z1, 0.5)
    dq = jnp.where(small, delta, 0.5)
    g1 = g2 = 0.0
    for u, w in zip(_GL_U, _GL_W):
        term = w * u * jnp.exp(-zq * u) * _phi1(dq * u)
        g1 = g1 + term
        g2 = g2 + (1.0 - u) * term
    zl1 = jnp.where(small, 1.0, z1)
    zl2 = jnp.where(small, 2.0, z2)
    dl = zl2 - zl1
    c1 = (_phi1(zl1) - _phi1(zl2)) / dl
    c2 = (_phi2(zl1) - _phi2(zl2)) / dl
    return jnp.where(small, g1, c1), jnp.where(small, g2, c2)


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
    # plausible ranges: NAOMi's tau_on ~1-2 s, tau_off ~10-15 ms; values in ms read as s
    # (e.g. tau_off=10.1) land far above them
    tau_on: Float[Array, "*neurons"] = constant(ConstantSpec(unit="s", plausible=(0.0, 100.0)))
    """Cleo's "binding" time constant (s), ``1 s / t_on``. Sets ``lam - kap = 1/tau_on``."""
    tau_off: Float[Array, "*neurons"] = constant(ConstantSpec(unit="s", plausible=(0.0, 2.0)))
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

    def step(self, state, x0, x1, dt, *, method):
        b, beta = state
        kap, lam = self.kap, self.lam
        if method == "euler":
            b_next = b + dt * beta
            beta_next = beta + dt * (self.A * (lam - kap) * x0 - (kap + lam) * beta - kap * lam * b)
            return (b_next, beta_next)
        # Exact propagator M = a I + D [[0, 1], [-kap lam, -(kap + lam)]], applied as an
        # increment (M - I) state so that nothing of size 1 is rounded every step (in float32
        # a diagonal 1 - O(dt^2) rounded with the same relative error each step made the error
        # grow as 1/dt). With delta = dt/tau_on = z2 - z1 and g1 = (phi1(z1) - phi1(z2))/delta:
        #   a - 1 = -z1 z2 g1,   D = (E1 - E2)/(lam - kap) = E1 dt phi1(delta),
        #   M22 - 1 = (a - 1) - (kap + lam) D.
        # Input (Ca linear from x0 to x0 + dx over the step), through the modes
        # Y1' = -kap Y1 + A x, Y2' = -lam Y2 + A x (b = Y1 - Y2, beta = -kap Y1 + lam Y2):
        #   b_in = dY1 - dY2 = A dt delta (g1 x0 + g2 dx),  beta_in = -kap b_in + dY2/tau_on,
        # where g1, g2 are divided differences of phi1, phi2 (:func:`_dphi`), never the
        # difference of two nearly equal O(dt) mode increments.
        z1, z2 = kap * dt, lam * dt
        delta = dt / self.tau_on
        g1, g2 = _dphi(z1, delta)
        D = jnp.exp(-z1) * dt * _phi1(delta)
        m11 = -z1 * z2 * g1
        m22 = m11 - (kap + lam) * D
        dx = x1 - x0
        b_in = self.A * dt * delta * (g1 * x0 + g2 * dx)
        dY2 = self.A * dt * (_phi1(z2) * x0 + _phi2(z2) * dx)
        db = m11 * b + D * beta + b_in
        dbeta = -kap * lam * D * b + m22 * beta - kap * b_in + dY2 / self.tau_on
        return (b + db, beta + dbeta)

    def active_above_rest(self, state, dCa):
        b, _ = state
        return b
