"""Each physical constant of a model declared once, in its field's metadata.

A model field made with :func:`constant` carries a :class:`ConstantSpec`: its unit, its sign
(``> 0``, ``>= 0`` or any finite value), an optional hard upper limit and a physically
plausible range. Everything else is derived from these declarations:

- validation (:func:`check_constants`, called by each model's ``__check_init__``) and the
  unit-mistake warnings (:class:`UnitWarning`, naming the likely unit);
- the flat constant tables: ``GECI.params``/``replace``, :func:`jaxgeci.geci`'s required
  keywords, the results files' units, the Cleo import's physical kinds and the fit's
  constant names (:func:`declared_constants`, :func:`constant_fields`, :func:`unit_of`).

A declaration is an ordinary ``eqx.field`` (``kw_only``, a converter to a float array), so
each constant stays an array leaf that ``jax.grad`` reaches and ``eqx.filter_vmap`` batches.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import warnings

import equinox as eqx
import numpy as np

from ._validation import coerce_real, is_concrete, short_value


KINDS = {"M": "concentration", "s": "time", "1/s": "rate", "1": "dimensionless", "m": "length"}
"""Physical kind of each unit used by the constants (for converting Brian2 quantities)."""

# Unit prefixes a user may have meant instead of the SI unit: (factor to SI, name). The SI
# unit of a concentration here is M (mol/L).
_PREFIXES = {
    "M": ((1e-9, "nM"), (1e-6, "µM"), (1e-3, "mM")),
    "s": ((1e-3, "ms"),),
    "1/s": ((1e3, "1/ms"),),
    "m": ((1e-6, "µm"), (1e-3, "mm")),
}


class UnitWarning(UserWarning):
    """A value lies orders of magnitude outside its physically plausible range: most likely a
    unit mistake (e.g. nM passed where M is expected). The message names the likely unit."""


@dataclasses.dataclass(frozen=True)
class ConstantSpec:
    """Declaration of one physical constant.

    Attributes:
        unit: SI unit: ``"M"`` (mol/L), ``"s"``, ``"1/s"``, ``"m"`` or ``"1"`` (dimensionless).
        sign: ``"positive"`` (finite, > 0), ``"nonnegative"`` (finite, >= 0) or ``"real"``
            (finite).
        upper: hard upper limit (inclusive, in ``unit``), or ``None``.
        upper_hint: said when ``upper`` is exceeded (e.g. "the paper's table is in ms").
        plausible: ``(low, high)``, the physically plausible range (in ``unit``); a concrete
            value outside it gives a :class:`UnitWarning` naming the likely unit. ``None``:
            no range (dimensionless fit constants).
        observation: a constant of the measurement (noise, SNR), listed after the model's
            dynamics constants in ``params``.
        optional: the value may be ``None`` (unknown).
    """

    unit: str
    sign: str = "positive"
    upper: float | None = None
    upper_hint: str = ""
    plausible: tuple[float, float] | None = None
    observation: bool = False
    optional: bool = False

    @property
    def allow_zero(self) -> bool:
        return self.sign != "positive"

    @property
    def kind(self) -> str:
        """Physical kind of the unit (``"concentration"``, ``"time"``, ...)."""
        return KINDS[self.unit]


SIGMA_NOISE = ConstantSpec(unit="1", sign="nonnegative", plausible=(0.0, 10.0), observation=True)
"""ΔF/F noise std of one in-focus ROI (dimensionless): declared once for every sensor."""


def _convert(x):
    return coerce_real(x)


def _convert_optional(x):
    return None if x is None else coerce_real(x)


_NO_DEFAULT = object()


def constant(spec: ConstantSpec, *, default=_NO_DEFAULT):
    """An ``eqx.field`` holding the constant declared by ``spec`` (keyword-only, converted to
    an array of the default float dtype; values that are not real numbers are kept as given so
    that :func:`check_constants` names the field in its error)."""
    kw = {} if default is _NO_DEFAULT else {"default": default}
    conv = _convert_optional if spec.optional else _convert
    return eqx.field(converter=conv, kw_only=True, metadata={"constant": spec}, **kw)


def constant_fields(cls_or_obj) -> dict[str, ConstantSpec]:
    """The constants a model class (or instance) declares itself, ``{name: spec}``, in field
    order (its submodels' constants are not included; see :func:`declared_constants`)."""
    return {f.name: f.metadata["constant"] for f in dataclasses.fields(cls_or_obj) if "constant" in f.metadata}


def required_constants(cls) -> tuple[str, ...]:
    """Names of the constants of ``cls`` that have no default."""
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if "constant" in f.metadata and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def declared_constants(module) -> dict[str, tuple[tuple[str, ...], ConstantSpec]]:
    """Every constant of ``module`` and of its submodel fields, ``{name: (path, spec)}``, where
    ``path`` is the attribute path from ``module`` (e.g. ``("cal_model", "gamma")``).

    Order: the module's own dynamics constants, then its submodels' (in field order), then its
    own observation constants (``sigma_noise``, ``dFF_1AP``)."""
    own = constant_fields(module)
    out = {k: ((k,), s) for k, s in own.items() if not s.observation}
    for f in dataclasses.fields(module):
        if "constant" in f.metadata:
            continue
        sub = getattr(module, f.name, None)
        if isinstance(sub, eqx.Module) and dataclasses.is_dataclass(sub):
            for k, (path, s) in declared_constants(sub).items():
                out.setdefault(k, ((f.name,) + path, s))
    out.update({k: ((k,), s) for k, s in own.items() if s.observation})
    return out


def _get(module, path):
    for p in path:
        module = getattr(module, p)
    return module


def constant_values(module) -> dict:
    """``{name: value}`` of every declared constant of ``module`` (see
    :func:`declared_constants`)."""
    return {k: _get(module, path) for k, (path, _) in declared_constants(module).items()}


def replace_constants(module, what: str, **values):
    """A copy of ``module`` with the named constants replaced, each checked against its
    declaration first.

    Raises:
        ValueError: an unknown name, or a value its declaration refuses.
    """
    decl = declared_constants(module)
    new = module
    for key, value in values.items():
        if key not in decl:
            raise ValueError(f"replace() got unknown constant {key!r} for this {what}; known: {sorted(decl)}.")
        path, spec = decl[key]
        value = None if (value is None and spec.optional) else coerce_real(value)
        check_value(spec, value, f"{what}.{key}")
        new = eqx.tree_at(lambda m, p=path: _get(m, p), new, value, is_leaf=lambda x: x is None)
    return new


@functools.cache
def sensor_constant_specs() -> dict[str, ConstantSpec]:
    """``{name: spec}`` of every constant declared by jaxgeci's sensors and their submodels
    (GECI with dynamic Ca and double-exponential binding, S2F, adaptive S2F, two-state S2F)."""
    from ._binding import DoubExpCalBindingActivation
    from ._calcium import DynamicCalcium
    from ._geci import GECI
    from ._s2f import S2F
    from ._s2f_adaptive import AdaptiveS2F
    from ._s2f_twostate import TwoStateS2F

    out: dict[str, ConstantSpec] = {}
    for cls in (GECI, DynamicCalcium, DoubExpCalBindingActivation, S2F, AdaptiveS2F, TwoStateS2F):
        for k, spec in constant_fields(cls).items():
            out.setdefault(k, spec)
    return out


def units_table() -> dict[str, str]:
    """``{name: unit}`` of every sensor constant (see :func:`sensor_constant_specs`)."""
    return {k: spec.unit for k, spec in sensor_constant_specs().items()}


def unit_of(name: str, *classes) -> str:
    """The unit declared for constant ``name`` by the first of ``classes`` that declares it."""
    for cls in classes:
        spec = constant_fields(cls).get(name)
        if spec is not None:
            return spec.unit
    raise KeyError(name)


# ---------------------------------------------------------------------------- checks


_INTERNAL = tuple(
    os.path.abspath(p) for p in (os.path.dirname(__file__), os.path.dirname(eqx.__file__), dataclasses.__file__)
)


def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` called from jaxgeci that points at the first frame
    outside jaxgeci and equinox (the user's line)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


def _unit_words(unit: str) -> str:
    return "dimensionless" if unit == "1" else f"in {unit}"


def likely_unit(value: float, spec: ConstantSpec) -> str:
    """A sentence naming the unit(s) the user probably meant (those that bring ``value`` into
    the plausible range), or ``""`` when none does."""
    lo, hi = spec.plausible if spec.plausible is not None else (-np.inf, np.inf)
    hits = [f"{name}, pass {value * f:.4g}" for f, name in _PREFIXES.get(spec.unit, ()) if lo <= value * f <= hi]
    return f" If it is in {'; if in '.join(hits)} ({spec.unit})." if hits else ""


def check_value(spec: ConstantSpec, value, where: str) -> None:
    """Check one constant against its declaration (types and shapes always; values only when
    concrete).

    Raises:
        TypeError: not a real number or array (bool, str, complex, object).
        ValueError: not a scalar or ``(neurons,)`` array, not finite, wrong sign, above the
            hard limit.

    Warns:
        UnitWarning: outside the plausible range; the message names the likely unit.
    """
    if value is None:
        if spec.optional:
            return
        raise TypeError(f"{where} is required (a number {_unit_words(spec.unit)}), got None.")
    dtype = getattr(value, "dtype", None)
    if dtype is None or not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(
            f"{where} must be a real number or a (neurons,) array {_unit_words(spec.unit)}, "
            f"got {type(value).__name__} {short_value(value)}."
        )
    if np.ndim(value) > 1:
        raise ValueError(f"{where} must be a scalar or a (neurons,) array, got shape {np.shape(value)}.")
    if not is_concrete(value):
        return
    arr = np.asarray(value, dtype=float)
    units = _unit_words(spec.unit)
    if spec.sign == "real":
        bad, what = ~np.isfinite(arr), "finite"
    elif spec.sign == "nonnegative":
        bad, what = ~np.isfinite(arr) | (arr < 0), "finite and >= 0"
    else:
        bad, what = ~np.isfinite(arr) | (arr <= 0), "finite and > 0"
    if np.any(bad):
        raise ValueError(f"{where} must be {what} ({units}), got {short_value(value)}.")
    if spec.upper is not None and np.any(arr > spec.upper):
        worst = float(np.max(arr))
        hint = spec.upper_hint or likely_unit(worst, spec).strip()
        lo = "(0" if spec.sign == "positive" else ("[0" if spec.sign == "nonnegative" else "(-inf")
        raise ValueError(
            f"{where} must lie in {lo}, {spec.upper:g}] ({units}), got {short_value(value)}"
            + (f": {hint}." if hint and not hint.endswith(".") else f": {hint}" if hint else ".")
        )
    if spec.plausible is not None:
        lo, hi = spec.plausible
        # (slack of 1e-6 relative: a bound such as 1e-9 M rounded to float32 is not "outside")
        off = (arr > hi * (1 + 1e-6)) | ((arr < lo * (1 - 1e-6)) & (arr != 0))
        if np.any(off):
            v = float(arr[off].flat[0])
            warnings.warn(
                f"{where}={v:g} ({spec.unit}) is outside the physically plausible range "
                f"[{lo:g}, {hi:g}] {spec.unit}: probably a unit mistake.{likely_unit(v, spec)}",
                UnitWarning,
                stacklevel=user_stacklevel(),
            )


def check_constants(module, owner: str | None = None) -> None:
    """Check every constant ``module`` declares itself (for ``__check_init__``)."""
    owner = owner or type(module).__name__
    for name, spec in constant_fields(module).items():
        check_value(spec, getattr(module, name), f"{owner}.{name}")


# ---------------------------------------------------------------------------- display


def format_constant(value, spec: ConstantSpec) -> str:
    """``2.9e-07 M``, ``2.7`` (dimensionless), ``(5,) in [1e-07, 3e-07] M`` or ``traced``."""
    if value is None:
        return "None"
    unit = "" if spec.unit == "1" else f" {spec.unit}"
    if not is_concrete(value):
        return f"traced{unit}"
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return f"{arr.item():.6g}{unit}"
    if arr.size == 0:
        return f"(0,){unit}"
    return f"{arr.shape} in [{arr.min():.4g}, {arr.max():.4g}]{unit}"


def sensor_repr(module, **static) -> str:
    """One line: the class, the given static fields (name, ...) and every constant with its
    unit, from the declarations (an Equinox repr shows only ``K_d=f32[]``)."""
    parts = [f"{k}={v!r}" for k, v in static.items() if v not in ("", None)]
    for k, (path, spec) in declared_constants(module).items():
        parts.append(f"{k}={format_constant(_get(module, path), spec)}")
    return f"{type(module).__name__}({', '.join(parts)})"


def describe(module) -> str:
    """Several lines: the sensor's class and submodels, then one line per constant with its
    value and unit (per-neuron constants: shape and range)."""
    name = getattr(module, "name", "") or ""
    subs = [
        f"{f.name}={type(getattr(module, f.name)).__name__}"
        for f in dataclasses.fields(module)
        if isinstance(getattr(module, f.name, None), eqx.Module)
    ]
    head = f"{type(module).__name__}" + (f" {name!r}" if name else "") + (f" ({', '.join(subs)})" if subs else "")
    decl = declared_constants(module)
    width = max((len(k) for k in decl), default=0)
    lines = [head] + [f"  {k:<{width}}  {format_constant(_get(module, p), s)}" for k, (p, s) in decl.items()]
    return "\n".join(lines)
