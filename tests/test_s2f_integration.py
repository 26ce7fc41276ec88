"""S2F sensors inside the Scope and the fitting pipeline (the parts built generically over any
Sensor)."""

import jax
import numpy as np
import pytest

import jaxgeci as jg


def test_scope_images_an_s2f_sensor():
    s = jg.s2f("jGCaMP8m")
    rng = np.random.default_rng(0)
    coords = np.c_[rng.uniform(-200e-6, 200e-6, (40, 2)), rng.uniform(95e-6, 105e-6, 40)]
    scope = jg.Scope(s, img_width=500e-6, focus_depth=100e-6).inject("exc", coords, key=jax.random.key(0))
    assert scope.n > 0
    # the SNR cut uses the model-derived dFF_1AP (rho_rel = 1 by default)
    np.testing.assert_allclose(np.asarray(scope.dFF_1AP), float(s.dFF_1AP), rtol=1e-6)
    spikes = np.zeros((200, 40), np.float32)
    spikes[10, ::3] = 1
    img = scope.image({"exc": spikes}, 1e-3, sample_every=5, noise=False)
    ref = np.asarray(jg.simulate(s, spikes, 1e-3, sample_every=5).dFF)
    idx = np.asarray(scope.i_targets_for_population("exc"))
    # same sensor, same steps: equal up to float32 rounding
    np.testing.assert_allclose(np.asarray(img.dFF_clean), ref[:, idx], rtol=1e-5, atol=1e-7)


def test_fit_recovers_an_s2f_decay():
    """A synthetic jGCaMP8m recording with tau_d1 = 60 ms (preset: 41.6 ms); fitting tau_d1
    alone must move it most of the way (30 Adam steps reach ~58 ms)."""
    from jaxgeci._recording import Recording

    rng = np.random.default_rng(0)
    dt, dur, fr = 1e-3, 40.0, 100.0
    spk = np.sort(rng.uniform(0, dur, 120))
    sp = np.zeros((int(dur / dt), 1), np.float32)
    np.add.at(sp[:, 0], np.floor(spk / dt).astype(int), 1)
    res = jg.simulate(jg.s2f("jGCaMP8m", tau_d1=0.06), sp, dt, sample_every=int(round(1 / (fr * dt))))
    t = np.asarray(res.t)
    dff = np.asarray(res.dFF[:, 0]) + 0.02 * rng.standard_normal(t.size)
    rec = Recording.create(t, dff, spk, fr, indicator="jGCaMP8m", name="synthetic")
    out = jg.fit(
        [rec],
        jg.s2f("jGCaMP8m"),
        free=("tau_d1",),
        n_steps=30,
        progress=False,
        learning_rate=0.1,
        config=jg.FitConfig(unroll=1),
    )
    assert out.loss_history[-1] < 0.6 * out.loss_history[0]
    assert out.constants["tau_d1"] == pytest.approx(0.06, rel=0.1)  # measured 0.0578
