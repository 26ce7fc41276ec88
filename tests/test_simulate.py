"""simulate(): time convention, read-out schedule, spike formats, closed loop, methods."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


def _poisson(T, N, rate, dt, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((T, N)) < rate * dt).astype(np.int32)


def test_spike_first_visible_at_next_index(x64):
    s = jg.gcamp6f()
    spikes = np.zeros((50, 1))
    spikes[10, 0] = 1
    r = jg.simulate(s, spikes, 1e-4)
    Ca, b, dFF = (np.asarray(x[:, 0]) for x in (r.Ca, r.b, r.dFF))
    assert np.all(Ca[:11] == Ca[0]) and Ca[11] > Ca[10]  # Ca at k+1
    assert np.all(b[:12] == 0) and b[12] == 0 and b[13] > 0  # beta at k+2, b/dFF at k+3 (README)
    assert dFF[12] == 0 and dFF[13] > 0


def test_closed_loop_equals_simulate(x64):
    s = jg.gcamp6s()
    dt, T, N = 1e-4, 600, 4
    spikes = _poisson(T, N, 80.0, dt)
    rho = jnp.array([1.0, 0.5, 2.0, 0.3])
    r = jg.simulate(s, spikes, dt, rho_rel=rho)
    state = s.init(N)
    out = []
    for k in range(T):
        out.append(s.readout(state, rho))
        state = s.advance(state, spikes[k], dt)
    np.testing.assert_allclose(np.stack(out), np.asarray(r.dFF), rtol=1e-12, atol=0)
    # Cleo's get_state() after n steps == readout(final_state)
    np.testing.assert_allclose(np.asarray(s.readout(r.final_state, rho)), np.asarray(s.readout(state, rho)), rtol=1e-12)


@pytest.mark.parametrize("every", [1, 7, 333])
def test_sample_every_equals_subsampled_full_rate(every, x64):
    s = jg.gcamp6f()
    dt, T, N = 1e-4, 2000, 3
    spikes = _poisson(T, N, 50.0, dt, seed=1)
    full = jg.simulate(s, spikes, dt)
    sub = jg.simulate(s, spikes, dt, sample_every=every)
    np.testing.assert_array_equal(np.asarray(sub.steps), np.arange(0, T, every))
    np.testing.assert_allclose(np.asarray(sub.dFF), np.asarray(full.dFF)[::every], rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(sub.t), np.arange(0, T, every) * dt, rtol=1e-12)
    # the final state does not depend on the read-out schedule
    np.testing.assert_allclose(np.asarray(sub.final_state.dCa), np.asarray(full.final_state.dCa), rtol=1e-12)


def test_sample_period_rounds_and_reports_rate():
    steps, rate = jg.read_schedule(10_000, 1e-4, sample_period=1 / 30)
    assert steps[1] == 333 and rate == pytest.approx(30.03, abs=0.005)
    steps, rate = jg.read_schedule(10_000, 1e-4, sample_rate=30.0)
    assert steps[1] == 333
    steps, rate = jg.read_schedule(100, 1e-3, sample_times=[0.0, 0.0104, 0.05, 0.1])
    np.testing.assert_array_equal(steps, [0, 10, 50, 100])  # nearest step; 100 = final state
    assert rate is None
    with pytest.raises(ValueError, match="sample_times"):
        jg.read_schedule(100, 1e-3, sample_times=[0.2])
    with pytest.raises(ValueError, match="at most one"):
        jg.read_schedule(100, 1e-3, sample_every=2, sample_period=0.1)
    # faster than one read per step: refused (it used to read every step, i.e. 10 kHz, silently)
    with pytest.raises(ValueError, match=r"sample_rate=100000.0 Hz is faster .* 10000 Hz at most"):
        jg.simulate(jg.gcamp6f(), np.zeros((100, 2)), 1e-4, sample_rate=1e5)
    with pytest.raises(ValueError, match=r"sample_period=4e-05 s is faster"):
        jg.read_schedule(100, 1e-4, sample_period=4e-5)
    assert jg.read_schedule(100, 1e-4, sample_period=6e-5)[0][1] == 1  # rounds to one step


def test_sample_times_irregular_match_full(x64):
    s = jg.gcamp6f()
    dt, T = 1e-4, 3000
    spikes = _poisson(T, 2, 40.0, dt, seed=3)
    full = jg.simulate(s, spikes, dt)
    times = np.array([0.0, 0.00731, 0.0312, 0.1, 0.1001, 0.2999])
    r = jg.simulate(s, spikes, dt, sample_times=times)
    idx = np.rint(times / dt).astype(int)
    np.testing.assert_allclose(np.asarray(r.dFF), np.asarray(full.dFF)[idx], rtol=1e-12, atol=0)


def test_event_lists_equal_dense_and_counts_add(x64):
    s = jg.gcamp6f()
    dt, T, N = 1e-4, 1500, 5
    dense = _poisson(T, N, 100.0, dt, seed=4)
    dense[100, 2] = 3  # three spikes in one step add three increments
    ev = jg.SpikeTrains.from_dense(dense)
    a = jg.simulate(s, dense, dt, sample_every=10)
    b = jg.simulate(s, ev, dt, sample_every=10)
    np.testing.assert_allclose(np.asarray(b.dFF), np.asarray(a.dFF), rtol=1e-12, atol=0)
    # c spikes in one step: Ca += c * dCa_T / (1 + kappa_S + kappa_B(Ca*))
    one = np.zeros((3, 1))
    one[0, 0] = 3
    r = jg.simulate(s, one, dt)
    cm = s.cal_model
    Ca_star = float(cm.Ca_rest)  # at rest the ODE does not move Ca
    expected = Ca_star + 3 * float(cm.dCa_T) / (1 + float(cm.kappa_S) + float(cm.kappa_B(Ca_star, s.K_d)))
    assert float(r.Ca[1, 0]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("layout", [None, True, False])
@pytest.mark.parametrize("pattern", ["poisson", "synchronous"])
def test_event_layouts_equal_dense(pattern, layout, x64):
    """Every internal layout of event spikes (per-step table, per-period dense blocks, and the
    automatic choice, which falls back to blocks for synchronous bursts) gives the dense result."""
    from jaxgeci import _spike_input

    plan = None if layout is None else jg._plan.Plan(layout="steps" if layout else "periods")
    s = jg.gcamp6f()
    dt, T, N = 1e-4, 1200, 100
    dense = _poisson(T, N, 50.0, dt, seed=5)
    if pattern == "synchronous":
        dense[::97, :] += 1  # every neuron fires in the same steps: a wide per-step table
    ev = jg.SpikeTrains.from_dense(dense)
    # the forced per-step layout falls back to period blocks exactly for the bunched pattern
    assert (_spike_input.step_events(ev, T) is None) == (pattern == "synchronous")
    a = jg.simulate(s, dense, dt, sample_every=37)
    b = jg.simulate(s, ev, dt, sample_every=37, plan=plan)
    # same float64 arithmetic on the same counts; only the order of adding zeros differs
    np.testing.assert_allclose(np.asarray(b.dFF), np.asarray(a.dFF), rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(b.final_state.dCa), np.asarray(a.final_state.dCa), rtol=1e-12, atol=0)


@pytest.mark.parametrize("method, n", [("cleo", 2048), ("accurate", 20_000)])
def test_size_dependent_unroll_keeps_results(method, n, x64):
    """The sizes at which simulate switches to per-step event tables and an unrolled scan
    (Euler from 2048 neurons, accurate from 2e4) give the results of the plain layout
    (unroll 1): the same float64 arithmetic per step."""
    from jaxgeci import _plan

    s = jg.gcamp6f()
    dt, T = (1e-4, 200) if method == "cleo" else (1e-3, 60)
    ev = jg.SpikeTrains.from_dense(_poisson(T, n, 50.0, dt, seed=7))
    auto = _plan.plan_run(spikes="events", n_neurons=n, period_steps=33, method=s.check_run(dt, method), regular=True)
    assert auto.unroll == 2  # the sizes at which the plan switches to an unrolled scan
    fast = jg.simulate(s, ev, dt, sample_every=33, method=method)
    plain = jg.simulate(s, ev, dt, sample_every=33, method=method, plan=_plan.Plan(layout="periods", unroll=1))
    np.testing.assert_allclose(np.asarray(fast.dFF), np.asarray(plain.dFF), rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(fast.final_state.dCa), np.asarray(plain.final_state.dCa), rtol=1e-12, atol=0)


def test_from_times_grid_rule():
    st = jg.SpikeTrains.from_times([0.0, 0.0003, 0.00029999999999], [0, 1, 1], 1e-4, 10, 2)
    np.testing.assert_array_equal(np.asarray(st.steps), [0, 3, 3])  # floor(t/dt + 1e-9)
    with pytest.raises(ValueError, match="outside the time grid"):
        jg.SpikeTrains.from_times([0.001], [0], 1e-4, 10, 1)
    with pytest.raises(ValueError, match="outside the time grid"):
        jg.SpikeTrains.from_times([-0.0001], [0], 1e-4, 10, 1)
    with pytest.raises(ValueError, match="neurons"):
        jg.SpikeTrains(steps=[1], neurons=[5], n_steps=10, n_neurons=2)
    with pytest.raises(ValueError, match="finite"):
        jg.SpikeTrains.from_times([np.nan], [0], 1e-4, 10, 1)


def test_dff_relative_to_rest_gcamp6s():
    """Issue 2 §6: GCaMP6s 1-AP peak 0.384 (apo) becomes 0.137 (rest) ~ Dana 2019's 0.133."""
    dt, T = 1e-4, 20000
    spikes = np.zeros((T, 1))
    spikes[100, 0] = 1
    apo = float(jnp.max(jg.simulate(jg.gcamp6s(), spikes, dt, record=("dFF",)).dFF))
    rest = float(jnp.max(jg.simulate(jg.gcamp6s(dff_baseline="rest"), spikes, dt, record=("dFF",)).dFF))
    assert apo == pytest.approx(0.384, abs=0.001)
    assert rest == pytest.approx(0.137, abs=0.001)


