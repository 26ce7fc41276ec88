"""Noise models chosen per imaging run: Cleo's Gaussian (the default, bit-identical) or the
photon model (signal-dependent), both keyed and reproducible."""

import jax
import numpy as np
import pytest

import jaxgeci as jg


def _scope_and_spikes():
    scope = jg.Scope(jg.gcamp6f(), img_width=500e-6).inject("a", np.zeros((8, 3)), focus_depth=None)
    spikes = (np.random.default_rng(0).random((3000, 8)) < 0.01).astype(float)
    return scope, spikes


def test_cleo_noise_model_is_the_default_bit_for_bit():
    scope, spikes = _scope_and_spikes()
    a = scope.image(spikes, 1e-4, sample_every=10, key=jax.random.key(1))
    b = scope.image(spikes, 1e-4, sample_every=10, key=jax.random.key(1), noise=jg.CleoGaussianNoise(a.sigma))
    np.testing.assert_array_equal(np.asarray(b.dFF), np.asarray(a.dFF))


def test_photon_noise_through_the_scope_is_signal_dependent_and_keyed():
    """Shot noise grows with brightness: the noise variance over the brightest tenth of the
    samples exceeds that of the dimmest half (white noise gives 1)."""
    scope, spikes = _scope_and_spikes()
    model = jg.PhotonNoise(photons=40.0)
    a = scope.image(spikes, 1e-4, sample_every=10, key=jax.random.key(2), noise=model)
    b = scope.image(spikes, 1e-4, sample_every=10, key=jax.random.key(2), noise=model)
    np.testing.assert_array_equal(np.asarray(a.dFF), np.asarray(b.dFF))
    clean, resid = np.asarray(a.dFF_clean).ravel(), np.asarray(a.noise).ravel()
    hi, lo = clean >= np.quantile(clean, 0.9), clean <= np.quantile(clean, 0.5)
    # the photon variance is proportional to 1 + dFF: the bright tail (dFF up to ~3) has a
    # several-fold larger variance; 2x leaves a wide margin for 3000 samples
    assert np.var(resid[hi]) > 2.0 * np.var(resid[lo])
    with pytest.raises(TypeError, match="noise must be True"):
        scope.image(spikes, 1e-4, sample_every=10, key=jax.random.key(2), noise="photon")


def _plane_scope():
    """16 ROIs on a 4 x 4 grid 15 µm apart in the focal plane (each has neighbours in a
    10-30 µm annulus), fitted jGCaMP8m (ΔF/F relative to rest: exactly 0 between spikes)."""
    g = (np.arange(4) - 1.5) * 15e-6
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    coords = np.c_[xy, np.full(16, 100e-6)]
    scope = jg.Scope(jg.fitted("jGCaMP8m"), img_width=200e-6, focus_depth=100e-6).inject("a", coords)
    assert scope.n == 16
    rng = np.random.default_rng(3)
    dt, T = 1e-3, 20_000  # 20 s read every 33 steps
    spikes = jg.SpikeTrains.from_times(np.sort(rng.uniform(1.0, 19.0, 40)), rng.integers(0, 16, 40), dt, T, 16)
    return scope, spikes, dt


def test_raw_measurement_fluorescence_neuropil_and_pipeline_dff():
    scope, spikes, dt = _plane_scope()
    kw = dict(sample_every=33, key=jax.random.key(4))
    # (nearly) noise-free: 1e9 photons per frame (relative shot noise ~4e-5), no bleaching
    m = jg.RawMeasurement(
        photons=1e9, neuropil_photons=2e9, contamination=0.8, neuropil_factor=0.8, baseline="global", percentile=20.0,
        exact=False,
    )  # fmt: skip
    res = scope.image({"a": spikes}, dt, noise=m, **kw)
    f_raw, f_neu, clean = (np.asarray(x, float) for x in (res.f_raw, res.f_neuropil, res.dFF_clean))
    assert f_raw.shape == f_neu.shape == clean.shape
    rest = np.all(clean == 0.0, axis=1)  # before the first spike (t < 1 s) every ROI is at rest
    assert rest.sum() >= 20
    # the resting brightness ratio F_neu/F_raw = N / (P + c N) = 2 / (1 + 1.6)
    np.testing.assert_allclose(f_neu[rest] / f_raw[rest], 2.0 / 2.6, rtol=1e-3)
    # the neuropil follows the annulus neighbours' activity: its ΔF/F is their mean clean ΔF/F
    w = jg.annulus_weights(np.asarray(scope.focus_coords), np.asarray(scope.focus_coords), inner=10e-6, outer=30e-6)
    np.testing.assert_allclose(f_neu / 2e9 - 1.0, clean @ w.T, atol=2e-4)  # shot noise ~1e-4 at 2e9 photons
    # subtracting the true contamination removes the neuropil exactly; F0 is the 20th percentile
    # of F_raw - 0.8 F_neu = P (1 + clean), i.e. P (1 + q) with q the 20th percentile of the
    # ROI's own clean ΔF/F (a slow decay is never exactly 0): ΔF/F = (1 + clean) / (1 + q) - 1.
    # Shot noise at 1e9 photons is ~4e-5 of the level, so 5e-4 is > 10 standard deviations.
    q = np.percentile(clean, 20.0, axis=0)
    np.testing.assert_allclose(np.asarray(res.dFF), (1.0 + clean) / (1.0 + q) - 1.0, atol=5e-4)
    assert np.max(np.abs(np.asarray(res.dFF) - clean)) < 0.05 * clean.max()  # close to the clean trace


def test_raw_measurement_bleaches_and_is_keyed():
    scope, spikes, dt = _plane_scope()
    m = jg.RawMeasurement(photons=500.0, bleach_rate=0.01)  # exact photon sampler
    a = scope.image({"a": spikes}, dt, sample_every=33, key=jax.random.key(5), noise=m)
    b = scope.image({"a": spikes}, dt, sample_every=33, key=jax.random.key(5), noise=m)
    np.testing.assert_array_equal(np.asarray(a.f_raw), np.asarray(b.f_raw))
    np.testing.assert_array_equal(np.asarray(a.dFF), np.asarray(b.dFF))
    # the neuropil's log-slope over 20 s is the bleach rate (shot noise of the mean of 16
    # ROIs x ~600 frames averages out to ~1e-4 relative; 10 % of the rate is 2e-3 over 20 s)
    t = np.asarray(a.t)
    slope = np.polyfit(t, np.log(np.asarray(a.f_neuropil, float).mean(axis=1)), 1)[0]
    assert slope == pytest.approx(-0.01, rel=0.1)
    with pytest.raises(ValueError, match="inner < outer <= 1 mm"):
        jg.RawMeasurement(inner=10.0, outer=30.0)
    with pytest.raises(ValueError, match="RawMeasurement.n_pixels must be finite and > 0"):
        jg.RawMeasurement(n_pixels=0.0)
