"""Noise models: Cleo parity, the exact photon sampler vs its Gaussian surrogate, the
photon-transfer curve, keys and gradients."""

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
import scipy.stats

import jaxgeci as jg


def _poisson(n_steps, n, rate, dt, seed):
    rng = np.random.default_rng(seed)
    return (rng.random((n_steps, n)) < rate * dt).astype(np.float32)


def test_cleo_noise_is_bit_identical_to_scope(x64):
    rng = np.random.default_rng(1)
    coords = np.column_stack([rng.uniform(-50e-6, 50e-6, (30, 2)), np.full(30, 100e-6)])
    scope = jg.Scope(jg.gcamp6f(), img_width=400e-6, focus_depth=100e-6).inject("A", coords)
    key = jax.random.key(3)
    res = scope.image({"A": _poisson(2000, 30, 20.0, 1e-4, 0)}, 1e-4, sample_rate=100, key=key)
    noisy = jg.CleoGaussianNoise(res.sigma).sample(key, res.dFF_clean)
    assert res.dFF.shape[1] > 5
    np.testing.assert_array_equal(np.asarray(noisy), np.asarray(res.dFF))  # bit-identical


@pytest.mark.parametrize("photons", [10.0, 30.0, 100.0])
def test_surrogate_matches_exact_sampler_ks(x64, photons):
    # 1e5 draws: the KS statistic's sampling noise is ~1.36/sqrt(1e5) = 0.004 (95 %), so the
    # 0.05 bound tests the surrogate's shape error (Edgeworth: skewness/(6 sqrt(2 pi)) ~ 0.03 at
    # 10 photons with NAOMi's gain), not the sample size.
    model = jg.PhotonNoise(photons, n_pixels=20.0)
    clean = jnp.full((100_000,), 0.5)
    x = np.asarray(model.sample(jax.random.key(0), clean))
    mean, var = (np.asarray(a)[0] for a in model.moments(clean))
    ks = scipy.stats.kstest(x, scipy.stats.norm(mean, np.sqrt(var)).cdf).statistic
    assert ks <= 0.05, ks
    # and the moments themselves agree with the draws (std error of the mean ~ 0.3 % of sigma)
    assert abs(x.mean() - mean) < 0.02 * np.sqrt(var)
    assert abs(x.var() / var - 1) < 0.02  # var of a sample variance: ~sqrt(2/1e5)(1+kurt) < 1 %


def test_photon_transfer_curve_has_pmt_slope_and_intercept(x64):
    # var(out) = slope * mean(out) + intercept with slope = G * ENF = G + var_G/G = 123 and
    # intercept = n_pixels * read_sigma**2 (the dark counts are part of the mean).
    lam = jnp.array([5.0, 50.0, 200.0])
    n_pix = 10.0
    keys = jax.random.split(jax.random.key(1), 50_000)
    out = jax.vmap(lambda k: jg.photon_sample(k, lam, n_pixels=n_pix))(keys)
    m, v = np.asarray(out.mean(0)), np.asarray(out.var(0))
    slope, intercept = np.polyfit(m, v, 1)
    # relative std of each variance estimate ~ sqrt(2/5e4) ~ 0.6 % (a bit more for the heavier
    # compound-Poisson tail): 3 % is > 4 sigma for the slope
    assert slope == pytest.approx(100.0 + 2300.0 / 100.0, rel=0.03)
    # the intercept (72.9 output units²) is small next to the variances (~1e4-1e6): check it
    # against the analytic curve at the smallest mean instead of the noisy fit
    mean_a, var_a = jg.photon_moments(lam, n_pixels=n_pix)
    np.testing.assert_allclose(m, mean_a, rtol=0.01)
    np.testing.assert_allclose(v, var_a, rtol=0.03)
    np.testing.assert_allclose(var_a - 123.0 * mean_a, n_pix * 2.7**2, rtol=1e-9)


def test_read_noise_only_intercept(x64):
    # no photons and no dark counts: pure read noise, var = n_pixels * read_sigma**2
    keys = jax.random.split(jax.random.key(2), 100_000)
    out = jax.vmap(lambda k: jg.photon_sample(k, jnp.zeros(()), n_pixels=4.0, dark_counts=0.0))(keys)
    assert float(out.var()) == pytest.approx(4 * 2.7**2, rel=0.02)
    assert abs(float(out.mean())) < 0.05


