"""The reliability battery: what a careless or unlucky user does, and what should happen.

Four classes of the adversarial review, each with its examples and more:

1. coercion: Python/NumPy/JAX real scalars and arrays are accepted; bool (except spike
   arrays), str, complex and object values are refused, naming the argument;
2. NaN is never hidden (NaN in, NaN out);
3. (class 4) unit and layout mistakes (nM for M, ms for s, µm for m) raise or warn, naming
   the likely unit;
4. (class 7) float32 numerics: the accurate method, int32 step indices, direction scaling.

Only the public API is used, so the same file runs against older commits (to count how many
cases they handled well).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


DT = 1e-3


def _spikes(T=200, N=2):
    s = np.zeros((T, N))
    s[20, :] = 1
    return s


def _refused(fn, *names, exc=(TypeError, ValueError)):
    """``fn()`` raises one of ``exc`` (never from deep inside JAX) naming every name."""
    with pytest.raises(exc) as err:
        fn()
    msg = str(err.value)
    for n in names:
        assert n in msg, msg
    assert "could not convert" not in msg and "incompatible shapes" not in msg, msg


def _raises_or_warns(fn, *words):
    """``fn()`` raises a ValueError or warns; the message names every word."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
        except ValueError as e:
            msg = str(e)
        else:
            assert w, "neither raised nor warned"
            msg = " ".join(str(x.message) for x in w)
    for word in words:
        assert word in msg, msg


# ---------------------------------------------------------------------------- 1. coercion


@pytest.mark.parametrize("rate", [np.float32(30.0), np.float64(30.0), jnp.float32(30.0), np.int64(30)])
def test_numpy_and_jax_scalars_accepted_as_sample_rate(rate):
    r = jg.simulate(jg.gcamp6f(), _spikes(), DT, sample_rate=rate)
    assert r.dFF.shape[0] == 7


@pytest.mark.parametrize("dt", [np.float32(1e-3), np.float64(1e-3), jnp.asarray(1e-3), jnp.float32(1e-3)])
def test_numpy_and_jax_scalars_accepted_as_dt(dt):
    r = jg.simulate(jg.gcamp6f(), _spikes(), dt)
    assert r.dFF.shape == (200, 2)


@pytest.mark.parametrize("dt", [True, "1e-4", 1e-3 + 0j, np.complex64(1e-3), None, [1e-3]])
def test_bad_dt_refused_naming_dt(dt):
    _refused(lambda: jg.simulate(jg.gcamp6f(), _spikes(), dt), "dt")


@pytest.mark.parametrize("rho", ["1", True, 1 + 0j])
def test_bad_rho_rel_refused(rho):
    _refused(lambda: jg.simulate(jg.gcamp6f(), _spikes(), DT, rho_rel=rho), "rho_rel")


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(K_d="2.9e-7"), "K_d"),
        (dict(K_d="abc"), "K_d"),
        (dict(K_d=True), "K_d"),
        (dict(K_d=2.9e-7 + 0j), "K_d"),
        (dict(K_d=np.complex128(2.9e-7)), "K_d"),
        (dict(K_d=np.array([2.9e-7], dtype=object)), "K_d"),
        (dict(gamma="292.3"), "gamma"),
        (dict(dCa_T=np.bool_(True)), "dCa_T"),
        (dict(tau_on=1j), "tau_on"),
        (dict(sigma_noise="0.03"), "sigma_noise"),
        (dict(dFF_1AP=True), "dFF_1AP"),
    ],
)
def test_bad_constants_refused_naming_the_constant(kw, name):
    _refused(lambda: jg.gcamp6f(**kw), name)


@pytest.mark.parametrize(
    "value", [np.float32(2.9e-7), np.float64(2.9e-7), jnp.float32(2.9e-7), jnp.asarray([2.9e-7, 3e-7]), [2.9e-7, 3e-7]]
)
def test_real_constants_accepted(value):
    s = jg.gcamp6f(K_d=value)
    np.testing.assert_allclose(np.asarray(s.K_d, dtype=float), np.asarray(value, dtype=float), rtol=1e-6)


def test_integer_constant_accepted_as_float():
    s = jg.gcamp6f(gamma=np.int64(292))
    assert jnp.issubdtype(s.cal_model.gamma.dtype, jnp.floating) and float(s.cal_model.gamma) == 292.0


@pytest.mark.parametrize("value", ["1e-7", True, 1e-7 + 0j])
def test_replace_refuses_non_real(value):
    _refused(lambda: jg.gcamp6f().replace(K_d=value), "K_d")


