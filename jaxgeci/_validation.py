"""The validation boundary: coercion and checks of every numeric argument.

Every public entry point checks concrete inputs *before* anything is traced or run and raises
a ``ValueError``/``TypeError`` that names the argument, its value and what was expected.
Under tracing (``jax.grad``/``jax.vmap`` over constants) values are unknown, so value checks
are skipped; shape and dtype checks still run.

One rule for what counts as a number: Python, NumPy and JAX real scalars and arrays (ints and
floats of any width) are accepted; ``bool`` (except where a function says so, e.g. spike
arrays), ``str``/``bytes``, complex and object values are refused with the argument named
(:func:`real_kind`, :func:`coerce_real`, :func:`check_number`, :func:`real_array`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x) -> bool:
    """True when ``x`` holds known values (not a JAX tracer)."""
    return not isinstance(x, jax.core.Tracer)


def short_value(value) -> str:
    """A short text form of ``value`` for error messages (never raises)."""
    if isinstance(value, (str, bytes)):
        return repr(value)
    if isinstance(value, jax.core.Tracer):
        return f"a traced {getattr(value, 'dtype', '')} value of shape {getattr(value, 'shape', ())}"
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - any object: show its repr
        return repr(value)
    if arr.dtype == object and arr.ndim == 0:
        return repr(value)
    if arr.ndim == 0:
        return str(arr[()]) if arr.dtype.kind == "f" else repr(arr.item())
    if arr.size <= 6:
        return np.array2string(arr, separator=", ")
    return f"array of shape {arr.shape} ({arr.dtype})"


_short = short_value


def real_kind(x) -> str:
    """What kind of value ``x`` is for the number rule: ``"real"`` (int or float scalar/array
    of Python, NumPy or JAX), ``"bool"``, ``"str"``, ``"complex"`` or ``"other"``. Never
    converts a device array to host."""
    if isinstance(x, (bool, np.bool_)):
        return "bool"
    if isinstance(x, (str, bytes, np.str_, np.bytes_)):
        return "str"
    if isinstance(x, (complex, np.complexfloating)):
        return "complex"
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        if isinstance(x, (int, float, np.integer, np.floating)):
            return "real"
        try:
            dtype = np.asarray(x).dtype
        except Exception:  # noqa: BLE001 - ragged or odd objects
            return "other"
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        return "other"
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.complexfloating):
        return "complex"
    if dtype.kind in "US":
        return "str"
    if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating):
        return "real"
    return "other"


def coerce_real(x):
    """A real number or array -> an array of the default float dtype (float64 under
    ``jax_enable_x64``; a JAX float array or tracer is kept as it is). Anything else (bool,
    str, complex, object) is returned unchanged, for the caller's check to name."""
    if real_kind(x) != "real":
        return x
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return jnp.asarray(x, dtype=float)


def as_float_array(x) -> jax.Array:
    """Convert to an array of the default float dtype (float64 under ``jax_enable_x64``)."""
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return jnp.asarray(x, dtype=float)


def _refusal(name: str, value, expected: str) -> TypeError:
    kind = real_kind(value)
    what = {"bool": "a bool", "str": "a string", "complex": "a complex value"}.get(kind, f"a {type(value).__name__}")
    return TypeError(f"{name} must be {expected}, got {what}: {short_value(value)}.")


def real_array(name: str, value, *, expected: str, allow_bool: bool = False, dtype=None):
    """The one coercion of an array argument: a real (int/float; bool with ``allow_bool``)
    NumPy/JAX array or nested sequence, returned as a NumPy array (or the JAX array itself,
    never copied to host); ``dtype`` converts host values.

    Args:
        name: the argument's name, for the error.
        value: the value to coerce.
        expected: what was expected, with shape and unit, e.g. ``"a (neurons, 3) array of
            positions in m"``.
        allow_bool: accept a boolean array (e.g. spikes).
        dtype: NumPy dtype for host values (default: keep).

    Raises:
        TypeError: bool (unless allowed), str, complex or object values, naming ``name``.
    """
    kind = real_kind(value)
    if not (kind == "real" or (allow_bool and kind == "bool")):
        raise _refusal(name, value, expected)
    if isinstance(value, jax.Array):
        return value
    arr = np.asarray(value)
    return arr.astype(dtype) if dtype is not None else arr


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


def check_int(name: str, value, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Validate an integer argument ``>= minimum`` (and ``<= maximum``); NumPy/JAX integer
    scalars and integral floats are accepted, bools are not."""
    if isinstance(value, jax.Array) and value.ndim == 0 and not isinstance(value, jax.core.Tracer):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {short_value(value)}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_number(name: str, value, *, unit: str, minimum: float = 0.0, strict: bool = False) -> float:
    """Validate a finite scalar setting ``>= minimum`` (``> minimum`` with ``strict``) and return
    it as a Python float; the error names ``name``, the value and the unit."""
    where = "dimensionless" if unit == "1" else f"in {unit}"
    if real_kind(value) != "real" or np.ndim(value) != 0:
        if real_kind(value) == "real":
            raise TypeError(f"{name} must be a scalar number ({where}), got shape {np.shape(value)}.")
        raise _refusal(name, value, f"a real number ({where})")
    v = float(value)
    if not math.isfinite(v) or (v <= minimum if strict else v < minimum):
        rel = ">" if strict else ">="
        raise ValueError(f"{name} must be finite and {rel} {minimum:g} ({where}), got {value!r}.")
    return v


def check_recording_units(t_frames: np.ndarray, spike_times: np.ndarray, frame_rate_hz: float) -> None:
    """Sanity checks of a recording's clock (all in s, Hz): the frame rate matches the frame
    times, the frame interval is one of two-photon imaging (a median interval of 1 s or more,
    i.e. < 1 Hz, is most likely ms), and the spikes fall inside the frames (most of them after
    the last frame, by orders of magnitude, is most likely ms).

    Raises:
        ValueError: naming the likely unit mistake.
    """
    t = np.asarray(t_frames, dtype=float)
    s = np.asarray(spike_times, dtype=float)
    step = float(np.median(np.diff(t)))
    ratio = float(frame_rate_hz) * step  # 1 when the rate matches the frame times
    if ratio > 100:
        raise ValueError(
            f"t_frames look like ms: frame_rate_hz={frame_rate_hz:g} Hz means frames {1 / frame_rate_hz:.4g} s "
            f"apart, but t_frames are {step:.4g} apart (median); frame times must be in s (divide by 1000)."
        )
    if not 0.5 <= ratio <= 2.0:
        raise ValueError(
            f"frame_rate_hz={frame_rate_hz:g} Hz does not match t_frames (median interval {step:.4g} s, i.e. "
            f"{1 / step:.4g} Hz); give the rate in Hz and the frame times in s."
        )
    if step >= 1.0:
        raise ValueError(
            f"t_frames are {step:.4g} s apart (median; {1 / step:.3g} Hz), slower than any two-photon imaging: "
            "frame times must be in s (if they are in ms, divide by 1000)."
        )
    if s.size:
        late = s > t[-1]
        if late.mean() > 0.5 and s.max() > 100 * t[-1]:
            raise ValueError(
                f"spike_times look like ms: {int(late.sum())} of {s.size} spikes lie after the last frame "
                f"(t={t[-1]:.4g} s), up to {s.max():.4g}; spike times must be in s on the frames' clock "
                "(divide by 1000)."
            )
