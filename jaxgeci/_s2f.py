"""The phenomenological spike-to-fluorescence ("S2F") sensor of Zhang et al. 2023.

Zhang, Rózsa, et al., *Fast and sensitive GCaMP calcium indicators for imaging neural
populations*, Nature 615:884-891 (2023); model of Wei et al. 2020 (PLoS Comput Biol 16:e1008198),
constants from the authors' ``parameter_fits.csv`` (repository ``zqwei/Spike2Fluorescence_jGCaMP8``,
the paper's supplementary parameter table), converted from ms to s.

Model (SI units; the paper states the time constants in ms)::

    c(t)  = sum_k [exp(-Δ_k/tau_d1) + r exp(-Δ_k/tau_d2)] (1 - exp(-Δ_k/tau_r)),  Δ_k = t - t_k > 0
    dFF   = Fm / (1 + exp(-beta (c - Ca0))) + F0

``c`` is a dimensionless latent "calcium" (not a concentration). See ``docs/s2f.md``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._constants import (
    check_constants,
    constant,
    constant_fields,
    constant_values,
    ConstantSpec,
    describe,
    sensor_repr,
    SIGMA_NOISE,
)
from ._sensor import LOCATIONS, Method, Sensor


S2F_BASELINES = ("paper", "rest")
_TAU_MAX = 20.0  # s; slowest published decay is 1.7 s: larger values are almost surely ms
_MS = "the paper's table is in ms, divide by 1000"


def _tau(plausible_max: float) -> ConstantSpec:
    # no lower plausible bound: a tiny tau_r is the usual way to model an instant rise
    return ConstantSpec(unit="s", upper=_TAU_MAX, upper_hint=_MS, plausible=(0.0, plausible_max))


class S2FState(eqx.Module):
    """State of an S2F population at the start of a step: the latent kernel sum split into
    four exactly-updated exponential (IIR) accumulators, each ``(neurons,)``, dimensionless.

    With ``Δ_k = t - t_k`` over past spikes::

        c1 = sum_k exp(-Δ_k/tau_d1) (1 - exp(-Δ_k/tau_r))    (fast-decay kernel term)
        p1 = sum_k exp(-Δ_k/tau_d1 - Δ_k/tau_r)               (its still-rising part)
        c2 = sum_k exp(-Δ_k/tau_d2) (1 - exp(-Δ_k/tau_r))    (slow-decay kernel term)
        p2 = sum_k exp(-Δ_k/tau_d2 - Δ_k/tau_r)

    and the latent ``c = c1 + r c2``. ``(c1 + p1, p1)`` are the two exponentials
    ``exp(-Δ/tau_d1)`` and ``exp(-Δ(1/tau_d1 + 1/tau_r))`` of the kernel's expansion; storing
    their difference ``c1`` instead of the first avoids cancellation during the rise.
    """

    c1: Float[Array, " neurons"]
    p1: Float[Array, " neurons"]
    c2: Float[Array, " neurons"]
    p2: Float[Array, " neurons"]


def kernel_step(state: S2FState, n, dt: float, tau_r, tau_d1, tau_d2) -> S2FState:
    """The exact one-step update of the S2F accumulators (shared by :class:`S2F` and
    :class:`jaxgeci.AdaptiveS2F`): the ``n`` spikes (counts, ``(neurons,)``) of the step enter
    at its start and every accumulator decays over ``dt`` (s) with the time constants
    ``tau_r``, ``tau_d1``, ``tau_d2`` (s)."""
    q = -jnp.expm1(-dt / tau_r)  # 1 - exp(-dt/tau_r), accurate for small dt
    e_r = jnp.exp(-dt / tau_r)  # = 1 - q, accurate when dt >> tau_r
    a1 = jnp.exp(-dt / tau_d1)
    a2 = jnp.exp(-dt / tau_d2)
    p1 = state.p1 + n
    p2 = state.p2 + n
    # exp(-(Δ+dt)/τ)(1 - exp(-(Δ+dt)/τr)) = a [exp(-Δ/τ)(1 - e^{-Δ/τr}) + q exp(-Δ/τ - Δ/τr)]
    c1 = a1 * (state.c1 + q * p1)
    c2 = a2 * (state.c2 + q * p2)
    return S2FState(c1=c1, p1=a1 * e_r * p1, c2=c2, p2=a2 * e_r * p2)


def _peak_delay(tau_r, tau_d1, tau_d2, r):
    """Delay ``Δ*`` (s) after a spike at which the kernel ``c(Δ)`` peaks (scalar constants).

    Each single-decay term ``exp(-Δ/τ)(1 - exp(-Δ/tau_r))`` peaks at
    ``tau_r log(1 + τ/tau_r)``; the sum peaks between the two terms' peaks. A 257-point grid
    over that bracket picks the best point, then safeguarded Newton steps on ``c'(Δ) = 0``
    (analytic derivatives) polish it to machine precision. No gradient flows through the
    location: at a maximum ``dc/dΔ = 0``, so the peak value's gradient w.r.t. the constants is
    the partial derivative at fixed ``Δ*`` (envelope theorem).
    """
    tau_r, tau_d1, tau_d2, r = (jax.lax.stop_gradient(x) for x in (tau_r, tau_d1, tau_d2, r))
    w = jnp.stack([jnp.ones_like(r), r])
    tau = jnp.stack([tau_d1, tau_d2])
    s = 1.0 / tau + 1.0 / tau_r
    peaks = tau_r * jnp.log1p(tau / tau_r)
    lo, hi = jnp.min(peaks), jnp.max(peaks)

    def deriv(d, order):
        e_slow = jnp.exp(-d / tau)
        e_fast = jnp.exp(-d * s)
        if order == 0:
            return jnp.sum(w * (e_slow - e_fast))
        if order == 1:
            return jnp.sum(w * (-e_slow / tau + s * e_fast))
        return jnp.sum(w * (e_slow / tau**2 - s**2 * e_fast))

    grid = lo + (hi - lo) * jnp.linspace(0.0, 1.0, 257, dtype=lo.dtype)
    vals = jax.vmap(lambda d: deriv(d, 0))(grid)
    j = jnp.argmax(vals)
    step = (hi - lo) / 256.0
    a, b = jnp.maximum(grid[j] - step, lo), jnp.minimum(grid[j] + step, hi)
    d = grid[j]
    for _ in range(6):
        g1, g2 = deriv(d, 1), deriv(d, 2)
        ok = g2 < 0
        newton = d - g1 / jnp.where(ok, g2, -1.0)
        d = jnp.where(ok, jnp.clip(newton, a, b), d)
    return d


# jitted: run eagerly (e.g. by the Scope at inject time) these small searches would otherwise
# dispatch hundreds of tiny ops one by one
_peak_delay_vec = jax.jit(jnp.vectorize(_peak_delay))


@eqx.filter_jit
def _dff_1ap(sensor):
    d = sensor.peak_delay_1AP
    rise = -jnp.expm1(-d / sensor.tau_r)
    c = (jnp.exp(-d / sensor.tau_d1) + sensor.r * jnp.exp(-d / sensor.tau_d2)) * rise
    return sensor.dff_of_latent(c)


def _dff_1ap_by_simulation(sensor, dt: float = 2e-4, duration: float = 2.0):
    """Peak ΔF/F (dimensionless) after one spike from rest, found by simulating it: for models
    whose single-spike kernel has no closed form (the decay adapts to the spike's own latent).
    One spike at t = 0 in every neuron, read every ``dt`` (s) for ``duration`` (s); the
    sampled maximum is below the continuous one by at most ~(dt/tau_r)^2 of it (1e-4 for a
    2 ms rise). Scalar for scalar constants, ``(neurons,)`` for per-neuron constants; eager
    (not under ``jax.jit``), like the Scope's SNR cut that uses it."""
    import numpy as np

    from ._simulate import simulate

    sizes = [np.size(v) for v in sensor.params.values() if v is not None]
    n = max(sizes, default=1)
    spikes = np.zeros((int(round(duration / dt)), n), dtype=bool)
    spikes[0] = True
    peak = jnp.max(simulate(sensor, spikes, dt, sample_every=1).dFF, axis=0)
    return peak if max(np.ndim(v) for v in sensor.params.values() if v is not None) else peak[0]


class S2F(Sensor):
    """Phenomenological spike-to-fluorescence sensor (Zhang et al. 2023, Nature 615:884)::

        c(t)  = sum_k [exp(-Δ_k/tau_d1) + r exp(-Δ_k/tau_d2)] (1 - exp(-Δ_k/tau_r)),
        dFF   = rho_rel * (Fm / (1 + exp(-beta (c - Ca0))) + F0)

    over past spikes ``t_k`` with ``Δ_k = t - t_k > 0``. Each spike adds the same kernel
    (spike counts add linearly); the saturating sigmoid read-out makes ΔF/F supralinear then
    saturating in the number of spikes. ``c`` is a dimensionless latent variable, not a
    calcium concentration, so this sensor has no ``Ca``/``Ca_rest`` and ignores ``ca``.

    Every constant is an array leaf (scalar or ``(neurons,)``), so ``jax.grad`` reaches all of
    them and ``eqx.filter_vmap`` batches over stacked parameter sets (:meth:`stack`). A
    single-decay preset is ``r = 0`` with a finite ``tau_d2`` (equal to ``tau_d1``), so it has
    the same structure as a double-decay one.

    **Time convention** (the same as :class:`jaxgeci.GECI` with ``method="accurate"``): a spike
    in step ``k`` happens at ``t_k = k dt``, the start of its step. The state at index ``j``
    (the start of step ``j``) holds the kernel at ``Δ = (j - k) dt`` exactly, so the spike is
    first visible at index ``k + 1`` (``Δ = dt``); at index ``k`` the kernel is 0 (``Δ = 0``,
    the ``1 - exp`` rise factor vanishes). The update is exact for any ``dt``: the only
    discretisation is that spike times are binned to their step's start.

    **Baseline.** With ``dff_baseline="paper"`` (default) ΔF/F is the published formula; at
    rest (``c = 0``) it equals ``Fm/(1 + exp(beta Ca0)) + F0`` (:attr:`dFF_rest`), which the fit
    made nearly, not exactly, 0: between 3e-7 and 1.3e-4 for the presets (largest for
    jGCaMP8f). ``dff_baseline="rest"`` subtracts that value so ΔF/F is exactly 0 at rest.

    Attributes:
        tau_r: rise time constant (s).
        tau_d1: first (fast) decay time constant (s).
        tau_d2: second (slow) decay time constant (s); equal to ``tau_d1`` when ``r = 0``.
        r: weight of the second decay, in [0, 1] (dimensionless).
        Fm: sigmoid amplitude (dimensionless ΔF/F).
        Ca0: sigmoid midpoint in units of the latent ``c`` (dimensionless).
        beta: sigmoid slope (1/unit of ``c``, dimensionless), > 0.
        F0: ΔF/F offset (dimensionless); makes the rest value about 0.
        sigma_noise: std of the Gaussian ΔF/F noise of one in-focus ROI (dimensionless).
        location: "cytoplasm" or "membrane" (sets the Scope's focus noise factor).
        name: display name, e.g. "jGCaMP8m".
        dff_baseline: "paper" or "rest" (see above).
    """

    small_step: ClassVar[bool] = True  # a linear update with constant coefficients

    # rise times are 1-150 ms (the slowest, GCaMP6s-TG, 133 ms): tau_r above 1 s is ms mistaken
    # for s even though it passes the 20 s ceiling of every time constant
    tau_r: Float[Array, "*neurons"] = constant(_tau(1.0))
    tau_d1: Float[Array, "*neurons"] = constant(_tau(_TAU_MAX))
    tau_d2: Float[Array, "*neurons"] = constant(_tau(_TAU_MAX))
    r: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1", sign="nonnegative", upper=1.0))
    Fm: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1"))
    Ca0: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1", sign="real"))
    beta: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1"))
    F0: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1", sign="real"))
    sigma_noise: Float[Array, "*neurons"] = constant(SIGMA_NOISE, default=0.0)
    location: str = eqx.field(static=True, kw_only=True, default="cytoplasm")
    name: str = eqx.field(static=True, kw_only=True, default="")
    dff_baseline: str = eqx.field(static=True, kw_only=True, default="paper")

    def __check_init__(self):
        own = "S2F"
        check_constants(self, own)
        if self.location not in LOCATIONS:
            raise ValueError(f"{own}.location must be one of {LOCATIONS}, got {self.location!r}.")
        if self.dff_baseline not in S2F_BASELINES:
            raise ValueError(f"{own}.dff_baseline must be one of {S2F_BASELINES}, got {self.dff_baseline!r}.")

    # ------------------------------------------------------------------ parameters
    @property
    def params(self) -> dict:
        """The constants in a flat dict (SI: s; dimensionless otherwise), plus ``sigma_noise``.
        ``S2F(**sensor.params, name=..., ...)`` and :func:`s2f` overrides use these keys."""
        return constant_values(self)

    def replace(self, **params) -> S2F:
        """A copy with some constants (keys of :attr:`params`) or ``location``, ``name``,
        ``dff_baseline`` replaced; validated like the constructor."""
        known = set(self.params) | {"location", "name", "dff_baseline"}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"replace() got unknown constant(s) {sorted(unknown)}; known: {sorted(known)}.")
        return dataclasses.replace(self, **params)

    @property
    def dFF_rest(self):
        """ΔF/F of the published formula at rest (``c = 0``): ``Fm/(1 + exp(beta Ca0)) + F0``
        (dimensionless). Subtracted when ``dff_baseline="rest"``."""
        return self.Fm * jax.nn.sigmoid(-self.beta * self.Ca0) + self.F0

    def dff_of_latent(self, c):
        """ΔF/F (dimensionless, ``rho_rel = 1``) for a latent value ``c``, with this sensor's
        baseline convention."""
        dff = self.Fm * jax.nn.sigmoid(self.beta * (c - self.Ca0)) + self.F0
        if self.dff_baseline == "rest":
            dff = dff - self.dFF_rest
        return dff

    @property
    def peak_delay_1AP(self):
        """Time (s) from a spike to the peak of its kernel (continuous time), scalar or
        ``(neurons,)``."""
        return _peak_delay_vec(self.tau_r, self.tau_d1, self.tau_d2, self.r)

    @property
    def dFF_1AP(self):
        """Peak ΔF/F (dimensionless) after one spike from rest, derived from the model: the
        read-out at the kernel's continuous-time maximum :attr:`peak_delay_1AP` (found by a
        grid plus Newton search, see ``_peak_delay``), with this sensor's baseline convention
        and ``rho_rel = 1``. On a 1 ms grid the sampled peak is at most ~0.1% lower (jGCaMP8m:
        0.6088 here vs 0.6087 sampled). Differentiable w.r.t. every constant."""
        return _dff_1ap(self)

    def kernel(self, delay):
        """The single-spike latent kernel ``c(Δ)`` (dimensionless) at delays ``Δ`` (s); 0 for
        ``Δ <= 0`` (no exp of a positive argument is evaluated, so gradients stay finite).
        Scalar constants only (use ``jax.vmap`` for per-neuron constants)."""
        delay = jnp.asarray(delay, dtype=jnp.result_type(self.tau_r))
        pos = delay > 0
        d = jnp.where(pos, delay, 1.0)
        val = (jnp.exp(-d / self.tau_d1) + self.r * jnp.exp(-d / self.tau_d2)) * -jnp.expm1(-d / self.tau_r)
        return jnp.where(pos, val, 0.0)

    def __repr__(self) -> str:
        return sensor_repr(self, name=self.name, dff_baseline=self.dff_baseline)

    def describe(self) -> str:
        """The constants with their units, one per line (see :attr:`params`)."""
        return describe(self)

    # ------------------------------------------------------------------ stepping
    def init(self, n_neurons: int) -> S2FState:
        """Resting state (no past spikes) for ``n_neurons`` neurons: all accumulators 0."""
        z = jnp.zeros((int(n_neurons),), dtype=jnp.result_type(self.tau_r))
        return S2FState(c1=z, p1=z, c2=z, p2=z)

    def trace_names(self) -> tuple[str, ...]:
        return ("dFF", "c")

    def check_run(self, dt, method: str = "cleo") -> str:
        """Validate ``dt`` (s) and ``method``. Every method gives the same, exact update (the
        kernel is a sum of exponentials), so ``"cleo"``, ``"euler"``, ``"accurate"`` and
        ``"exact"`` are all accepted and resolve to ``"accurate"``."""
        super().check_run(dt, method)  # the shared dt and method-name checks
        return Method.ACCURATE

    def advance(self, state: S2FState, spikes_k, dt, ca_k=None, *, method="cleo") -> S2FState:
        """One step ``k -> k+1`` (exact): the ``spikes_k`` (counts, ``(neurons,)``) of step ``k``
        enter at ``t_k`` and every accumulator decays over ``dt`` (s). ``ca_k`` and ``method``
        are ignored (no calcium input; the update is exact for any method)."""
        return kernel_step(state, jnp.asarray(spikes_k, dtype=state.c1.dtype), dt, self.tau_r, self.tau_d1, self.tau_d2)

    def latent(self, state: S2FState):
        """The latent ``c = c1 + r c2`` (dimensionless), ``(neurons,)``."""
        return state.c1 + self.r * state.c2

    def observe(self, state: S2FState, rho_rel=1.0, ca=None) -> dict:
        """``dFF`` (dimensionless, times ``rho_rel``) and the latent ``c`` of ``state``, each
        ``(neurons,)``. ``ca`` is ignored (the S2F model reads spikes, not calcium)."""
        c = self.latent(state)
        return {"dFF": rho_rel * self.dff_of_latent(c), "c": c}

    # ------------------------------------------------------------------ batching
    @staticmethod
    def stack(sensors, name: str | None = None) -> S2F:
        """Stack scalar-constant S2F sensors into one whose constants have a leading batch
        axis, for ``eqx.filter_vmap`` (e.g. ``eqx.filter_vmap(lambda s: simulate(s, spikes,
        dt).dFF)(S2F.stack([s2f("jGCaMP8f"), s2f("jGCaMP8m")]))``). The static fields must
        agree except ``name``, which becomes ``name`` or the names joined by "|". The result
        is only meant to be vmapped over (its constants are not per-neuron)."""
        sensors = list(sensors)
        if not sensors or not all(isinstance(s, S2F) for s in sensors):
            raise TypeError("S2F.stack needs a non-empty sequence of S2F sensors.")
        for attr in ("location", "dff_baseline"):
            vals = {getattr(s, attr) for s in sensors}
            if len(vals) > 1:
                raise ValueError(f"S2F.stack: sensors differ in {attr} ({sorted(vals)}); make them equal first.")
        for s in sensors:
            for k, v in s.params.items():
                if jnp.ndim(v) != 0:
                    raise ValueError(
                        f"S2F.stack needs scalar constants; {s.name or 'a sensor'}.{k} has shape {jnp.shape(v)}."
                    )
        label = name if name is not None else "|".join(s.name for s in sensors)
        same = [dataclasses.replace(s, name=label) for s in sensors]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *same)


CONSTANTS = tuple(k for k, spec in constant_fields(S2F).items() if not spec.observation)
"""Names of the model constants (array leaves of :class:`S2F`), in the paper's column order."""


class DecayModulatedS2F(Sensor):
    """Base of the sensors built on an S2F ``base`` whose decay the spikes modulate
    (:class:`jaxgeci.AdaptiveS2F`, :class:`jaxgeci.TwoStateS2F`): the Sensor contract's
    descriptive fields are the base's, and the single-spike peak is simulated."""

    base: eqx.AbstractVar[S2F]

    @property
    def sigma_noise(self):
        """ΔF/F noise std of one in-focus ROI (dimensionless), the base's."""
        return self.base.sigma_noise

    @property
    def location(self) -> str:
        return self.base.location

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def dFF_1AP(self):
        """Peak ΔF/F (dimensionless) after one spike from rest, ``rho_rel = 1``: found by
        simulating the spike (0.2 ms steps; the decay's modulation has no closed form), so it
        is eager, not traceable under ``jax.jit``. Used by the Scope's SNR cut."""
        return _dff_1ap_by_simulation(self)
