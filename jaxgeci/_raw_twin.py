"""Synthetic raw ROI and neuropil fluorescence for recordings that carry them, with bleaching,
neuropil contamination and photon noise, and ΔF/F made the way the recording's ΔF/F was made.

Fluorescence in the recording's arbitrary units (a.u.), times in s, rates in 1/s, ΔF/F
dimensionless. NumPy calibration on the host; JAX draws.
"""

from __future__ import annotations

import dataclasses
import math
import re

import jax
import jax.numpy as jnp
import numpy as np

from ._calibrate import _box, draw_mean, ENF, MeasurementCalibration
from ._measurement import bleach_factor, dff_from_fluorescence, ou_drift
from ._noise import CleoGaussianNoise, PhotonNoise


@dataclasses.dataclass(frozen=True)
class RawCalibration:
    """Raw-fluorescence terms of one recording (a.u.: the recording's fluorescence unit).

    Attributes:
        f0: the recording's ΔF/F baseline F0 (a.u.): the median of ``(F_raw - factor F_neu) / (1 +
            dff)`` over the calibration frames (exact when ΔF/F was made from these traces).
        neuropil_level: neuropil fluorescence at ``t_ref`` (a.u.; median of the last 30 s).
        neuropil_photons: the neuropil trace's noise as photons per frame at that level
            (photons): ``ENF level² / var`` with ``var`` the frame-to-frame noise variance.
        neuropil_sigma, neuropil_tau: std (relative to the level, dimensionless) and correlation
            time (s) of the neuropil's slow fluctuation (an OU process; bleaching removed).
        photons: the ROI's own detected photons per frame at rest (photons): ``cal.photons``, or
            fewer where the neuropil trace's noise share ``factor² var`` exceeds the calibrated
            white variance ``f0² white_sigma²`` (then the shot noise at rest makes up the rest of
            the calibrated budget ``f0² (white_sigma² + ENF / cal.photons)``).
        roi_white: the ROI's signal-independent noise std (a.u.) beyond the neuropil trace's share:
            ``sqrt(f0² white_sigma² - factor² var)`` (0 when negative).
        neuropil_factor: the recording's neuropil coefficient (``F_raw - factor F_neu``).
        percentile: the recording's F0 percentile (0-100) over the whole trace.
        bleach_rate: photobleaching rate (1/s), applied to ROI and neuropil.
        t_ref: time (s) at which the calibrated levels hold (end of the calibration frames).
    """

    f0: float
    photons: float
    neuropil_level: float
    neuropil_photons: float
    neuropil_sigma: float
    neuropil_tau: float
    roi_white: float
    neuropil_factor: float
    percentile: float
    bleach_rate: float
    t_ref: float

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


_PROVENANCE = re.compile(r"F_raw\s*-\s*([0-9.]+)\s*\*\s*F_neuropil.*?(\d+(?:\.\d+)?)(?:st|nd|rd|th) percentile", re.S)


def parse_dff_provenance(text: str):
    """``(neuropil_factor, percentile)`` from a recording's ``dff_provenance`` text of the form
    ``"(F_raw - 0.8*F_neuropil - F0)/F0 with F0 the 20th percentile ... over the segment"``;
    ``None`` when the text does not describe that global-percentile definition."""
    m = _PROVENANCE.search(str(text))
    if m is None or "segment" not in str(text):
        return None
    return float(m.group(1)), float(m.group(2))


