"""Fitting machinery on synthetic recordings made by jaxgeci with known constants + noise."""

import dataclasses

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci
from jaxgeci._fit import batch_loss, forward_mode, make_loss
from jaxgeci._params import is_free
from jaxgeci._projection import lag_grid
from jaxgeci._unit_trace import unit_trace_segmented


DT = 1e-3
# Cheap settings for the machinery tests: 2 ms steps, exact sequential simulation (no
# segmented gradient path to compile), a scan unrolled by 1 (compiles ~2x faster than the
# default 8, same results up to round-off).
FAST = jaxgeci.FitConfig(dt=2e-3, segment_s=None, unroll=1)


def _recs(sensor, n=3, duration=20.0, noise=0.02):
    return [
        jaxgeci.synthetic_recording(
            sensor,
            jax.random.key(i),
            duration_s=duration,
            name=f"c{i}",
            rho_rel=1.0 + 0.3 * i,
            lag_s=0.01 * i,
            offset=-0.05 + 0.02 * i,
            drift_per_s=0.001 * i,
            noise_std=noise,
        )
        for i in range(n)
    ]


def test_unit_trace_is_simulate(x64):
    """The fit's fine trace is the same physics as jaxgeci.simulate (read every step)."""
    s = jaxgeci.gcamp6f()
    rng = np.random.default_rng(1)
    spikes = np.zeros(3000)
    spikes[rng.integers(0, 2900, 15)] = 1.0
    tr = jaxgeci.unit_trace(s, jnp.asarray(spikes), DT, "accurate")
    ref = jaxgeci.simulate(s, spikes[:, None], DT, method="accurate", record=("dFF",)).dFF[:, 0]
    np.testing.assert_allclose(tr, ref, rtol=1e-12, atol=1e-14)  # identical operations


def test_segmented_trace_values_equal_sequential(x64):
    s = jaxgeci.gcamp6s()
    rng = np.random.default_rng(2)
    spikes = np.zeros(10_000)
    spikes[rng.integers(0, 9900, 60)] = 1.0
    seq = jaxgeci.unit_trace(s, jnp.asarray(spikes), DT)
    seg = unit_trace_segmented(s, jnp.asarray(spikes), DT, segment_steps=1500, warmup_steps=500)
    # segments restart from the exact sequential state: only round-off differs
    np.testing.assert_allclose(seg, seq, rtol=1e-9, atol=1e-12)


def test_projection_recovers_nuisance_terms(x64):
    """Noise-free data with known rho_rel, lag and a linear baseline -> EV = 1 and the terms."""
    s = jaxgeci.gcamp6f()
    rec = jaxgeci.synthetic_recording(
        s, jax.random.key(3), duration_s=40.0, rho_rel=1.7, lag_s=0.02, offset=0.1, drift_per_s=-0.002, noise_std=0.0
    )
    (r,) = jaxgeci.evaluate(s, [rec], lag_step_s=0.001)
    # exact model; simulate reads the nearest ms, evaluate interpolates linearly: 1e-5 covers it
    assert r["ev"] > 1 - 1e-5
    assert r["lag_s"] == pytest.approx(0.02, abs=1e-9)
    assert r["rho_rel"] == pytest.approx(1.7, rel=1e-3)
    np.testing.assert_allclose(r["baseline"], 0.1 - 0.002 * rec.t_frames, atol=2e-3)
    # EV recomputed from the traces alone gives the same number
    # (the loss forms sse = y'y - b'c with a 1e-9 ridge; the direct residual differs by ~1e-8)
    assert jaxgeci.explained_variance(rec.dff, r["model"], rec.t_frames) == pytest.approx(r["ev"], abs=1e-7)


def test_constraints_roundtrip():
    p = jaxgeci.Positive(3e-7)
    assert float(p.unwrap()) == pytest.approx(3e-7, rel=1e-6)
    b = jaxgeci.Bounded(0.25, 0.0, 1.0)
    assert float(b.unwrap()) == pytest.approx(0.25, rel=1e-6)
    with pytest.raises(ValueError, match="> 0"):
        jaxgeci.Positive(-1.0)
    with pytest.raises(ValueError, match="lie in"):
        jaxgeci.Bounded(2.0, 0.0, 1.0)
    tree = {"a": jaxgeci.Positive(2.0), "b": jnp.asarray(1.0), "c": jaxgeci.Real(-3.0)}
    out = jaxgeci.unwrap(tree)
    assert float(out["a"]) == pytest.approx(2.0) and float(out["c"]) == -3.0


