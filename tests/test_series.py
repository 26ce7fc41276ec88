"""jaxgeci._series: log1p and 1 - exp(-x) to a few eps, compiled, in float32 and float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxgeci import _series as series


X = np.concatenate([np.logspace(-12, 2.5, 4001), -np.logspace(-12, np.log10(0.999), 2001)])


@pytest.mark.parametrize("dtype, bound", [(np.float32, 1e-6), (np.float64, 1e-14)])
def test_series_match_numpy_under_jit(dtype, bound):
    """Relative error against NumPy's float64 log1p/expm1 of the same inputs, compiled (XLA may
    simplify algebra there): a few eps of the dtype (float32 eps 1.2e-7, float64 2.2e-16),
    across the series/plain switch at 0.5 and both signs."""
    with jax.enable_x64(dtype == np.float64):
        x = jnp.asarray(X, dtype)
        x64 = np.asarray(x, np.float64)
        got_log = np.asarray(jax.jit(series.log1p)(x), np.float64)
        got_exp = np.asarray(jax.jit(series.one_minus_exp_neg)(x), np.float64)
    assert np.max(np.abs(got_log - np.log1p(x64)) / np.abs(np.log1p(x64))) < bound
    assert np.max(np.abs(got_exp + np.expm1(-x64)) / np.abs(np.expm1(-x64))) < bound


def test_series_edges_and_gradients(x64):
    f = jax.jit(series.log1p)
    assert float(f(jnp.asarray(0.0))) == 0.0 and float(f(jnp.asarray(np.inf))) == np.inf
    assert float(f(jnp.asarray(-1.0))) == -np.inf and np.isnan(float(f(jnp.asarray(np.nan))))
    g = jax.jit(series.one_minus_exp_neg)
    assert float(g(jnp.asarray(0.0))) == 0.0 and float(g(jnp.asarray(np.inf))) == 1.0
    assert np.isnan(float(g(jnp.asarray(np.nan))))
    # derivatives on both sides of the switch at 0.5, by finite differences (float64)
    for x in (1e-3, 0.3, 0.49, 0.51, 2.0, -0.3, -0.7):
        check_grads(series.log1p, (jnp.asarray(x),), order=2, modes=["fwd", "rev"], eps=1e-6)
        check_grads(series.one_minus_exp_neg, (jnp.asarray(x),), order=2, modes=["fwd", "rev"], eps=1e-6)
