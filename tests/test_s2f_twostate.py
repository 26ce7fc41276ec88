"""The S2F model family with use-dependent slowing by a separate slow variable
(``jaxgeci._s2f_twostate``, ``--model s2f-twostate``)."""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci
from jaxgeci._constants import units_table
from jaxgeci._fit import make_loss
from jaxgeci._params import is_free
from jaxgeci._s2f_twostate import TwoStateS2F


DT = 1e-3


def _sensor(**use):
    kw = dict(u_half=3.0, tau_u=0.5, n_u=2.0) | use
    return TwoStateS2F.from_s2f(jaxgeci.s2f("jGCaMP8f"), **kw)


def _half_decay(trace, dt):
    k = int(np.argmax(trace))
    below = np.flatnonzero(trace[k:] <= 0.5 * trace[k])
    return below[0] * dt


@eqx.filter_jit
def _scan_latent(sensor, spikes, dt):
    # the sensor's own step, scanned here (one jitted function for every test: fast)
    def body(state, n):
        return sensor.advance(state, n[None], dt), sensor.observe(state)["c"][0]

    return jax.lax.scan(body, sensor.init(1), spikes)[1]


def _latent(sensor, spikes, dt):
    """Latent c at the start of every step (index j = t_j)."""
    return np.asarray(_scan_latent(sensor, jnp.asarray(spikes, dtype=jnp.float64), dt))


def test_large_u_half_is_s2f(x64):
    """u_half -> inf is exactly S2F: with u_half = 1e6 and n_u = 2 the decay times differ by
    (u/u_half)^2 <= 1e-10 for the u <= 10 of these trains."""
    s = jaxgeci.s2f("jGCaMP8f")
    spikes = np.zeros(3000)
    spikes[[100, 105, 110, 900, 2000, 2003]] = 1.0
    ref = jaxgeci.simulate(s, spikes[:, None], DT, record=("dFF",)).dFF[:, 0]
    out = jaxgeci.simulate(_sensor(u_half=1e6), spikes[:, None], DT, record=("dFF",)).dFF[:, 0]
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)


def test_constant_use_is_s2f_with_slowed_decays(x64):
    """tau_u -> inf keeps u at the spike count, so after N spikes at once the latent is S2F's
    with both decay times multiplied by 1 + (N/u_half)^n_u, exactly (no frozen-rate error:
    the factor is constant)."""
    N, K, n = 4.0, 3.0, 2.5
    # tau_u = inf (set past the constructor's 20 s ceiling): exp(-dt/tau_u) = 1, u constant
    a = eqx.tree_at(lambda m: m.tau_u, _sensor(u_half=K, n_u=n), jnp.inf)
    f = 1.0 + (N / K) ** n
    b = jaxgeci.s2f("jGCaMP8f")
    ref_sensor = b.replace(tau_d1=float(b.tau_d1) * f, tau_d2=min(float(b.tau_d2) * f, 20.0))
    assert float(b.tau_d2) * f < 20.0  # the reference really is that model
    spikes = np.zeros(1500)
    spikes[10] = N
    np.testing.assert_allclose(_latent(a, spikes, DT), _latent(ref_sensor, spikes, DT), rtol=1e-11, atol=1e-14)


