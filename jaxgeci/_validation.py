"""Input validation helpers.

Every public entry point checks concrete inputs *before* anything is traced or run and raises
a ``ValueError``/``TypeError`` that names the argument, its value and what was expected.
Under tracing (``jax.grad``/``jax.vmap`` over constants) values are unknown, so value checks
are skipped; shape checks still run.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x) -> bool:
    """True when ``x`` holds known values (not a JAX tracer)."""
    return not isinstance(x, jax.core.Tracer)


def _short(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item())
    if arr.size <= 6:
        return np.array2string(arr, separator=", ")
    return f"array of shape {arr.shape}"


def as_float_array(x) -> jax.Array:
    """Convert to an array of the default float dtype (float64 under ``jax_enable_x64``)."""
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return jnp.asarray(x, dtype=float)


def check_constant(
    name: str,
    value,
    *,
    unit: str,
    allow_zero: bool = False,
    owner: str = "",
) -> None:
    """Check that a physical constant is a scalar or ``(neurons,)`` array of finite values
    that are positive (or non-negative with ``allow_zero``).

    Raises:
        ValueError: naming ``owner.name``, the value and what was expected.
    """
    where = f"{owner}.{name}" if owner else name
    ndim = jnp.ndim(value)
    if ndim > 1:
        raise ValueError(f"{where} must be a scalar or a (neurons,) array, got shape {jnp.shape(value)}.")
    if not is_concrete(value):
        return
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        what = "finite and >= 0" if allow_zero else "finite and > 0"
        raise ValueError(f"{where} must be {what} (in {unit}), got {_short(value)}.")


def check_dt(dt) -> float:
    """Validate a time step (s) and return it as a Python float."""
    if isinstance(dt, jax.core.Tracer):
        raise TypeError(
            "dt must be a concrete number (s): it defines the time grid, which is static. "
            "Got a traced value; pass dt as a Python float."
        )
    return check_number("dt", dt, unit="s", strict=True)


def check_int(name: str, value, *, minimum: int = 0) -> int:
    """Validate a non-negative (or >= minimum) integer argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_number(name: str, value, *, unit: str, minimum: float = 0.0, strict: bool = False) -> float:
    """Validate a finite scalar setting ``>= minimum`` (``> minimum`` with ``strict``) and return
    it as a Python float; the error names ``name``, the value and the unit."""
    where = "dimensionless" if unit == "1" else f"in {unit}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number ({where}), got {value!r}.") from None
    if not math.isfinite(v) or (v <= minimum if strict else v < minimum):
        rel = ">" if strict else ">="
        raise ValueError(f"{name} must be finite and {rel} {minimum:g} ({where}), got {value!r}.")
    return v
