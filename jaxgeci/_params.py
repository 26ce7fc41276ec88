"""The fit's parameters: named sensor constants, their constraints, and the trainable tree.

A constraint is parsed once (:func:`parse_constraints`) into an object that both wraps a start
value (:meth:`Constraint.wrap`, the paramax "wrap, then resolve" pattern of
:mod:`jaxgeci._constraints`) and tests whether a fitted value sits at an edge of its range
(:meth:`Constraint.at_edge`).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._constraints import _is_wrapper, Bounded, Positive, Real
from ._sensor import Sensor


# ---------------------------------------------------------------------------- constraints
@dataclasses.dataclass(frozen=True)
class Constraint:
    """A constant's range: ``kind`` is ``"positive"`` (log space, no edge), ``"real"`` (no
    edge), ``"ceiling"`` (``0 < v < upper``) or ``"bounded"`` (``lower < v < upper``); bounds
    in the constant's own unit."""

    kind: str
    lower: float | None = None
    upper: float | None = None

    def wrap(self, v):
        """The trainable wrapper holding start value ``v`` (moved inside a bounded range by
        0.1 % of its width, or below a ceiling by 0.1 % of it)."""
        if self.kind == "positive":
            return Positive(v)
        if self.kind == "real":
            return Real(v)
        if self.kind == "ceiling":
            # upper * sigmoid(raw): log space (log v ~ log upper + raw, as Positive) far below
            # the ceiling, which the value can never reach
            return Bounded(jnp.minimum(v, (1.0 - 1e-3) * self.upper), 0.0, self.upper)
        eps = 1e-3 * (self.upper - self.lower)
        return Bounded(jnp.clip(v, self.lower + eps, self.upper - eps), self.lower, self.upper)

    def at_edge(self, v, rtol: float) -> bool:
        """Whether any of ``v`` lies within ``rtol`` of an edge (of the interval width, or of
        the ceiling); positive and real constants have none."""
        if self.kind in ("positive", "real"):
            return False
        if self.kind == "ceiling":
            return bool(np.any(v >= (1.0 - rtol) * self.upper))
        w = self.upper - self.lower
        return bool(np.any((v <= self.lower + rtol * w) | (v >= self.upper - rtol * w)))


def parse_constraint(name: str, kind) -> Constraint:
    """``"positive"``, ``"real"``, ``("positive", upper)`` or ``(lower, upper)`` -> :class:`Constraint`."""
    if kind in ("positive", "real"):
        return Constraint(kind)
    try:
        a, b = kind
        if a == "positive":
            upper = float(b)
            if not upper > 0:
                raise ValueError
            return Constraint("ceiling", 0.0, upper)
        lower, upper = float(a), float(b)
    except (TypeError, ValueError):
        raise ValueError(
            f"constraint of {name!r} must be 'positive', 'real', (lower, upper) or ('positive', upper), got {kind!r}."
        ) from None
    if not (np.isfinite(lower) and np.isfinite(upper) and lower < upper):
        raise ValueError(f"constraint of {name!r} needs finite lower < upper, got {kind!r}.")
    return Constraint("bounded", lower, upper)


def parse_constraints(constraints, names) -> dict:
    """``{name: Constraint}`` for every name (default ``"positive"``)."""
    constraints = dict(constraints or {})
    return {n: parse_constraint(n, constraints.get(n, "positive")) for n in names}


# ---------------------------------------------------------------------------- named leaves


def _path_name(path) -> str:
    # the last attribute on the path that is a declared sensor constant (jaxgeci._constants);
    # for a user's own sensor without declarations, the last attribute that is not a
    # constraint wrapper's own leaf
    from ._constants import sensor_constant_specs

    attrs = [k.name for k in path if isinstance(k, jax.tree_util.GetAttrKey)]
    declared = [n for n in attrs if n in sensor_constant_specs()]
    names = declared or [n for n in attrs if n not in ("log", "raw", "value")]
    return names[-1] if names else jax.tree_util.keystr(path)