@pytest.mark.parametrize("kw,name", [(dict(tau_r="0.002"), "tau_r"), (dict(r=True), "r"), (dict(Fm=7.4 + 0j), "Fm")])
def test_s2f_refuses_non_real(kw, name):
    _refused(lambda: jg.s2f("jGCaMP8m", **kw), name)


def test_adaptive_s2f_refuses_string_c_half():
    _refused(lambda: jg.AdaptiveS2F(jg.s2f("jGCaMP8m"), c_half="1"), "c_half")


def test_complex_dense_spikes_refused():
    _refused(lambda: jg.simulate(jg.gcamp6f(), _spikes().astype(complex), DT), "spikes")


def test_bool_dense_spikes_stay_valid():
    a = jg.simulate(jg.gcamp6f(), _spikes().astype(bool), DT).dFF
    b = jg.simulate(jg.gcamp6f(), _spikes(), DT).dFF
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("field", ["steps", "neurons"])
@pytest.mark.parametrize("bad", [np.array([1 + 0j]), np.array([True]), np.array(["1"])])
def test_spike_trains_refuse_non_integer_indices(field, bad):
    kw = dict(steps=np.array([1]), neurons=np.array([0]), n_steps=10, n_neurons=2)
    kw[field] = bad
    _refused(lambda: jg.SpikeTrains(**kw), field)


def test_spike_trains_accept_numpy_integer_sizes():
    s = jg.SpikeTrains(steps=[1, 2], neurons=[0, 1], n_steps=np.int64(10), n_neurons=np.int32(2))
    assert (s.n_steps, s.n_neurons) == (10, 2)


def test_spike_times_refuse_complex():
    _refused(lambda: jg.SpikeTrains.from_times(np.array([0.1 + 0j]), 0, DT, 200, 1), "times_s")


def test_from_dense_refuses_complex_accepts_bool():
    _refused(lambda: jg.SpikeTrains.from_dense(_spikes().astype(complex)), "spikes")
    assert jg.SpikeTrains.from_dense(_spikes().astype(bool)).n_events == 2


_COORDS = np.array([[0.0, 0.0, 100e-6], [50e-6, 0.0, 100e-6], [0.0, 0.0, 300e-6]])


@pytest.mark.parametrize("bad", [_COORDS.astype(complex), _COORDS.astype(str)])
def test_coordinates_refuse_complex_and_strings(bad):
    _refused(lambda: jg.target_neurons_in_plane(bad, 100e-6, 500e-6), "coords")


def test_direction_refuses_complex():
    _refused(lambda: jg.target_neurons_in_plane(_COORDS, 100e-6, 500e-6, scope_direction=(0, 0, 1 + 0j)), "direction")


def test_soma_radius_refuses_bool():
    _refused(lambda: jg.target_neurons_in_plane(_COORDS, 100e-6, 500e-6, soma_radius=True), "soma_radius")


def test_sample_every_refuses_bool():
    _refused(lambda: jg.simulate(jg.gcamp6f(), _spikes(), DT, sample_every=True), "sample_every")


def test_synthetic_recording_refuses_string_duration():
    _refused(lambda: jg.synthetic_recording(jg.gcamp6f(), jax.random.PRNGKey(0), duration_s="5"), "duration_s")


# ---------------------------------------------------------------------------- 2. NaN


def test_hill_nan_in_nan_out():
    assert np.isnan(float(jg.hill(jnp.nan, 2.9e-7, 2.7)))


def test_hill_zero_and_negative_are_zero():
    np.testing.assert_array_equal(np.asarray(jg.hill(jnp.array([0.0, -1e-7]), 2.9e-7, 2.7)), 0.0)


def test_hill_gradient_finite_at_zero_calcium():
    g = jax.grad(lambda c, k: jg.hill(c, k, 2.7), argnums=(0, 1))(0.0, 2.9e-7)
    assert all(np.isfinite(float(x)) for x in g)


def test_state0_with_nan_calcium_surfaces():
    s = jg.gcamp6f()
    st = s.init(2)
    st = type(st)(dCa=st.dCa.at[0].set(jnp.nan), bind=st.bind)
    d = np.asarray(jg.simulate(s, _spikes(), DT, state0=st).dFF)
    # dFF reads CaB_active = Ca_rest + b: the NaN reaches it through b within two steps, then
    # stays (it gave -0.217 forever before)
    assert np.all(np.isnan(d[2:, 0])) and np.all(np.isfinite(d[:, 1]))


