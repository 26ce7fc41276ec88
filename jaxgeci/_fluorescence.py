"""The Hill read-out shared by every GECI: free (or bound-active) Ca2+ -> fractional
fluorescence.

``H(c) = 1 / (1 + (K_d / c)**n_H)`` is written as ``sigmoid(n_H * log(c / K_d))``, which is the
same function but never overflows in float32 and has finite gradients everywhere. ``H(c) = 0``
for ``c <= 0`` (Cleo would return NaN for non-integer ``n_H``); the double-``where`` keeps NaN
out of the gradient there. A NaN concentration gives NaN (invalid state surfaces; it is never
turned into a plausible ΔF/F).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def hill(c, K_d, n_H):
    """Hill occupancy ``H(c) = 1/(1 + (K_d/c)**n_H)``.

    Args:
        c: concentration (M), any shape.
        K_d: dissociation constant (M), broadcastable to ``c``.
        n_H: Hill coefficient (dimensionless), broadcastable to ``c``.

    Returns:
        ``H(c)`` in [0, 1] (dimensionless); exactly 0 where ``c <= 0``; NaN where ``c`` is
        NaN (and where ``c = -inf``).
    """
    positive = c > 0
    c_safe = jnp.where(positive, c, K_d)  # double-where: no log(0) in the backward pass
    h = jax.nn.sigmoid(n_H * jnp.log(c_safe / K_d))
    # 0 * c is 0 (gradient 0) for finite c <= 0 and NaN for NaN: invalid Ca is not hidden
    return jnp.where(positive, h, 0.0 * c)


def _horner(x, coefficients):
    """``sum_k coefficients[k] x^k`` by Horner's rule."""
    p = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        p = c + x * p
    return p


# Below |x| = 0.5 log1p and 1 - exp(-x) are summed as series; above it log(1 + x) and
# 1 - exp(-x) lose at most a factor 2.5 to cancellation. Terms for a truncation error far
# below the dtype's eps (itemsize -> terms): log1p as 2 atanh(z), z = x / (2 + x), |z| <= 1/3,
# (1/9)^8/17 = 1.4e-9 and (1/9)^17/35 = 1.6e-18; 1 - e^-x, 0.5^10/10! = 2.7e-10 and
# 0.5^18/18! = 6e-22. (A compensated form such as log(w) + (u - (w - 1)), w = 1 + u, would be
# cheaper, but XLA simplifies (1 + u) - 1 to u under jit, which silently drops the correction.)
_SERIES_BELOW = 0.5
_ATANH_TERMS = {4: 8, 8: 17}
_EXP_TERMS = {4: 9, 8: 17}


def _log1p(u, itemsize: int):
    small = jnp.abs(u) < _SERIES_BELOW
    us = jnp.where(small, u, 0.0)
    z = us / (2.0 + us)
    series = 2.0 * z * _horner(z * z, [1.0 / (2 * k + 1) for k in range(_ATANH_TERMS[itemsize])])
    return jnp.where(small, series, jnp.log(jnp.where(small, 1.0, 1.0 + u)))


def _one_minus_exp_neg(d, e, itemsize: int):
    """``1 - e`` with ``e = exp(-d)`` given."""
    small = jnp.abs(d) < _SERIES_BELOW
    ds = jnp.where(small, d, 0.0)
    n = _EXP_TERMS[itemsize]
    series = ds * _horner(ds, [(-1.0) ** k / math.factorial(k + 1) for k in range(n)])
    return jnp.where(small, series, 1.0 - e)


def hill_rise(c_rest, dc, K_d, n_H):
    """The rise of the Hill occupancy above rest, ``H(c_rest + dc) - H(c_rest)``, without the
    cancellation of the difference.

    With ``a = n_H log(c_rest/K_d)`` and ``d = n_H log1p(dc/c_rest)``, the identity
    ``sigmoid(a + d) - sigmoid(a) = sigmoid(-a) (1 - e^-d) / (1 + e^-a e^-d)`` has no
    subtraction of nearly equal numbers, so a small rise keeps its relative precision (in
    float32 the plain difference loses ``eps H(c_rest) / rise``, 1e-6 of a single spike's
    ΔF/F for GCaMP6f). ``log1p`` and ``1 - e^-d`` are short series below 0.5 and the plain
    ``log``/``exp`` forms above: XLA:CPU's ``log1p`` and ``expm1`` cost about twice its
    ``log`` and ``exp``, and a ΔF/F read at every step spent a fifth of its time in them.

    Args:
        c_rest: resting concentration (M), > 0.
        dc: concentration above rest (M), any shape broadcastable with ``c_rest``.
        K_d: dissociation constant (M).
        n_H: Hill coefficient (dimensionless).

    Returns:
        ``H(c_rest + dc) - H(c_rest)`` (dimensionless): ``-H(c_rest)`` where
        ``c_rest + dc <= 0``, NaN where ``dc`` is NaN.
    """
    c = c_rest + dc
    positive = c > 0
    u = jnp.where(positive, dc / c_rest, 0.0)  # double-where: no log(0) in the gradient
    size = jnp.result_type(u).itemsize
    d = n_H * _log1p(u, size)
    e = jnp.exp(-d)
    # sigmoid(-a) and e^-a depend on the constants only (hoisted out of a time loop); the
    # denominator has no cancellation (both terms > 0); e^-a overflows only for
    # H(c_rest) < 1e-38 in float32 (a < -88), far outside any indicator
    a = n_H * jnp.log(c_rest / K_d)
    rise = jax.nn.sigmoid(-a) * _one_minus_exp_neg(d, e, size) / (1.0 + jnp.exp(-a) * e)
    # 0 * c keeps a NaN concentration NaN (invalid state is not hidden)
    return jnp.where(positive, rise, -hill(c_rest, K_d, n_H) + 0.0 * c)
