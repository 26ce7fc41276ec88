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

import jax
import jax.numpy as jnp
import numpy as np

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
        amplitude_cv: spike-amplitude jitter (coefficient of variation) from the growth of the
            slow residual variance with ``model²``.
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

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


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


def calibrate_measurement(
    dff, model, t_frames, *, f_raw=None, f_neuropil=None, overlap=None, slow_s: float = 1.0, n_bins: int = 12
) -> MeasurementCalibration:
    """Estimate the measurement parameters of one recording (see :class:`MeasurementCalibration`).

    Args:
        dff: recorded ΔF/F, ``(T,)``.
        model: the noise-free prediction at the frames (sensor, amplitude, lag, baseline), ``(T,)``.
        t_frames: frame times (s), ``(T,)``.
        f_raw, f_neuropil: raw ROI and neuropil fluorescence (optional), ``(T,)``.
        overlap: per frame ``Σk_i² / (Σk_i)²`` of the spikes' kernels (:func:`spike_overlap`),
            which converts event-level amplitude variance to per-spike CV (default 1).
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
    cvs = [_amplitude_cv(r[sl], m[sl], ov[sl], v1) for sl in halves]
    cv_sd = abs(math.log(max(cvs[0], 0.05) / max(cvs[1], 0.05))) / math.sqrt(2.0)
    return MeasurementCalibration(
        noise_level_sd=float(noise_level_sd),
        gain_sd=float(min(gain_sd, 1.0)),
        offset_sd=float(offset_sd),
        amplitude_cv_sd=float(min(cv_sd, 1.5)),
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
    gain, offset and noise level.
    """
    clean = jnp.asarray(clean_jittered, dtype=float)
    t = np.asarray(t_frames, float)
    fp = float(np.median(np.diff(t)))
    zg, zo, zn = jax.random.normal(jax.random.fold_in(key, 3), (3,))
    level = jnp.exp(cal.noise_level_sd * zn)
    mean = baseline + cal.offset_sd * zo + jnp.exp(cal.gain_sd * zg) * clean
    drift = ou_drift(jax.random.fold_in(key, 0), clean.shape[0], fp, cal.drift_tau, cal.drift_sigma)
    shot = PhotonNoise(cal.photons / level**2, read_sigma=0.0, dark_counts=0.0)
    y = shot.sample(jax.random.fold_in(key, 1), mean + drift)
    return CleoGaussianNoise(cal.white_sigma * level).sample(jax.random.fold_in(key, 2), y)
