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
