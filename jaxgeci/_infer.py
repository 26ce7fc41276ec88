"""Spike inference: the MAP spike rate of a recording under a fitted sensor.

Model of ROI ``r`` (frames ``j``, frame period Δ = median frame interval, s)::

    dff[j] = rho_rel * sum_i K[j - i] s[i] + baseline[j] + noise[j],   noise ~ N(0, sigma^2)

``s[i] >= 0`` is the expected number of spikes in the frame bin ``[t_i - Δ/2, t_i + Δ/2)`` on the
spike clock (the fluorescence lag removed), ``K`` the sensor's own bin-averaged single-spike
response (:func:`jaxgeci._infer_kernel.frame_kernel`, from :func:`jaxgeci.unit_trace`), the
baseline a cubic B-spline with knots at least ``min_knot_spacing_s`` apart (the fitting
protocol's slow baseline, solved exactly at every iteration). The posterior mode under an
exponential (sparsity) prior on ``s`` minimises::

    0.5 ||P (dff - rho K s)||^2 / sigma^2 + lam * sum_i s[i],   lam = penalty * ||K|| / sigma

(``P`` removes the baseline). ``penalty`` is the detection threshold of an isolated spike in
units of its matched-filter noise z-score: a spike is kept when ``K·y / (sigma ||K||)`` exceeds
``penalty``. The problem is convex; FISTA with adaptive restart solves it, with the
convolutions done by FFT (a linear filter, not a time loop). Bins before the first frame
(``pre_s``) absorb earlier spikes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from ._baseline import bspline_basis, MIN_KNOT_SPACING_S
from ._infer_kernel import frame_kernel
from ._infer_noise import NOISE_MODELS, photon_weights
from ._infer_readout import BATCH_READOUT, estimate_rho, latent_kernel, readout_of
from ._sensor import Sensor
from ._validation import check_dt, check_number


DEFAULT_PENALTY = 1.0
"""Default sparsity penalty (matched-filter z-score of an isolated spike), fixed a priori."""

NU_LINEAR = 4.0
"""Noise level (%·s^-1/2, :func:`noise_level`) from which ``readout="auto"`` uses the linear
read-out instead of the sigmoid one. Chosen by cross-validation on the ground-truth cells: at
ν = 8 the linear read-out scored higher on the other indicators' cells for every left-out
indicator, at the native noise (ν 0.3-2.4) the sigmoid one did (``benchmarks/README.md``,
"Spike inference"). Any value in (2.4, 8] gives the same choices on those cells."""


@dataclasses.dataclass(frozen=True)
class SpikeInference:
    """Result of :func:`infer_spikes` (numpy arrays; ``rois`` is absent for 1-D input).

    Attributes:
        t_frames: frame times (s), ``(frames,)``, as given.
        rate: inferred spike rate (spikes/s), ``(rois, frames)``: expected spikes in
            ``[t_i - Δ/2, t_i + Δ/2)`` (spike clock) divided by Δ.
        model: the fitted ΔF/F (dimensionless), ``(rois, frames)``.
        baseline: its slow baseline part (ΔF/F), ``(rois, frames)``.
        noise_std: the noise std used (ΔF/F), ``(rois,)``.
        n_spikes: inferred spikes over the frames, ``sum(rate) * Δ``, ``(rois,)``.
        converged: whether the solver met ``tol`` within ``max_iter``, ``(rois,)``.
        n_iter: solver iterations, ``(rois,)``.
        frame_period_s: Δ (s).
        lag_s: the fluorescence lag that was removed (s).
        rho_rel: amplitude scale used (dimensionless), ``(rois,)`` (first chunk's when chunked).
        penalty: the sparsity penalty (z-score units).
        wall_s: wall time of the solve (s), including compilation.
        readout: the read-out used, ``"linear"`` or ``"sigmoid"`` (``"auto"`` resolved).
    """

    t_frames: np.ndarray
    rate: np.ndarray
    model: np.ndarray
    baseline: np.ndarray
    noise_std: np.ndarray
    n_spikes: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    frame_period_s: float
    lag_s: float
    rho_rel: np.ndarray
    penalty: float
    wall_s: float
    readout: str


def estimate_noise_std(dff) -> np.ndarray:
    """Robust white-noise std (ΔF/F) per row of ``dff`` (``(..., frames)``): the median
    absolute deviation of the frame-to-frame differences over ``sqrt(2) * 0.6745``
    (transients are sparse, so they barely move the median)."""
    d = np.diff(np.asarray(dff, dtype=np.float64), axis=-1)
    mad = np.median(np.abs(d - np.median(d, axis=-1, keepdims=True)), axis=-1)
    return mad / (0.6744897501960817 * math.sqrt(2.0))


def noise_level(dff, frame_period_s: float) -> np.ndarray:
    """Cascade's noise level ``nu = 100 median|Δ dff| / sqrt(frame rate)`` (%·s^-1/2) per row of
    ``dff`` (ΔF/F, ``(..., frames)``); ``frame_period_s`` in s. Rupprecht et al. 2021."""
    period = check_number("frame_period_s", frame_period_s, unit="s", strict=True)
    d = np.abs(np.diff(np.asarray(dff, dtype=np.float64), axis=-1))
    return 100.0 * np.median(d, axis=-1) * math.sqrt(period)


INFERENCE_MODELS = ("s2f", "s2f-adaptive")
"""The fitted model families whose spike response the inference represents (S2F exactly; the
adaptive S2F through its small-signal kernel): :func:`jaxgeci.select_parameter_set` with
``models=INFERENCE_MODELS`` picks one of them from a results file."""


def _check_history_free(sensor):
    """Refuse sensors whose response to a spike depends on the spikes before it beyond the
    read-out (the two-state S2F slows its decay after every spike, for seconds): the inference's
    one kernel would be the fast single-spike kernel, and a burst's slow tail would be read as
    many more spikes (measured: 444 inferred for 136 true on a GCaMP6f recording)."""
    from ._s2f_twostate import TwoStateS2F

    if isinstance(sensor, TwoStateS2F):
        raise ValueError(
            f"sensor is a TwoStateS2F ({getattr(sensor, 'name', '') or 'unnamed'}): its decay slows after each "
            f"spike (u_half={np.ravel(sensor.u_half)[0]:.3g} spikes, tau_u={np.ravel(sensor.tau_u)[0]:.3g} s), which "
            f"infer_spikes' single-spike kernel cannot represent (bursts would be over-counted). Use an "
            f"S2F-family set of the same indicator, e.g. jaxgeci.fitted(name, model='s2f') or "
            f"jaxgeci.select_parameter_set(results, dataset, models={INFERENCE_MODELS!r})."
        )


def _resolve_sensor(sensor):
    if isinstance(sensor, Sensor):
        _check_history_free(sensor)
        return sensor
    if isinstance(sensor, str):
        from ._s2f_presets import s2f, S2F_PRESETS

        try:
            return s2f(sensor)
        except (KeyError, ValueError):
            raise ValueError(
                f"sensor={sensor!r} is not a known indicator; pass a jaxgeci.Sensor (e.g. from "
                f"jaxgeci.sensor_from_results) or one of {sorted(S2F_PRESETS)}."
            ) from None
    raise TypeError(f"sensor must be a jaxgeci.Sensor or an indicator name, got {type(sensor).__name__}.")


def _check_inputs(dff, t_frames):
    t = np.asarray(t_frames, dtype=np.float64)
    if t.ndim != 1 or t.size < 3:
        raise ValueError(f"t_frames must be 1-D with at least 3 frame times (s), got shape {t.shape}.")
    if not np.all(np.isfinite(t)):
        i = int(np.flatnonzero(~np.isfinite(t))[0])
        raise ValueError(f"t_frames must be finite (s); t_frames[{i}]={t[i]!r}.")
    d = np.diff(t)
    if np.any(d <= 0):
        i = int(np.flatnonzero(d <= 0)[0])
        raise ValueError(
            f"t_frames must be strictly increasing (s); t_frames[{i}]={t[i]!r} >= t_frames[{i + 1}]={t[i + 1]!r}."
        )
    period = float(np.median(d))
    jitter = np.abs(d / period - 1.0)
    if np.any(jitter > 0.1):
        i = int(np.argmax(jitter))
        raise ValueError(
            f"t_frames must be evenly spaced (within 10% of the median period {period:.4g} s); the interval after "
            f"frame {i} is {d[i]:.4g} s (resample or split the recording at gaps)."
        )
    y = np.asarray(dff, dtype=np.float64)
    if y.ndim not in (1, 2) or y.shape[-1] != t.size:
        raise ValueError(
            f"dff must be (frames,) or (rois, frames) with frames = len(t_frames) = {t.size}, got shape {y.shape}."
        )
    bad = ~np.isfinite(y)
    if np.any(bad):
        idx = np.argwhere(bad)[0]
        where = f"frame {idx[-1]}" + (f" of ROI {idx[0]}" if y.ndim == 2 else "")
        raise ValueError(
            f"dff holds {int(bad.sum())} NaN/inf value(s) (first at {where}, t={t[idx[-1]]:.4g} s); "
            "remove or interpolate them before inference."
        )
    return y, t, period


def _chunks(T: int, period: float, chunk_s, overlap_s):
    """``(L, starts, owners)``: equal chunks of ``L`` frames starting at ``starts`` (the last
    one ends at the last frame); chunk ``k`` supplies the frames ``owners[k] = (lo, hi)``."""
    if chunk_s is None:
        return T, [0], [(0, T)]
    check_number("chunk_s", chunk_s, unit="s", strict=True)
    check_number("overlap_s", overlap_s, unit="s")
    if not chunk_s > 2 * overlap_s:
        raise ValueError(f"chunk_s={chunk_s!r} s must exceed twice overlap_s={overlap_s!r} s.")
    L = int(round(chunk_s / period))
    if L >= T:
        return T, [0], [(0, T)]
    stride = L - int(round(overlap_s / period))
    starts = list(range(0, T - L, stride)) + [T - L]
    centres = [a + L / 2 for a in starts]
    cuts = [0] + [int(round((c0 + c1) / 2)) for c0, c1 in zip(centres[:-1], centres[1:])] + [T]
    return L, starts, list(zip(cuts[:-1], cuts[1:]))


def _fft_size(n: int) -> int:
    """Smallest 2^a 3^b >= n (fast FFT lengths)."""
    best = 1 << (n - 1).bit_length()
    p3 = 1
    while p3 < n:
        p2 = p3
        while p2 < n:
            p2 *= 2
        best = min(best, p2)
        p3 *= 3
    return best


def _weighted_baseline(Q, W, e):
    """The baseline fitted to ``e`` ``(rois, frames)`` under residual weights ``W``: ``Q`` is an
    orthonormal basis of the weighted baseline space, shared ``(frames, knots)`` (``W = 1``) or
    per ROI ``(rois, frames, knots)``; the projection of ``W e`` onto it, divided by ``W``."""
    we = W * e
    if Q.ndim == 2:
        return we @ Q @ Q.T / W
    return np.einsum("rlm,rm->rl", Q, np.einsum("rlm,rl->rm", Q, we)) / W


def _solve_one(y, Q, w, sigma, Khat, lam, inv_L, *, n_pre, n_bins, n_fft, max_iter, tol):
    """FISTA with adaptive restart for one ROI (see module docstring). Returns
    ``(s, fitted convolution, iterations, converged)``."""
    T = y.shape[0]

    def conv(x):
        return jnp.fft.irfft(jnp.fft.rfft(x, n_fft) * Khat, n_fft)[n_pre : n_pre + T]

    def conv_t(r):
        full = jnp.zeros(n_fft, r.dtype).at[n_pre : n_pre + T].set(r)
        return jnp.fft.irfft(jnp.fft.rfft(full) * jnp.conj(Khat), n_fft)[:n_bins]

    def resid(x):
        r = w * (y - conv(x))
        return r - Q @ (Q.T @ r)

    def grad(x):
        return -conv_t(w * resid(x)) / sigma**2

    def step(z):
        return jnp.maximum(z - inv_L * (grad(z) + lam), 0.0)

    def cond(c):
        return (c[3] < max_iter) & ~c[4]

    def body(c):
        x, z, t, k, _ = c
        x_new = step(z)
        # root-mean-square gradient mapping at z, in units of the penalty: 0 at the optimum
        done = jnp.sqrt(jnp.mean((x_new - z) ** 2)) / inv_L <= tol * lam
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        restart = jnp.vdot(z - x_new, x_new - x) > 0
        t_new = jnp.where(restart, 1.0, t_new)
        mom = jnp.where(restart, 0.0, (t - 1.0) / t_new)
        z_new = x_new + mom * (x_new - x)
        return x_new, z_new, t_new, k + 1, done

    x0 = jnp.zeros(n_bins, y.dtype)
    one = jnp.asarray(1.0, y.dtype)
    x, _, _, k, done = jax.lax.while_loop(cond, body, (x0, x0, one, jnp.asarray(0), jnp.asarray(False)))
    return x, conv(x), k, done


def _objective(y, Q, w, sigma, Khat, lam, x, *, n_pre, n_fft):
    """The posterior objective of one ROI (module docstring) at spikes ``x`` (for tests and
    the gradient benchmark)."""
    T = y.shape[0]
    pred = jnp.fft.irfft(jnp.fft.rfft(x, n_fft) * Khat, n_fft)[n_pre : n_pre + T]
    r = w * (y - pred)
    r = r - Q @ (Q.T @ r)
    return 0.5 * jnp.sum(r * r) / sigma**2 + lam * jnp.sum(x)


@functools.partial(jax.jit, static_argnames=("n_pre", "n_bins", "n_fft"))
def _solve_batch(Y, Q, w, sig, Khat, lam, inv_L, tol, max_iter, *, n_pre, n_bins, n_fft):
    """:func:`_solve_one` over the ROIs (rows of ``Y``), one compile per shape."""
    one = functools.partial(_solve_one, n_pre=n_pre, n_bins=n_bins, n_fft=n_fft, max_iter=max_iter, tol=tol)
    # Q: one baseline basis for all ROIs (frames, knots), or per ROI (rois, frames, knots)
    q_axis = 0 if Q.ndim == 3 else None
    return jax.vmap(one, in_axes=(0, q_axis, 0, 0, None, 0, 0))(Y, Q, w, sig, Khat, lam, inv_L)


def infer_spikes(
    sensor,
    dff,
    t_frames,
    *,
    lag_s: float = 0.0,
    rho_rel: float | None = None,
    penalty: float = DEFAULT_PENALTY,
    noise_std=None,
    dt: float = 1e-3,
    min_knot_spacing_s: float = MIN_KNOT_SPACING_S,
    pre_s: float = 2.0,
    readout: str = "auto",
    chunk_s: float | None = None,
    overlap_s: float = 30.0,
    max_iter: int = 3000,
    tol: float = 1e-2,
    noise: str = "gaussian",
) -> SpikeInference:
    """Infer spike rates from ΔF/F by MAP deconvolution through ``sensor`` (module docstring).

    Args:
        sensor: a scalar :class:`jaxgeci.Sensor` (e.g. ``jaxgeci.sensor_from_results(...)``)
            or an S2F indicator preset name (e.g. ``"jGCaMP8s"``).
        dff: ΔF/F (dimensionless), ``(frames,)`` or ``(rois, frames)`` (ROIs share the frame
            times and are solved together in one compiled, ``vmap``-ed call).
        t_frames: frame times (s), ``(frames,)``, strictly increasing, evenly spaced within 10%.
        lag_s: delay of the fluorescence after the spikes (s), e.g. the fitted cells' median
            ``lag_s`` in a results file; removed from the output (spike clock).
        rho_rel: amplitude of this recording relative to the sensor (dimensionless): with
            ``rho_rel = 2`` one spike gives twice the sensor's ΔF/F. Under the linear read-out
            it only scales the counts by ``1/rho_rel`` (not identifiable from ΔF/F). ``None``
            (default; sigmoid read-out): estimated per ROI (and chunk) on a grid from 0.5 to 4 by the
            posterior objective with a log-normal prior around 1 (``RHO_GRID``,
            ``RHO_PRIOR_LOG_SD`` in ``jaxgeci._infer_readout``); 1 under the linear read-out.
        penalty: sparsity penalty (>= 0), the matched-filter z-score an isolated spike must
            exceed. Fixed a priori (``DEFAULT_PENALTY``), never tuned on ground truth.
        noise_std: ΔF/F noise std, scalar or ``(rois,)``; default :func:`estimate_noise_std`.
        dt: fine step (s) of the sensor simulation that gives the kernel.
        min_knot_spacing_s: knot spacing (s) of the cubic B-spline baseline (>= 30 s).
        pre_s: extra spike bins before the first frame (s) that absorb earlier spikes.
        readout: ``"auto"`` (default): ``"sigmoid"`` for S2F-family sensors when the
            recording's noise level (median over ROIs of :func:`noise_level`) is below
            :data:`NU_LINEAR` (4 %·s^-1/2), else ``"linear"`` (at high noise the read-out's
            amplitude and curvature are poorly determined and the convex problem scores
            better). ``"linear"``: the sensor's single-spike ΔF/F response as a linear
            kernel (a convex problem; any sensor). ``"sigmoid"``: S2F-family sensors only, the
            spikes drive the sensor's latent linearly and its own static read-out maps it to
            ΔF/F (bursts on an expansive or saturating read-out are counted right); started
            from the linear solution (see ``jaxgeci._infer_readout``).
        chunk_s: for long recordings: solve chunks of this length (s) one after another
            (memory ~ rois x chunk), each with its own baseline, overlapping by ``overlap_s``
            (s); each frame is taken from the chunk whose centre is nearest, so it has at least
            ``overlap_s / 2`` of context on both sides. ``None``: the whole recording at once.
        overlap_s: overlap of consecutive chunks (s).
        max_iter: solver iteration limit per ROI (and chunk); ``n_iter`` reports the most used.
        tol: convergence tolerance: the root-mean-square proximal-gradient mapping (the
            optimality residual, 0 at the optimum) relative to the penalty ``lam``.
        noise: the likelihood. ``"gaussian"`` (default): white noise of std ``noise_std``.
            ``"photon"``: the Gaussian surrogate of two-photon (Poisson–Gaussian) noise, whose
            variance grows linearly with the signal; its two coefficients are estimated per
            ROI from a first Gaussian solution, and the problem is solved again with each
            frame weighted by its inverse variance (``jaxgeci._infer_noise``; about twice the
            time; ``rho_rel`` is kept from the first solution).

    Returns:
        :class:`SpikeInference`; ``rate`` (spikes/s) has the shape of ``dff``.

    Raises:
        ValueError: NaN/inf frames, unsorted or uneven frame times, mismatched shapes, an
            unknown indicator name, or an out-of-range option (before anything runs).
    """
    t_start = time.perf_counter()
    sensor = _resolve_sensor(sensor)
    y, t, period = _check_inputs(dff, t_frames)
    dt = check_dt(dt)
    if dt > period:
        raise ValueError(f"dt={dt!r} s must not exceed the frame period {period:.4g} s.")
    if rho_rel is not None:
        check_number("rho_rel", rho_rel, unit="1", strict=True)
    check_number("penalty", penalty, unit="z-score")
    check_number("pre_s", pre_s, unit="s")
    check_number("min_knot_spacing_s", min_knot_spacing_s, unit="s", strict=True)
    if not math.isfinite(float(lag_s)) or abs(float(lag_s)) > 1.0:
        raise ValueError(f"lag_s must be finite and within ±1 s, got {lag_s!r}.")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}.")
    check_number("tol", tol, unit="1", strict=True)
    if noise not in NOISE_MODELS:
        raise ValueError(f"noise must be one of {NOISE_MODELS}, got {noise!r}.")
    if readout not in ("auto", "linear", "sigmoid"):
        raise ValueError(f"readout must be 'auto', 'linear' or 'sigmoid', got {readout!r}.")
    if readout == "auto":
        quiet = float(np.median(noise_level(y, period))) < NU_LINEAR
        readout = "sigmoid" if readout_of(sensor) is not None and quiet else "linear"
    base_sensor = readout_of(sensor) if readout == "sigmoid" else None
    if readout == "sigmoid" and base_sensor is None:
        raise ValueError(
            f"readout='sigmoid' needs an S2F-family sensor (a latent with a static read-out); got "
            f"{type(sensor).__name__}: use readout='linear'."
        )
    squeeze = y.ndim == 1
    Y = y[None] if squeeze else y
    R, T = Y.shape
    if noise_std is None:
        sig = estimate_noise_std(Y)
    else:
        sig = np.broadcast_to(np.asarray(noise_std, dtype=np.float64), (R,)).copy()
    if np.any(~np.isfinite(sig)) or np.any(sig <= 0):
        raise ValueError(
            f"noise_std must be finite and > 0 (ΔF/F), got {sig!r}"
            + (" (estimated: is the trace constant?)" if noise_std is None else "")
            + "."
        )

    n_pre = int(math.ceil(float(pre_s) / period))
    L, starts, owners = _chunks(T, period, chunk_s, overlap_s)
    n_bins = n_pre + L
    K, m0 = frame_kernel(sensor, period, lag_s=float(lag_s), dt=dt, max_frames=n_bins)
    K = K * (1.0 if rho_rel is None else float(rho_rel))
    n_fft = _fft_size(n_bins + K.size)
    kc = np.zeros(n_fft)
    for k, v in enumerate(K):  # kernel offset m = k - m0 stored at m mod n_fft (circular)
        kc[(k - m0) % n_fft] += v
    Khat = np.fft.rfft(kc)
    knorm = float(np.sqrt(np.sum(K**2)))
    lam = float(penalty) * knorm / sig
    inv_L = sig**2 / float(np.max(np.abs(Khat)) ** 2)

    if base_sensor is not None:
        Kc = latent_kernel(sensor, period, lag_s=float(lag_s), dt=dt, m0=m0, size=K.size)
        kcc = np.zeros(n_fft)
        for k, v in enumerate(Kc):
            kcc[(k - m0) % n_fft] += v
        Kc_hat, Kc2_hat = np.fft.rfft(kcc), np.fft.rfft(kcc**2)
    f = lambda a: jnp.asarray(a, dtype=float)
    rate, model, base = np.zeros((R, T)), np.zeros((R, T)), np.zeros((R, T))
    n_iter, done = np.zeros(R, dtype=np.int64), np.ones(R, dtype=bool)
    rho_out = np.full((R, len(starts)), 1.0 if rho_rel is None else float(rho_rel))
    for k, (a, (lo, hi)) in enumerate(zip(starts, owners)):  # equal-length chunks: one compile
        seg = slice(a, a + L)
        Q, _ = np.linalg.qr(bspline_basis(t[seg], t[a], t[a + L - 1], min_knot_spacing_s))

        def solve(Q, W, estimate):
            s, conv, it, dn = _solve_batch(
                f(Y[:, seg]), f(Q), f(W), f(sig), jnp.asarray(Khat), f(lam), f(inv_L), float(tol), int(max_iter),
                n_pre=n_pre, n_bins=n_bins, n_fft=n_fft,
            )  # fmt: skip
            if base_sensor is None:
                return s, conv, np.asarray(it), dn
            args = (f(Y[:, seg]), f(Q), f(W), f(sig), jnp.asarray(Kc_hat), jnp.asarray(Kc2_hat), float(penalty))
            if estimate:
                rho_out[:, k], s = estimate_rho(
                    args, s, base_sensor, float(tol), min(int(max_iter), 300), n_pre=n_pre, n_fft=n_fft
                )
            s, conv, it2, dn, _ = BATCH_READOUT(
                *args, f(s), base_sensor, f(rho_out[:, k]), float(tol), int(max_iter), n_pre=n_pre, n_fft=n_fft
            )
            return s, conv, np.asarray(it) + np.asarray(it2), dn

        W = np.ones((R, L))
        s, conv, it, dn = solve(Q, W, rho_rel is None)
        if noise == "photon":
            conv = np.asarray(conv, dtype=np.float64)
            e = Y[:, seg] - conv
            W = photon_weights(e - _weighted_baseline(Q, W, e), conv)
            # the weighted problem's baseline space: an orthonormal basis of W Q per ROI, so
            # the residual w (y - model - Q c) is profiled over c exactly (weighted least squares)
            Q = np.linalg.qr(W[:, :, None] * Q[None])[0]
            s, conv, it2, dn = solve(Q, W, False)
            it = it + it2
        conv = np.asarray(conv, dtype=np.float64)
        b = _weighted_baseline(Q, W, Y[:, seg] - conv)
        keep = slice(lo - a, hi - a)
        rate[:, lo:hi] = np.asarray(s)[:, n_pre:][:, keep] / period
        model[:, lo:hi] = (conv + b)[:, keep]
        base[:, lo:hi] = b[:, keep]
        n_iter = np.maximum(n_iter, np.asarray(it))
        done &= np.asarray(dn)
    out = dict(
        rate=rate, model=model, baseline=base, noise_std=sig, n_spikes=rate.sum(axis=1) * period,
        converged=done, n_iter=n_iter,
    )  # fmt: skip
    if squeeze:
        out = {k: v[0] for k, v in out.items()}
    return SpikeInference(
        t_frames=t,
        frame_period_s=period,
        lag_s=float(lag_s),
        rho_rel=rho_out[0, 0] if squeeze else rho_out[:, 0],
        penalty=float(penalty),
        wall_s=time.perf_counter() - t_start,
        readout=readout,
        **out,
    )