def test_make_params_validates():
    s = jaxgeci.gcamp6f()
    with pytest.raises(ValueError, match="not constants"):
        jaxgeci.make_params(s, ["nope"])
    with pytest.raises(ValueError, match="must also be free"):
        jaxgeci.make_params(s, ["gamma"], per_cell=["K_d"])
    p = jaxgeci.make_params(s, ["gamma", "K_d"], per_cell=["K_d"], n_cells=3)
    assert isinstance(p.cal_model.gamma, jaxgeci.Positive) and p.K_d.log.shape == (3,)


def test_positive_with_ceiling_constraint(x64):
    """("positive", upper): values above the ceiling start just below it, an unbounded raw step
    cannot cross it, and far below it a raw step is a log-space step (as Positive)."""
    s = jaxgeci.s2f("jGCaMP8f").replace(tau_d2=15.0)
    p = jaxgeci.make_params(
        s, ["tau_r", "tau_d2"], constraints={"tau_r": ("positive", 10.0), "tau_d2": ("positive", 10.0)}
    )
    assert isinstance(p.tau_d2, jaxgeci.Bounded)
    assert float(jaxgeci.unwrap(p).tau_d2) == pytest.approx(9.99, rel=1e-9)  # clipped to (1 - 1e-3) * 10 s
    assert float(jaxgeci.unwrap(p).tau_r) == pytest.approx(float(s.tau_r), rel=1e-9)  # below: unchanged
    huge = eqx.tree_at(lambda q: q.tau_d2.raw, p, jnp.asarray(1e3))
    assert float(jaxgeci.unwrap(huge).tau_d2) <= 10.0
    # d log(tau_r) / d raw = 1 - tau_r / upper (tau_r ~ 1 ms here: within 1e-3 of a log step)
    d = jax.grad(lambda raw: jnp.log(jaxgeci.unwrap(eqx.tree_at(lambda q: q.tau_r.raw, p, raw)).tau_r))(p.tau_r.raw)
    assert float(d) == pytest.approx(1.0 - float(s.tau_r) / 10.0, rel=1e-9)


def test_gradient_matches_finite_differences(x64):
    """d(loss)/d(log gamma) on the exact simulation vs central differences in log space."""
    s = jaxgeci.gcamp6f()
    recs = _recs(s.replace(gamma=400.0), n=2, duration=5.0)
    batch = jaxgeci.make_batch(recs, 2e-3)
    lags = jnp.asarray(lag_grid(0.05, 0.005))
    cfg = jaxgeci.FitConfig(unroll=1)
    params = jaxgeci.make_params(s, ["gamma"])

    @jax.jit  # one compiled loss (eager evaluation dispatches op by op: several times slower)
    def f(logg):
        p = eqx.tree_at(lambda q: q.cal_model.gamma.log, params, logg)
        return batch_loss(p, batch, cfg, lags, exact=True)[0]

    x = params.cal_model.gamma.log
    g = jax.jit(jax.grad(f))(x)
    h = 1e-5
    fd = (f(x + h) - f(x - h)) / (2 * h)
    # the lag argmin is piecewise constant; away from a switch the loss is smooth: FD error O(h^2)
    assert float(g) == pytest.approx(float(fd), rel=1e-5)
    assert abs(float(g)) > 1e-4  # the start is off, so the gradient is not trivially 0