def test_pre_existing_ca_paths(x64):
    T, N, dt = 400, 2, 1e-4
    t = np.arange(T) * dt
    ca = np.stack([5e-8 + 2e-7 * np.exp(-t / 0.01) * (t > 0.005), 3e-7 + 1e-7 * np.sin(40 * t)], axis=1)
    null = jg.gcamp6f(pre_existing_cal=True, doub_exp_conv=False)
    r = jg.simulate(null, None, dt, ca_pre=ca)
    expected = null.dFF_max * (jg.hill(ca, null.K_d, null.n_H) - jg.hill(5e-8, null.K_d, null.n_H))
    np.testing.assert_allclose(np.asarray(r.dFF), np.asarray(expected), rtol=1e-12)
    dexp = jg.gcamp6f(pre_existing_cal=True)
    spikes = np.ones((T, N))  # spikes do not change a pre-existing-Ca sensor
    a = jg.simulate(dexp, spikes, dt, ca_pre=ca)
    b = jg.simulate(dexp, None, dt, ca_pre=ca)
    np.testing.assert_array_equal(np.asarray(a.dFF), np.asarray(b.dFF))
    with pytest.raises(ValueError, match="ca_pre"):
        jg.simulate(dexp, spikes, dt)
    with pytest.raises(ValueError, match="ca_pre"):
        jg.simulate(dexp, None, dt, ca_pre=-ca)
    with pytest.raises(ValueError, match="ca_pre"):
        jg.simulate(dexp, spikes, dt, ca_pre=ca[:, :1])
    with pytest.raises(ValueError, match="pre_existing_cal=True"):
        jg.simulate(jg.gcamp6f(), spikes, dt, ca_pre=ca)


