"""Gradients reach every GECI constant and match finite differences; vmap == loop."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


DT = 1e-4


def _spikes(T=400, N=3, seed=0):
    rng = np.random.default_rng(seed)
    sp = (rng.random((T, N)) < 60.0 * DT).astype(np.float64)
    sp[20, :] = 1.0
    return sp


def _loss_fn(spikes, method, ca_pre=None):
    weights = jnp.linspace(0.5, 1.5, spikes.shape[0] // 5)[:, None]

    def loss(sensor):
        r = jg.simulate(sensor, spikes, DT, sample_every=5, method=method, ca_pre=ca_pre)
        return jnp.sum(weights * r.dFF) + 0.1 * jnp.sum(r.dFF**2)

    return loss


CASES = [
    ("dynamic+dexp euler", lambda: jg.gcamp6f(), "euler", False),
    ("dynamic+dexp accurate", lambda: jg.gcamp6s(), "accurate", False),
    ("dynamic+null", lambda: jg.jgcamp7f(doub_exp_conv=False), "cleo", False),
    ("preexisting+dexp exact", lambda: jg.gcamp6f(pre_existing_cal=True), "cleo", True),
    ("rest baseline", lambda: jg.gcamp6f(dff_baseline="rest"), "cleo", False),
]


@pytest.mark.parametrize("label,make,method,pre", CASES, ids=[c[0] for c in CASES])
def test_every_constant_gradient_matches_finite_differences(label, make, method, pre, x64):
    sensor = make()
    spikes = _spikes()
    ca_pre = None
    if pre:
        t = np.arange(spikes.shape[0]) * DT
        ca_pre = 5e-8 + 3e-7 * np.exp(-(((t - 0.01) / 0.005) ** 2))[:, None] * np.ones((1, spikes.shape[1]))
    loss = _loss_fn(spikes, method, ca_pre)
    grads = eqx.filter_grad(loss)(sensor)
    params, static = eqx.partition(sensor, eqx.is_inexact_array)
    g_leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(grads, eqx.is_inexact_array))
    p_leaves = jax.tree_util.tree_leaves(params)
    assert len(g_leaves) == len(p_leaves) >= 4
    scale = max(abs(float(v) * float(g)) for (_, g), v in zip(g_leaves, p_leaves))
    h = 1e-5  # central differences in log space: O(h^2) ~ 1e-10 relative truncation
    for i, ((path, g), v) in enumerate(zip(g_leaves, p_leaves)):
        assert np.isfinite(float(g)), jax.tree_util.keystr(path)

        def f(logv, i=i):
            leaves = list(p_leaves)
            leaves[i] = jnp.exp(logv)
            return loss(eqx.combine(jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params), leaves), static))

        fd = (f(jnp.log(v) + h) - f(jnp.log(v) - h)) / (2 * h)  # = v * dL/dv
        analytic = float(v) * float(g)
        # FD noise ~ eps*|L|/h ~ 1e-10 relative; 1e-6 of the largest sensitivity is generous
        assert abs(analytic - float(fd)) <= 1e-6 * scale + 1e-6 * abs(analytic), (
            label,
            jax.tree_util.keystr(path),
            analytic,
            float(fd),
        )


def test_grads_finite_in_float32_and_at_zero_calcium():
    sensor = jg.gcamp6f()
    g = eqx.filter_grad(_loss_fn(_spikes(), "cleo"))(sensor)
    assert all(
        np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(eqx.filter(g, eqx.is_inexact_array))
    )
    # Ca = 0 in the input: H(0) = 0 with finite gradients (double-where)
    pre = jg.gcamp6f(pre_existing_cal=True, doub_exp_conv=False)
    ca = np.zeros((20, 2))
    ca[10:, 1] = 2e-7
    g0 = eqx.filter_grad(lambda s: jnp.sum(jg.simulate(s, None, DT, ca_pre=ca).dFF))(pre)
    assert all(
        np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(eqx.filter(g0, eqx.is_inexact_array))
    )


def test_filter_vmap_over_parameter_sets_equals_loop(x64):
    spikes = _spikes(T=300, N=4, seed=2)
    sensors = [
        jg.gcamp6f(K_d=k, tau_off=t, gamma=gm)
        for k, t, gm in [(2.0e-7, 0.01, 250.0), (2.9e-7, 0.012, 292.3), (4e-7, 0.02, 400.0)]
    ]
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *sensors)
    batched = eqx.filter_vmap(lambda s: jg.simulate(s, spikes, DT, sample_every=3).dFF)(stacked)
    for i, s in enumerate(sensors):
        single = np.asarray(jg.simulate(s, spikes, DT, sample_every=3).dFF)
        # vmapped code fuses/reorders the same float64 ops: a few ulps, grown over 300 steps
        np.testing.assert_allclose(np.asarray(batched[i]), single, rtol=1e-10, atol=1e-12 * np.abs(single).max())


def test_per_neuron_constants_equal_separate_runs(x64):
    spikes = _spikes(T=300, N=3, seed=3)
    kd = jnp.array([2e-7, 3e-7, 4e-7])
    together = jg.simulate(jg.gcamp6f(K_d=kd), spikes, DT).dFF
    for i in range(3):
        alone = jg.simulate(jg.gcamp6f(K_d=kd[i]), spikes[:, i : i + 1], DT).dFF
        np.testing.assert_allclose(np.asarray(together[:, i]), np.asarray(alone[:, 0]), rtol=1e-12, atol=0)


def test_no_retrace_for_new_constants():
    spikes = _spikes(T=100, N=2)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(sensor):
        return jg.simulate(sensor, spikes, DT, sample_every=10).dFF

    run(jg.gcamp6f())
    run(jg.gcamp6f(K_d=3.3e-7, gamma=300.0))  # same structure, new values: no retrace


def test_loop_adjoint_equals_autodiff(x64):
    """The driver's ReverseAdjoint (one reverse scan of the step's own vjp) gives the gradient
    of autodiff through the scan, w.r.t. the spike input and every constant, for the S2F
    kernel (linear), the adaptive S2F (nonlinear) and the accurate GECI step (float64: the
    same arithmetic in another order, so round-off only, rtol 1e-9)."""
    rng = np.random.default_rng(4)
    spikes = jnp.asarray((rng.random(400) < 0.03).astype(float))
    # unroll=1: the same arithmetic as the default 8, compiled ~7x faster (86 s -> 12 s here)
    for sensor in (jg.s2f("jGCaMP8m"), jg.AdaptiveS2F(jg.s2f("GCaMP6s"), c_half=2.0), jg.gcamp6f()):
        target = jg.unit_trace(sensor, spikes, 1e-3, unroll=1) * 1.3

        def loss(s, x, adjoint):
            return jnp.sum((jg.unit_trace(s, x, 1e-3, adjoint=adjoint, unroll=1) - target) ** 2)

        grad = eqx.filter_jit(jax.grad(loss, argnums=(0, 1)))  # compiled: eager is several times slower
        auto = grad(sensor, spikes, False)
        adj = grad(sensor, spikes, True)
        for a, b in zip(jax.tree_util.tree_leaves(auto), jax.tree_util.tree_leaves(adj)):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-9, atol=1e-12 * float(jnp.max(jnp.abs(a))))
        if not isinstance(sensor, jg.S2F):
            continue
        # and batched over ROIs (vmap of the custom_vjp) equals one ROI at a time
        xs = jnp.stack([spikes, jnp.roll(spikes, 37)])
        g_batch = jax.jit(jax.grad(lambda x: jnp.sum(jax.vmap(lambda xi: loss(sensor, xi, True))(x))))(xs)
        g_one = jax.jit(jax.grad(lambda x: loss(sensor, x, True)))(xs[1])
        np.testing.assert_allclose(np.asarray(g_batch[1]), np.asarray(g_one), rtol=1e-12)
