"""Scope: injections (plane and explicit modes), attributes, imaging, closed loop,
gradients, validation, plotting and Neo export."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


def _coords(n=200, seed=0, z=(80e-6, 120e-6)):
    rng = np.random.default_rng(seed)
    lo, hi = np.array([-200e-6, -200e-6, z[0]]), np.array([200e-6, 200e-6, z[1]])
    return lo + (hi - lo) * rng.random((n, 3))


def _scope(**kw):
    return jg.Scope(jg.gcamp6f(), img_width=400e-6, focus_depth=100e-6, **kw)


def _poisson(n_steps, n, rate, dt, seed):
    rng = np.random.default_rng(seed)
    return (rng.random((n_steps, n)) < rate * dt).astype(np.float32)


# ---------------------------------------------------------------------------- injection
def test_inject_returns_new_scope_and_normalises_direction(x64):
    s0 = jg.Scope(jg.gcamp6f(), 400e-6, 100e-6, direction=(0, 3, 4))
    np.testing.assert_allclose(s0.direction, [0, 0.6, 0.8], rtol=1e-15)
    s1 = s0.inject("exc", _coords())
    assert s0.n == 0 and s1.n > 0
    assert s1.populations == ("exc",)
    assert isinstance(s1, eqx.Module)


def test_roi_order_is_injection_order_and_duplicates_are_rois(x64):
    xa, xb = _coords(seed=1), _coords(150, seed=2)
    s = _scope().inject("A", xa).inject("B", xb).inject("A", xa, focus_depth=104e-6)
    n0, n1, n2 = (len(t) for t in s.i_targets_per_injct)
    np.testing.assert_array_equal(s.roi_injection, np.repeat([0, 1, 2], [n0, n1, n2]))
    assert s.populations == ("A", "B", "A") and s.population_names == ("A", "B")
    np.testing.assert_array_equal(
        s.i_targets_for_population("A"), np.concatenate([s.i_targets_per_injct[0], s.i_targets_per_injct[2]])
    )
    dup = set(np.asarray(s.i_targets_per_injct[0]).tolist()) & set(np.asarray(s.i_targets_per_injct[2]).tolist())
    assert dup, "overlapping planes should select some neurons twice"
    assert s.n == n0 + n1 + n2 == s.sigma_noise.shape[0] == s.focus_coords.shape[0]


def test_plane_mode_sigma_snr_and_rho_generator(x64):
    calls = []

    def gen(key, n):
        calls.append(n)
        return jax.random.uniform(key, (n,), minval=0.2, maxval=1.5)

    x = _coords(400, seed=3)
    sensor = jg.gcamp6f()
    s = _scope().inject("A", x, rho_rel=gen, key=jax.random.key(0))
    it, nff, cop = s.target_neurons_in_plane(x)
    assert calls == [it.size]  # called once with the candidates before the SNR cut
    rho_all = np.asarray(gen(jax.random.key(0), it.size))
    snr = rho_all * float(sensor.dFF_1AP) / (nff * float(sensor.sigma_noise))
    keep = snr > 1.0
    assert 0 < keep.sum() < it.size  # the cut matters here
    np.testing.assert_array_equal(s.i_targets, it[keep])
    np.testing.assert_allclose(s.sigma_noise, nff[keep] * float(sensor.sigma_noise), rtol=1e-15)
    np.testing.assert_allclose(s.rho_rel, rho_all[keep], rtol=1e-15)
    np.testing.assert_allclose(s.dFF_1AP, rho_all[keep] * float(sensor.dFF_1AP), rtol=1e-15)
    np.testing.assert_allclose(s.focus_coords, cop[keep], rtol=1e-15)


def test_snr_cut_is_strict(x64):
    sensor = jg.gcamp6f()
    x = np.array([[0.0, 0.0, 100e-6]])  # on the plane: focus factor exactly 1
    base = float(sensor.dFF_1AP)  # SNR = rho * dFF_1AP / base = rho
    assert _scope().inject("A", x, base_sigma=base).n == 0  # SNR == 1 == cutoff: dropped
    assert _scope().inject("A", x, base_sigma=base, rho_rel=1.0 + 1e-12).n == 1


def test_no_dff1ap_skips_cut_with_warning_and_attribute_raises(x64):
    s = jg.Scope(jg.ogb1(doub_exp_conv=False), 400e-6, 100e-6)
    with pytest.warns(UserWarning, match="SNR cutoff not used"):
        s = s.inject("A", _coords(), rho_rel=1e-6)
    assert s.n > 0
    with pytest.raises(TypeError, match="dFF_1AP"):
        s.dFF_1AP


@pytest.mark.parametrize("fd", [None, 0.0])
def test_explicit_mode(fd, x64):
    x = _coords(30)
    s = jg.Scope(jg.gcamp6f(), 400e-6, 100e-6).inject(
        "B", x, focus_depth=fd, i_targets=[4, 0, 17, 4], sigma_noise=0.07, rho_rel=[1, 2, 3, 4]
    )
    np.testing.assert_array_equal(s.i_targets, [4, 0, 17, 4])
    np.testing.assert_array_equal(s.sigma_noise, [0.07] * 4)
    np.testing.assert_array_equal(s.rho_rel, [1, 2, 3, 4])
    np.testing.assert_array_equal(s.focus_coords, x[[4, 0, 17, 4]])
    assert s.injections[0].focus_depth is None
    # scope without focus depth: explicit mode, all neurons, the sensor's sigma
    s2 = jg.Scope(jg.gcamp6f(), 400e-6).inject("B", x)
    np.testing.assert_array_equal(s2.i_targets, np.arange(30))
    np.testing.assert_allclose(s2.sigma_noise, float(jg.gcamp6f().sigma_noise))


def test_default_projection_vs_cleo_compat(x64):
    x = _coords(600, seed=5, z=(88e-6, 112e-6))
    a, b = _scope().inject("A", x), _scope(cleo_compat=True).inject("A", x)
    fa, fb = np.asarray(a.focus_coords), np.asarray(b.focus_coords)
    # default: every ROI lies on the focal plane z = 100 um; Cleo's |s| point may not
    np.testing.assert_allclose(fa[:, 2], 100e-6, rtol=1e-12)
    assert np.any(np.abs(fb[:, 2] - 100e-6) > 1e-7)


@pytest.mark.parametrize(
    "build, exc, match",
    [
        (lambda s: s.inject("A", np.zeros((5, 2))), ValueError, "coords"),
        (lambda s: s.inject("A", np.full((5, 3), np.nan)), ValueError, "coords"),
        (lambda s: s.inject(3, _coords()), TypeError, "population"),
        (lambda s: s.inject("A", _coords(), i_targets=[0, 1]), ValueError, "i_targets"),
        (lambda s: s.inject("A", _coords(), focus_depth=None, i_targets=[0, 500]), ValueError, "i_targets"),
        (lambda s: s.inject("A", _coords(), focus_depth=None, i_targets=[-1]), ValueError, "i_targets"),
        (lambda s: s.inject("A", _coords(), sigma_noise=0.1), ValueError, "sigma_noise"),
        (lambda s: s.inject("A", _coords(), soma_radius=0.0), ValueError, "soma_radius"),
        (lambda s: s.inject("A", _coords(), soma_radius=-1e-6), ValueError, "soma_radius"),
        (lambda s: s.inject("A", _coords(), focus_depth=np.nan), ValueError, "focus_depth"),
        (lambda s: s.inject("A", _coords(), rho_rel=np.ones(3)), ValueError, "rho_rel"),
        (lambda s: s.inject("A", _coords(), rho_rel=lambda k, n: np.ones(n)), ValueError, "key"),
        (lambda s: s.inject("A", _coords()).inject("A", _coords(50)), ValueError, "population 'A'"),
        (lambda s: s.inject("A", _coords()).i_targets_for_population("B"), ValueError, "unknown population"),
        (lambda s: jg.Scope(jg.gcamp6f(), 0.0, 100e-6), ValueError, "img_width"),
        (lambda s: jg.Scope(jg.gcamp6f(), 400e-6, 100e-6, direction=(0, 0, 0)), ValueError, "direction"),
        (lambda s: jg.Scope(jg.gcamp6f(), 400e-6, 100e-6, direction=(np.inf, 0, 1)), ValueError, "direction"),
        (lambda s: jg.Scope(jg.gcamp6f(), 400e-6, 100e-6, soma_radius=0), ValueError, "soma_radius"),
        (lambda s: jg.Scope(jg.gcamp6f(), 400e-6, -1e-6), ValueError, "focus_depth"),
        (lambda s: jg.Scope("gcamp6f", 400e-6, 100e-6), TypeError, "sensor"),
    ],
)
def test_bad_input(build, exc, match):
    with pytest.raises(exc, match=match):
        build(_scope())


def test_image_bad_input():
    s = _scope().inject("A", _coords(), rho_rel=1.0)
    spk = np.zeros((100, 200), np.float32)
    with pytest.raises(ValueError, match="unknown population"):
        s.image({"A": spk, "C": spk}, 1e-4, noise=False)
    with pytest.raises(ValueError, match="key"):
        s.image({"A": spk}, 1e-4)
    with pytest.raises(ValueError, match=r"\(time, 200\)"):
        s.image({"A": spk[:, :10]}, 1e-4, noise=False)
    with pytest.raises(ValueError, match="no ROIs"):
        _scope().image({}, 1e-4, noise=False)


# ---------------------------------------------------------------------------- imaging
def _two_pop_scope():
    xa, xb = _coords(120, seed=7), _coords(80, seed=8)
    s = (
        _scope()
        .inject("A", xa, rho_rel=1.0)
        .inject("B", xb, focus_depth=None, i_targets=[3, 1, 3], rho_rel=[0.5, 1, 2])
    )
    s = s.inject("A", xa, focus_depth=103e-6)
    return s


def test_image_equals_simulate_on_rois_and_sample_rate(x64):
    s = _two_pop_scope()
    dt, T = 1e-4, 1200
    spk = {"A": _poisson(T, 120, 50.0, dt, 0), "B": _poisson(T, 80, 50.0, dt, 1)}
    res = s.image(spk, dt, sample_rate=30.0, noise=False)
    assert res.steps[1] == 333 and abs(res.sample_rate_hz - 1 / (333 * dt)) < 1e-9  # 30.03 Hz
    assert res.dFF.shape == (int(np.ceil(T / 333)), s.n)
    # reference: one simulate per ROI population, columns in ROI order
    # reference: ONE simulate whose neuron r is ROI r (spikes of its population's neuron)
    pops = s.roi_population
    cols = np.stack([spk[pops[r]][:, int(s.i_targets[r])] for r in range(s.n)], axis=1)
    ref = jg.simulate(jg.gcamp6f(), cols, dt, rho_rel=s.rho_rel, sample_every=333).dFF
    np.testing.assert_allclose(res.dFF_clean, ref, rtol=1e-12, atol=1e-15)
    assert float(jnp.max(res.dFF_clean)) > 0.05  # spikes visible
    # SpikeTrains input gives the same result as dense counts
    res_ev = s.image({k: jg.SpikeTrains.from_dense(v) for k, v in spk.items()}, dt, sample_rate=30.0, noise=False)
    np.testing.assert_allclose(res_ev.dFF_clean, res.dFF_clean, rtol=1e-12, atol=1e-15)


def test_noise_statistics_and_key(x64):
    s = _scope().inject("A", _coords(300, seed=9))
    spk = {"A": jg.SpikeTrains(steps=[], neurons=[], n_steps=1000, n_neurons=300)}
    res = s.image(spk, 1e-4, sample_every=1, key=jax.random.key(3))
    z = np.asarray(res.noise / res.sigma[None, :])
    # 2000 x n_rois draws: pooled mean/std within 5 standard errors of N(0, 1)
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.std() - 1) < 5 / np.sqrt(2 * n)
    again = s.image(spk, 1e-4, sample_every=1, key=jax.random.key(3))
    np.testing.assert_array_equal(again.dFF, res.dFF)


def test_closed_loop_equals_offline_including_noise(x64):
    s = _two_pop_scope()
    dt, T, every = 1e-4, 120, 30
    spk = {"A": _poisson(T, 120, 200.0, dt, 2), "B": _poisson(T, 80, 200.0, dt, 3)}
    key = jax.random.key(11)
    off = s.image(spk, dt, sample_every=every, key=key)
    reader = s.closed_loop(dt, key=key, save_history=True)
    got = []
    for k in range(T):
        if k % every == 0:
            got.append(reader.get_state())
        reader.step({p: v[k] for p, v in spk.items()})
    np.testing.assert_allclose(np.stack(got), off.dFF, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(reader.t, np.asarray(off.t), rtol=1e-12)
    np.testing.assert_allclose(reader.dFF, off.dFF, rtol=1e-12, atol=1e-15)
    # state after all steps = simulate's final_state read out (Cleo's get_state after n steps)
    end = s.get_state(reader.state)
    end_off = s.image(spk, dt, sample_times=[T * dt], noise=False).dFF_clean[-1]
    np.testing.assert_allclose(end, end_off, rtol=1e-12, atol=1e-15)


def test_gradient_through_image_equals_simulate(x64):
    s = _scope().inject("A", _coords(120, seed=7), rho_rel=1.0)
    dt, T = 1e-4, 600
    spk = _poisson(T, 120, 60.0, dt, 4)
    nid = np.asarray(s.i_targets)
    rho = s.rho_rel
    target = 0.05

    def via_image(consts):
        sensor = jg.gcamp6f().replace(**consts)
        res = s.with_sensor(sensor).image({"A": spk}, dt, sample_every=10, key=jax.random.key(0))
        # additive noise does not depend on the constants: d mean(noisy) = d mean(clean)
        return jnp.mean((res.dFF_clean - target) ** 2) + jnp.mean(res.dFF)

    def via_simulate(consts):
        sensor = jg.gcamp6f().replace(**consts)
        y = jg.simulate(sensor, spk[:, nid], dt, rho_rel=rho, sample_every=10, record=("dFF",)).dFF
        return jnp.mean((y - target) ** 2) + jnp.mean(y)

    c0 = {"K_d": jnp.asarray(2.9e-7), "n_H": jnp.asarray(2.7), "tau_off": jnp.asarray(0.0101)}
    g1 = jax.grad(via_image)(c0)
    g2 = jax.grad(via_simulate)(c0)
    for k in c0:
        assert np.isfinite(g1[k]) and g1[k] != 0
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-10)


def test_scope_with_s2f_sensor():
    sensor = jg.s2f("jGCaMP8f")
    s = jg.Scope(sensor, 400e-6, 100e-6).inject("A", _coords())
    assert s.n > 0
    res = s.image({"A": _poisson(300, 200, 30.0, 1e-3, 0)}, 1e-3, sample_every=10, key=jax.random.key(0))
    assert res.dFF.shape == (30, s.n) and np.all(np.isfinite(np.asarray(res.dFF)))


# ---------------------------------------------------------------------------- plotting / export
def test_plot_draws_scope_planes_and_rois(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    s = _two_pop_scope()
    fig, ax = s.plot({"A": _coords(120, seed=7)})
    labels = [h.get_label() for h in ax.get_legend_handles_labels()[0]]
    assert any("ROIs" in lbl and f"n={s.n}" in lbl for lbl in labels)
    assert any("focal plane" in lbl for lbl in labels)
    assert "µm" in ax.get_xlabel()
    fig.savefig(tmp_path / "scope.png")
    assert (tmp_path / "scope.png").stat().st_size > 1000
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_to_neo_annotations():
    neo = pytest.importorskip("neo")
    pytest.importorskip("quantities")
    s = _two_pop_scope()
    spk = {"A": _poisson(200, 120, 30.0, 1e-4, 0), "B": _poisson(200, 80, 30.0, 1e-4, 1)}
    res = s.image(spk, 1e-4, sample_every=20, key=jax.random.key(0))
    block = s.to_neo(res)
    assert isinstance(block, neo.Block)
    sig = block.segments[0].irregularlysampledsignals[0]
    assert sig.shape == (10, s.n)
    for k in ("sensor", "scope_direction", "scope_location", "focus_depth", "img_width", "export_datetime"):
        assert k in sig.annotations and k in block.annotations
    assert sig.annotations["focus_depth"] == pytest.approx(100.0)
    assert sig.annotations["img_width"] == pytest.approx(400.0)
    for k in ("dFF_1AP", "x", "y", "z", "i_roi"):
        assert sig.array_annotations[k].shape == (s.n,)
    np.testing.assert_allclose(sig.array_annotations["z"][: len(s.i_targets_per_injct[0])], 100.0, rtol=1e-5)
    np.testing.assert_array_equal(sig.array_annotations["i_roi"], np.arange(s.n))


def test_image_under_filter_jit_and_vmap_over_sensors():
    s = _scope().inject("A", _coords(80, seed=7), rho_rel=1.0)
    spk = _poisson(300, 80, 60.0, 1e-4, 5)

    @eqx.filter_jit
    def run(scope):
        return scope.image({"A": spk}, 1e-4, sample_every=30, noise=False).dFF_clean

    eager = s.image({"A": spk}, 1e-4, sample_every=30, noise=False).dFF_clean
    np.testing.assert_allclose(run(s), eager, rtol=1e-5, atol=1e-6)  # float32 (eps 6e-8); jit may fuse ops differently
    # vmap over a batch of K_d values == loop
    kds = jnp.array([2.0e-7, 2.9e-7, 4.0e-7])
    sensors = eqx.filter_vmap(lambda k: jg.gcamp6f(K_d=k))(kds)
    batched = eqx.filter_vmap(lambda sen: run(s.with_sensor(sen)))(sensors)
    for k, kd in enumerate(kds):
        np.testing.assert_allclose(batched[k], run(s.with_sensor(jg.gcamp6f(K_d=kd))), rtol=1e-5, atol=1e-6)
    assert not np.allclose(batched[0], batched[2])


def test_image_pre_existing_calcium_equals_simulate(x64):
    sensor = jg.gcamp6f(pre_existing_cal=True)  # pre-existing Ca + double exponential
    x = _coords(60, seed=11)
    s = jg.Scope(sensor, 400e-6, 100e-6).inject("A", x, rho_rel=0.7)
    T = 400
    t = np.arange(T) * 1e-4
    rng = np.random.default_rng(0)
    amp = rng.uniform(1e-7, 5e-7, 60)
    ca = 5e-8 + amp[None, :] * np.exp(-np.maximum(t[:, None] - 0.01, 0) / 0.02) * (t[:, None] >= 0.01)
    res = s.image(None, 1e-4, ca_pre_by_population={"A": ca}, sample_every=20, noise=False)
    nid = np.asarray(s.i_targets)
    ref = jg.simulate(sensor, None, 1e-4, rho_rel=s.rho_rel, ca_pre=ca[:, nid], sample_every=20).dFF
    np.testing.assert_allclose(res.dFF_clean, ref, rtol=1e-12, atol=1e-15)
    assert float(jnp.max(res.dFF_clean)) > 0.01
