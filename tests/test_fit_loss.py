"""The training-loss option ``FitConfig.loss`` (synthetic data only)."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci
from jaxgeci._batch import make_batch
from jaxgeci._fit import batch_loss, combine_cells, make_loss
from jaxgeci._params import is_free, make_params
from jaxgeci._projection import lag_grid


FAST = jaxgeci.FitConfig(dt=2e-3, segment_s=None, unroll=1)


def test_combine_cells_and_validation():
    ev = jnp.asarray([0.9, 0.5])
    assert float(combine_cells(ev)) == pytest.approx(0.3)
    assert float(combine_cells(ev, "log")) == pytest.approx(0.5 * (np.log(0.1) + np.log(0.5)))
    with pytest.raises(ValueError, match="loss"):
        jaxgeci.FitConfig(loss="median")


def test_log_loss_forward_equals_reverse_and_reports_protocol_ev(x64):
    """The log loss has the same exact gradient in forward and reverse mode, and a fit with it
    reports the protocol's EVs (equal to evaluate())."""
    true = jaxgeci.s2f("jGCaMP8m").replace(tau_d1=0.05)
    recs = [
        jaxgeci.synthetic_recording(true, jax.random.key(i), duration_s=8.0, name=f"c{i}", noise_std=0.05 * (1 + 3 * i))
        for i in range(2)
    ]
    start = jaxgeci.s2f("jGCaMP8m")
    cfg = dataclasses.replace(FAST, loss="log")
    batch = make_batch(recs, cfg.dt, burn_in_s=cfg.burn_in_s, max_lag_s=cfg.max_lag_s)
    lags = jnp.asarray(lag_grid(cfg.max_lag_s, cfg.lag_step_s), dtype=float)
    params = make_params(start, ["tau_d1", "beta"], n_cells=2)
    tr, frozen = eqx.partition(params, is_free(params))
    # compiled (an eager grad dispatches op by op through the scans: several times slower)
    g_fwd = eqx.filter_jit(jax.grad(make_loss(frozen, cfg, lags)))(tr, batch)
    g_rev = eqx.filter_jit(jax.grad(make_loss(frozen, dataclasses.replace(cfg, gradient="reverse"), lags)))(tr, batch)
    for a, b in zip(jax.tree_util.tree_leaves(g_fwd), jax.tree_util.tree_leaves(g_rev)):
        np.testing.assert_allclose(a, b, rtol=1e-8)
    val, proj = batch_loss(params, batch, cfg, lags)
    assert float(val) == pytest.approx(float(jnp.mean(jnp.log(1.0 - proj.ev))), rel=1e-12)
    res = jaxgeci.fit(recs, start, ["tau_d1"], n_steps=3, learning_rate=0.1, config=cfg, progress=False)
    for rec in recs:
        (r,) = jaxgeci.evaluate(res.sensor, [rec], dt=cfg.dt, lag_step_s=0.005)
        assert r["ev"] == pytest.approx(res.cells[rec.name]["ev"], abs=1e-9)
    # the fit moves tau_d1 from the preset (41.64 ms) towards the truth (50 ms)
    assert abs(np.log(res.constants["tau_d1"] / 0.05)) < abs(np.log(0.04164 / 0.05))
