"""Constrained parameters for fitting: wrap a leaf, resolve with :func:`unwrap` at the top of
the loss (the paramax / Equinox "wrap, then resolve" pattern).

``Positive(value)`` stores ``log(value)``: an unconstrained optimiser step in log space can
never make a concentration or a time constant negative, and relative steps suit constants that
span orders of magnitude (``K_d ~ 1e-7 M``, ``gamma ~ 1e2 1/s``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


class Positive(eqx.Module):
    """A positive constant stored as its logarithm; :meth:`unwrap` returns ``exp(log)``.

    Args:
        value: the positive value (any unit; the unit of the wrapped constant), scalar or array.
    """

    log: Float[Array, ...]

    def __init__(self, value=None, *, log=None):
        if (value is None) == (log is None):
            raise TypeError("Positive needs exactly one of value= or log=.")
        if log is None:
            value = jnp.asarray(value, dtype=float)
            if not isinstance(value, jax.core.Tracer) and bool(jnp.any(value <= 0)):
                raise ValueError(f"Positive value must be > 0, got {value!r}.")
            log = jnp.log(value)
        self.log = jnp.asarray(log, dtype=float)

    def unwrap(self):
        return jnp.exp(self.log)


class Real(eqx.Module):
    """An unconstrained constant (e.g. a sigmoid midpoint that may be negative); ``unwrap``
    returns it as is. Marks the leaf as free for the filter spec."""

    value: Float[Array, ...]

    def __init__(self, value):
        self.value = jnp.asarray(value, dtype=float)

    def unwrap(self):
        return self.value


class Bounded(eqx.Module):
    """A constant in ``(lower, upper)`` stored as an unconstrained logit; ``unwrap`` returns
    ``lower + (upper - lower) sigmoid(raw)``. The bounds are static (same unit as the value)."""

    raw: Float[Array, ...]
    lower: float = eqx.field(static=True)
    upper: float = eqx.field(static=True)

    def __init__(self, value, lower: float, upper: float):
        if not lower < upper:
            raise ValueError(f"Bounded needs lower < upper, got ({lower!r}, {upper!r}).")
        value = jnp.asarray(value, dtype=float)
        if not isinstance(value, jax.core.Tracer) and bool(jnp.any((value <= lower) | (value >= upper))):
            raise ValueError(f"Bounded value must lie in ({lower}, {upper}), got {value!r}.")
        p = (value - lower) / (upper - lower)
        self.raw = jnp.log(p) - jnp.log1p(-p)
        self.lower, self.upper = float(lower), float(upper)

    def unwrap(self):
        return self.lower + (self.upper - self.lower) * jax.nn.sigmoid(self.raw)


def _is_wrapper(x) -> bool:
    return isinstance(x, (Positive, Bounded, Real))


def unwrap(tree):
    """Replace every :class:`Positive`/:class:`Bounded` node of ``tree`` by its value."""
    return jax.tree_util.tree_map(lambda x: x.unwrap() if _is_wrapper(x) else x, tree, is_leaf=_is_wrapper)
