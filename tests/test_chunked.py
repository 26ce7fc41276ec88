"""simulate_chunked: windows of simulate with a tqdm bar that can be turned off; equals
simulate."""

import jax
import numpy as np
import pytest

import jaxgeci


DT = 1e-4


def _spikes(T=700, N=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((T, N)) < 0.01).astype(np.float32)


@pytest.mark.parametrize("as_events", [False, True])
def test_chunked_equals_simulate(x64, as_events):
    dense = _spikes()
    spikes = jaxgeci.SpikeTrains.from_dense(dense) if as_events else dense
    sensor = jaxgeci.gcamp6f()
    rho = np.linspace(0.5, 1.5, 5)
    ref = jaxgeci.simulate(sensor, spikes, DT, rho_rel=rho, sample_every=7)
    # 50 steps round up to 56 = 8 read periods, so windows end on read boundaries; 700 steps
    # give 12 full windows and a shorter last one.
    got = jaxgeci.simulate_chunked(sensor, spikes, DT, rho_rel=rho, sample_every=7, chunk_steps=50, progress=False)
    np.testing.assert_array_equal(got.steps, np.asarray(ref.steps))
    assert got.sample_rate_hz == ref.sample_rate_hz
    for name in ref.traces:
        # The same Euler steps in the same order; only the jitted program is split, so any
        # difference is rounding in differently fused XLA kernels (float64: ~1e-15).
        np.testing.assert_allclose(got.traces[name], np.asarray(ref.traces[name]), rtol=1e-12, atol=0, err_msg=name)
    for a, b in zip(jax.tree_util.tree_leaves(got.final_state), jax.tree_util.tree_leaves(ref.final_state)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)


def test_chunked_preexisting_ca_and_sample_rate(x64):
    T, N = 600, 3
    ca = 5e-8 + 3e-7 * np.abs(np.sin(np.arange(T)[:, None] / 50.0 + np.arange(N)))
    sensor = jaxgeci.gcamp6f(pre_existing_cal=True)
    ref = jaxgeci.simulate(sensor, None, DT, ca_pre=ca, sample_rate=1000.0)
    got = jaxgeci.simulate_chunked(sensor, None, DT, ca_pre=ca, sample_rate=1000.0, chunk_s=0.013, progress=False)
    np.testing.assert_allclose(got.dFF, np.asarray(ref.dFF), rtol=1e-12)  # as above


def test_progress_bar_on_and_off(capsys):
    spikes = _spikes(T=300, N=2)
    sensor = jaxgeci.gcamp6s()
    jaxgeci.simulate_chunked(sensor, spikes, DT, chunk_steps=100, progress=True)
    assert "simulate" in capsys.readouterr().err  # tqdm writes to stderr
    res = jaxgeci.simulate_chunked(sensor, spikes, DT, chunk_steps=100, progress=False)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""  # silent: the library never prints
    assert res.dFF.dtype == np.float32 and res.dFF.shape == (300, 2)  # float32 by default


def test_chunked_rejects_bad_input():
    with pytest.raises(ValueError, match="chunk_s"):
        jaxgeci.simulate_chunked(jaxgeci.gcamp6f(), _spikes(), DT, chunk_s=-1.0)
    with pytest.raises(ValueError, match="sample_times"):
        jaxgeci.simulate_chunked(jaxgeci.gcamp6f(), _spikes(), DT, sample_times=[0.0, 0.01])
    with pytest.raises(ValueError, match="spikes"):
        jaxgeci.simulate_chunked(jaxgeci.gcamp6f(), np.zeros(5), DT)