def _error_vs_reference(sensor, method, dt, ref):
    n = int(round(1.0 / dt))
    times = np.array([0.05, 0.2, 0.22, 0.24, 0.5, 0.502])
    st = jg.SpikeTrains.from_times(times, np.zeros(times.size, int), dt, n, 1)
    r = jg.simulate(sensor, st, dt, method=method, sample_times=np.arange(0, 1.0, 0.002))
    out = np.asarray(r.dFF[:, 0])
    if ref is None:
        return out
    return np.max(np.abs(out - ref)) / np.max(ref)


def test_accurate_method_converges_and_beats_euler(x64):
    """Spikes on the 2 ms grid so every dt resolves them exactly; the reference is the
    accurate method at dt = 10 us (which agrees with Euler at 1 us to Euler's own 1.9e-5)."""
    s = jg.gcamp6f()
    ref = _error_vs_reference(s, "accurate", 1e-5, None)
    euler_fine = _error_vs_reference(s, "euler", 2e-6, ref)
    assert euler_fine < 1e-4  # both methods converge to the same limit
    errs = [_error_vs_reference(s, "accurate", dt, ref) for dt in (2e-3, 1e-3, 5e-4)]
    # second order: halving dt divides the error by ~4 (allow 3..5)
    assert 3.0 < errs[0] / errs[1] < 5.0 and 3.0 < errs[1] / errs[2] < 5.0
    euler_01ms = _error_vs_reference(s, "euler", 1e-4, ref)
    # accurate at 1 ms is far more accurate than Cleo's Euler at 0.1 ms (measured 7e-8 vs 1.9e-3)
    assert errs[1] < 1e-6 and euler_01ms > 1e-3


