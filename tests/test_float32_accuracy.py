"""The ``accurate`` GECI step in float32: its error against float64 of the same method is at
forward Euler's level (within 2x) (issue: the propagator's diagonal 1 - O(dt^2) and the Ca decay
factor exp(-dt rate) = 1 - O(1e-6) were rounded to float32 with the same relative error every
step, so the error grew as 1/dt: 1.4e-3 at 10 µs against Euler's 5e-4)."""

import jax
import numpy as np
import pytest

import jaxgeci as jg


# the float64 reference uses the float32-rounded constants, so that only the arithmetic differs
P32 = {k: float(np.float32(v)) for k, v in jg.gcamp6f().params.items() if v is not None}
TIMES = np.array([0.05, 0.1, 0.102, 0.104, 0.3])  # a single spike and a 3-spike burst (s)


def _run(dt, method, x64, T=0.5):
    with jax.enable_x64(x64):
        n = int(round(T / dt))
        spk = jg.SpikeTrains.from_times(TIMES, np.arange(TIMES.size) % 4, dt, n, 4)
        r = jg.simulate(jg.geci(**P32), spk, dt, method=method, sample_every=max(1, int(round(1e-3 / dt))))
        return np.asarray(r.dFF, dtype=np.float64)


def _rel_err(dt, method):
    a32, a64 = _run(dt, method, False), _run(dt, method, True)
    return float(np.max(np.abs(a32 - a64)) / np.max(np.abs(a64)))


@pytest.mark.parametrize("dt", [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 2e-3])
def test_accurate_float32_error_not_above_euler(dt):
    acc, eul = _rel_err(dt, "accurate"), _rel_err(dt, "euler")
    # Both steps store Ca - Ca_rest (a float32 ulp of ~1e-15 M, not the 7e-15 M of the absolute
    # ~6e-8 M level) and the read-out takes the Hill rise above rest without cancellation, so
    # both errors are the float32 rounding of the excursion accumulated over the run (measured:
    # accurate 3.9e-5 .. 7.0e-7, Euler 4.0e-5 .. 7.2e-7 over 10 µs .. 2 ms; Euler on the absolute
    # Ca, as Brian2 computes it, was 5.5e-4 .. 8.1e-7). Which of the two rounds luckier at a
    # given dt varies (accurate / Euler 0.59 .. 1.85: the accurate step rounds about twice as
    # many operations per step, expm1 and two rates); a factor 2 bounds "the same floor", while
    # the old propagator's 1/dt growth (1.4e-3 at 10 µs, 35x Euler) fails it by far.
    assert acc <= 2.0 * eul, (acc, eul)


def test_accurate_float32_error_does_not_grow_as_one_over_dt():
    # the old propagator's error grew 40x from 0.1 ms to 10 µs (1.3e-4 -> 1.4e-3, 3.5e-5 at
    # 1 ms); now at 0.1 ms and 1 ms it is within a few float32 ulps of the excursion
    assert _rel_err(1e-4, "accurate") < 1e-5
    assert _rel_err(1e-3, "accurate") < 1e-5


@pytest.mark.parametrize("K_d, n_H", [(2.9e-7, 2.7), (1e-7, 1.5), (6e-7, 3.5), (2.9e-7, 1.0)])
def test_hill_rise_float32_under_jit_keeps_relative_precision(K_d, n_H):
    """Compiled (where XLA may simplify algebra, e.g. (1 + u) - 1 to u), the float32 rise keeps
    its relative precision from 1e-10 to 1e3 times the resting Ca, and below rest down to Ca ->
    0: < 1e-6 of the float64 value of the same float32 inputs. The series and the log/exp
    forms each round a handful of times (measured 3.7e-7 to 6.1e-7, about 5-8 float32 eps);
    the log1p/expm1 form it replaced reached 3.5e-5 at n_H = 3.5, where 1 + e^-a (1 + expm1)
    cancelled for large rises."""
    from jaxgeci._fluorescence import hill_rise

    rest = 5e-8
    u = np.concatenate([np.logspace(-10, 3, 20001), -np.logspace(-10, np.log10(0.999), 10001)])
    dc32 = (u * rest).astype(np.float32)
    f = jax.jit(hill_rise)
    got = np.asarray(f(np.float32(rest), dc32, np.float32(K_d), np.float32(n_H)), np.float64)
    with jax.enable_x64(True):
        ref = np.asarray(
            f(
                np.float64(np.float32(rest)),
                dc32.astype(np.float64),
                np.float64(np.float32(K_d)),
                np.float64(np.float32(n_H)),
            )
        )
    assert np.max(np.abs(got - ref) / np.abs(ref)) < 1e-6


def test_hill_rise_equals_the_float64_difference_and_keeps_nan():
    from jaxgeci._fluorescence import hill, hill_rise

    K_d, n_H, rest = 2.9e-7, 2.7, 5e-8
    dc = np.array([1e-12, 1e-9, 1.2e-8, 1e-6, -rest / 2, -rest, -2 * rest, np.nan])
    with jax.enable_x64(True):
        ref = np.asarray(hill(rest + dc, K_d, n_H) - hill(rest, K_d, n_H))
        got = np.asarray(hill_rise(rest, dc, K_d, n_H))
    # float64 difference of the plain form: its cancellation costs eps * H_rest / rise,
    # < 1e-9 relative even at the 1e-12 M rise, so 1e-8 compares the forms, not the rounding
    np.testing.assert_allclose(got[:-1], ref[:-1], rtol=1e-8, atol=0)
    assert np.isnan(got[-1])
    # float32: a tiny rise keeps its relative precision (the plain difference is 0 or ~100 % off)
    small = float(hill_rise(np.float32(rest), np.float32(1e-12), np.float32(K_d), np.float32(n_H)))
    assert small == pytest.approx(ref[0], rel=1e-5)
    # finite gradient at Ca -> 0 (the double-where)
    g = jax.grad(lambda x: hill_rise(rest, x, K_d, n_H))(-rest)
    assert np.isfinite(float(g))
