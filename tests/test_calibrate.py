"""calibrate_measurement recovers the parameters it is given."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


def _model(n, fr, seed=0):
    rng = np.random.default_rng(seed)
    m = np.zeros(n)
    k = np.exp(-np.arange(int(2 * fr)) / (0.5 * fr))
    for t0 in rng.choice(n - k.size, n // int(3 * fr), replace=False):
        m[t0 : t0 + k.size] += rng.uniform(0.5, 3.0) * k
    return m


def test_recovers_photons_white_noise_neuropil_and_bleaching(x64):
    fr, n = 60.0, 36_000  # 10 min
    t = np.arange(n) / fr
    m = _model(n, fr)
    photons, white = 300.0, 0.03
    y = jg.PhotonNoise(photons, read_sigma=0.0, dark_counts=0.0).sample(jax.random.key(0), jnp.asarray(m))
    y = np.asarray(jg.CleoGaussianNoise(white).sample(jax.random.key(1), y))
    rate = 2e-4
    f_raw = 500.0 * np.exp(-rate * t) * (1 + m)
    cal = jg.calibrate_measurement(y, m, t, f_raw=f_raw, f_neuropil=0.8 * f_raw)
    # the binned robust variances carry ~3 % error each over 12 bins of 3000 frames
    assert cal.photons == pytest.approx(photons, rel=0.15)
    assert cal.white_sigma == pytest.approx(white, rel=0.25)
    assert cal.neuropil_ratio == pytest.approx(0.8, rel=1e-9)
    assert cal.bleach_rate == pytest.approx(rate, rel=0.05)
    assert cal.frame_rate == pytest.approx(fr)
    # no slow terms were added: the drift and amplitude jitter found are small
    assert cal.drift_sigma < 0.02 and cal.amplitude_cv < 0.1


def test_recovers_drift_and_amplitude_jitter(x64):
    fr, n = 30.0, 18_000
    t = np.arange(n) / fr
    m = _model(n, fr, seed=1)
    drift = np.asarray(jg.ou_drift(jax.random.key(2), n, 1 / fr, 5.0, 0.1))
    y = m + drift + np.random.default_rng(3).normal(0, 0.02, n)
    cal = jg.calibrate_measurement(y, m, t)
    assert cal.drift_sigma == pytest.approx(0.1, rel=0.3)  # ~18 independent 5-s stretches... of 600 s
    assert 1.0 < cal.drift_tau < 15.0
    assert np.isnan(cal.neuropil_ratio) and cal.bleach_rate == 0.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one length"):
        jg.calibrate_measurement(np.zeros(200), np.zeros(199), np.arange(200.0))


def test_recording_carries_raw_and_neuropil_fluorescence(tmp_path):
    t = np.arange(600) / 30.0
    f = np.linspace(100, 90, 600)
    np.savez(tmp_path / "r.npz", t_frames=t, dff=np.sin(t), spike_times=np.array([1.0]), f_raw=f, f_neuropil=0.8 * f)
    rec = jg.load_recording(tmp_path / "r.npz")
    np.testing.assert_array_equal(rec.f_raw, f)
    np.testing.assert_array_equal(rec.f_neuropil, 0.8 * f)
    w = rec.window(10.0)
    assert w.f_raw.shape == w.dff.shape == (301,)
    np.savez(tmp_path / "bad.npz", t_frames=t, dff=np.sin(t), spike_times=np.array([1.0]), f_raw=f[:-1])
    with pytest.raises(ValueError, match="f_raw"):
        jg.load_recording(tmp_path / "bad.npz")
    np.savez(tmp_path / "none.npz", t_frames=t, dff=np.sin(t), spike_times=np.array([1.0]))
    assert jg.load_recording(tmp_path / "none.npz").f_raw is None


def test_recovers_per_spike_amplitude_cv(x64):
    fr, n, tau = 30.0, 36_000, 0.5
    t = np.arange(n) / fr
    rng = np.random.default_rng(4)
    spikes = np.sort(rng.uniform(0, t[-1], 1500))
    gains = np.asarray(jg.spike_amplitudes(jax.random.key(5), spikes.size, 0.3))

    def trace(w):
        x = np.zeros(n)
        idx = np.searchsorted(t, spikes)
        for i, ts, g in zip(idx, spikes, w):
            if i < n:
                x[i:] += g * np.exp(-(t[i:] - ts) / tau)
        return x

    m, y = trace(np.ones(spikes.size)), trace(gains) + rng.normal(0, 0.01, n)
    cal = jg.calibrate_measurement(y, m, t, overlap=jg.spike_overlap(spikes, t, tau))
    # the top-10 % frames hold ~3600 frames of ~150 independent events: CV known to ~15 %
    assert cal.amplitude_cv == pytest.approx(0.3, rel=0.3)


def _jittered(cv, seed, n=18_000, fr=30.0, tau=0.5, n_spikes=900):
    """A linear exponential-kernel trace with per-spike gains of CV ``cv`` and its exact
    per-frame jitter variance per unit CV², ``Σ k_i²``."""
    t = np.arange(n) / fr
    rng = np.random.default_rng(seed)
    spikes = np.sort(rng.uniform(0, t[-1], n_spikes))
    gains = np.asarray(jg.spike_amplitudes(jax.random.key(seed), n_spikes, cv))
    m, y, j = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, ts, g in zip(np.searchsorted(t, spikes), spikes, gains):
        k = np.exp(-(t[i:] - ts) / tau)
        m[i:] += k
        y[i:] += g * k
        j[i:] += k * k
    return t, m, y, j, rng


def test_likelihood_amplitude_cv_recovers_cv_and_batches(x64):
    fits = []
    for cv, seed in ((0.3, 6), (0.6, 7)):
        t, m, y, j, rng = _jittered(cv, seed)
        # white noise 0.05, an offset and a 5 % gain error, which the mean term must absorb
        r = y - m + rng.normal(0.0, 0.05, m.size) + 0.02 + 0.05 * m
        est, slow, _ = jg.fit_amplitude_cv(r, np.full(m.size, 0.05**2), j, covariate=m)
        # ~900 spikes: the sample CV of the gains alone scatters by ~5 %; 15 % is 3 sd
        assert float(est) == pytest.approx(cv, rel=0.15)
        assert float(slow) < 1e-3  # no slow variance was added (its floor is the fit's resolution)
        fits.append((r, j, m, float(est)))
    # batched over cells (vmap) = one by one
    r2, j2, m2 = (np.stack([f[i] for f in fits]) for i in range(3))
    est2, _, _ = jg.fit_amplitude_cv(r2, np.full(r2.shape, 0.05**2), j2, covariate=m2)
    np.testing.assert_allclose(np.asarray(est2), [f[3] for f in fits], rtol=1e-6)  # same float ops, reordered


def test_bootstrap_spread_and_calibration_use_the_likelihood(x64):
    t, m, y, j, rng = _jittered(0.4, 8)
    r = y - m + rng.normal(0.0, 0.05, m.size)
    cv, boot = jg.bootstrap_amplitude_cv(r, np.full(m.size, 0.05**2), j, t)
    assert boot.shape == (32,) and cv == pytest.approx(0.4, rel=0.15)
    # 60 blocks of 10 s: the replicates scatter (they are not all the estimate) and cover the truth
    assert np.std(np.log(boot)) > 0.01 and boot.min() < 0.4 < boot.max()
    cal = jg.calibrate_measurement(m + r, m, t, jitter_var=j)
    assert cal.amplitude_cv == pytest.approx(0.4, rel=0.15) and 0.0 < cal.amplitude_cv_sd < 0.5
    with pytest.raises(ValueError, match="jitter_var"):
        jg.calibrate_measurement(m + r, m, t, jitter_var=j[:-1])
    with pytest.raises(ValueError, match="residual"):
        jg.fit_amplitude_cv(np.zeros(5), np.ones(5), np.ones(5))