def test_euler_stability_limit_raises():
    s = jg.gcamp6f()  # lam ~ 99.5 1/s -> Euler needs dt < 20 ms
    spikes = np.zeros((5, 1))
    with pytest.raises(ValueError, match="too large"):
        jg.simulate(s, spikes, 0.025, method="euler")
    r = jg.simulate(s, spikes, 0.025, method="accurate")  # unconditionally stable
    assert np.all(np.isfinite(np.asarray(r.dFF)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(spikes=np.zeros(10)), "spikes"),
        (dict(spikes=-np.ones((10, 2))), "non-negative"),
        (dict(spikes=np.full((10, 2), np.nan)), "finite"),
        (dict(dt=0.0), "dt"),
        (dict(dt=-1e-4), "dt"),
        (dict(dt=float("nan")), "dt"),
        (dict(rho_rel=np.ones(3)), "rho_rel"),
        (dict(rho_rel=-1.0), "rho_rel"),
        (dict(method="rk4"), "method"),
        (dict(sample_every=0), "sample_every"),
        (dict(record=("Ca", "nope")), "record"),
    ],
)
def test_bad_simulate_input(kwargs, match):
    args = dict(spikes=np.zeros((10, 2)), dt=1e-4)
    args.update(kwargs)
    spikes, dt = args.pop("spikes"), args.pop("dt")
    with pytest.raises((ValueError, TypeError), match=match):
        jg.simulate(jg.gcamp6f(), spikes, dt, **args)


def test_per_neuron_constants_shape_checked():
    s = jg.gcamp6f(K_d=jnp.array([2e-7, 3e-7, 4e-7]))
    with pytest.raises(ValueError, match="per-neuron"):
        jg.simulate(s, np.zeros((10, 2)), 1e-4)
    r = jg.simulate(s, np.ones((10, 3)), 1e-4)
    assert r.dFF.shape == (10, 3)