def test_state0_with_nan_binding_state_surfaces():
    s = jg.gcamp6f()
    st = s.init(2)
    st = type(st)(dCa=st.dCa, bind=(st.bind[0].at[1].set(jnp.nan), st.bind[1]))
    d = np.asarray(jg.simulate(s, _spikes(), DT, state0=st).dFF)
    assert np.all(np.isnan(d[:, 1]))


def test_null_binding_nan_readout_surfaces():
    s = jg.gcamp6f(doub_exp_conv=False)
    st = s.init(1)
    st = type(st)(dCa=jnp.full((1,), jnp.nan, dtype=st.dCa.dtype), bind=st.bind)
    assert np.isnan(float(s.readout(st)[0]))


def test_s2f_state0_with_nan_surfaces():
    s = jg.s2f("jGCaMP8m")
    st = s.init(1)
    st = type(st)(c1=st.c1 + jnp.nan, p1=st.p1, c2=st.c2, p2=st.p2)
    d = np.asarray(jg.simulate(s, _spikes(N=1), DT, state0=st).dFF)
    assert np.all(np.isnan(d))


@pytest.mark.parametrize("bad", [np.nan, -1.0])
def test_closed_loop_step_validates_spikes(bad):
    # one step with NaN or negative spikes gave finite numbers forever after
    coords = np.array([[0.0, 0.0, 100e-6], [10e-6, 0.0, 100e-6]])
    scope = jg.Scope(jg.gcamp6f(), img_width=500e-6, focus_depth=100e-6).inject("exc", coords)
    reader = jg.ClosedLoopScope(scope, DT, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="spikes"):
        reader.step({"exc": np.array([bad, 0.0])})


def test_per_neuron_constant_of_the_wrong_length_named():
    # "mul got incompatible shapes" from inside JAX before (the constant was not named)
    _refused(lambda: jg.simulate(jg.gcamp6f(K_d=np.full(3, 2.9e-7)), _spikes(), DT), "K_d")


def test_rho_rel_of_the_wrong_length_named():
    _refused(lambda: jg.simulate(jg.gcamp6f(), _spikes(), DT, rho_rel=np.ones(3)), "rho_rel")


def test_nan_constant_refused():
    _refused(lambda: jg.gcamp6f(K_d=np.nan), "K_d")


def test_nan_spikes_refused():
    s = _spikes()
    s[3, 0] = np.nan
    _refused(lambda: jg.simulate(jg.gcamp6f(), s, DT), "spikes")


def test_nan_in_recording_refused():
    t = np.arange(300) / 30.0
    y = np.zeros(300)
    y[5] = np.nan
    _refused(lambda: jg.Recording.create(t, y, np.array([1.0]), 30.0), "dff")


# ---------------------------------------------------------------------------- 4. units


@pytest.mark.parametrize(
    "kw,words",
    [
        (dict(K_d=150), ("K_d", "nM")),  # nM meant: ΔF/F of 1e-21 before
        (dict(K_d=290.0), ("K_d", "nM")),
        (dict(Ca_rest=50.0), ("Ca_rest", "nM")),
        (dict(dCa_T=7.6), ("dCa_T", "µM")),
        (dict(B_T=200.0), ("B_T", "µM")),
        (dict(tau_off=10.14), ("tau_off", "ms")),
        (dict(tau_on=1171.6), ("tau_on", "ms")),
    ],
)
def test_geci_constants_in_the_wrong_unit(kw, words):
    _raises_or_warns(lambda: jg.gcamp6f(**kw), *words)


@pytest.mark.parametrize("kw", [dict(tau_r=1.85), dict(tau_r=2.46), dict(tau_d1=34.07), dict(tau_d2=263.7)])
def test_s2f_time_constants_in_ms(kw):
    _raises_or_warns(lambda: jg.s2f("jGCaMP8m", **kw), next(iter(kw)), "ms")


def test_coordinates_in_micrometres_warn():
    with pytest.warns(UserWarning, match="µm"):
        jg.target_neurons_in_plane(_COORDS * 1e6, 100.0, 500.0)


def test_soma_radius_in_micrometres_warns():
    with pytest.warns(UserWarning, match="µm"):
        jg.target_neurons_in_plane(_COORDS, 100e-6, 500e-6, soma_radius=10.0)


def test_image_width_in_micrometres_warns():
    with pytest.warns(UserWarning, match="µm"):
        jg.Scope(jg.gcamp6f(), img_width=500.0, focus_depth=100e-6)


