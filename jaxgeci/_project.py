"""Model prediction for a recording under the fixed evaluation protocol.

1. ``unit_trace``: simulate the sensor (``rho_rel = 1``) on a fine grid ``t_k = k dt`` driven by
   the recording's spikes, reading ΔF/F at every step (the same ``init``/``advance``/``readout``
   physics as :func:`jaxgeci.simulate`).
2. ``project``: for each lag on a grid within ``±max_lag`` (s), read the fine trace at
   ``t_frames - lag`` (linear interpolation, so sub-frame timing is kept), then solve the
   *linear* nuisance terms (amplitude scale ``rho_rel`` and the cubic B-spline baseline) by
   weighted least squares (variable projection). The lag with the smallest residual wins.

Only frames after the burn-in carry weight, so the residual is exactly the EV protocol:
``EV = 1 - mean((dff - model)^2) / var(dff)`` over those frames.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from . import _driver as driver
from ._baseline import bspline_basis, MIN_KNOT_SPACING_S
from ._recording import DEFAULT_BURN_IN_S, Recording
from ._validation import check_dt, check_number


class RecordingBatch(eqx.Module):
    """Recordings padded to common shapes (leading axis = cell), ready for ``vmap``.

    Attributes:
        spikes: spike counts on the fine grid, ``(cells, n_steps)``; step ``k`` covers
            ``[k dt, (k+1) dt)`` (s).
        t_frames: frame times (s), ``(cells, frames)`` (padding repeats the last time).
        dff: ΔF/F, ``(cells, frames)`` (padding 0).
        weight: 1 on frames after the burn-in, 0 elsewhere (and on padding), ``(cells, frames)``.
        basis: B-spline baseline design matrices, ``(cells, frames, n_basis)``.
        basis_mask: 1 for real basis columns, 0 for padding, ``(cells, n_basis)``.
        dt: fine time step (s).
        names: the recordings' names.
    """

    spikes: Float[Array, "cells steps"]
    t_frames: Float[Array, "cells frames"]
    dff: Float[Array, "cells frames"]
    weight: Float[Array, "cells frames"]
    basis: Float[Array, "cells frames basis"]
    basis_mask: Float[Array, "cells basis"]
    dt: float = eqx.field(static=True)
    names: tuple = eqx.field(static=True)

    @property
    def n_cells(self) -> int:
        return int(self.spikes.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.spikes.shape[1])


def make_batch(
    recordings,
    dt: float = 1e-3,
    *,
    burn_in_s: float = DEFAULT_BURN_IN_S,
    max_lag_s: float = 0.05,
    min_knot_spacing_s: float = MIN_KNOT_SPACING_S,
    isolated_weight: float = 0.0,
) -> RecordingBatch:
    """Pad recordings to one batch on a fine grid of step ``dt`` (s).

    ``isolated_weight`` (λ >= 0) multiplies the weight of the frames around isolated spikes
    (:meth:`Recording.isolated_spike_frames`) by ``1 + λ`` (a fidelity-aware training loss);
    0 (default) is the protocol's uniform weight.

    The grid covers ``[0, max(t_frames) + max_lag_s]`` plus two steps, so every lagged read
    lies inside it. Spike ``t`` goes to step ``floor(t/dt)`` (as
    :meth:`jaxgeci.SpikeTrains.from_times`).
    """
    recs = [r if isinstance(r, Recording) else Recording.create(*r) for r in recordings]
    if not recs:
        raise ValueError("make_batch needs at least one recording.")
    dt = check_dt(dt)
    check_number("max_lag_s", max_lag_s, unit="s")
    fastest = max(recs, key=lambda r: r.frame_rate_hz)
    if dt > 1.0 / fastest.frame_rate_hz:
        raise ValueError(
            f"dt={dt!r} s is longer than the frame period of {fastest.name!r} "
            f"({1.0 / fastest.frame_rate_hz:.4g} s at {fastest.frame_rate_hz:g} Hz): the fine grid "
            "must resolve sub-frame spike timing; use dt <= 2 ms (1 ms for jGCaMP8)."
        )
    t_max = max(r.duration_s for r in recs)
    n_steps = int(np.ceil((t_max + abs(max_lag_s)) / dt)) + 2
    n_frames = max(r.n_frames for r in recs)
    bases = [bspline_basis(r.t_frames, r.t_frames[0], r.t_frames[-1], min_knot_spacing_s) for r in recs]
    n_basis = max(b.shape[1] for b in bases)
    C = len(recs)
    spikes = np.zeros((C, n_steps))
    t = np.zeros((C, n_frames))
    y = np.zeros((C, n_frames))
    w = np.zeros((C, n_frames))
    B = np.zeros((C, n_frames, n_basis))
    bm = np.zeros((C, n_basis))
    for i, (r, b) in enumerate(zip(recs, bases)):
        k = np.floor(r.spike_times / dt + 1e-9).astype(np.int64)
        np.add.at(spikes[i], k, 1.0)
        T = r.n_frames
        t[i, :T] = r.t_frames
        t[i, T:] = r.t_frames[-1]
        y[i, :T] = r.dff
        w[i, :T] = r.eval_mask(burn_in_s) * (1.0 + isolated_weight * r.isolated_spike_frames())
        B[i, :T, : b.shape[1]] = b
        bm[i, : b.shape[1]] = 1.0
    f = lambda a: jnp.asarray(a, dtype=float)
    return RecordingBatch(
        spikes=f(spikes),
        t_frames=f(t),
        dff=f(y),
        weight=f(w),
        basis=f(B),
        basis_mask=f(bm),
        dt=dt,
        names=tuple(r.name for r in recs),
    )


def unit_trace(sensor, spikes, dt: float, method: str = "accurate", unroll: int = 8):
    """ΔF/F of one neuron with ``rho_rel = 1`` at every fine step, ``(n_steps,)``: entry ``k``
    is the state at the start of step ``k`` (time ``k dt``, s), the same loop as
    :func:`jaxgeci.simulate` with ``sample_every=1``.

    Args:
        sensor: any :class:`jaxgeci.Sensor` (constants scalar for this neuron).
        spikes: spike counts per step, ``(n_steps,)``.
        dt: step (s), concrete.
        method: integration method (``"accurate"`` is designed for dt = 1 ms).
    """
    resolved = sensor.check_run(dt, method)  # at trace time: dt, the method's name, Euler stability
    _, obs = driver.integrate(
        sensor,
        sensor.init(1),
        driver.DenseSpikes(spikes[:, None]),
        spikes.shape[0],
        dt,
        method=resolved,
        schedule=driver.ReadEvery(1),
        read=driver.Observe(1.0, ("dFF",)),
        gradient=driver.Direct(),
        unroll=unroll,
    )
    return obs["dFF"][:, 0]


def unit_trace_segmented(
    sensor, spikes, dt: float, method: str = "accurate", *, segment_steps: int, warmup_steps: int, unroll: int = 2
):
    """:func:`unit_trace` computed as parallel segments, for fast gradients on CPU (see
    ``jaxgeci._driver.integrate_segmented``): the values equal the sequential trace (up to
    round-off); the gradient omits only the dependence of each warm-up's initial state on the
    constants, whose effect decays over the warm-up (``warmup_steps * dt`` s)."""
    resolved = sensor.check_run(dt, method)
    obs = driver.integrate_segmented(
        sensor,
        sensor.init(1),
        driver.DenseSpikes(spikes[:, None]),
        spikes.shape[0],
        dt,
        method=resolved,
        read=driver.Observe(1.0, ("dFF",)),
        segment_steps=segment_steps,
        warmup_steps=warmup_steps,
        unroll=unroll,
    )
    return obs["dFF"][:, 0]


def _interp(trace, times, dt):
    x = times / dt
    i = jnp.clip(jnp.floor(x), 0, trace.shape[0] - 2)
    w = jnp.clip(x - i, 0.0, 1.0)
    i = i.astype(jnp.int32)
    return trace[i] * (1.0 - w) + trace[i + 1] * w


class Projection(eqx.Module):
    """Per-recording nuisance fit (all arrays for one recording).

    Attributes:
        sse: weighted residual sum of squares at the best lag.
        ev: explained variance ``1 - sse / (n var(dff))`` over the weighted frames.
        rho_rel: amplitude scale of the unit-``rho_rel`` model (dimensionless).
        lag_s: lag (s); positive = model delayed (fluorescence after spikes).
        baseline_coef: B-spline coefficients, ``(n_basis,)``.
        sse_per_lag: residual for every lag of the grid, ``(lags,)``.
    """

    sse: Array
    ev: Array
    rho_rel: Array
    lag_s: Array
    baseline_coef: Array
    sse_per_lag: Array


def _weighted_var_n(y, w):
    n = jnp.sum(w)
    mean = jnp.sum(w * y) / n
    return jnp.sum(w * (y - mean) ** 2)


def project(trace, t_frames, dff, weight, basis, basis_mask, lags, dt: float) -> Projection:
    """Solve the nuisance terms of one recording for every lag in ``lags`` (s) and keep the
    best (see module docstring). Differentiable in ``trace``."""
    ridge = 1e-9
    Bw = basis * weight[:, None]
    BtB = Bw.T @ basis + jnp.diag(ridge + (1.0 - basis_mask))
    Bty = Bw.T @ dff
    yty = jnp.sum(weight * dff**2)

    def one(lag):
        m = _interp(trace, t_frames - lag, dt)
        norm = jnp.sqrt(jnp.sum(weight * m**2) + 1e-30)
        m = m / norm
        mtm = jnp.sum(weight * m * m)
        Btm = Bw.T @ m
        mty = jnp.sum(weight * m * dff)
        G = jnp.block([[jnp.reshape(mtm + ridge, (1, 1)), Btm[None, :]], [Btm[:, None], BtB]])
        b = jnp.concatenate([mty[None], Bty])
        c = jnp.linalg.solve(G, b)
        sse = yty - jnp.dot(b, c)
        return sse, c[0] / norm, c[1:]

    sse, rho, coef = jax.vmap(one)(lags)
    best = jnp.argmin(sse)
    sst = _weighted_var_n(dff, weight)
    s = jnp.min(sse)
    return Projection(
        sse=s, ev=1.0 - s / sst, rho_rel=rho[best], lag_s=lags[best], baseline_coef=coef[best], sse_per_lag=sse
    )


def model_frames(trace, t_frames, basis, proj: Projection, dt: float):
    """The fitted model at the frame times: ``rho_rel * unit(t - lag) + baseline`` (ΔF/F)."""
    return proj.rho_rel * _interp(trace, t_frames - proj.lag_s, dt) + basis @ proj.baseline_coef


def lag_grid(max_lag_s: float = 0.05, step_s: float = 0.005) -> np.ndarray:
    """Lags (s) from ``-max_lag_s`` to ``+max_lag_s`` in steps of ``step_s`` (incl. 0)."""
    check_number("max_lag_s", max_lag_s, unit="s")
    check_number("lag_step_s", step_s, unit="s", strict=True)
    n = int(round(max_lag_s / step_s))
    return np.arange(-n, n + 1) * (max_lag_s / max(n, 1))