@pytest.mark.parametrize("model", ["s2f", "s2f-adaptive", "geci"])
def test_forward_mode_gradient_is_exact(x64, model):
    """The default forward-mode gradient (jvp tangents through the sequential scan, reverse
    mode through the projection) equals reverse mode through the same exact simulation (by
    autodiff and by the loop's adjoint), and central finite differences, for every free
    constant at once (S2F: 6, adaptive S2F: 7, GECI: 3)."""
    spec = jaxgeci.get_model(model)
    if model.startswith("s2f"):
        s = spec.initial("jGCaMP8m")
        if model == "s2f-adaptive":
            s = s.replace(c_half=3.0)
        truth = s.replace(tau_d1=1.3 * float(s.params["tau_d1"]), beta=0.8 * float(s.params["beta"]))
        free = spec.default_free
    else:
        s = jaxgeci.gcamp6f()
        truth = s.replace(gamma=400.0, tau_off=0.02)
        free = ("gamma", "tau_off", "K_d")
    recs = _recs(truth, n=2, duration=5.0)
    batch = jaxgeci.make_batch(recs, 2e-3)
    lags = jnp.asarray(lag_grid(0.05, 0.005))
    params = jaxgeci.make_params(s, free, constraints=spec.constraints)
    tr, frozen = eqx.partition(params, is_free(params))
    fwd = jaxgeci.FitConfig(dt=2e-3, unroll=1)
    rev = jaxgeci.FitConfig(dt=2e-3, gradient="reverse", segment_s=None, unroll=1)
    x, unravel = jax.flatten_util.ravel_pytree(tr)

    def grad(cfg):
        val, g = jax.jit(jax.value_and_grad(lambda z: make_loss(frozen, cfg, lags)(unravel(z), batch)))(x)
        return float(val), np.asarray(g)

    (vf, gf), (vr, gr) = grad(fwd), grad(rev)
    assert vf == pytest.approx(vr, rel=1e-14)  # the same primal computation
    assert np.all(np.abs(gr) > 1e-5)  # the start is off: no trivially zero component
    # the same derivatives accumulated in a different order: round-off only
    np.testing.assert_allclose(gf, gr, rtol=1e-8)
    # the loop's own adjoint (one reverse scan of the step's vjp) gives the same gradient
    va, ga = grad(jaxgeci.FitConfig(dt=2e-3, gradient="adjoint", unroll=1))
    assert va == pytest.approx(vr, rel=1e-14)
    np.testing.assert_allclose(ga, gr, rtol=1e-8)
    f = jax.jit(lambda z: make_loss(frozen, rev, lags)(unravel(z), batch))
    h = 1e-5
    fd = np.array([(float(f(x + h * e)) - float(f(x - h * e))) / (2 * h) for e in np.eye(x.size)])
    # central differences in the unconstrained coordinates: truncation O(h^2) ~ 1e-10 and
    # round-off ~ 1e-16 / h ~ 1e-11, against gradients >= 1e-5: rtol 1e-4 leaves a wide margin
    np.testing.assert_allclose(gf, fd, rtol=1e-4, atol=1e-9)


def test_forward_mode_custom_vjp_against_closed_form(x64):
    """forward_mode(inner, outer) on a toy composition with a known gradient."""
    a = jnp.linspace(0.0, 1.0, 50)

    def inner(x, aux):
        return jnp.sin(x[0] * aux) + x[1] * aux**2

    def outer(y, aux):
        return jnp.sum(y**2 * aux)

    f = forward_mode(inner, outer)
    x = jnp.asarray([0.7, -0.3])
    y = inner(x, a)
    dy = jnp.stack([a * jnp.cos(x[0] * a), a**2])
    expected = dy @ (2 * y * a)
    np.testing.assert_allclose(jax.grad(f)(x, a), expected, rtol=1e-12)
    assert float(f(x, a)) == pytest.approx(float(outer(y, a)), rel=1e-15)
    with pytest.raises(ValueError, match="gradient"):
        jaxgeci.FitConfig(gradient="backward")


@pytest.mark.slow
def test_fit_recovers_known_constants(x64):
    """Three noisy cells (noise std 0.02, signal ~0.5), constants shared; start 30-50 % off.

    Tolerance 10 %: with 20 s per cell the loss valley along gamma is shallow (its EV changes
    by ~1e-4 per 10 %), and 80 Adam steps get within a few % (measured 3 % / 1.5 %)."""
    true = jaxgeci.gcamp6f().replace(gamma=400.0, tau_off=0.02)
    recs = _recs(true)
    start = jaxgeci.gcamp6f().replace(gamma=292.3, tau_off=0.0101)
    res = jaxgeci.fit(
        recs,
        start,
        ["gamma", "tau_off"],
        n_steps=80,
        learning_rate=0.05,
        config=jaxgeci.FitConfig(segment_s=5.0, warmup_s=3.0, unroll=1),
        progress=False,
    )
    assert res.constants["gamma"] == pytest.approx(400.0, rel=0.1)
    assert res.constants["tau_off"] == pytest.approx(0.02, rel=0.1)
    assert res.loss_history[-1] < 0.1 * res.loss_history[0]
    for i, c in enumerate(res.cells.values()):
        assert c["ev"] > 0.99
        assert c["rho_rel"] == pytest.approx(1.0 + 0.3 * i, rel=0.1)
        assert c["lag_s"] == pytest.approx(0.01 * i, abs=0.0051)  # fit grid step 5 ms