def constant_names(sensor) -> list[str]:
    """Names of the sensor's inexact array leaves (the last attribute name on each path, e.g.
    ``"gamma"`` for ``sensor.cal_model.gamma``): the constants that can be fitted."""
    out = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(sensor):
        if eqx.is_inexact_array(leaf):
            out.append(_path_name(path))
    return out


def sensor_constants(sensor) -> dict:
    """Every fittable constant by name, as Python floats (or lists for per-cell arrays), SI."""
    out = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(sensor):
        if eqx.is_inexact_array(leaf):
            a = np.asarray(leaf, dtype=float)
            out[_path_name(path)] = float(a) if a.ndim == 0 else a.tolist()
    return out


def make_params(sensor: Sensor, free, per_cell=(), n_cells: int = 1, constraints=None):
    """Wrap the ``free`` constants of ``sensor`` in :class:`Positive` (log space; the default)
    or the constraint named in ``constraints`` (``{name: "positive" | "real" | (lower,
    upper) | ("positive", upper)}``; the last is a positive constant below a ceiling); those
    named in ``per_cell`` get one value per cell, ``(n_cells,)``. A start value outside a
    bounded range (e.g. a preset's ``r = 0`` for ``(0, 1)``) is moved just inside it, by 0.1 %
    of the range (or of the ceiling).

    Raises:
        ValueError: a name is not a constant of the sensor, or a per-cell name is not free.
    """
    known = set(constant_names(sensor))
    free, per_cell = tuple(free), tuple(per_cell)
    bad = [n for n in free if n not in known]
    if bad:
        raise ValueError(f"free constants {bad} are not constants of this sensor; known: {sorted(known)}.")
    bad = [n for n in per_cell if n not in free]
    if bad:
        raise ValueError(f"per_cell constants {bad} must also be free (free={list(free)}).")
    specs = parse_constraints(constraints, free)

    def wrap(path, leaf):
        if not eqx.is_inexact_array(leaf):
            return leaf
        name = _path_name(path)
        if name not in free:
            return leaf
        v = jnp.asarray(leaf, dtype=float)
        if name in per_cell:
            v = jnp.broadcast_to(v, (n_cells,))
        return specs[name].wrap(v)

    return jax.tree_util.tree_map_with_path(wrap, sensor)


def constants_at_bounds(constants: dict, constraints=None, rtol: float = 0.01) -> tuple[str, ...]:
    """Names of the ``constants`` that sit at an edge of their constraint's range (see
    :func:`make_params`): within ``rtol`` of the interval width of either end of ``(lower,
    upper)``, or within ``rtol`` of the ceiling of ``("positive", upper)``; ``"positive"`` and
    ``"real"`` constants have no edge (a tiny time constant is not at a bound). At an edge the
    constraint's slope vanishes and the range, not only the data, holds the value: at an
    imposed ceiling the fit is limited by it; a mixing weight at 0 or 1 means the model dropped
    a component, whose own constants are then not identified. A per-cell constant is listed
    if any cell's value is at an edge.

    Args:
        constants: ``{name: value}`` (SI; scalars or per-cell arrays), e.g. the free entries of
            :attr:`FitResult.constants`.
        constraints: ``{name: kind}`` as for :func:`fit` (default: all positive).
        rtol: relative distance to the bound counted as "at" it (dimensionless).
    """
    specs = parse_constraints(constraints, constants)
    return tuple(name for name, value in constants.items() if specs[name].at_edge(np.asarray(value, float), rtol))


def is_free(params):
    """Filter spec: True on the leaves inside :class:`Positive`/:class:`Real`/:class:`Bounded`
    wrappers (the free constants), False elsewhere."""
    return jax.tree_util.tree_map(lambda x: _is_wrapper(x), params, is_leaf=_is_wrapper)


def _cell_axes(sensor, per_cell):
    return jax.tree_util.tree_map_with_path(
        lambda p, x: 0 if (eqx.is_inexact_array(x) and _path_name(p) in per_cell) else None, sensor
    )
