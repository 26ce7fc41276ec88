"""Neuropil, photobleaching, OU drift (the ar1 recursion), amplitude jitter and pipeline ΔF/F."""

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest

import jaxgeci as jg


def test_ar1_equals_the_plain_recursion_and_differentiates(x64):
    rng = np.random.default_rng(0)
    e = rng.normal(size=(300, 3))
    a, x0 = 0.93, np.array([1.0, -2.0, 0.5])
    want, x = np.empty_like(e), x0
    for t in range(e.shape[0]):
        x = a * x + e[t]
        want[t] = x
    got = np.asarray(jg.ar1(a, e, x0))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)  # a reordered sum: rounding only
    jax.test_util.check_grads(
        lambda a, e: jg.ar1(a, e, x0[:1]), (0.9, jnp.asarray(e[:20, :1])), order=1, modes=("rev",)
    )


def test_ou_drift_stationary_std_and_correlation(x64):
    fp, tau, sigma = 0.1, 2.0, 0.05
    x = np.asarray(jg.ou_drift(jax.random.key(0), 200_000, fp, tau, sigma))
    # 2e5 frames / (2 tau / fp = 40 frames per independent sample) ~ 5000 effective samples:
    # the std is known to ~1 %, the lag-1 correlation to ~0.002
    assert x.std() == pytest.approx(sigma, rel=0.05)
    r1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert r1 == pytest.approx(np.exp(-fp / tau), abs=0.01)
    # same key, same draw; sample m from its own fold_in: a shorter run is a prefix
    y = np.asarray(jg.ou_drift(jax.random.key(0), 100, fp, tau, sigma))
    np.testing.assert_array_equal(y, x[:100])


def test_bleach_log_slope_scales_as_power_to_the_k(x64):
    t = jnp.linspace(0, 600, 1000)
    slopes = []
    for p in (0.02, 0.04):
        f = jg.bleach_factor(t, jg.bleach_rate(p, rate_ref=1e-4, power_ref=0.02))
        slopes.append(np.polyfit(np.asarray(t), np.log(np.asarray(f)), 1)[0])
    assert slopes[1] / slopes[0] == pytest.approx(2.0**jg.BLEACH_POWER_EXPONENT, rel=1e-9)
    assert jg.BLEACH_POWER_EXPONENT == 3.0


