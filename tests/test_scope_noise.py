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