def test_frozen_constants_get_zero_update(x64):
    s = jaxgeci.gcamp6f()
    recs = _recs(s.replace(gamma=400.0), n=2, duration=6.0)
    res = jaxgeci.fit(recs, s, ["gamma"], n_steps=3, learning_rate=0.1, config=FAST, progress=False)
    before, after = s.params, res.sensor.params
    for k, v in before.items():
        if k == "gamma":
            assert float(after[k]) != float(v)
        elif v is not None:
            np.testing.assert_array_equal(np.asarray(after[k]), np.asarray(v))


@pytest.mark.slow  # several fits, each compiles its step (~60 s on an idle 2-core box)
def test_resumed_fit_equals_uninterrupted(x64, tmp_path):
    s = jaxgeci.gcamp6f()
    recs = _recs(s.replace(gamma=400.0, tau_off=0.02), n=2, duration=6.0)
    kw = dict(n_steps=6, learning_rate=0.1, progress=False, checkpoint_every=2, config=FAST)
    full = jaxgeci.fit(recs, s, ["gamma", "tau_off"], checkpoint=tmp_path / "a.eqx", **kw)
    ck = tmp_path / "b.eqx"
    part = jaxgeci.fit(recs, s, ["gamma", "tau_off"], checkpoint=ck, stop_after=3, **kw)  # "interrupted"
    assert part.n_steps == 3
    resumed = jaxgeci.fit(recs, s, ["gamma", "tau_off"], checkpoint=ck, **kw)
    assert resumed.n_steps == 6
    assert resumed.constants == full.constants  # bit-identical
    assert resumed.loss_history == full.loss_history
    # a checkpoint of a different fit is refused
    with pytest.raises(ValueError, match="different fit"):
        jaxgeci.fit(recs, s, ["gamma"], checkpoint=ck, **kw)


@pytest.mark.slow  # several fits, each compiles its step (~60 s on an idle 2-core box)
def test_per_cell_constants_and_vmap_equals_loop(x64):
    s = jaxgeci.gcamp6f()
    recs = _recs(s, n=3, duration=6.0)
    res = jaxgeci.fit(recs, s, ["gamma", "dCa_T"], per_cell=["dCa_T"], n_steps=2, config=FAST, progress=False)
    d = np.asarray(res.sensor.cal_model.dCa_T)
    assert d.shape == (3,) and np.asarray(res.sensor.cal_model.gamma).shape == ()
    # batched EV of each cell == evaluating that cell alone with its own constants
    for i, rec in enumerate(recs):
        single = res.sensor.replace(dCa_T=float(d[i]))
        (r,) = jaxgeci.evaluate(single, [rec], dt=FAST.dt, lag_step_s=0.005)
        assert r["ev"] == pytest.approx(res.cells[rec.name]["ev"], abs=1e-9)


def test_results_roundtrip_and_dataset_selection(x64, tmp_path):
    s = jaxgeci.gcamp6f()
    recs = _recs(s, n=2, duration=6.0)
    res = jaxgeci.fit(recs, s, ["gamma"], n_steps=2, config=FAST, progress=False)
    pset = jaxgeci.parameter_set(res, recs, model="geci")
    other = dict(pset, datasets=["DS_other"], constants=dict(pset["constants"], gamma=123.0))
    path = tmp_path / "GCaMP6f.json"
    jaxgeci.write_results(path, "GCaMP6f", {"main": pset, "other": other}, default="main")
    built = jaxgeci.sensor_from_results(path, dataset="synthetic")
    assert float(built.cal_model.gamma) == pytest.approx(res.constants["gamma"], rel=1e-12)
    assert float(jaxgeci.sensor_from_results(path, dataset="DS_other").cal_model.gamma) == 123.0
    assert jaxgeci.select_parameter_set(path, "unknown")[0] == "main"  # falls back to the default
    # dFF_max absorbs the median amplitude: the median rho_rel of the set is 1
    assert np.median([c["rho_rel"] for c in pset["cells"].values()]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="default"):
        jaxgeci.write_results(path, "GCaMP6f", {"main": pset}, default="x")