def test_float32_default_is_finite_and_close():
    s = jg.gcamp6s()
    spikes = _poisson(3000, 3, 100.0, 1e-4, seed=5)
    r32 = jg.simulate(s, spikes, 1e-4)
    assert r32.dFF.dtype == jnp.float32
    with jax.enable_x64(True):
        r64 = jg.simulate(jg.gcamp6s(), spikes, 1e-4)
        ref = np.asarray(r64.dFF)
    err = np.max(np.abs(np.asarray(r32.dFF) - ref)) / np.max(np.abs(ref))
    assert err < 1e-3  # float32 rounding accumulated over 3000 Euler steps (see README)


def test_every_dense_input_form_gives_the_same_result(x64):
    """Host arrays (NumPy bool/int/float32/float64, and jax int/float on the CPU read in place,
    found as events in one pass) and device arrays read row by row in their own dtype (jax
    bool; fractional counts) are the same spikes: the same float64 arithmetic per step, so the
    results agree to round-off (rtol 1e-12)."""
    import jax.numpy as jnp

    s = jg.gcamp6f()
    dt, T, N = 1e-4, 700, 24
    dense = _poisson(T, N, 40.0, dt, seed=11)
    dense[5, 3] = 2  # two spikes in one step
    dense[9, 4] = -0.0  # a negative zero is no spike
    ref = jg.simulate(s, jg.SpikeTrains.from_dense(np.abs(dense)), dt, sample_every=33)
    forms = {
        "numpy bool": dense.astype(bool) if dense.max() <= 1 else None,
        "numpy float64": dense,
        "numpy int16": dense.astype(np.int16),
        "numpy float32": dense.astype(np.float32),
        "jax float": jnp.asarray(dense),
        "jax float32": jnp.asarray(dense, dtype=jnp.float32),
        "jax int": jnp.asarray(dense.astype(np.int32)),
        "jax neurons-major": jnp.asarray(np.ascontiguousarray(dense.T)).T,
    }
    for name, x in forms.items():
        if x is None:
            continue
        out = jg.simulate(s, x, dt, sample_every=33)
        np.testing.assert_allclose(np.asarray(out.dFF), np.asarray(ref.dFF), rtol=1e-12, atol=0, err_msg=name)
    b = np.zeros((T, N), bool)
    b[::50, ::3] = True
    ref_b = jg.simulate(s, jg.SpikeTrains.from_dense(b.astype(int)), dt, sample_every=33).dFF
    for x in (b, jnp.asarray(b)):
        np.testing.assert_allclose(
            np.asarray(jg.simulate(s, x, dt, sample_every=33).dFF), np.asarray(ref_b), rtol=1e-12
        )
    # fractional counts are added as given (the dense loop): half a spike is half the jump
    half = jg.simulate(s, dense * 0.5, dt, sample_every=33, record=("dFF", "Ca"))
    full = jg.simulate(s, dense, dt, sample_every=33, record=("dFF", "Ca"))
    rest = float(s.cal_model.Ca_rest)
    assert np.all(np.asarray(half.Ca) <= np.asarray(full.Ca)) and float(np.max(half.Ca)) > rest


@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf])
@pytest.mark.parametrize("where", ["numpy", "jax"])
def test_bad_dense_counts_are_refused_in_every_form(bad, where):
    import jax.numpy as jnp

    x = np.zeros((50, 4))
    x[7, 2] = bad
    x = jnp.asarray(x) if where == "jax" else x
    with pytest.raises(ValueError, match="finite, non-negative counts"):
        jg.simulate(jg.gcamp6f(), x, 1e-4)
    with pytest.raises(TypeError, match="real counts"):
        jg.simulate(jg.gcamp6f(), np.zeros((50, 4), complex), 1e-4)


