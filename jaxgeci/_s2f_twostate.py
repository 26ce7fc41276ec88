"""S2F with use-dependent slowing driven by a separate slow variable (a fitting model family,
``--model s2f-twostate``): fast decay after one spike, slow tails after bursts.

Motivation (measured on the Cascade ground truth, ``fitting/README.md``): after isolated
spikes GCaMP6f, jGCaMP7f and jGCaMP8f transients halve in 50-130 ms, while after bursts the
same cells decay several times more slowly. One linear kernel (:class:`jaxgeci.S2F`) has to
compromise, and slowing the decay by the latent itself (:class:`jaxgeci.AdaptiveS2F`,
``1 + c/c_half``) slows single spikes too, because one spike already drives ``c`` near its
burst values relative to ``c_half``. Use-dependent slowing of the fluorescence decay is
measured for GCaMP6f, jGCaMP7f and jGCaMP8f in vitro and in slices by Broussard et al. 2025
(*Precise calcium-to-spike inference using biophysical generative models*, bioRxiv, C-SPIKES;
strongest for jGCaMP8f), and follows from sequential Ca binding to the indicator (Greenberg et
al. 2018, *Accurate action potential inference from a calcium sensor protein through
biophysical modeling*, bioRxiv 10.1101/479055, GCaMP6s). The model here is phenomenological, written for this package:
a second state variable ``u`` (dimensionless, in spikes) counts recent spikes with its own
time constant ``tau_u`` and slows the kernel's decay through a Hill function::

    du/dt = -u / tau_u + sum_k delta(t - t_k)                                  (u in spikes)
    s(u)  = 1 + (u / u_half)^n_u                                               (slowing factor)
    d(exp. accumulator)/dt = -(1/tau) / s(u) * accumulator       (tau = tau_d1, tau_d2; S2F's)
    c = c1 + r c2,   dFF = rho_rel * (Fm / (1 + exp(-beta (c - Ca0))) + F0)    (S2F's read-out)

With ``u_half`` of a few spikes and ``n_u >= 2``, one spike (``u <= 1``) decays with S2F's
``tau_d1``, ``tau_d2`` (slowed by ``1 + u_half^-n_u``, a few per cent), while a 10-spike burst
that drives ``u`` to several ``u_half`` decays many times more slowly until ``u`` has relaxed
(time scale ``tau_u``). ``u_half -> inf`` is exactly :class:`jaxgeci.S2F` (tested).

**Discretisation.** The spikes of step ``k`` enter at its start ``t_k`` (S2F's convention), so
they count in ``u`` for that step. Over the step the slowing factor is frozen at
``s(u_k + n_k)`` and the accumulators take S2F's exact exponential update with the slowed decay
times; then ``u_{k+1} = (u_k + n_k) exp(-dt/tau_u)`` (exact). The only error is the frozen
rate, first order in ``dt / tau_u`` and ``dt / tau_d``: at dt = 1 ms the single-spike
response agrees with the continuous-time closed form (module tests) to ~0.1 %.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._constants import check_constants, constant, ConstantSpec
from ._s2f import _TAU_MAX, DecayModulatedS2F, kernel_step, S2F, S2FState


class TwoStateS2FState(eqx.Module):
    """State of a :class:`TwoStateS2F` population at the start of a step.

    Attributes:
        kernel: S2F's four exponential accumulators (dimensionless), each ``(neurons,)``.
        u: the use variable (dimensionless, in spikes): recent spikes, each decaying with
            ``tau_u``; ``(neurons,)``.
    """

    kernel: S2FState
    u: Float[Array, " neurons"]


def slowing(u, u_half, n_u):
    """The slowing factor ``1 + (u/u_half)^n_u`` (dimensionless) for ``u >= 0`` (spikes).

    Written as ``exp(n_u log(u/u_half))`` only where ``u > 0`` so that the gradient with
    respect to ``n_u`` stays finite at ``u = 0`` (where the factor is exactly 1)."""
    pos = u > 0
    safe = jnp.where(pos, u, 1.0)
    return 1.0 + jnp.where(pos, jnp.exp(n_u * jnp.log(safe / u_half)), 0.0)


def single_spike_kernel(delay, tau_r, tau_d1, tau_d2, r, u_half, tau_u, n_u):
    """The continuous-time latent ``c(Δ)`` (dimensionless) of :class:`TwoStateS2F` after one
    spike from rest at delay ``Δ`` (s, > 0), in closed form (an independent reference for the
    stepped model, used by the tests).

    After one spike ``u(Δ) = exp(-Δ/tau_u)``, so each decay accumulator decays as
    ``exp(-∫_0^Δ dt' / (tau s(u(t'))))``. With ``k = n_u/tau_u`` and ``a = u_half^-n_u``,
    ``∫_0^Δ dt' / (1 + a e^{-k t'}) = (1/k) log((e^{kΔ} + a)/(1 + a))``, so the slow-decay
    term is ``((e^{kΔ} + a)/(1 + a))^{-1/(k tau)}``; S2F's rise factor multiplies each term.
    """
    k = n_u / tau_u
    a = u_half ** (-n_u)
    # log((e^{kΔ} + a)/(1 + a)), written to stay finite for large kΔ
    kd = k * delay
    log_ratio = kd + jnp.log1p(a * jnp.exp(-kd)) - jnp.log1p(a)
    rise = -jnp.expm1(-delay / tau_r)
    e1 = jnp.exp(-log_ratio / (k * tau_d1))
    e2 = jnp.exp(-log_ratio / (k * tau_d2))
    return (e1 + r * e2) * rise


class TwoStateS2F(DecayModulatedS2F):
    """S2F sensor whose decays slow down with a separate, slow use variable ``u`` (see the
    module docstring for the equations and sources)::

        s(u) = 1 + (u/u_half)^n_u,   decay times tau_d1 s(u), tau_d2 s(u),
        dFF  = rho_rel * (Fm / (1 + exp(-beta (c - Ca0))) + F0),   c = c1 + r c2

    Built from an :class:`jaxgeci.S2F` (its constants, read-out, baseline convention, noise,
    location and name) plus the three use constants:
    ``TwoStateS2F(s2f("jGCaMP8f"), u_half=3.0, tau_u=0.5, n_u=2.0)``, or from the constants
    directly, ``TwoStateS2F(tau_r=..., ..., F0=..., u_half=3.0, tau_u=0.5, n_u=2.0)``
    (keywords of :class:`jaxgeci.S2F`).

    Attributes:
        base: the S2F sensor with the same constants (the ``u_half -> inf`` limit).
        u_half: use level at which the decay times are doubled (dimensionless, in spikes), > 0.
        tau_u: decay time constant of the use variable (s), > 0, at most 20 s.
        n_u: Hill exponent of the slowing (dimensionless), > 0; ``n_u >= 2`` keeps single
            spikes (``u <= 1``) on the fast decay when ``u_half > 1``.
    """

    base: S2F
    u_half: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1"))
    tau_u: Float[Array, "*neurons"] = constant(
        ConstantSpec(unit="s", upper=_TAU_MAX, upper_hint="tau_u is in seconds", plausible=(1e-3, _TAU_MAX))
    )
    n_u: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1"))

    def __init__(self, base: S2F | None = None, *, u_half, tau_u, n_u, **s2f_constants):
        if base is None:
            base = S2F(**s2f_constants)
        elif s2f_constants:
            raise TypeError(f"TwoStateS2F: give an S2F base or its constants, not both (got {sorted(s2f_constants)}).")
        if not isinstance(base, S2F):
            raise TypeError(f"TwoStateS2F.base must be a jaxgeci.S2F, got {type(base).__name__}.")
        self.base = base
        self.u_half = u_half
        self.tau_u = tau_u
        self.n_u = n_u

    def __check_init__(self):
        check_constants(self, "TwoStateS2F")

    @classmethod
    def from_s2f(cls, sensor: S2F, *, u_half, tau_u, n_u) -> TwoStateS2F:
        """A two-state sensor with the constants of ``sensor`` and the use constants."""
        return cls(sensor, u_half=u_half, tau_u=tau_u, n_u=n_u)

    @property
    def params(self) -> dict:
        """The constants in a flat dict (SI: s; dimensionless otherwise), plus ``sigma_noise``."""
        return {**self.base.params, "u_half": self.u_half, "tau_u": self.tau_u, "n_u": self.n_u}

    def replace(self, **params) -> TwoStateS2F:
        """A copy with some constants (keys of :attr:`params`) or the base's ``location``,
        ``name``, ``dff_baseline`` replaced; validated like the constructor."""
        own = {k: params.pop(k, getattr(self, k)) for k in ("u_half", "tau_u", "n_u")}
        return TwoStateS2F(self.base.replace(**params), **own)

    def kernel(self, delay):
        """The continuous-time single-spike latent ``c(Δ)`` (dimensionless) at delays ``Δ``
        (s), :func:`single_spike_kernel`; 0 for ``Δ <= 0``. Scalar constants only."""
        b = self.base
        delay = jnp.asarray(delay, dtype=jnp.result_type(b.tau_r))
        pos = delay > 0
        d = jnp.where(pos, delay, 1.0)
        val = single_spike_kernel(d, b.tau_r, b.tau_d1, b.tau_d2, b.r, self.u_half, self.tau_u, self.n_u)
        return jnp.where(pos, val, 0.0)

    # ------------------------------------------------------------------ stepping
    def init(self, n_neurons: int) -> TwoStateS2FState:
        """Resting state for ``n_neurons`` neurons: all accumulators and ``u`` 0."""
        k = self.base.init(n_neurons)
        return TwoStateS2FState(kernel=k, u=jnp.zeros_like(k.c1))

    def trace_names(self) -> tuple[str, ...]:
        return ("dFF", "c", "u")

    def check_run(self, dt, method: str = "cleo") -> str:
        """Validate ``dt`` (s) and ``method``; every method resolves to the same update."""
        return self.base.check_run(dt, method)

    def advance(self, state: TwoStateS2FState, spikes_k, dt, ca_k=None, *, method="cleo") -> TwoStateS2FState:
        """One step ``k -> k+1``: the ``spikes_k`` (counts, ``(neurons,)``) enter at ``t_k``;
        S2F's exact update over ``dt`` (s) with the decay times multiplied by
        ``s(u_k + n_k)``; then ``u`` decays exactly with ``tau_u``. ``ca_k`` and ``method``
        are ignored."""
        b = self.base
        n = jnp.asarray(spikes_k, dtype=state.u.dtype)
        u = state.u + n
        slow = slowing(u, self.u_half, self.n_u)
        kern = kernel_step(state.kernel, n, dt, b.tau_r, b.tau_d1 * slow, b.tau_d2 * slow)
        return TwoStateS2FState(kernel=kern, u=u * jnp.exp(-dt / self.tau_u))

    def observe(self, state: TwoStateS2FState, rho_rel=1.0, ca=None) -> dict:
        """``dFF`` (dimensionless, times ``rho_rel``), the latent ``c`` and the use variable
        ``u`` (spikes) of ``state``, each ``(neurons,)``."""
        out = self.base.observe(state.kernel, rho_rel, ca)
        return {**out, "u": state.u}

    # ------------------------------------------------------------------ batching
    @staticmethod
    def stack(sensors, name: str | None = None) -> TwoStateS2F:
        """Stack scalar-constant two-state sensors into one with a leading batch axis on
        every constant, for ``eqx.filter_vmap`` (as :meth:`jaxgeci.S2F.stack`)."""
        sensors = list(sensors)
        if not sensors or not all(isinstance(s, TwoStateS2F) for s in sensors):
            raise TypeError("TwoStateS2F.stack needs a non-empty sequence of TwoStateS2F sensors.")
        base = S2F.stack([s.base for s in sensors], name=name)
        for s in sensors:
            for k in ("u_half", "tau_u", "n_u"):
                if jnp.ndim(getattr(s, k)) != 0:
                    raise ValueError(
                        f"TwoStateS2F.stack needs scalar constants; {k} has shape {jnp.shape(getattr(s, k))}."
                    )
        own = {k: jnp.stack([getattr(s, k) for s in sensors]) for k in ("u_half", "tau_u", "n_u")}
        return TwoStateS2F(base, **own)