def _events(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t0 in rng.choice(n - 50, 20, replace=False):
        x[t0 : t0 + 50] += 1.5 * np.exp(-np.arange(50) / 10.0)
    return x


def test_neuropil_subtraction_with_the_true_ratio_removes_the_dilution(x64):
    dff_cell, dff_np = _events(seed=0), 0.3 * _events(seed=1)
    f0, level, c = 100.0, 400.0, 0.8
    f_raw, f_neu = jg.raw_fluorescence(dff_cell, dff_np, f0=f0, neuropil_level=level, contamination=c)
    ratio_rest = level / (f0 + c * level)
    assert np.median(np.asarray(f_neu / f_raw)) == pytest.approx(ratio_rest, rel=0.05)
    # > 20 % of frames are at rest, so the 20th percentile of F - c F_neu is exactly f0
    dff = jg.dff_from_fluorescence(f_raw, f_neu, neuropil_factor=c, baseline="global", percentile=20.0)
    np.testing.assert_allclose(np.asarray(dff), dff_cell, atol=1e-12)
    # without subtraction the cell's ΔF/F is diluted by f0 / (f0 + c level) (plus neuropil leak)
    raw = np.asarray(jg.dff_from_fluorescence(f_raw, f_neu, neuropil_factor=0.0, baseline="global", percentile=20.0))
    dilution = f0 / (f0 + c * level)
    leak = (c * level / (f0 + c * level)) * dff_np
    np.testing.assert_allclose(raw, dilution * dff_cell + leak, atol=1e-12)


def test_running_percentile_and_suite2p_variant(x64):
    n = 6000
    slow = 1.0 + 0.05 * np.linspace(0, 1, n)  # slow baseline change (e.g. bleaching, drift)
    dff_cell = _events(n)
    f_raw, f_neu = jg.raw_fluorescence(dff_cell * 0, np.zeros(n), f0=100.0, neuropil_level=50.0, contamination=0.7)
    f_raw = f_raw * slow + 100.0 * slow * dff_cell
    dff = np.asarray(jg.dff_from_fluorescence(f_raw, f_neu * slow, frame_rate=30.0, window_s=60.0, percentile=8.0))
    # the running baseline follows the slow change: ΔF/F at rest stays ~0 in the interior (an
    # 8th percentile over a 1800-frame window of this ramp lags by 0.42 * 1800 * 0.05/6000 =
    # 0.6 %; the event frames shift it by less), where a global F0 is off by up to 2.5 %
    rest = dff_cell == 0
    rest[:900] = rest[-900:] = False
    assert np.abs(dff[rest]).max() < 0.01
    flat = np.asarray(jg.dff_from_fluorescence(f_raw, f_neu * slow, baseline="global", percentile=8.0))
    assert np.abs(flat[rest]).max() > 0.02
    const = np.asarray(jg.running_percentile(jnp.full((500, 2), 3.0), 100, 20.0))
    np.testing.assert_allclose(const, 3.0)


def test_spike_amplitudes_mean_one_cv(x64):
    g = np.asarray(jg.spike_amplitudes(jax.random.key(0), 100_000, 0.3))
    assert g.mean() == pytest.approx(1.0, abs=0.005)  # std error 0.3/sqrt(1e5) ~ 0.001
    assert g.std() / g.mean() == pytest.approx(0.3, rel=0.02)
    assert np.all(np.asarray(jg.spike_amplitudes(jax.random.key(0), 5, 0.0)) == 1.0)


def test_annulus_weights_average_the_ring():
    rois = np.array([[0.0, 0.0]])
    neurons = np.array([[5e-6, 0], [15e-6, 0], [0, 20e-6], [40e-6, 0]])
    w = jg.annulus_weights(rois, neurons, inner=10e-6, outer=30e-6)
    np.testing.assert_allclose(w, [[0, 0.5, 0.5, 0]])


def test_annulus_neuropil_in_tiles_equals_the_dense_weights(x64):
    """The tiled neuropil equals ``dff @ annulus_weights(xy, xy).T`` (float64: the same sums in
    another order, rtol 1e-12), for ROIs spread over many tiles (side 4 * outer = 120 µm) and
    bunched on a tile edge, and in 3-D; a ring with no ROI in it gives 0."""
    rng = np.random.default_rng(3)
    edge = np.column_stack([np.full(40, 120e-6) + rng.uniform(-5e-6, 5e-6, 40), rng.uniform(0, 400e-6, 40)])
    for xy in (rng.uniform(0, 500e-6, (300, 2)), edge, rng.uniform(0, 300e-6, (200, 3))):
        dff = rng.standard_normal((7, len(xy)))
        dense = dff @ jg.annulus_weights(xy, xy, inner=10e-6, outer=30e-6).T
        tiled = np.asarray(jg.annulus_neuropil(dff, xy, inner=10e-6, outer=30e-6))
        assert np.count_nonzero(np.any(dense != 0, axis=0)) > len(xy) // 2  # most ROIs have a ring
        np.testing.assert_allclose(tiled, dense, rtol=1e-12, atol=1e-15)
    lonely = np.array([[0.0, 0.0], [1e-3, 0.0]])
    assert np.all(np.asarray(jg.annulus_neuropil(np.ones((3, 2)), lonely, inner=10e-6, outer=30e-6)) == 0)
    with pytest.raises(ValueError, match="rois"):
        jg.annulus_neuropil(np.ones((3, 4)), lonely, inner=10e-6, outer=30e-6)
    with pytest.raises(ValueError, match="outer"):
        jg.annulus_neuropil(np.ones((3, 2)), lonely, inner=0.0, outer=0.0)


def test_bad_baseline_is_named():
    with pytest.raises(ValueError, match="baseline"):
        jg.dff_from_fluorescence(np.ones(10), np.ones(10), baseline="median")
    with pytest.raises(ValueError, match="frame_rate"):
        jg.dff_from_fluorescence(np.ones(10), np.ones(10))