def _rec(t_scale=1.0, s_scale=1.0, fr=30.0):
    t = np.arange(900) / 30.0
    s = np.array([3.0, 5.0, 10.0, 20.0])
    return lambda: jg.Recording.create(t * t_scale, np.zeros(900), s * s_scale, fr)


def test_recording_frame_times_in_ms():
    _raises_or_warns(_rec(t_scale=1e3), "t_frames", "ms")


def test_recording_frame_times_in_ms_without_a_rate():
    t = np.arange(900) / 30.0 * 1e3
    _raises_or_warns(lambda: jg.Recording.create(t, np.zeros(900), np.array([3e3])), "t_frames", "ms")


def test_recording_spike_times_in_ms():
    # 715 spikes in ms on frames in s: all kept 0 before, silently
    _raises_or_warns(_rec(s_scale=1e3), "spike_times", "ms")


def test_recording_frame_rate_not_matching_frame_times():
    _raises_or_warns(_rec(fr=100.0), "frame_rate_hz")


def test_recording_in_seconds_accepted():
    rec = _rec()()
    assert rec.spike_times.size == 4


# ---------------------------------------------------------------------------- 7. float32


def _f32_vs_f64(dt, method):
    p32 = {k: float(np.float32(v)) for k, v in jg.gcamp6f().params.items() if v is not None}
    times = np.array([0.05, 0.1, 0.102, 0.104])

    def run(x64):
        with jax.enable_x64(x64):
            n = int(round(0.3 / dt))
            spk = jg.SpikeTrains.from_times(times, np.arange(4) % 2, dt, n, 2)
            r = jg.simulate(jg.geci(**p32), spk, dt, method=method, sample_every=max(1, int(round(1e-3 / dt))))
            return np.asarray(r.dFF, dtype=np.float64)

    a, b = run(False), run(True)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("dt", [1e-5, 1e-4, 1e-3])
def test_accurate_float32_not_worse_than_euler(dt):
    # both methods share the float32 rounding floor of the stored Ca (its ulp is 6e-7 of a
    # spike's excursion, rounding correlated over steps): 1 % of Euler's error, or 1e-5
    # (~170 float32 eps), see tests/test_float32_accuracy.py
    acc, eul = _f32_vs_f64(dt, "accurate"), _f32_vs_f64(dt, "euler")
    assert acc <= max(1.01 * eul, 1e-5), (acc, eul)


def test_accurate_float32_error_small_at_0p1ms():
    assert _f32_vs_f64(1e-4, "accurate") < 1e-5  # 1.3e-4 (issue), 1.6e-5 (measured) before


def test_event_step_beyond_int32_never_wraps():
    n = 3_000_000_000
    try:
        s = jg.SpikeTrains(steps=np.array([2_500_000_000]), neurons=np.array([0]), n_steps=n, n_neurons=1)
    except ValueError as e:
        assert "2147483647" in str(e) or "int32" in str(e)
        return
    assert int(np.asarray(s.steps)[0]) == 2_500_000_000


def test_spike_times_beyond_int32_steps_never_wrap():
    try:
        s = jg.SpikeTrains.from_times(np.array([250.0]), 0, 1e-7, 3_000_000_000, 1)
    except ValueError as e:
        assert "int32" in str(e) or "2147483647" in str(e)
        return
    assert int(np.asarray(s.steps)[0]) > 0


_MANY = np.random.default_rng(0).uniform(-300e-6, 300e-6, size=(400, 3)) + np.array([0, 0, 0])


@pytest.mark.parametrize("scale", [1e-25, 1e-12, 1e12, 1e25])
def test_direction_scale_does_not_matter(scale):
    ref = jg.target_neurons_in_plane(_MANY, 100e-6, 400e-6, scope_direction=(1.0, 0.0, 0.0))[0]
    got = jg.target_neurons_in_plane(_MANY, 100e-6, 400e-6, scope_direction=(scale, 0.0, 0.0))[0]
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("bad", [(0.0, 0.0, 0.0), (np.nan, 0.0, 1.0), (np.inf, 0.0, 0.0)])
def test_zero_or_non_finite_direction_refused(bad):
    _refused(lambda: jg.target_neurons_in_plane(_MANY, 100e-6, 400e-6, scope_direction=bad), "direction")


def test_scope_direction_normalised_for_tiny_vector():
    sc = jg.Scope(jg.gcamp6f(), img_width=400e-6, focus_depth=100e-6, direction=(1e-25, 0.0, 0.0))
    np.testing.assert_allclose(np.asarray(sc.direction), [1.0, 0.0, 0.0], rtol=1e-6)