def test_dense_counts_are_found_in_place_and_blockwise(monkeypatch):
    """A non-bool jax array on the CPU is read where it lies (DLPack, no copy) and its events
    are the ones NumPy's own nonzero finds, across block boundaries and in every dtype; a jax
    bool array, and dense or fractional counts, stay dense (row by row in the loop)."""
    from jaxgeci import _spike_input as si

    monkeypatch.setattr(si, "_HOST_EVENTS_BLOCK_BYTES", 64)  # 1-2 rows per block
    rng = np.random.default_rng(4)
    base = (rng.random((97, 40)) < 0.01).astype(np.float64)
    base[3, 5], base[50, 0], base[0, 7] = 3, 2, -0.0
    k, n = np.nonzero(base)
    c = base[k, n].astype(int)
    want = np.stack([np.repeat(k, c), np.repeat(n, c)])
    for x in (
        base,
        base.astype(np.float32),
        base.astype(np.int8),
        np.asfortranarray(base),
        base.astype(bool),
        jnp.asarray(base, dtype=jnp.float32),
        jnp.asarray(base.astype(np.int16)),
    ):
        spk = si.find_events(si.host_counts(x))
        got = np.stack([np.asarray(spk.steps), np.asarray(spk.neurons)])
        ref = want if x.dtype != bool else np.stack(np.nonzero(base))
        np.testing.assert_array_equal(got, ref, err_msg=str(x.dtype))
    x = jnp.asarray(base, dtype=jnp.float32)
    assert si._host_view(x).ctypes.data == x.unsafe_buffer_pointer()  # a view, not a copy
    assert si.host_counts(jnp.asarray(base, dtype=bool)) is None
    assert si.find_events(base * 0.5) is None  # fractional counts: the dense loop
    assert si.find_events(np.ones((300, 40))) is None  # dense counts: the dense loop


def _pieced(n_pieces):
    from jaxgeci import _plan

    return _plan.Plan(layout="steps", unroll=2, pieces=n_pieces)


@pytest.mark.parametrize("form", ["numpy float64", "numpy bool", "jax float32"])
def test_pieces_equal_the_whole_run(form, x64):
    """A dense host array run in time pieces (events of piece j+1 found while piece j runs)
    gives the whole run's reads and final state: the same steps in the same order, each piece
    starting from the previous one's final state. One piece holds dense counts (the dense
    loop) and, for the float forms, one holds fractional counts; the last piece is shorter."""
    s = jg.gcamp6f()
    dt, T, N = 1e-4, 1000, 64
    dense = _poisson(T, N, 50.0, dt, seed=11)
    dense[300:340] = 1.0  # a burst: more than 2 % of this piece is non-zero
    if form != "numpy bool":
        dense[700, 3] = 0.5  # fractional: the dense loop for that piece
    x = {"numpy float64": dense, "numpy bool": dense > 0, "jax float32": jnp.asarray(dense, dtype=jnp.float32)}[form]
    whole = jg.simulate(s, x, dt, sample_every=37, plan=_pieced(1))
    for n in (2, 3, 27):  # 27: one read period per piece
        got = jg.simulate(s, x, dt, sample_every=37, plan=_pieced(n))
        # the same float64 arithmetic per step; zeros are added in a different order only
        # where a piece changes between the event table and the dense rows
        np.testing.assert_allclose(np.asarray(got.dFF), np.asarray(whole.dFF), rtol=1e-12, atol=0)
        for a, b in zip(jax.tree_util.tree_leaves(got.final_state), jax.tree_util.tree_leaves(whole.final_state)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=0)
        assert got.dFF.shape == whole.dFF.shape == (28, N)


def test_pieces_refuse_bad_counts_in_a_later_piece():
    """NaN or a negative count in the last piece raises the named error (nothing returned)."""
    s = jg.gcamp6f()
    for bad in (np.nan, -1.0):
        x = _poisson(600, 16, 20.0, 1e-4, seed=2).astype(np.float64)
        x[590, 4] = bad
        with pytest.raises(ValueError, match="spikes must be finite, non-negative counts"):
            jg.simulate(s, x, 1e-4, sample_every=50, plan=_pieced(3))


