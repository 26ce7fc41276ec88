"""Variable projection: the per-recording nuisance terms of the fixed evaluation protocol.

For each lag on a grid within ``±max_lag`` (s), the fine unit trace is read at
``t_frames - lag`` (linear interpolation, so sub-frame timing is kept), then the *linear*
nuisance terms (amplitude scale ``rho_rel`` and the cubic B-spline baseline) are solved by
weighted least squares. The lag with the smallest residual wins.

Only frames after the burn-in carry weight, so the residual is exactly the EV protocol:
``EV = 1 - mean((dff - model)^2) / var(dff)`` over those frames.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._validation import check_number


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