def test_fit_is_generic_over_sensors_s2f(x64):
    """The same machinery fits the S2F sensor (constraints: r in (0, 1), Ca0 real)."""
    true = jaxgeci.s2f("jGCaMP8m")
    recs = _recs(true.replace(tau_d1=1.3 * float(true.tau_d1)), n=2, duration=6.0)
    spec = jaxgeci.get_model("s2f")
    res = jaxgeci.fit(
        recs,
        true,
        ["tau_d1", "r", "Ca0"],
        constraints=spec.constraints,
        n_steps=15,
        learning_rate=0.05,
        config=FAST,
        progress=False,
    )
    assert res.loss_history[-1] < res.loss_history[0]
    assert res.constants["tau_d1"] > float(true.tau_d1)  # moved towards the truth
    assert 0.0 < res.constants["r"] < 1.0


@pytest.mark.slow
def test_lbfgs_recovers_constants(x64):
    """optax.lbfgs (zoom line search) converges in far fewer steps than Adam on this problem:
    10 steps bring gamma/tau_off from 27 %/50 % off to within 5 % (measured 1.4 % / 1 %)."""
    true = jaxgeci.gcamp6f().replace(gamma=400.0, tau_off=0.02)
    recs = [jaxgeci.synthetic_recording(true, jax.random.key(i), duration_s=6.0, name=f"c{i}") for i in range(2)]
    res = jaxgeci.fit(
        recs, jaxgeci.gcamp6f(), ["gamma", "tau_off"], optimizer="lbfgs", n_steps=10, config=FAST, progress=False
    )
    assert res.constants["gamma"] == pytest.approx(400.0, rel=0.05)
    assert res.constants["tau_off"] == pytest.approx(0.02, rel=0.05)
    assert res.at_bound == ()  # positive constants have no edge


def test_isolated_weight_trains_weighted_but_reports_protocol_ev(x64):
    """A fidelity-weighted training loss changes the fit, but the reported EVs are the
    protocol's (uniform weights): equal to evaluate() with the fitted constants."""
    s = jaxgeci.gcamp6f()
    true = s.replace(gamma=400.0)
    t = np.arange(0.0, 20.0, 1 / 60)
    rng = np.random.default_rng(0)
    recs = []
    for i, sp in enumerate(([3.0, 7.0, 7.02, 7.04, 12.0, 16.0], [4.0, 9.0, 9.01, 14.0, 14.05])):
        n = np.zeros(20_100)
        n[(np.asarray(sp) / 1e-3).astype(int)] = 1.0
        tr = np.asarray(jaxgeci.unit_trace(true, jnp.asarray(n), 1e-3))
        dff = tr[np.round(t / 1e-3).astype(int)] + 0.02 * rng.standard_normal(t.size)
        recs.append(jaxgeci.Recording.create(t, dff, np.asarray(sp), name=f"c{i}"))
    assert all(r.isolated_spike_frames().any() for r in recs)  # the weights do something
    kw = dict(n_steps=3, learning_rate=0.1, progress=False)
    weighted = jaxgeci.fit(recs, s, ["gamma"], config=dataclasses.replace(FAST, isolated_weight=5.0), **kw)
    plain = jaxgeci.fit(recs, s, ["gamma"], config=FAST, **kw)
    assert weighted.loss_history[0] != plain.loss_history[0]
    for rec in recs:
        (r,) = jaxgeci.evaluate(weighted.sensor, [rec], dt=FAST.dt, lag_step_s=0.005)
        assert r["ev"] == pytest.approx(weighted.cells[rec.name]["ev"], abs=1e-9)  # same grid and sim


def _count_compiles(fn):
    """Run ``fn()`` and return how many XLA executables it needed that JAX's in-memory caches
    did not hold: compiled, or fetched from the persistent compilation cache the test run
    shares between tests (conftest.py)."""
    from jax._src.dispatch import BACKEND_COMPILE_EVENT

    count = []

    def on_duration(event, duration, **kw):
        if event == BACKEND_COMPILE_EVENT:
            count.append(event)

    def on_event(event, **kw):
        if event == "/jax/compilation_cache/cache_hits":
            count.append(event)

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    try:
        fn()
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
        jax.monitoring.unregister_event_listener(on_event)
    return len(count)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_refit_reuses_compiled_code(x64, optimizer):
    """A second fit of the same cells with the same settings compiles nothing (a notebook
    refit used to recompile every call, ~10 s on CPU), and neither do fits with more steps
    (L-BFGS: its state is strongly typed from the start) or, for Adam, another step size
    (Adam's cosine-decayed step size is an injected hyperparameter, not a compiled constant)."""
    true = jaxgeci.gcamp6f().replace(gamma=400.0)
    recs = [jaxgeci.synthetic_recording(true, jax.random.key(i), duration_s=4.0, name=f"c{i}") for i in range(2)]

    def run(n_steps, learning_rate=0.05):
        return jaxgeci.fit(
            recs,
            jaxgeci.gcamp6f(),
            ["gamma"],
            optimizer=optimizer,
            n_steps=n_steps,
            learning_rate=learning_rate,
            config=FAST,
            progress=False,
        )

    first = _count_compiles(lambda: run(2))
    assert first > 0  # the listener sees compiles at all
    again, longer = [], []
    assert _count_compiles(lambda: again.append(run(2))) == 0
    assert _count_compiles(lambda: longer.append(run(4, learning_rate=0.1))) == 0
    # cached code, same answer: the refit equals a fit that compiled
    assert again[0].constants["gamma"] == run(2).constants["gamma"]
    if optimizer == "adam":  # the injected step size is used: another one gives another fit
        assert longer[0].constants["gamma"] != run(4).constants["gamma"]


