"""Unit-carrying values (Brian2 ``Quantity``, the ``quantities`` package) -> SI floats.

Concentrations become M (mol/L), jaxgeci's unit, not Brian2's base unit mol/m^3.
Plain numbers are taken to be in jaxgeci's units already.
"""

from __future__ import annotations

import numpy as np


# kind -> (Brian2 unit name, `quantities` unit string, description)
_UNITS = {
    "length": ("meter", "m", "m"),
    "time": ("second", "s", "s"),
    "rate": ("hertz", "Hz", "1/s"),
    "concentration": ("molar", "M", "M (mol/L)"),
    "dimensionless": (None, "dimensionless", "dimensionless"),
}


def _is_brian2(value) -> bool:
    return type(value).__module__.startswith("brian2")


def _is_pq(value) -> bool:
    return type(value).__module__.startswith("quantities")


def has_units(value) -> bool:
    """True for a Brian2 or ``quantities`` quantity with a physical dimension."""
    if _is_brian2(value):
        import brian2

        return not brian2.get_dimensions(value).is_dimensionless
    if _is_pq(value):
        return str(value.dimensionality) != "dimensionless"
    return False


def to_si(value, kind: str, name: str) -> np.ndarray:
    """Convert ``value`` to a float64 array in jaxgeci's SI unit for ``kind``.

    Args:
        value: a Brian2 ``Quantity``, a ``quantities.Quantity``, or plain numbers (taken as
            already in jaxgeci's unit).
        kind: ``"length"`` (m), ``"time"`` (s), ``"rate"`` (1/s), ``"concentration"`` (M)
            or ``"dimensionless"``.
        name: the argument's name, for error messages.

    Raises:
        TypeError: the value has the wrong physical dimension.
    """
    b2_unit, pq_unit, desc = _UNITS[kind]
    if _is_brian2(value):
        import brian2

        ref = brian2.Unit(1) if b2_unit is None else getattr(brian2, b2_unit)
        if brian2.get_dimensions(value) != brian2.get_dimensions(ref):
            raise TypeError(
                f"{name} must have the dimension of {desc}, got {value!r} (dimensions {brian2.get_dimensions(value)})."
            )
        return np.asarray(value / ref, dtype=float)
    if _is_pq(value):
        try:
            return np.asarray(value.rescale(pq_unit).magnitude, dtype=float)
        except ValueError as err:
            raise TypeError(f"{name} must have the dimension of {desc}, got {value!r}.") from err
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in {desc} or a quantity, got {value!r}.") from None