@pytest.mark.parametrize("model", [jg.CleoGaussianNoise(0.1), jg.PhotonNoise(50.0), jg.PhotonGaussianNoise(50.0)])
def test_same_key_same_draw_and_per_sample_keys(x64, model):
    clean = jnp.linspace(0, 1, 40).reshape(20, 2)
    a = model.sample(jax.random.key(5), clean)
    b = model.sample(jax.random.key(5), clean)
    c = model.sample(jax.random.key(6), clean)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    # sample m depends on fold_in(key, m) only: the first 5 rows of a longer run are the same
    head = model.sample(jax.random.key(5), clean[:5])
    np.testing.assert_array_equal(np.asarray(head), np.asarray(a[:5]))


def test_surrogate_log_likelihood_gradients_finite_and_correct(x64):
    model = jg.PhotonNoise(jnp.array([20.0, 80.0]), n_pixels=30.0)
    pred = jnp.stack([jnp.linspace(0, 2, 12), jnp.linspace(0.5, 0, 12)], axis=1)
    obs = model.sample(jax.random.key(0), pred)

    def f(p, photons):
        return jg.PhotonNoise(photons, n_pixels=30.0).log_likelihood(obs, p)

    g_pred, g_ph = jax.grad(f, argnums=(0, 1))(pred, model.photons)
    assert np.all(np.isfinite(np.asarray(g_pred))) and np.all(np.isfinite(np.asarray(g_ph)))
    jax.test_util.check_grads(f, (pred, model.photons), order=1, modes=("rev",), eps=1e-6)
    # negative predictions clip the rate at 0 photons: still finite (read noise keeps var > 0)
    g0 = jax.grad(f)(pred - 3.0, model.photons)
    assert np.all(np.isfinite(np.asarray(g0)))


def test_cleo_log_likelihood_is_gaussian(x64):
    m = jg.CleoGaussianNoise(jnp.array([0.1, 0.2]))
    obs, pred = jnp.array([[0.1, -0.2]]), jnp.zeros((1, 2))
    want = scipy.stats.norm(0, 0.1).logpdf(0.1) + scipy.stats.norm(0, 0.2).logpdf(-0.2)
    assert float(m.log_likelihood(obs, pred)) == pytest.approx(want, rel=1e-12)


def test_photon_noise_sigma_halves_with_4x_photons(x64):
    # shot-noise dominated (no read noise/dark counts): sd = sqrt(ENF (1 + dff) / photons)
    clean = jnp.zeros((1,))
    sd = [
        float(jnp.sqrt(jg.PhotonNoise(p, read_sigma=0.0, dark_counts=0.0).moments(clean)[1][0])) for p in (100.0, 400.0)
    ]
    assert sd[1] / sd[0] == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"photons": -1.0}, "photons"),
        ({"photons": 10.0, "gain_var": 0.0}, "gain_var"),
        ({"photons": 10.0, "read_sigma": float("nan")}, "read_sigma"),
    ],
)
def test_bad_constants_are_named(kw, msg):
    with pytest.raises(ValueError, match=msg):
        jg.PhotonNoise(**kw)
    with pytest.raises(ValueError, match="sigma"):
        jg.CleoGaussianNoise(-0.1)


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="time-major"):
        jg.PhotonNoise(10.0).sample(jax.random.key(0), jnp.zeros((2, 2, 2)))


@pytest.mark.parametrize("model", [jg.PhotonNoise, jg.PhotonGaussianNoise])
def test_sample_photons_is_sample_in_photon_units(x64, model):
    """``sample_photons`` is ``sample`` on the relative signal, scaled back by the resting
    photons (identical draw for the same key), and its mean over many frames is the expected
    photon count: 2000 frames at 200-800 photons, std error of the mean < 1 % of it."""
    noise = model(jnp.array([200.0, 400.0]))
    expected = jnp.array([[200.0, 400.0], [800.0, 400.0]]).repeat(1000, axis=0)
    key = jax.random.key(3)
    got = noise.sample_photons(key, expected)
    rest = jnp.broadcast_to(noise.photons, expected.shape)
    want = rest * (1.0 + noise.sample(key, expected / rest - 1.0))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    # shot noise std ~ sqrt(1.23 * 800) = 31 photons per frame: 1000 frames give a std error of
    # 1 photon, so 1 % (2-8 photons) is > 2 standard errors
    means = np.asarray(got).reshape(2, 1000, 2).mean(axis=1)
    np.testing.assert_allclose(means, [[200.0, 400.0], [800.0, 400.0]], rtol=0.01)