def test_adam_fit_equals_optax_adam_with_the_cosine_schedule(x64):
    """Adam with the step size injected per step is the plain ``optax.adam`` with its
    ``cosine_decay_schedule(lr, n_steps, alpha=0.1)``, step by step (the schedule is
    evaluated outside the compiled step): same losses and constants to round-off (1e-12)."""
    import optax

    s = jaxgeci.gcamp6f()
    recs = _recs(s.replace(gamma=400.0, tau_off=0.02), n=2, duration=6.0)
    res = jaxgeci.fit(recs, s, ["gamma", "tau_off"], n_steps=4, learning_rate=0.1, config=FAST, progress=False)

    batch = jaxgeci.make_batch(recs, FAST.dt, burn_in_s=FAST.burn_in_s, max_lag_s=FAST.max_lag_s)
    lags = jnp.asarray(lag_grid(FAST.max_lag_s, FAST.lag_step_s), dtype=float)
    params = jaxgeci.make_params(s, ["gamma", "tau_off"])
    tr, frozen = eqx.partition(params, is_free(params))
    loss = eqx.filter_jit(eqx.filter_value_and_grad(lambda t: make_loss(frozen, FAST, lags)(t, batch)))
    opt = optax.adam(optax.cosine_decay_schedule(0.1, 4, alpha=0.1))
    st, history = opt.init(tr), []
    for _ in range(4):
        val, g = loss(tr)
        u, st = opt.update(g, st, tr)
        tr, _ = eqx.apply_updates(tr, u), history.append(float(val))
    ref = jaxgeci.sensor_constants(jaxgeci.unwrap(eqx.combine(tr, frozen)))
    np.testing.assert_allclose(res.loss_history, history, rtol=1e-12)
    for name in ("gamma", "tau_off"):
        assert res.constants[name] == pytest.approx(ref[name], rel=1e-12)
    assert res.constants["gamma"] != pytest.approx(float(s.params["gamma"]), rel=1e-3)  # it moved


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_steps=-1), "n_steps must be an integer >= 0, got -1"),
        (dict(n_starts=0), "n_starts must be an integer >= 1, got 0"),
        (dict(learning_rate=-0.1), r"learning_rate must be finite and > 0 .*got -0.1"),
        (dict(learning_rate=float("nan")), r"learning_rate must be finite and > 0 .*got nan"),
        (dict(start_spread=-1.0), r"start_spread must be finite and >= 0 .*got -1.0"),
        (dict(checkpoint_every=0), "checkpoint_every must be an integer >= 1, got 0"),
        (dict(optimizer="sgd"), "optimizer must be 'adam' or 'lbfgs', got 'sgd'"),
        (dict(config=jaxgeci.FitConfig(dt=0.05)), r"dt=0.05 s is longer than the frame period of 'c0'"),
        # the binding kernel's fastest rate is ~99 1/s: Euler needs dt < 20 ms
        (dict(config=jaxgeci.FitConfig(dt=0.025, method="euler")), r"dt=0.025 s is too large for a stable"),
    ],
)
def test_fit_rejects_bad_settings_before_running(kwargs, match):
    """Bad fit settings raise a ValueError naming the argument and its value, before any
    simulation is compiled (``_count_compiles`` sees none)."""
    (rec,) = _recs(jaxgeci.gcamp6f(), n=1, duration=4.0)
    kw = dict(n_steps=1, progress=False) | kwargs

    def run():
        with pytest.raises(ValueError, match=match):
            jaxgeci.fit([rec], jaxgeci.gcamp6f(), ["gamma"], **kw)

    assert _count_compiles(run) == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dt=-1e-3), r"FitConfig.dt must be finite and > 0 \(in s\), got -0.001"),
        (dict(max_lag_s=float("inf")), r"FitConfig.max_lag_s must be finite and >= 0 \(in s\), got inf"),
        (dict(lag_step_s=0.0), r"FitConfig.lag_step_s must be finite and > 0 \(in s\), got 0.0"),
        (dict(segment_s=0.0), r"FitConfig.segment_s must be finite and > 0"),
        (dict(burn_in_s=-2.0), r"FitConfig.burn_in_s must be finite and >= 0"),
        (dict(isolated_weight=-1.0), r"FitConfig.isolated_weight must be finite and >= 0 \(dimensionless\)"),
        (dict(method="rk4"), r"FitConfig.method must be one of .*got 'rk4'"),
        (dict(unroll=0), r"FitConfig.unroll must be an integer >= 1, got 0"),
    ],
)
def test_fit_config_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jaxgeci.FitConfig(**kwargs)
    with pytest.raises(TypeError, match=r"FitConfig.unroll must be an integer, got 1.5"):
        jaxgeci.FitConfig(unroll=1.5)