def test_single_spike_against_continuous_closed_form(x64):
    """One spike from rest: u(t) = exp(-t/tau_u), and with k = n_u/tau_u, a = u_half^-n_u each
    decay term is exp(-∫ dt'/(tau (1 + a e^{-k t'}))) = ((e^{kt} + a)/(1 + a))^{-1/(k tau)}
    (written out here, independently of the package). The step freezes the rate over dt."""
    K, tau_u, n = 0.6, 0.2, 2.0  # u_half < 1: one spike slows the decay 3.8x at first
    a_s = _sensor(u_half=K, tau_u=tau_u, n_u=n)
    b = a_s.base
    tr, t1, t2, r = (float(x) for x in (b.tau_r, b.tau_d1, b.tau_d2, b.r))
    dt = 2e-5
    spikes = np.zeros(int(0.6 / dt))
    spikes[0] = 1.0
    c = _latent(a_s, spikes, dt)
    t = np.arange(c.size) * dt
    k, a = n / tau_u, K**-n
    ratio = (np.exp(k * t) + a) / (1.0 + a)
    ref = (ratio ** (-1.0 / (k * t1)) + r * ratio ** (-1.0 / (k * t2))) * (1.0 - np.exp(-t / tr))
    # the frozen rate errs by O(dt / tau_d1) = 1e-3 relative per unit time constant elapsed;
    # over the ~10 (slowed) time constants shown that is < 1e-2 of the peak
    np.testing.assert_allclose(c, ref, atol=1e-2 * ref.max())
    # the reference differs from the unslowed kernel by far more than that tolerance
    plain = (np.exp(-t / t1) + r * np.exp(-t / t2)) * (1.0 - np.exp(-t / tr))
    assert np.max(np.abs(plain - ref)) > 0.2 * ref.max()
    # and the package's closed form (used by TwoStateS2F.kernel) is this one
    np.testing.assert_allclose(np.asarray(a_s.kernel(t[1:])), ref[1:], rtol=1e-10)


def test_single_spikes_fast_bursts_slow(x64):
    """What the family is for: with u_half = 3 spikes and n_u = 2 one spike decays within 12 %
    of plain S2F's half-decay (slowing <= 1 + 1/9), while a 10-spike burst at 100 Hz decays
    at least 3x slower than S2F's burst and than the single spike."""
    s = jaxgeci.s2f("jGCaMP8f")
    a = _sensor()
    single = np.zeros(3000)
    single[100] = 1.0
    burst = np.zeros(3000)
    burst[100:200:10] = 1.0
    hd = {
        (k, m): _half_decay(_latent(sensor, train, DT), DT)
        for m, sensor in (("s2f", s), ("twostate", a))
        for k, train in (("single", single), ("burst", burst))
    }
    assert hd["single", "s2f"] <= hd["single", "twostate"] <= 1.12 * hd["single", "s2f"]
    assert hd["burst", "twostate"] > 3.0 * hd["burst", "s2f"]
    assert hd["burst", "twostate"] > 3.0 * hd["single", "twostate"]


def test_batched_equals_single(x64):
    """eqx.filter_vmap over stacked parameter sets gives each set's own trace."""
    sensors = [_sensor(), _sensor(u_half=1.5, tau_u=1.2, n_u=3.0)]
    spikes = np.zeros((800, 1))
    spikes[[50, 60, 70, 400], 0] = 1.0

    def run(s):
        return jaxgeci.simulate(s, spikes, DT, record=("dFF",)).dFF

    batched = eqx.filter_vmap(run)(TwoStateS2F.stack(sensors))
    for i, s in enumerate(sensors):
        np.testing.assert_allclose(batched[i], run(s), rtol=1e-12, atol=1e-14)
    assert not np.allclose(batched[0], batched[1])  # the sets really differ