def test_pieces_under_a_trace_run_whole(x64):
    """Under jax.grad the sensor is traced: the pieces (worker threads) are not used, and the
    gradient equals the whole run's."""
    x = _poisson(400, 8, 50.0, 1e-4, seed=3)

    def loss(tau, plan):
        s = jg.gcamp6f().replace(tau_off=tau)
        return jnp.sum(jg.simulate(s, x, 1e-4, sample_every=40, plan=plan).dFF ** 2)

    g1 = jax.grad(loss)(0.2, _pieced(1))
    g4 = jax.grad(loss)(0.2, _pieced(4))
    assert np.isfinite(float(g1)) and float(g1) != 0.0
    assert float(g4) == pytest.approx(float(g1), rel=1e-12)  # the same trace, the same arithmetic


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_in_place_count_check_is_exact(dtype):
    """The one-reduction check of a CPU array (the maximum of its bits) refuses exactly what
    the fused check refuses, negative subnormals included, and defers when -0.0 hides the rest."""
    from jaxgeci import _spike_input as si

    tiny = np.finfo(dtype).smallest_subnormal
    with jax.enable_x64(True):
        for bad, want in [
            (np.nan, False),
            (-np.nan, False),
            (np.inf, False),
            (-np.inf, False),
            (-1.0, False),
            (-tiny, False),
            (tiny, True),
            (np.finfo(dtype).max, True),
            (-0.0, None),
        ]:
            x = np.zeros((30, 8), dtype)
            x[12, 3] = bad
            dev = jnp.asarray(x)
            assert dev.dtype == x.dtype
            assert si._counts_ok_in_place(dev) is want, bad
            assert bool(si._counts_ok(dev)) is (want is not False), bad
        assert si._counts_ok_in_place(jnp.asarray(np.zeros((3, 3), np.int32))) is True
        assert si._counts_ok_in_place(jnp.asarray(-np.ones((3, 3), np.int32))) is False


@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf, -1e-45])
def test_bad_dense_fractional_counts_are_refused_on_device(bad):
    """Fractional (dense-loop) counts are checked in place: same message as the event path."""
    x = np.full((50, 4), 0.5, np.float32)
    x[7, 2] = bad
    x[9, 1] = -0.0  # -0.0 is a valid count; with it the in-place check defers to the fused one
    for form in (x, jnp.asarray(x)):
        with pytest.raises(ValueError, match="finite, non-negative counts"):
            jg.simulate(jg.gcamp6f(), form, 1e-4)


def test_neurons_major_input_with_time_axis(x64):
    """Cleo/Brian2 users hold (neurons, time): time_axis=1 reads it so, and the result is
    time-major and equal to the transposed input's."""
    s = jg.gcamp6f()
    dense = _poisson(400, 5, 40.0, 1e-4, seed=2)
    a = jg.simulate(s, dense, 1e-4, sample_every=20)
    b = jg.simulate(s, dense.T, 1e-4, sample_every=20, time_axis=1)
    np.testing.assert_array_equal(np.asarray(a.dFF), np.asarray(b.dFF))
    with pytest.raises(ValueError, match="time_axis must be 0"):
        jg.simulate(s, dense, 1e-4, time_axis=2)


def test_a_transposed_array_warns():
    x = np.zeros((2, 5000))
    x[0, 3] = 1
    with pytest.warns(jg.LayoutWarning, match="time_axis=1"):
        jg.simulate(jg.gcamp6f(), x, 1e-4)


def test_rate_warning_beyond_a_tenth_of_a_percent():
    """30 Hz at dt = 1 ms reads every 33 steps = 30.30 Hz (1 % fast): warned with the drift;
    20 Hz at 1 ms (exactly 50 steps) is not."""
    import warnings

    with pytest.warns(jg.RateWarning, match="30.303 Hz"):
        jg.read_schedule(20_000, 1e-3, sample_rate=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jg.RateWarning)
        assert jg.read_schedule(20_000, 1e-3, sample_rate=20)[1] == pytest.approx(20.0)
        jg.read_schedule(20_000, 1e-3, sample_every=33)  # asked in steps: nothing to warn about
        jg.read_schedule(20_000, 1e-4, sample_rate=30)  # Cleo's 30.03 Hz: +0.1001 %, at the tolerance
