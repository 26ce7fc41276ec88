"""Calibrate the measurement model on one recording: photons per frame, extra white noise,
spike-amplitude jitter, slow drift, neuropil ratio and photobleaching.

Moment estimators on the residual ``dff - model`` (``model``: the fitted noise-free prediction,
e.g. :func:`jaxgeci.evaluate`'s), NumPy on the host (a few ms per recording); the estimates feed
:func:`synthesize_dff`, which draws synthetic ΔF/F traces from them and a seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._measurement import ar1, ou_drift, running_percentile
from ._noise import CleoGaussianNoise, NAOMI_GAIN_MEAN, NAOMI_GAIN_VAR, PhotonNoise


ENF = 1.0 + NAOMI_GAIN_VAR / NAOMI_GAIN_MEAN**2
"""Excess noise factor of the PMT assumed when converting noise to photons (NAOMi's: 1.23)."""


@dataclasses.dataclass(frozen=True)
class MeasurementCalibration:
    """Measurement parameters estimated from one recording (ΔF/F units unless stated).

    Attributes:
        photons: resting detected photons per frame (photons): ``ENF / v1`` with ``v1`` the
            slope of the frame-to-frame noise variance against ``1 + model``.
        white_sigma: extra signal-independent white noise std (neuropil and read noise).
        amplitude_cv: per-spike amplitude jitter (coefficient of variation, dimensionless): the
            likelihood estimate with ``jitter_var``, else from the growth of the residual
            variance with ``model²``.
        drift_sigma: stationary std of the slow (OU) drift.
        drift_tau: its correlation time (s).
        neuropil_ratio: median ``f_neuropil / f_raw`` (``nan`` without those arrays).
        bleach_rate: photobleaching rate (1/s) from the raw fluorescence's running 20th
            percentile (0 without ``f_raw``).
        frame_rate: frame rate (Hz).
        noise_level_sd, gain_sd, offset_sd: nonstationarity between the two halves of the
            calibration data: std of the log noise level, of the log amplitude gain and of the
            baseline offset (ΔF/F), each ``|difference between halves| / √2``. A synthetic draw
            scales its noise level and amplitude by ``exp(sd·z)`` and shifts its baseline by
            ``offset_sd·z`` (one ``z ~ N(0, 1)`` each per draw): the error of extrapolating the
            calibration to new frames. ``amplitude_cv_sd``: the same for the log amplitude
            CV (estimates below 0.05 count as 0.05); a draw's CV is ``amplitude_cv exp(sd z)``.
            ``drift_sigma_sd``: the same for the log drift std (a draw's drift std is
            ``drift_sigma exp(sd z)``). With ``jitter_var`` (see :func:`calibrate_measurement`)
            both CV and drift spreads are at least their block-bootstrap sampling spreads, and
            the CV's at least ``|log(c_top / amplitude_cv)|``, ``c_top`` the CV that the model's
            top decile alone asks for (the variance model's shape error).
    """

    photons: float
    white_sigma: float
    amplitude_cv: float
    drift_sigma: float
    drift_tau: float
    neuropil_ratio: float
    bleach_rate: float
    frame_rate: float
    noise_level_sd: float = 0.0
    gain_sd: float = 0.0
    offset_sd: float = 0.0
    amplitude_cv_sd: float = 0.0
    drift_sigma_sd: float = 0.0

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


MAX_AMPLITUDE_CV = 2.0
"""Upper bound of the likelihood estimate of the per-spike amplitude CV (dimensionless)."""


def _nnls(a, b):
    """Least squares with non-negative coefficients for a few columns (exhaustive active sets)."""
    best, best_x = np.inf, np.zeros(a.shape[1])
    for k in range(1, a.shape[1] + 1):
        for cols in itertools.combinations(range(a.shape[1]), k):
            x, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
            if np.all(x >= 0):
                r = float(np.sum((a[:, cols] @ x - b) ** 2))
                if r < best:
                    best, best_x = r, np.zeros(a.shape[1])
                    best_x[list(cols)] = x
    return best_x


def _box(x, n):
    n = max(1, int(n))
    k = np.ones(n) / n
    pad = np.pad(x, (n // 2, n - 1 - n // 2), mode="edge")
    return np.convolve(pad, k, mode="valid")


def _binned(m, values, n_bins, stat):
    edges = np.quantile(m, np.linspace(0, 1, n_bins + 1))
    out_m, out_v = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (m >= lo) & (m <= hi)
        if sel.sum() >= 20:
            out_m.append(np.median(m[sel]))
            out_v.append(stat(values[sel]))
    return np.array(out_m), np.array(out_v)


def _amplitude_cv(r, m, ov, v1):
    """Per-spike amplitude CV from the residual variance excess in the model's top 10 % over rest
    (beyond the shot noise's growth ``v1 * Δmodel``), divided by model² times the kernel overlap."""
    rest = m <= np.quantile(m, 0.5)
    top = m >= np.quantile(m, 0.9)
    excess = float(np.var(r[top]) - np.var(r[rest]) - v1 * (np.mean(m[top]) - np.mean(m[rest])))
    denom = float(np.mean((m[top] - np.median(m[rest])) ** 2 * ov[top]))
    return float(np.clip(math.sqrt(max(excess, 0.0) / denom), 0.0, 1.0)) if denom > 0 else 0.0


def _variogram_ou(x, sel, fr):
    """``(sigma², T)`` of the OU variogram ``sigma² (1 - exp(-lag/T))`` fitted (relative least
    squares, T on a log grid 0.5-120 s) to ``½ mean (x[i+L] - x[i])²`` over pairs of selected
    frames at lags of 2, 4, ..., 64 s shorter than 40 % of the trace (fr: frame rate, Hz);
    ``(nan, 0)`` with fewer than 2 lags."""
    lags, gam = [], []
    for lag_s in (2.0, 4.0, 8.0, 16.0, 32.0, 64.0):
        n = round(lag_s * fr)
        if n >= 0.4 * x.size:
            break
        ok = sel[n:] & sel[:-n]
        if ok.sum() > 20:
            lags.append(lag_s)
            gam.append(0.5 * float(np.mean((x[n:][ok] - x[:-n][ok]) ** 2)))
    if len(lags) < 2:
        return float("nan"), 0.0
    lags, gam = np.array(lags), np.maximum(np.array(gam), 1e-24)
    best = (np.inf, float("nan"), 0.0)
    for big_t in np.geomspace(0.5, 120.0, 60):
        f = (1.0 - np.exp(-lags / big_t)) / gam
        s2 = float(np.sum(f) / np.sum(f * f))
        err = float(np.sum((s2 * f - 1.0) ** 2))
        if err < best[0]:
            best = (err, s2, float(big_t))
    return best[1], best[2]


def _block_bootstrap_weights(t, block_s, n_boot, seed):
    """Rubin's Bayesian block bootstrap: ``(n_boot, T)`` frame weights, each replicate one
    Dirichlet(1, ..., 1) draw (unnormalised Gamma(1) weights) per block of ``block_s`` s of the
    frame times ``t`` (s), from NumPy's ``default_rng(seed)`` (deterministic)."""
    block = np.floor((t - t[0]) / float(block_s)).astype(int)
    return np.random.default_rng(seed).gamma(1.0, 1.0, (n_boot, int(block.max()) + 1))[:, block]


def _bootstrap_log_std_sd(x, sel, t, *, block_s=10.0, n_boot=32, seed=0):
    """Std over Bayesian block-bootstrap replicates (as :func:`bootstrap_amplitude_cv`) of the log
    of the weighted std of ``x`` over the frames ``sel``."""
    wb = _block_bootstrap_weights(t, block_s, n_boot, seed) * sel
    mu = (wb @ x) / wb.sum(axis=1)
    var = (wb @ (x * x)) / wb.sum(axis=1) - mu * mu
    return float(np.std(0.5 * np.log(np.maximum(var, 1e-24))))


def fit_amplitude_cv(
    residual, white_var, jitter_var, *, covariate=None, weights=None, steps: int = 400, learning_rate=0.05
):
    """Maximum-likelihood per-spike amplitude CV under the Gaussian surrogate, batched over leading axes.

    Each frame's residual ``dff - model`` is modelled as ``N(mu + beta covariate, white_var +
    slow_var + cv² jitter_var)``: a mean misfit (``covariate``, e.g. the model above rest, so a
    gain error is not taken for variance); the white (shot and read) noise variance, known from
    the frame differences; a constant slow (drift) variance; and the per-spike gain term, whose
    variance per unit CV² is ``jitter_var`` (from simulating the sensor with jittered spike
    weights, so the sensor's nonlinearity and the spikes' overlap are included). The frames enter
    as independent: a composite likelihood, whose maximum is consistent but whose curvature is not
    the uncertainty (see :func:`bootstrap_amplitude_cv`). ``mu``, ``beta``, ``log slow_var`` and
    ``log cv²`` are fitted with Optax's Adam (``steps`` steps of ``learning_rate``, in log units
    for the variances); ``weights`` weight each frame's log density.

    Args:
        residual: ``dff - model`` (ΔF/F), ``(..., T)``.
        white_var: white noise variance per frame ((ΔF/F)²), ``(..., T)``.
        jitter_var: prediction variance per frame for a per-spike gain CV of 1 ((ΔF/F)²), ``(..., T)``.
        covariate: regressor of the residual's mean (ΔF/F), ``(..., T)``; default none.
        weights: non-negative frame weights (dimensionless), ``(..., T)``; default 1.

    Returns:
        ``(cv, slow_var, mu)`` (dimensionless, (ΔF/F)², ΔF/F), each of shape ``(...)``.
    """
    r = jnp.asarray(residual, dtype=float)
    wv = jnp.broadcast_to(jnp.asarray(white_var, dtype=float), r.shape)
    jv = jnp.broadcast_to(jnp.asarray(jitter_var, dtype=float), r.shape)
    w = jnp.ones_like(r) if weights is None else jnp.broadcast_to(jnp.asarray(weights, dtype=float), r.shape)
    x = jnp.zeros_like(r) if covariate is None else jnp.broadcast_to(jnp.asarray(covariate, dtype=float), r.shape)
    if r.ndim == 0 or r.shape[-1] < 10:
        raise ValueError(f"residual must have at least 10 frames on its last axis, got shape {r.shape}.")
    if r.ndim > 1:
        fit = lambda a, b, c, d, e: fit_amplitude_cv(a, b, c, covariate=d, weights=e, steps=steps,
                                                     learning_rate=learning_rate)  # fmt: skip
        return jax.vmap(fit)(r, wv, jv, x, w)
    return _fit_cv_one(r, wv, jv, x, w, steps, learning_rate)


@eqx.filter_jit
def _fit_cv_one(r, wv, jv, x, w, steps, learning_rate):
    w = w / jnp.sum(w)
    scale = jnp.sqrt(jnp.sum(w * r * r)) + 1e-12
    xs = x / (jnp.sqrt(jnp.sum(w * x * x)) + 1e-12)  # the mean's parameters in units of scale

    def nll(p):
        var = wv + jnp.exp(p[1]) + jnp.exp(p[2]) * jv
        z = r - (p[0] + p[3] * xs) * scale
        return 0.5 * jnp.sum(w * (z * z / var + jnp.log(var)))

    p0 = jnp.array([0.0, jnp.log(0.1 * scale**2), jnp.log(0.1), 0.0])
    opt = optax.adam(learning_rate)

    def body(_, carry):
        p, state = carry
        g = jax.grad(nll)(p)
        upd, state = opt.update(g, state, p)
        return optax.apply_updates(p, upd), state

    p, _ = jax.lax.fori_loop(0, steps, body, (p0, opt.init(p0)))
    return jnp.exp(0.5 * p[2]), jnp.exp(p[1]), p[0] * scale


def bootstrap_amplitude_cv(
    residual, white_var, jitter_var, t_frames, *, covariate=None, block_s=10.0, n_boot=32, seed=0
):
    """Amplitude CV by likelihood and its sampling spread by a Bayesian block bootstrap.

    The frames are cut into blocks of ``block_s`` (s; longer than an event, so the residual's
    correlation stays within blocks); each of ``n_boot`` replicates weights the blocks by
    Dirichlet(1, ..., 1) draws (Rubin's Bayesian bootstrap, NumPy ``default_rng(seed)``:
    deterministic) and refits :func:`fit_amplitude_cv`, all replicates in one batch.
    ``residual``, ``white_var``, ``jitter_var``, ``covariate``: as in :func:`fit_amplitude_cv`,
    ``(T,)``; ``t_frames``: frame times (s), ``(T,)``.

    Returns:
        ``(cv, cv_boot)``: the unweighted estimate (dimensionless) and the replicates ``(n_boot,)``.
    """
    t = np.asarray(t_frames, float)
    w = np.concatenate([np.ones((1, t.size)), _block_bootstrap_weights(t, block_s, n_boot, seed)], axis=0)
    args = [np.broadcast_to(np.asarray(a, float), w.shape) for a in (residual, white_var, jitter_var)]
    x = None if covariate is None else np.broadcast_to(np.asarray(covariate, float), w.shape)
    cv, _, _ = fit_amplitude_cv(*args, covariate=x, weights=w)
    cv = np.asarray(cv)
    return float(cv[0]), cv[1:]


def calibrate_measurement(
    dff,
    model,
    t_frames,
    *,
    f_raw=None,
    f_neuropil=None,
    overlap=None,
    jitter_var=None,
    slow_s: float = 1.0,
    n_bins: int = 12,
) -> MeasurementCalibration:
    """Estimate the measurement parameters of one recording (see :class:`MeasurementCalibration`).

    Args:
        dff: recorded ΔF/F, ``(T,)``.
        model: the noise-free prediction at the frames (sensor, amplitude, lag, baseline), ``(T,)``.
        t_frames: frame times (s), ``(T,)``.
        f_raw, f_neuropil: raw ROI and neuropil fluorescence (optional), ``(T,)``.
        overlap: per frame ``Σk_i² / (Σk_i)²`` of the spikes' kernels (:func:`spike_overlap`),
            which converts event-level amplitude variance to per-spike CV (default 1).
        jitter_var: per frame, the variance of the prediction under per-spike gains of CV 1
            ((ΔF/F)², ``(T,)``; e.g. from simulating the sensor with jittered spike weights). When
            given, ``amplitude_cv`` is the likelihood estimate (:func:`bootstrap_amplitude_cv`)
            and ``amplitude_cv_sd`` its block-bootstrap spread (std of log CV, CVs below 0.05
            counted as 0.05); otherwise the moment estimator and the two halves' difference.
        slow_s: the fast/slow split of the residual (s): a box filter of this length.
        n_bins: quantile bins of ``model`` for the mean–variance fits.
    """
    y, m, t = (np.asarray(a, dtype=np.float64) for a in (dff, model, t_frames))
    if not (y.ndim == m.ndim == t.ndim == 1 and y.shape == m.shape == t.shape):
        raise ValueError(f"dff, model and t_frames must be 1-D of one length, got {y.shape}, {m.shape}, {t.shape}.")
    if y.size < 100:
        raise ValueError(f"calibration needs at least 100 frames, got {y.size}.")
    fr = 1.0 / float(np.median(np.diff(t)))
    r = y - m
    n_slow = max(1, round(slow_s * fr))
    slow = _box(r, n_slow)
    # frame-to-frame noise: robust variance of first differences (white part), binned by model
    d = np.diff(r) / math.sqrt(2.0)
    mm = 0.5 * (m[1:] + m[:-1])
    bm, bv = _binned(mm, d, n_bins, lambda v: (np.median(np.abs(v)) / 0.6745) ** 2)
    coef = _nnls(np.column_stack([np.ones_like(bm), 1.0 + bm]), bv)
    v0, v1 = float(coef[0]), float(coef[1])
    if v1 <= 0:  # no signal dependence seen: all the white noise is shot noise at rest
        v1, v0 = float(np.median(bv)), 0.0
    photons = ENF / v1
    # slow residual: its variance at rest (model in the bottom half) is the drift's. The residual's
    # variance excess in the top 10 % of the model is the amplitude jitter: per-spike gains of CV c give an event
    # variance c² Σk_i² (k_i: the spikes' kernels) = c² model² * overlap, overlap = Σk²/(Σk)²
    # (1 for isolated spikes, 1/n for n coincident ones)
    ov = np.ones_like(m) if overlap is None else np.asarray(overlap, dtype=np.float64)
    rest = m <= np.quantile(m, 0.5)
    drift_var = float(np.var(slow[rest]))
    amplitude_cv = _amplitude_cv(r, m, ov, v1)
    step = max(1, round(0.5 * fr))
    xs = slow[::step][rest[::step]] if rest[::step].sum() > 10 else slow[::step]
    rho = float(np.corrcoef(xs[:-1], xs[1:])[0, 1]) if xs.size > 3 else 0.0
    tau = float(np.clip(-(step / fr) / math.log(min(max(rho, 1e-3), 0.999)), 0.5, 120.0))
    # slower components: the OU variogram sigma² (1 - exp(-lag/T)) fitted at lags 2-64 s (rest
    # pairs); where it finds T > 2 s, its T and sill replace the lag-0.5 s estimate
    sill, t_long = _variogram_ou(slow, rest, fr)
    if t_long > 2.0:
        tau, drift_var = t_long, max(drift_var, sill)
    drift_sigma = math.sqrt(max(drift_var, 0.0))
    ratio, bleach = float("nan"), 0.0
    if f_raw is not None and f_neuropil is not None:
        fraw, fneu = np.asarray(f_raw, float), np.asarray(f_neuropil, float)
        ratio = float(np.median(fneu / fraw))
    if f_raw is not None:
        base = np.asarray(running_percentile(np.asarray(f_raw, float), round(30 * fr), 20.0))
        ok = base > 0
        if ok.sum() > 10:
            bleach = float(max(-np.polyfit(t[ok], np.log(base[ok]), 1)[0], 0.0))
    # nonstationarity between the halves of the calibration data
    h = y.size // 2
    halves = (slice(0, h), slice(h, None))
    nu = [np.median(np.abs(np.diff(r[sl]))) for sl in halves]
    noise_level_sd = abs(math.log(max(nu[0], 1e-12) / max(nu[1], 1e-12))) / math.sqrt(2.0)
    gains, offsets = [], []
    for sl in halves:
        x, z = m[sl] - np.median(m[sl]), y[sl] - np.median(m[sl])
        a = np.column_stack([x, np.ones_like(x)])
        (g, b), *_ = np.linalg.lstsq(a, z, rcond=None)
        gains.append(g)
        offsets.append(b)
    gain_sd = abs(math.log(max(gains[0], 1e-6) / max(gains[1], 1e-6))) / math.sqrt(2.0) if min(gains) > 0 else 0.0
    offset_sd = abs(offsets[0] - offsets[1]) / math.sqrt(2.0)
    ds = [max(float(np.std(slow[sl][rest[sl]])), 1e-12) if rest[sl].sum() > 10 else drift_sigma for sl in halves]
    drift_sigma_sd = abs(math.log(max(ds[0], 1e-12) / max(ds[1], 1e-12))) / math.sqrt(2.0)
    if jitter_var is not None:  # as for the CV: at least the drift std's block-bootstrap spread
        drift_sigma_sd = max(drift_sigma_sd, _bootstrap_log_std_sd(slow, rest, t))
    if jitter_var is None:
        cvs = [_amplitude_cv(r[sl], m[sl], ov[sl], v1) for sl in halves]
        cv_sd = abs(math.log(max(cvs[0], 0.05) / max(cvs[1], 0.05))) / math.sqrt(2.0)
    else:
        jv = np.asarray(jitter_var, dtype=np.float64)
        if jv.shape != y.shape or not np.all(np.isfinite(jv)) or np.any(jv < 0):
            raise ValueError(f"jitter_var must be finite, >= 0 ((ΔF/F)²) and of shape {y.shape}, got {jv.shape}.")
        x = m - np.median(m[rest])  # a residual gain error goes to the mean, not to the variance
        amplitude_cv, boot = bootstrap_amplitude_cv(r, v0 + v1 * (1.0 + m), jv, t, covariate=x)
        amplitude_cv = min(amplitude_cv, MAX_AMPLITUDE_CV)
        # the extrapolation error of the CV: the larger of its sampling spread (bootstrap) and the
        # change between the two halves of the calibration frames (one batched fit of both halves)
        w = np.zeros((2, y.size))
        w[0, :h], w[1, h:] = 1.0, 1.0
        cvh = np.asarray(fit_amplitude_cv(*(np.broadcast_to(a, w.shape) for a in (r, v0 + v1 * (1.0 + m), jv)),
                                          covariate=np.broadcast_to(x, w.shape), weights=w)[0])  # fmt: skip
        cvh = np.clip(cvh, 0.05, MAX_AMPLITUDE_CV)
        sd_halves = abs(math.log(cvh[0] / cvh[1])) / math.sqrt(2.0)
        # and the variance model's shape: the CV that the model's top decile alone asks for (its
        # excess variance over rest, beyond shot noise, over its jitter_var) may differ
        top = m >= np.quantile(m, 0.9)
        ex = np.var(r[top]) - np.var(r[rest]) - v1 * (np.mean(m[top]) - np.mean(m[rest]))
        c_top = math.sqrt(max(ex, 0.0) / max(float(np.mean(jv[top]) - np.mean(jv[rest])), 1e-24))
        sd_shape = abs(math.log(np.clip(c_top, 0.05, MAX_AMPLITUDE_CV) / max(amplitude_cv, 0.05)))
        cv_sd = max(float(np.std(np.log(np.clip(boot, 0.05, MAX_AMPLITUDE_CV)))), sd_halves, sd_shape)
    return MeasurementCalibration(
        noise_level_sd=float(noise_level_sd),
        gain_sd=float(min(gain_sd, 1.0)),
        offset_sd=float(offset_sd),
        amplitude_cv_sd=float(min(cv_sd, 1.5)),
        drift_sigma_sd=float(min(drift_sigma_sd, 1.5)),
        photons=float(photons),
        white_sigma=math.sqrt(max(v0, 0.0)),
        amplitude_cv=amplitude_cv,
        drift_sigma=drift_sigma,
        drift_tau=tau,
        neuropil_ratio=ratio,
        bleach_rate=bleach,
        frame_rate=fr,
    )


def spike_overlap(spike_times, t_frames, tau=0.5):
    """``Σk_i² / (Σk_i)²`` at the frames for exponential kernels ``k_i = exp(-(t - t_i)/tau)``
    (tau in s): 1 where one spike dominates, ``1/n`` after ``n`` coincident spikes (1 where no
    spike has occurred yet)."""
    t = np.asarray(t_frames, float)
    s = np.asarray(spike_times, float)
    idx = np.searchsorted(t, s)
    keep = idx < t.size
    idx, s = idx[keep], s[keep]
    w1 = np.zeros(t.size)
    np.add.at(w1, idx, np.exp(-(t[idx] - s) / tau))
    w2 = np.zeros(t.size)
    np.add.at(w2, idx, np.exp(-2 * (t[idx] - s) / tau))
    a = np.exp(-np.diff(t, prepend=t[0]) / tau)
    s1 = np.asarray(ar1(a, w1, 0.0))
    s2 = np.asarray(ar1(a * a, w2, 0.0))
    return np.where(s1 > 1e-12, s2 / np.maximum(s1 * s1, 1e-300), 1.0)


def synthesize_dff(key, cal: MeasurementCalibration, clean_jittered, *, t_frames, baseline=0.0):
    """One synthetic ΔF/F draw.

    ``clean_jittered``: the prediction from amplitude-jittered spikes *without* its baseline,
    ``(T,)``; ``baseline``: the deterministic baseline (ΔF/F), scalar or ``(T,)``. The draw is
    ``baseline + offset + gain * clean_jittered + drift`` with exact photon noise at
    ``cal.photons`` and white noise of ``cal.white_sigma``, both scaled by a per-draw noise
    level. Keys: ``fold_in(key, 0)`` drift, ``1`` photons, ``2`` white noise, ``3`` the draw's
    gain, offset and noise level, ``4`` its drift std.
    """
    mean, level = draw_mean(key, cal, clean_jittered, t_frames=t_frames, baseline=baseline)
    shot = PhotonNoise(cal.photons / level**2, read_sigma=0.0, dark_counts=0.0)
    y = shot.sample(jax.random.fold_in(key, 1), mean)
    return CleoGaussianNoise(cal.white_sigma * level).sample(jax.random.fold_in(key, 2), y)


def draw_mean(key, cal: MeasurementCalibration, clean_jittered, *, t_frames, baseline=0.0):
    """The noise-free part of a draw of :func:`synthesize_dff` and its noise level.

    Returns ``(baseline + offset + gain * clean_jittered + drift, level)``: ΔF/F ``(T,)`` and the
    draw's noise-level factor (dimensionless), from the keys ``fold_in(key, 0)`` (drift), ``3``
    (gain, offset, level) and ``4`` (drift std).
    """
    clean = jnp.asarray(clean_jittered, dtype=float)
    t = np.asarray(t_frames, float)
    fp = float(np.median(np.diff(t)))
    zg, zo, zn = jax.random.normal(jax.random.fold_in(key, 3), (3,))
    level = jnp.exp(cal.noise_level_sd * zn)
    mean = baseline + cal.offset_sd * zo + jnp.exp(cal.gain_sd * zg) * clean
    drift_sigma = cal.drift_sigma * jnp.exp(cal.drift_sigma_sd * jax.random.normal(jax.random.fold_in(key, 4)))
    drift = ou_drift(jax.random.fold_in(key, 0), clean.shape[0], fp, cal.drift_tau, drift_sigma)
    return mean + drift, level