def test_unroll_changes_compile_not_results(x64):
    """The scan's unroll factor changes how the loop is compiled, not what it computes: the
    loss and its gradient with unroll 1, 3 (not a divisor of the steps) and the default agree
    to round-off (float64, the same operations in the same order: rtol 1e-12)."""
    s = jaxgeci.s2f("jGCaMP8m")
    recs = _recs(s.replace(tau_d1=1.3 * float(s.tau_d1)), n=2, duration=3.0)
    batch = jaxgeci.make_batch(recs, 2e-3)
    lags = jnp.asarray(lag_grid(0.05, 0.005))
    params = jaxgeci.make_params(s, ["tau_d1", "beta"])
    tr, frozen = eqx.partition(params, is_free(params))
    out = []
    for unroll in (1, 3, None):
        cfg = jaxgeci.FitConfig(dt=2e-3, unroll=unroll)
        val, g = jax.jit(jax.value_and_grad(lambda p: make_loss(frozen, cfg, lags)(p, batch)))(tr)
        out.append((float(val), np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(g)])))
    for val, g in out[1:]:
        assert val == pytest.approx(out[0][0], rel=1e-12)
        np.testing.assert_allclose(g, out[0][1], rtol=1e-10)
    assert np.all(np.abs(out[0][1]) > 1e-6)  # the start is off: non-trivial gradients


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="rk4"), r"method must be one of .*got 'rk4'"),  # used to run Euler silently
        (dict(dt=0.0), r"dt must be finite and > 0"),
        (dict(dt=0.025, method="euler"), r"dt=0.025 s is too large for a stable"),
    ],
)
def test_evaluate_rejects_bad_settings_before_running(kwargs, match):
    (rec,) = _recs(jaxgeci.gcamp6f(), n=1, duration=4.0)

    def run():
        with pytest.raises(ValueError, match=match):
            jaxgeci.evaluate(jaxgeci.gcamp6f(), [rec], **kwargs)

    assert _count_compiles(run) == 0


def test_evaluate_rejects_bad_lag_grid_and_coarse_dt():
    (rec,) = _recs(jaxgeci.gcamp6f(), n=1, duration=4.0)
    s = jaxgeci.gcamp6f()
    with pytest.raises(ValueError, match=r"max_lag_s must be finite and >= 0 \(in s\), got -0.1"):
        jaxgeci.evaluate(s, [rec], max_lag_s=-0.1)
    with pytest.raises(ValueError, match=r"lag_step_s must be finite and > 0 \(in s\), got 0.0"):
        jaxgeci.evaluate(s, [rec], lag_step_s=0.0)
    # 60 Hz frames: a 50 ms fine step cannot place spikes within a frame
    with pytest.raises(ValueError, match=r"dt=0.05 s is longer than the frame period .*0.01667 s at 60 Hz"):
        jaxgeci.evaluate(s, [rec], dt=0.05)


