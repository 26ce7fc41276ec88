"""Cleo interop: the jaxgeci sensor equivalent to a Cleo ``GECI`` object.

No import of ``cleosim`` is needed: anything with a ``params`` dict (a Cleo GECI) or the dict
itself works. Brian2 quantities become SI floats (concentrations in M).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from .._binding import DoubExpCalBindingActivation
from .._calcium import DynamicCalcium, PreexistingCalcium
from .._constants import constant_fields
from .._geci import GECI, geci, geci_constant_specs
from ._units import to_si


logger = logging.getLogger(__name__)

__all__ = ["sensor_from_cleo"]

# physical kind of each GECI constant, from its declaration (Brian2 quantities -> SI floats)
_KINDS = {k: spec.kind for k, spec in geci_constant_specs().items()}
# constants that only dynamic calcium has (pre-existing Ca keeps Ca_rest)
_DYNAMIC_KEYS = tuple(k for k in constant_fields(DynamicCalcium) if k not in constant_fields(PreexistingCalcium))
_KERNEL_KEYS = tuple(constant_fields(DoubExpCalBindingActivation))
_NAOMI = ("ca_amp", "t_on", "t_off")


def _class_name(x) -> str:
    return type(x).__name__ if x is not None else ""


def sensor_from_cleo(cleo_sensor, **overrides) -> GECI:
    """Build the jaxgeci :class:`~jaxgeci.GECI` equivalent to a Cleo GECI.

    The structure is read from the submodel objects in ``params`` when present
    (``cal_model``, ``bind_act_model``, ``exc_model``: their class names), else inferred from
    which keys are present: ``gamma, B_T, kappa_S, dCa_T`` -> dynamic calcium (otherwise
    pre-existing calcium); ``A, tau_on, tau_off`` -> double-exponential binding (otherwise
    null). ``sigma_noise``, ``dFF_1AP``, ``location`` and ``name`` come from the object's
    attributes when they are not in the dict. Brian2 strings (``model``, ``on_pre``,
    ``fluor_model``) are ignored. A pre-existing-Ca Cleo sensor without binding kinetics has
    no ``Ca_rest`` (Cleo quirk 2); jaxgeci then uses 5e-8 M.

    Args:
        cleo_sensor: a Cleo ``GECI`` (anything with a ``.params`` mapping), or the mapping.
            Values may be Brian2 quantities (converted to SI; concentrations to M) or plain
            numbers in jaxgeci's units (M, s, 1/s).
        **overrides: keyword arguments for :func:`jaxgeci.geci` that replace the converted
            ones (e.g. ``dff_baseline="rest"``).

    Returns:
        A :class:`jaxgeci.GECI` whose :attr:`~jaxgeci.GECI.params` equal Cleo's in SI units.

    Raises:
        TypeError: not a mapping/GECI, or a value with the wrong dimension.
        ValueError: a required constant is missing (from :func:`jaxgeci.geci`).
        NotImplementedError: a light-dependent sensor (Cleo's ``LightExcitation``).
    """
    if isinstance(cleo_sensor, Mapping):
        params, obj = dict(cleo_sensor), None
    elif isinstance(getattr(cleo_sensor, "params", None), Mapping):
        params, obj = dict(cleo_sensor.params), cleo_sensor
    else:
        raise TypeError(
            f"sensor_from_cleo needs a Cleo GECI (an object with a .params dict) or a dict, "
            f"got {type(cleo_sensor).__name__}."
        )

    cal, bind, exc = params.get("cal_model"), params.get("bind_act_model"), params.get("exc_model")
    if cal is not None:
        pre_existing_cal = "preexisting" in _class_name(cal).lower()
    else:
        pre_existing_cal = not all(k in params for k in _DYNAMIC_KEYS)
    if bind is not None:
        doub_exp_conv = "doubexp" in _class_name(bind).lower()
    else:
        doub_exp_conv = all(k in params for k in _KERNEL_KEYS) or all(k in params for k in _NAOMI)
    light_dependent = exc is not None and "light" in _class_name(exc).lower()

    kw: dict = {}
    for key, kind in _KINDS.items():
        value = params.get(key)
        if value is None and obj is not None and key in ("sigma_noise", "dFF_1AP"):
            value = getattr(obj, key, None)
        if value is None:
            continue
        arr = to_si(value, kind, key)
        kw[key] = float(arr) if arr.ndim == 0 else arr
    for key in _NAOMI:
        if key in params and not any(k in kw for k in _KERNEL_KEYS):
            kw[key] = float(to_si(params[key], "dimensionless" if key == "ca_amp" else "rate", key))
    for key in ("location", "name"):
        value = params.get(key, getattr(obj, key, None) if obj is not None else None)
        if isinstance(value, str) and value:
            kw[key] = value
    if not doub_exp_conv:
        for k in _KERNEL_KEYS + _NAOMI:
            kw.pop(k, None)
    if pre_existing_cal:
        for k in _DYNAMIC_KEYS:
            kw.pop(k, None)
    ignored = sorted(
        k
        for k in params
        if k not in _KINDS
        and k not in _NAOMI
        and k not in ("cal_model", "bind_act_model", "exc_model", "location", "name")
    )
    if ignored:
        logger.debug("sensor_from_cleo: ignoring Brian2-only entries %s", ignored)
    kw.update(overrides)
    return geci(light_dependent, doub_exp_conv, pre_existing_cal, **kw)
