"""The Hill read-out shared by every GECI: free (or bound-active) Ca2+ -> fractional
fluorescence.

``H(c) = 1 / (1 + (K_d / c)**n_H)`` is written as ``sigmoid(n_H * log(c / K_d))``, which is the
same function but never overflows in float32 and has finite gradients everywhere. ``H(c) = 0``
for ``c <= 0`` (Cleo would return NaN for non-integer ``n_H``); the double-``where`` keeps NaN
out of the gradient there. A NaN concentration gives NaN (invalid state surfaces; it is never
turned into a plausible ΔF/F).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import _series as series


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


def hill_rise(c_rest, dc, K_d, n_H):
    """The rise of the Hill occupancy above rest, ``H(c_rest + dc) - H(c_rest)``, without the
    cancellation of the difference.

    With ``a = n_H log(c_rest/K_d)`` and ``d = n_H log1p(dc/c_rest)``, the identity
    ``sigmoid(a + d) - sigmoid(a) = sigmoid(-a) (1 - e^-d) / (1 + e^-a e^-d)`` has no
    subtraction of nearly equal numbers, so a small rise keeps its relative precision (in
    float32 the plain difference loses ``eps H(c_rest) / rise``, 1e-6 of a single spike's
    ΔF/F for GCaMP6f). ``log1p`` and ``1 - e^-d`` are short series below 0.5 and the plain
    ``log``/``exp`` forms above (:mod:`jaxgeci._series`): XLA:CPU's ``log1p`` and ``expm1``
    cost about twice its ``log`` and ``exp``, and a ΔF/F read at every step pays them per
    neuron.

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
    d = n_H * series.log1p(u)
    e = jnp.exp(-d)
    # sigmoid(-a) and e^-a depend on the constants only (hoisted out of a time loop); the
    # denominator has no cancellation (both terms > 0); e^-a overflows only for
    # H(c_rest) < 1e-38 in float32 (a < -88), far outside any indicator
    a = n_H * jnp.log(c_rest / K_d)
    rise = jax.nn.sigmoid(-a) * series.one_minus_exp_neg(d, e) / (1.0 + jnp.exp(-a) * e)
    # 0 * c keeps a NaN concentration NaN (invalid state is not hidden)
    return jnp.where(positive, rise, -hill(c_rest, K_d, n_H) + 0.0 * c)