def calibrate_raw(
    f_raw, f_neuropil, dff, t_frames, cal: MeasurementCalibration, *, neuropil_factor=0.8, percentile=20.0
) -> RawCalibration:
    """Estimate the raw-fluorescence terms (see :class:`RawCalibration`) from calibration frames.

    Args:
        f_raw, f_neuropil: raw ROI and neuropil fluorescence (a.u.), ``(T,)``.
        dff: the recording's ΔF/F at those frames (dimensionless), ``(T,)``.
        t_frames: frame times (s), ``(T,)``.
        cal: the ΔF/F-space calibration of the same frames (:func:`calibrate_measurement`).
        neuropil_factor, percentile: how the recording's ΔF/F was made (dimensionless, 0-100).
    """
    fr, fn, y, t = (np.asarray(a, dtype=np.float64) for a in (f_raw, f_neuropil, dff, t_frames))
    if not (fr.shape == fn.shape == y.shape == t.shape and t.ndim == 1 and t.size >= 100):
        raise ValueError(
            f"f_raw, f_neuropil, dff and t_frames must be 1-D of one length >= 100, got "
            f"{fr.shape}, {fn.shape}, {y.shape}, {t.shape}."
        )
    if not 0.0 <= float(neuropil_factor) <= 2.0:
        raise ValueError(f"neuropil_factor must be in [0, 2] (dimensionless), got {neuropil_factor!r}.")
    fc = fr - neuropil_factor * fn
    ok = 1.0 + y > 0.05
    f0 = float(np.median(fc[ok] / (1.0 + y[ok])))
    if not (np.isfinite(f0) and f0 > 0):
        raise ValueError(f"the baseline F0 found from f_raw, f_neuropil and dff is not positive ({f0!r} a.u.).")
    t_ref = float(t[-1])
    level = float(np.median(fn[t >= t_ref - 30.0]))
    rel = fn / (level * np.exp(-cal.bleach_rate * (t - t_ref))) - 1.0
    # frame-to-frame noise variance (a.u.²), floored at 1e-8 level² (≤ 1.2e8 photons: Poisson-safe)
    var = max(float((np.median(np.abs(np.diff(fn))) / 0.6745) ** 2 / 2.0), 1e-8 * level**2)
    fr_hz = 1.0 / float(np.median(np.diff(t)))
    slow = _box(rel, max(1, round(fr_hz)))
    step = max(1, round(0.5 * fr_hz))
    xs = slow[::step] - slow.mean()
    rho = float(np.corrcoef(xs[:-1], xs[1:])[0, 1]) if xs.size > 3 else 0.0
    tau = float(np.clip(-(step / fr_hz) / math.log(min(max(rho, 1e-3), 0.999)), 0.5, 120.0))
    white2 = f0**2 * cal.white_sigma**2 - neuropil_factor**2 * var
    photons = cal.photons
    if white2 < 0:  # the shot noise takes what is left of the budget at rest (at most 1e9 photons)
        photons = ENF / max(cal.white_sigma**2 + ENF / cal.photons - neuropil_factor**2 * var / f0**2, ENF * 1e-9)
    return RawCalibration(
        f0=f0,
        photons=float(photons),
        neuropil_level=level,
        neuropil_photons=float(ENF * level**2 / var),
        neuropil_sigma=float(np.std(slow)),
        neuropil_tau=tau,
        roi_white=math.sqrt(max(white2, 0.0)),
        neuropil_factor=float(neuropil_factor),
        percentile=float(percentile),
        bleach_rate=float(cal.bleach_rate),
        t_ref=t_ref,
    )


def synthesize_raw(key, cal: MeasurementCalibration, raw: RawCalibration, clean_jittered, *, t_frames, baseline=0.0):
    """One synthetic draw of raw ROI and neuropil fluorescence and its ΔF/F.

    The draw's noise-free ΔF/F (:func:`draw_mean`: baseline, offset, gain, jittered spikes,
    drift; same keys as :func:`synthesize_dff`) sets the ROI's own fluorescence ``f0 b(t) (1 +
    mean)``, ``b(t) = exp(-bleach_rate (t - t_ref))``, with exact photon noise at ``raw.photons``
    per frame at rest; the neuropil is ``neuropil_level b(t) (1 + u(t))`` (``u``: OU) with exact
    photon noise at ``neuropil_photons``; ``F_raw`` = the ROI's own + ``neuropil_factor`` x the
    noise-free neuropil under it + white noise of ``roi_white``; all noise scaled by the draw's
    level. ΔF/F is the recording's: ``(Fc - F0)/F0``, ``Fc = F_raw - neuropil_factor F_neu``, F0
    the ``percentile`` of Fc over the whole draw. Extra keys: ``fold_in(key, 5)`` the neuropil's
    fluctuation, ``6`` its photons.

    Returns:
        ``(f_raw, f_neuropil, dff)``, each ``(T,)`` (a.u., a.u., dimensionless).
    """
    mean, level = draw_mean(key, cal, clean_jittered, t_frames=t_frames, baseline=baseline)
    t = jnp.asarray(np.asarray(t_frames, float))
    fp = float(np.median(np.diff(np.asarray(t_frames, float))))
    b = bleach_factor(t - raw.t_ref, raw.bleach_rate)
    shot = PhotonNoise(raw.photons / level**2, read_sigma=0.0, dark_counts=0.0)
    own = raw.f0 * (1.0 + shot.sample(jax.random.fold_in(key, 1), b * (1.0 + mean) - 1.0))
    u = ou_drift(jax.random.fold_in(key, 5), t.shape[0], fp, raw.neuropil_tau, raw.neuropil_sigma)
    np_true = b * (1.0 + u)
    np_shot = PhotonNoise(raw.neuropil_photons / level**2, read_sigma=0.0, dark_counts=0.0)
    f_neu = raw.neuropil_level * (1.0 + np_shot.sample(jax.random.fold_in(key, 6), np_true - 1.0))
    white = CleoGaussianNoise(raw.roi_white * level).sample(jax.random.fold_in(key, 2), jnp.zeros_like(own))
    f_raw = own + raw.neuropil_factor * raw.neuropil_level * np_true + white
    dff = dff_from_fluorescence(
        f_raw, f_neu, neuropil_factor=raw.neuropil_factor, baseline="global", percentile=raw.percentile
    )
    return f_raw, f_neu, dff
