"""Spike inference through a sensor's static nonlinear read-out (``readout="sigmoid"``).

For sensors whose ΔF/F is a static function of a latent that is linear in the spikes (S2F:
``dff = F(c)``, ``c = kernel ⊛ spikes``; :class:`jaxgeci.AdaptiveS2F` is used through its
small-signal S2F kernel), the model of one ROI is::

    dff[j] = rho_rel * (F(c[j]) - F(0)) + baseline[j] + noise[j],   c = Kc ⊛ s

with ``Kc`` the bin-averaged, lagged latent response to one spike (the sensor's own ``c``
trace from :func:`jaxgeci.simulate`). The objective keeps the linear path's Gaussian
likelihood, exact baseline and penalty; it is not convex, so it starts from the linear
solution and runs monotone FISTA with a backtracking step (a loop over iterations only).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._infer_kernel import bin_average, single_spike_trace


def readout_of(sensor):
    """The static read-out ``F(c)`` (ΔF/F of the latent, ``rho_rel = 1``) of an S2F-family
    sensor, or ``None`` when the sensor has none."""
    for s in (sensor, getattr(sensor, "base", None)):
        if s is not None and hasattr(s, "dff_of_latent"):
            return s
    return None


def latent_kernel(sensor, frame_period_s, *, lag_s, dt, m0, size):
    """The latent single-spike kernel on the same frame offsets as the ΔF/F kernel
    (``kernel[k]`` at offset ``k - m0``), ``(size,)``."""
    c = single_spike_trace(sensor, dt, "c")
    return bin_average(c, dt, frame_period_s, lag_s=lag_s, m0=m0, size=size)


def solve_readout(y, Q, w, sigma, Khat, K2hat, z_pen, x0, base_sensor, rho, tol, max_iter, *, n_pre, n_fft):
    """Monotone FISTA with backtracking for one ROI (module docstring). Returns ``(s, fitted
    ΔF/F without baseline, iterations, converged)``."""
    T = y.shape[0]
    f_rest = base_sensor.dff_of_latent(jnp.zeros((), y.dtype))

    def pred(x):
        c = jnp.fft.irfft(jnp.fft.rfft(x, n_fft) * Khat, n_fft)[n_pre : n_pre + T]
        return rho * (base_sensor.dff_of_latent(c) - f_rest)

    def smooth(x):
        r = w * (y - pred(x))
        r = r - Q @ (Q.T @ r)
        return 0.5 * jnp.sum(r * r) / sigma**2

    vg = jax.value_and_grad(smooth)
    n_bins = x0.shape[0]
    gain = jax.vmap(jax.grad(base_sensor.dff_of_latent))

    def local_lam(x):
        # the penalty as a matched-filter z-score at the current operating point: a spike in
        # bin i costs z_pen * ||J_i|| / sigma, J_i its ΔF/F effect under the local gain F'(c)
        c = jnp.fft.irfft(jnp.fft.rfft(x, n_fft) * Khat, n_fft)[n_pre : n_pre + T]
        g2 = (rho * gain(c) * w) ** 2  # w: the likelihood's residual weights (1: Gaussian)
        full = jnp.zeros(n_fft, y.dtype).at[n_pre : n_pre + T].set(g2)
        e = jnp.fft.irfft(jnp.fft.rfft(full) * jnp.conj(K2hat), n_fft)[:n_bins]
        return z_pen * jnp.sqrt(jnp.maximum(e, 0.0)) / sigma

    def total(x, lam):
        return smooth(x) + jnp.vdot(lam, x)

    def line_search(z, fz, gz, L, lam):
        def prox(v, L):
            return jnp.maximum(v - lam / L, 0.0)

        def cond(c):
            x, L, ok, k = c
            return ~ok & (k < 60)

        def body(c):
            _, L, _, k = c
            x = prox(z - gz / L, L)
            d = x - z
            ok = smooth(x) <= fz + jnp.vdot(gz, d) + 0.5 * L * jnp.vdot(d, d) + 1e-12 * jnp.abs(fz)
            return x, jnp.where(ok, L, 2.0 * L), ok, k + 1

        x, L, _, _ = jax.lax.while_loop(cond, body, (z, L, jnp.asarray(False), 0))
        return x, L

    def cond(c):
        return (c[5] < max_iter) & ~c[6]

    def body(c):
        x, z, t, L, _, k, _ = c
        lam = local_lam(z)
        fz, gz = vg(z)
        x_new, L = line_search(z, fz, gz, 0.5 * L, lam)
        done = jnp.sqrt(jnp.mean((x_new - z) ** 2)) * L <= tol * jnp.mean(lam)
        F_x = total(x, lam)
        F_new = total(x_new, lam)
        worse = F_new > F_x
        x_acc = jnp.where(worse, x, x_new)  # monotone: never accept a worse point
        F_acc = jnp.minimum(F_new, F_x)
        t_new = jnp.where(worse, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)))
        z_new = jnp.where(worse, x, x_acc + ((t - 1.0) / t_new) * (x_acc - x))
        return x_acc, z_new, t_new, L, F_acc, k + 1, done & ~worse

    L0 = jnp.asarray(1.0, y.dtype) * (jnp.max(jnp.abs(Khat)) / sigma) ** 2
    one = jnp.asarray(1.0, y.dtype)
    x, _, _, _, _, k, done = jax.lax.while_loop(
        cond, body, (x0, x0, one, L0, jnp.asarray(0.0, y.dtype), jnp.asarray(0), jnp.asarray(False))
    )
    return x, pred(x), k, done, total(x, local_lam(x))


def batch_readout(Y, Q, W, sig, Khat, K2hat, z_pen, X0, base_sensor, rho, tol, max_iter, *, n_pre, n_fft):
    """:func:`solve_readout` over the ROIs (rows of ``Y``; the residual weights ``W``, ``sig``,
    ``X0`` and ``rho`` per ROI; the baseline basis ``Q`` shared or per ROI), ``vmap``-ed.
    Returns ``(s, fit, iterations, converged, objective)``."""

    def one(y, q, w, s, x0, r):
        return solve_readout(
            y, q, w, s, Khat, K2hat, z_pen, x0, base_sensor, r, tol, max_iter, n_pre=n_pre, n_fft=n_fft
        )

    # Q: one baseline basis for all ROIs (frames, knots), or per ROI (rois, frames, knots)
    return jax.vmap(one, in_axes=(0, 0 if Q.ndim == 3 else None, 0, 0, 0, 0))(Y, Q, W, sig, X0, rho)


BATCH_READOUT = jax.jit(batch_readout, static_argnames=("n_pre", "n_fft"))

RHO_GRID = 2.0 ** np.arange(-1.0, 2.01, 0.5)
"""Amplitudes ``rho_rel`` tried when it is estimated (0.5 to 4, factors of sqrt 2)."""
RHO_PRIOR_LOG_SD = float(np.log(2.0))
"""Log-normal prior on ``rho_rel`` around 1 (the fitted cells' median): sd of ``ln rho_rel``."""


def estimate_rho(args, x_lin, base_sensor, tol, max_iter, *, n_pre, n_fft):
    """Per-ROI ``rho_rel`` on :data:`RHO_GRID` by the posterior objective plus the log-normal
    prior, each grid point solved for at most ``max_iter`` iterations from the linear solution
    scaled by ``1/rho``. Returns ``(rho (rois,), its spikes (rois, bins))``."""
    best_val, best_rho, best_x = None, None, None
    for rho in RHO_GRID:
        rv = jnp.full(x_lin.shape[0], rho, dtype=x_lin.dtype)
        x, _, _, _, obj = BATCH_READOUT(*args, x_lin / rho, base_sensor, rv, tol, max_iter, n_pre=n_pre, n_fft=n_fft)
        val = np.asarray(obj) + 0.5 * (np.log(rho) / RHO_PRIOR_LOG_SD) ** 2
        if best_val is None:
            best_val, best_rho, best_x = val, np.full(val.shape, rho), np.asarray(x)
        else:
            better = val < best_val
            best_val = np.where(better, val, best_val)
            best_rho = np.where(better, rho, best_rho)
            best_x = np.where(better[:, None], np.asarray(x), best_x)
    return best_rho, best_x