def test_gradient_matches_finite_differences(x64):
    """The fit loss's gradient in the family's 9 default free constants by its default
    forward mode (jvp tangents through the scan) equals central differences in the
    unconstrained (log / logit) coordinates. (Forward = reverse mode of the loss machinery is
    tested for the S2F families in tests/test_fit.py; here the new step is the point.)"""
    spec = jaxgeci.get_model("s2f-twostate")
    s = spec.initial("jGCaMP8m")
    truth = s.replace(tau_d1=1.3 * float(s.params["tau_d1"]), u_half=2.0, tau_u=0.3)
    rng = np.random.default_rng(0)
    spikes = np.sort(np.concatenate([rng.uniform(0.0, 3.0, 12), 1.0 + 0.01 * np.arange(6)]))  # one burst
    t = np.arange(0.0, 3.0, 1 / 60)
    x = np.zeros(int(3.0 / DT))
    np.add.at(x, (spikes / DT).astype(int), 1.0)
    y = np.interp(t, np.arange(x.size) * DT, np.asarray(jaxgeci.simulate(truth, x[:, None], DT).dFF[:, 0]))
    y = y + 0.01 * rng.standard_normal(t.size)
    rec = jaxgeci.Recording(t_frames=t, dff=y, spike_times=spikes, frame_rate_hz=60.0, name="c0")
    batch = jaxgeci.make_batch([rec], 2e-3)
    lags = jnp.asarray([0.0])
    params = jaxgeci.make_params(s, spec.default_free, constraints=spec.constraints)
    tr, frozen = eqx.partition(params, is_free(params))
    x, unravel = jax.flatten_util.ravel_pytree(tr)
    assert x.size == 9
    loss = make_loss(frozen, jaxgeci.FitConfig(dt=2e-3, gradient="forward", unroll=1), lags)
    g = np.asarray(jax.jit(jax.grad(lambda z: loss(unravel(z), batch)))(x))
    assert np.all(np.abs(g) > 1e-7)  # every constant moves the loss
    f = jax.jit(lambda z: loss(unravel(z), batch))
    h = 1e-5
    fd = np.array([(float(f(x + h * e)) - float(f(x - h * e))) / (2 * h) for e in np.eye(x.size)])
    # truncation O(h^2 f''') ~ 1e-10 and round-off ~ 1e-16/h ~ 1e-11 against gradients >= 1e-7
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-9)


def test_gradient_in_n_u_finite_at_rest(x64):
    """u = 0 before the first spike: the Hill factor's n_u derivative must not be 0 * log(0)."""
    spikes = np.zeros((300, 1))
    spikes[100, 0] = 2.0

    def loss(n_u):
        return jnp.sum(jaxgeci.simulate(_sensor(n_u=n_u, u_half=1.0), spikes, DT, record=("dFF",)).dFF)

    g = jax.grad(loss)(jnp.asarray(2.0))
    assert np.isfinite(float(g)) and float(g) != 0.0


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda: _sensor(u_half=-1.0), ValueError, "u_half"),
        (lambda: _sensor(tau_u=0.0), ValueError, "tau_u"),
        (lambda: _sensor(tau_u=500.0), ValueError, "tau_u"),
        (lambda: _sensor(n_u="2"), (TypeError, ValueError), "n_u"),
        (lambda: _sensor().replace(tau_d1=-0.1), ValueError, "tau_d1"),
        (
            lambda: TwoStateS2F(jaxgeci.s2f("jGCaMP8f"), u_half=1.0, tau_u=1.0, n_u=2.0, tau_r=0.01),
            TypeError,
            "not both",
        ),
        (lambda: TwoStateS2F(jaxgeci.gcamp6f(), u_half=1.0, tau_u=1.0, n_u=2.0), TypeError, "base must be"),
    ],
)
def test_validation_names_the_argument(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_registered_and_roundtrips_results(x64):
    """--model s2f-twostate builds the sensor from a results file's constants (SI) and the
    constants carry units."""
    spec = jaxgeci.get_model("s2f-twostate")
    s = spec.initial("GCaMP6f")
    assert set(spec.default_free) <= set(jaxgeci.constant_names(s))
    consts = {k: float(v) for k, v in s.params.items()}
    b = spec.build(consts, "GCaMP6f")
    assert isinstance(b, TwoStateS2F) and b.name == "GCaMP6f"
    assert {k: float(v) for k, v in b.params.items()} == consts
    units = units_table()
    assert (units["u_half"], units["tau_u"], units["n_u"]) == ("1", "s", "1")
    assert b.replace(dff_baseline="rest").base.dff_baseline == "rest"