def test_constants_at_bounds():
    """Only imposed bounds count: a ceiling (not positivity), either end of an interval, per-cell
    arrays if any cell is there."""
    cons = {"tau_d2": ("positive", 10.0), "r": (0.0, 1.0), "Ca0": "real"}
    f = jaxgeci.constants_at_bounds
    assert f({"tau_d2": 9.95, "r": 0.5, "Ca0": 1e6, "K_d": 1e-12}, cons) == ("tau_d2",)
    assert f({"tau_d2": 0.001, "r": 0.995}, cons) == ("r",)  # tiny tau: positivity is no bound
    assert f({"r": [0.3, 0.004]}, cons) == ("r",)
    assert f({"tau_d2": 9.0, "r": 0.02}, cons) == ()
    assert f({"tau_d2": 9.0}, cons, rtol=0.2) == ("tau_d2",)


def test_fit_reports_constants_at_their_bound(x64):
    """A constant whose best value lies beyond its ceiling ends at the ceiling, and the fit says
    so (FitResult.at_bound and the parameter set's "at_bound")."""
    true = jaxgeci.gcamp6f().replace(gamma=400.0)
    recs = [jaxgeci.synthetic_recording(true, jax.random.key(i), duration_s=4.0, name=f"c{i}") for i in range(2)]
    ceiling = 300.0  # below the true 400 1/s: the data push gamma against it
    res = jaxgeci.fit(
        recs,
        jaxgeci.gcamp6f(),
        ["gamma"],
        constraints={"gamma": ("positive", ceiling)},
        optimizer="lbfgs",
        n_steps=4,
        config=FAST,
        progress=False,
    )
    assert res.constants["gamma"] > 0.99 * ceiling
    assert res.at_bound == ("gamma",)
    assert jaxgeci.parameter_set(res, recs, model="geci")["at_bound"] == ["gamma"]


def test_evaluate_compiles_once_per_recording_length(x64):
    """Recordings of equal length (e.g. the ROIs of one imaging session) share one compiled
    evaluation; the results are each recording's own."""
    s = jaxgeci.gcamp6f()
    recs = [jaxgeci.synthetic_recording(s, jax.random.key(i), duration_s=5.0, name=f"roi{i}") for i in range(3)]
    first = _count_compiles(lambda: jaxgeci.evaluate(s, recs[:1], dt=2e-3))
    assert first > 0
    out = []
    assert _count_compiles(lambda: out.extend(jaxgeci.evaluate(s, recs[1:], dt=2e-3))) == 0
    assert [o["name"] for o in out] == ["roi1", "roi2"]
    for o, r in zip(out, recs[1:]):
        # the loss forms sse = y'y - b'c with a 1e-9 ridge; the direct residual differs by ~1e-8
        assert o["ev"] == pytest.approx(jaxgeci.explained_variance(r.dff, o["model"], r.t_frames), abs=1e-7)
    assert out[0]["ev"] != out[1]["ev"]


def test_unknown_method_is_refused_everywhere():
    """No entry point maps an unknown method to Euler: ``advance`` (the closed-loop step),
    ``unit_trace`` (the fits' trace) and ``simulate`` all name it."""
    s = jaxgeci.gcamp6f()
    with pytest.raises(ValueError, match=r"method must be one of .*got 'rk4'"):
        s.advance(s.init(2), jnp.zeros(2), 1e-4, method="rk4")
    with pytest.raises(ValueError, match=r"method must be one of .*got 'rk4'"):
        jaxgeci.unit_trace(s, jnp.zeros(10), 1e-4, "rk4")
    with pytest.raises(ValueError, match=r"method must be one of .*got 'rk4'"):
        jaxgeci.unit_trace(jaxgeci.s2f("jGCaMP8m"), jnp.zeros(10), 1e-3, "rk4")
    with pytest.raises(ValueError, match=r"method must be one of .*got 'rk4'"):
        jaxgeci.simulate(s, np.zeros((10, 2)), 1e-4, method="rk4")


@pytest.mark.parametrize(
    "content, match",
    [
        (None, r"could not read results file .*missing.json.*No such file"),  # was FileNotFoundError
        ("# a README", r"could not read results file .*bad.json"),  # was json's "Expecting value"
        ('{"format": "other/1"}', r"results file .*bad.json' is not a jaxgeci results file \(format 'other/1'"),
        ("[1, 2]", r"is not a jaxgeci results file"),
    ],
)
def test_bad_results_files_are_named(tmp_path, content, match):
    path = tmp_path / ("missing.json" if content is None else "bad.json")
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=match):
        jaxgeci.sensor_from_results(path)
