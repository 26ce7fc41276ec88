"""The photon-noise likelihood of spike inference (``infer_spikes(..., noise="photon")``).

Two-photon ΔF/F carries Poisson–Gaussian noise: photon shot noise (amplified by the PMT) plus
read noise, so its variance grows linearly with the fluorescence (the photon-transfer relation;
:class:`jaxgeci.PhotonNoise`). Its moment-matched Gaussian surrogate, per frame ``j``::

    var[j] = a + b * c[j],     c[j] >= 0 the noise-free ΔF/F above the baseline

is the likelihood used here: the squared residual of frame ``j`` weighs ``1 / var[j]``, so frames
at the peak of a burst, where the shot noise is largest, count less than frames at rest. ``a``
(ΔF/F², the rest variance) and ``b`` (ΔF/F, shot-noise variance per unit ΔF/F) are estimated per
ROI from a first, uniformly weighted solution: the half squared frame-to-frame difference of its
residual regressed on the signal (differences remove the slow baseline errors), ``b >= 0``.
"""

from __future__ import annotations

import numpy as np


NOISE_MODELS = ("gaussian", "photon")
"""Likelihoods of :func:`jaxgeci.infer_spikes`: white Gaussian, or the photon-noise surrogate."""


def photon_variance(resid, signal):
    """Per-ROI ``(a, b)`` of ``var = a + b * signal`` (module docstring) from ``resid`` and
    ``signal`` ``(rois, frames)`` (ΔF/F). ``a > 0`` (at least 1 % of the residual variance)."""
    d2 = 0.5 * np.diff(resid, axis=-1) ** 2
    c = 0.5 * (np.maximum(signal[:, 1:], 0.0) + np.maximum(signal[:, :-1], 0.0))
    # least squares of d2 on [1, c] per ROI (closed form), with the slope clipped at 0
    cm, dm = c.mean(axis=-1, keepdims=True), d2.mean(axis=-1, keepdims=True)
    var_c = np.sum((c - cm) ** 2, axis=-1)
    slope = np.sum((c - cm) * (d2 - dm), axis=-1) / np.where(var_c > 0, var_c, 1.0)
    b = np.maximum(np.where(var_c > 0, slope, 0.0), 0.0)
    a = np.mean(d2 - b[:, None] * c, axis=-1)
    floor = 0.01 * np.var(resid, axis=-1) + 1e-300
    return np.maximum(a, floor), b


def photon_weights(resid, signal):
    """Residual weights ``sqrt(a / var[j])`` ``(rois, frames)``: 1 at rest (so ``noise_std``
    keeps its meaning, the rest noise), below 1 where the signal raises the shot noise."""
    a, b = photon_variance(resid, signal)
    return np.sqrt(a[:, None] / (a[:, None] + b[:, None] * np.maximum(signal, 0.0)))
