"""The S2F model family with activity-dependent decay (``jaxgeci._s2f_adaptive``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci
from jaxgeci._s2f_adaptive import AdaptiveS2F


def _half_decay(trace, dt):
    k = int(np.argmax(trace))
    below = np.flatnonzero(trace[k:] <= 0.5 * trace[k])
    return below[0] * dt


def test_large_c_half_is_s2f(x64):
    """c_half -> inf is exactly S2F: with c_half = 1e12 the rates differ by c/c_half ~ 1e-11."""
    s = jaxgeci.s2f("jGCaMP8f")
    a = AdaptiveS2F.from_s2f(s, c_half=1e12)
    spikes = np.zeros(4000)
    spikes[[100, 105, 110, 900, 2000, 2003]] = 1.0
    ref = jaxgeci.unit_trace(s, jnp.asarray(spikes), 1e-3)
    out = jaxgeci.unit_trace(a, jnp.asarray(spikes), 1e-3)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
    sim = jaxgeci.simulate(a, spikes[:, None], 1e-3, record=("dFF",)).dFF[:, 0]
    np.testing.assert_allclose(sim, out, rtol=1e-12, atol=1e-14)  # the same step via simulate


def test_decay_against_implicit_closed_form(x64):
    """r = 0 and an instantaneous rise: the latent obeys dc/dt = -c / (tau (1 + c/K)), whose
    solution satisfies ln c + c/K = ln c(0) + c(0)/K - t/tau. N = 8 spikes at once."""
    tau, K, N, dt = 0.05, 2.0, 8.0, 2e-5
    s = jaxgeci.s2f("jGCaMP8f").replace(r=0.0, tau_r=1e-7, tau_d2=tau, tau_d1=tau)
    a = AdaptiveS2F.from_s2f(s, c_half=K)
    n = int(0.4 / dt)
    spikes = np.zeros(n)
    spikes[0] = N
    st = a.init(1)

    def body(state, sp):
        return a.advance(state, sp[None], dt), state.c1[0]

    _, cs = jax.lax.scan(body, st, jnp.asarray(spikes))
    cs = np.asarray(cs)
    t = np.arange(n) * dt
    # the scan's c at index j is the value at t_j = j dt after the spike at t_0 (c(0+) = N)
    lhs = np.log(cs[1:]) + cs[1:] / K
    rhs = np.log(N) + N / K - t[1:] / tau
    # rate frozen over each step: first-order error ~ dt/tau = 4e-4 relative in c, which is
    # an absolute error ~ 1e-3 in ln c + c/K after 0.4 s (8 tau): 5e-3 bounds it
    np.testing.assert_allclose(lhs, rhs, atol=5e-3)
    # and the decay really is slower than the plain exponential while c >> K
    assert cs[int(0.05 / dt)] > 2.0 * N * np.exp(-1.0)


def test_bursts_decay_slower_single_spikes_like_s2f(x64):
    s = jaxgeci.s2f("jGCaMP8f")
    a = AdaptiveS2F.from_s2f(s, c_half=2.0)
    dt = 1e-3
    single = np.zeros(3000)
    single[100] = 1.0
    burst = np.zeros(3000)
    burst[100:200:5] = 1.0  # 20 spikes at 200 Hz
    hd = {}
    for name, sp in (("single", single), ("burst", burst)):
        for m, sensor in (("s2f", s), ("adaptive", a)):
            tr = np.asarray(jaxgeci.unit_trace(sensor, jnp.asarray(sp), dt)) - float(sensor.readout(sensor.init(1))[0])
            hd[name, m] = _half_decay(tr, dt)
    # one spike: the rates are slowed by at most 1 + c_peak/c_half at any time (c <= c_peak)
    c_peak = float(s.kernel(s.peak_delay_1AP))
    assert hd["single", "s2f"] < hd["single", "adaptive"] <= (1 + c_peak / 2.0) * hd["single", "s2f"]
    # a 20-spike burst drives c to several c_half: clearly slower decay
    assert hd["burst", "adaptive"] > 1.5 * hd["burst", "s2f"]


def test_adaptive_validates_and_roundtrips_results():
    s = jaxgeci.s2f("jGCaMP8m")
    with pytest.raises(ValueError, match="c_half"):
        AdaptiveS2F.from_s2f(s, c_half=-1.0)
    with pytest.raises(ValueError, match="tau_d1"):
        AdaptiveS2F.from_s2f(s.replace(), c_half=1.0).replace(tau_d1=-0.1)
    spec = jaxgeci.get_model("s2f-adaptive")
    a = spec.initial("jGCaMP8m", "Cascade DS31")
    assert isinstance(a, AdaptiveS2F) and "c_half" in jaxgeci.constant_names(a)
    b = spec.build(dict(a.params), name="x")
    assert b.params.keys() == a.params.keys()
    assert all(float(b.params[k]) == float(a.params[k]) for k in a.params)
