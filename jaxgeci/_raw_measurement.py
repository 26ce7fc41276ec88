"""The Scope's raw measurement: ROI and neuropil fluorescence with bleaching and photon noise,
and ΔF/F made from them the way analysis pipelines make it (``Scope.image(noise=RawMeasurement(...))``).

Per ROI ``r`` and frame ``j`` (photons per frame)::

    F_neu[j, r] = neuropil_photons * bleach(t_j) * (1 + annulus mean of the other ROIs' ΔF/F)
    F_raw[j, r] = photons * bleach(t_j) * (1 + dFF_clean[j, r]) + contamination * F_neu[j, r]

``bleach(t) = exp(-bleach_rate t)``. The neuropil of an ROI is the mean clean ΔF/F of the imaged
ROIs whose positions lie in the annulus ``inner <= d < outer`` around it
(:func:`jaxgeci.annulus_weights`; suite2p's neuropil mask is such an annulus), 0 where none
does. Both traces get photon noise (:class:`jaxgeci.PhotonNoise`: Poisson photons, PMT gain with
excess noise, read noise; ``exact=False``: its moment-matched Gaussian surrogate), and ΔF/F is
:func:`jaxgeci.dff_from_fluorescence` of the noisy traces (suite2p's ``F - 0.7 F_neu`` and a
running 8th percentile over 60 s by default). The annulus weights are a dense ``(rois, rois)``
matrix: for tens of thousands of ROIs, tile the field of view instead (``benchmarks/scale.py``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ._measurement import (
    annulus_neuropil,
    bleach_factor,
    dff_from_fluorescence,
    raw_fluorescence,
    SUITE2P_NEUROPIL_FACTOR,
)
from ._noise import PhotonGaussianNoise, PhotonNoise
from ._validation import check_number


class RawMeasurement(eqx.Module):
    """What a two-photon rig and its pipeline make of the clean ROI traces (module docstring).

    Attributes:
        photons: resting detected photons of an ROI's own fluorescence per frame (photons).
        neuropil_photons: resting detected photons of the neuropil annulus per frame (photons).
        contamination: neuropil fluorescence under the ROI relative to the annulus's
            (dimensionless; the resting ratio ``F_neu/F_raw`` is ``neuropil_photons /
            (photons + contamination * neuropil_photons)``, 0.56–0.95 in real recordings).
        bleach_rate: photobleaching rate (1/s), e.g. from :func:`jaxgeci.bleach_rate`.
        inner, outer: radii of the neuropil annulus (m).
        neuropil_factor: the pipeline's neuropil subtraction factor (suite2p: 0.7).
        baseline, percentile, window_s: the pipeline's F0 (:func:`jaxgeci.dff_from_fluorescence`).
        exact: the exact photon sampler (default) or its Gaussian surrogate (faster).
        n_pixels, neuropil_pixels: pixel samples summed per frame in the ROI and in the
            neuropil annulus (dimensionless): they scale the dark counts and the read noise
            (:class:`jaxgeci.PhotonNoise`); 1 leaves shot noise alone to dominate.
    """

    photons: float = 200.0
    neuropil_photons: float = 300.0
    contamination: float = 0.8
    bleach_rate: float = 0.0
    inner: float = 10e-6
    outer: float = 30e-6
    neuropil_factor: float = SUITE2P_NEUROPIL_FACTOR
    baseline: str = eqx.field(static=True, default="running")
    percentile: float = 8.0
    window_s: float = 60.0
    exact: bool = eqx.field(static=True, default=True)
    n_pixels: float = 1.0
    neuropil_pixels: float = 1.0

    def __check_init__(self):
        for name in ("photons", "neuropil_photons"):
            check_number(f"RawMeasurement.{name}", getattr(self, name), unit="photons per frame", strict=True)
        check_number("RawMeasurement.contamination", self.contamination, unit="1")
        check_number("RawMeasurement.bleach_rate", self.bleach_rate, unit="1/s")
        check_number("RawMeasurement.inner", self.inner, unit="m")
        check_number("RawMeasurement.outer", self.outer, unit="m", strict=True)
        check_number("RawMeasurement.n_pixels", self.n_pixels, unit="1", strict=True)
        check_number("RawMeasurement.neuropil_pixels", self.neuropil_pixels, unit="1", strict=True)
        if float(self.outer) > 1e-3 or float(self.outer) <= float(self.inner):
            raise ValueError(
                f"RawMeasurement needs inner < outer <= 1 mm (m), got inner={self.inner!r}, outer={self.outer!r} "
                "(micrometres given as metres?)."
            )
        if self.baseline not in ("running", "global"):
            raise ValueError(f"RawMeasurement.baseline must be 'running' or 'global', got {self.baseline!r}.")

    def measure(self, key, dff_clean, roi_xy, t, frame_rate):
        """``(f_raw, f_neuropil, dff)``, each ``(frames, rois)``: noisy raw and neuropil
        fluorescence (photons per frame) and the pipeline's ΔF/F, from the clean ΔF/F
        ``(frames, rois)``, the ROIs' focal-plane positions ``roi_xy`` ``(rois, 2)`` (m), the
        frame times ``t`` (s) and the frame rate (Hz). Draws use ``fold_in(key, 0)`` (raw) and
        ``fold_in(key, 1)`` (neuropil)."""
        clean = jnp.asarray(dff_clean)
        dff_neu = annulus_neuropil(clean, roi_xy, inner=float(self.inner), outer=float(self.outer))
        bleach = bleach_factor(jnp.asarray(t, clean.dtype), self.bleach_rate)[:, None]
        f_raw, f_neu = raw_fluorescence(
            clean,
            dff_neu,
            f0=self.photons,
            neuropil_level=self.neuropil_photons,
            contamination=self.contamination,
            bleach=bleach,
        )
        rest_raw = self.photons + self.contamination * self.neuropil_photons
        noise = PhotonNoise if self.exact else PhotonGaussianNoise
        roi_noise = noise(rest_raw, n_pixels=self.n_pixels)
        neu_noise = noise(self.neuropil_photons, n_pixels=self.neuropil_pixels)
        noisy_raw = roi_noise.sample_photons(jax.random.fold_in(key, 0), f_raw)
        noisy_neu = neu_noise.sample_photons(jax.random.fold_in(key, 1), f_neu)
        dff = dff_from_fluorescence(
            noisy_raw,
            noisy_neu,
            neuropil_factor=self.neuropil_factor,
            baseline=self.baseline,
            percentile=self.percentile,
            window_s=self.window_s,
            frame_rate=frame_rate,
        )
        return noisy_raw, noisy_neu, dff
