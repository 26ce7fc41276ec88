"""Two-photon focal-plane targeting (Cleo's ``target_neurons_in_plane``) as fixed-shape
array operations.

Geometry (all lengths in m; see ``docs/scope.md``): the objective sits at ``L`` and looks
along ``n = d/|d|``; the focal plane is centred at ``c = L + f n`` (``f`` the focus depth) and
imaged over a disc of diameter ``w`` (``img_width``). For a neuron at ``x`` with soma radius
``R``:

* signed distance to the plane ``s = (x - c)·n``;
* visible soma radius ``r = sqrt(R² - s²)`` if ``|s| < R`` else 0;
* relative pixel count ``p = (r/R)²`` (cytoplasm) or ``r/R`` (membrane); noise focus factor
  ``1/sqrt(p)``;
* point on the plane ``q = x - s n`` (orthogonal projection, the default) and radial distance
  ``rho = |q - c|``;
* the neuron is selected iff ``r > 0`` and ``rho < w/2`` (both strict, as Cleo).

``cleo_compat=True`` reproduces Cleo 0.20 exactly: ``q = x - |s| n`` (for neurons on the
objective side of the plane this is not on the plane, and the radial test uses that point),
and the free function does not normalise ``d``.

:func:`plane_mask` is the fixed-shape form (one entry per neuron; works under ``jit``,
``vmap`` and ``grad``); :func:`target_neurons_in_plane` compacts it on the host into Cleo's
tuple ``(i_targets, noise_focus_factor, coords_on_plane)``.
"""

from __future__ import annotations

import functools
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from ._constants import UnitWarning, user_stacklevel
from ._sensor import LOCATIONS as SENSOR_LOCATIONS
from ._validation import _short, is_concrete, real_kind, short_value


# Lengths above these (m) are not a brain's: most likely µm passed as m (a mouse brain is ~1 cm
# across, a soma ~10 µm, a two-photon field of view <= a few mm).
_PLAUSIBLE_M = {
    **dict.fromkeys(("coords", "scope_location", "location"), 0.1),
    **dict.fromkeys(("scope_focus_depth", "focus_depth", "scope_img_width", "img_width"), 0.1),
    "soma_radius": 1e-3,
}


def _check_real(name: str, value) -> None:
    kind = real_kind(value)
    if kind != "real" and not isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{name} must be real numbers in m, got {kind if kind != 'other' else type(value).__name__}: "
            f"{short_value(value)}."
        )


def _warn_if_micrometres(name: str, value) -> None:
    if not is_concrete(value):
        return
    big = float(np.max(np.abs(np.asarray(value, dtype=float)), initial=0.0))
    limit = _PLAUSIBLE_M[name.split(".")[-1]] if name.split(".")[-1] in _PLAUSIBLE_M else None
    if limit is not None and big > limit:
        warnings.warn(
            f"{name} reaches {big:g} m, more than {limit:g} m: probably µm passed as m "
            f"(if so, multiply by 1e-6: {big * 1e-6:g} m). Lengths are in m.",
            UnitWarning,
            stacklevel=user_stacklevel(),
        )


class PlaneMask(eqx.Module):
    """Fixed-shape targeting result, one entry per neuron (``(neurons,)`` or ``(neurons, 3)``).

    Every entry is finite for every neuron, selected or not, so nothing infinite or NaN can
    reach a gradient or a masked loss.

    Attributes:
        mask: True for selected neurons (visible soma and inside the field of view).
        noise_focus_factor: ``1/sqrt(pixel_fraction)`` (dimensionless, >= 1) for selected
            neurons; **1.0 for unselected neurons** (Cleo's value would be infinite for an
            invisible soma; use ``mask`` to tell them apart).
        pixel_fraction: relative pixel count ``p`` in ``[0, 1]`` (0 when the soma does not
            cross the plane), for every neuron.
        coords_on_plane: ``q`` (m), ``(neurons, 3)``, for every neuron.
        signed_distance: ``s`` (m), signed distance from the plane (negative on the
            objective side), for every neuron.
        radial_distance: ``rho = |q - c|`` (m), for every neuron.
        visible_radius: ``r`` (m), 0 when ``|s| >= R``.
    """

    mask: Bool[Array, " neurons"]
    noise_focus_factor: Float[Array, " neurons"]
    pixel_fraction: Float[Array, " neurons"]
    coords_on_plane: Float[Array, "neurons 3"]
    signed_distance: Float[Array, " neurons"]
    radial_distance: Float[Array, " neurons"]
    visible_radius: Float[Array, " neurons"]


def _shape(x) -> tuple:
    """Shape of an array, tracer, scalar or nested sequence."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _check_vec3(name: str, value) -> None:
    _check_real(name, value)
    if _shape(value) != (3,):
        raise ValueError(f"{name} must be a 3-vector (x, y, z), got shape {_shape(value)}.")
    if is_concrete(value) and not np.all(np.isfinite(np.asarray(value, dtype=float))):
        raise ValueError(f"{name} must be finite, got {_short(value)}.")


def check_coords(coords, name: str = "coords") -> None:
    """``coords`` must be a finite ``(neurons, 3)`` array of positions (m)."""
    _check_real(name, coords)
    shape = _shape(coords)
    if len(shape) != 2 or shape[1] != 3:
        raise ValueError(f"{name} must be an (n_neurons, 3) array of positions in m, got shape {shape}.")
    if is_concrete(coords) and not np.all(np.isfinite(np.asarray(coords, dtype=float))):
        raise ValueError(f"{name} must be finite (m), got NaN/inf entries.")
    _warn_if_micrometres("coords", coords)


def check_direction(direction, name: str = "scope_direction") -> None:
    """A finite, non-zero 3-vector."""
    _check_vec3(name, direction)
    if is_concrete(direction) and not np.any(np.asarray(direction, dtype=float) != 0):
        raise ValueError(f"{name} must be a non-zero 3-vector, got {_short(direction)}.")


def check_positive_length(name: str, value) -> None:
    """A finite scalar length > 0 (m)."""
    _check_real(name, value)
    if _shape(value) != ():
        raise ValueError(f"{name} must be a scalar length in m, got shape {_shape(value)}.")
    if is_concrete(value):
        v = float(value)
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be finite and > 0 (in m), got {value!r}.")
    _warn_if_micrometres(name, value)


def check_sensor_location(sensor_location) -> None:
    if sensor_location not in SENSOR_LOCATIONS:
        raise ValueError(f"sensor_location must be one of {SENSOR_LOCATIONS}, got {sensor_location!r}.")


def _safe_sqrt(x, positive):
    """``sqrt(x)`` where ``positive`` else 0, with finite gradients everywhere (double where)."""
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def unit_vector(direction):
    """``d/|d|`` for any finite non-zero ``d`` (scaled by its largest entry first, so a length
    of 1e-25 or 1e25 neither underflows nor overflows in float32), with a finite gradient (a
    zero vector stays zero; concrete zero vectors are rejected by the public entry points)."""
    d = jnp.asarray(direction, dtype=float)
    m = jnp.max(jnp.abs(d))
    d = d / jnp.where(m > 0, m, 1.0)
    n2 = jnp.sum(d * d)
    norm = _safe_sqrt(n2, n2 > 0)
    return d / jnp.where(n2 > 0, norm, 1.0)


def plane_mask(
    coords,
    scope_focus_depth,
    scope_img_width,
    scope_location=(0.0, 0.0, 0.0),
    scope_direction=(0.0, 0.0, 1.0),
    soma_radius=10e-6,
    sensor_location: str = "cytoplasm",
    *,
    cleo_compat: bool = False,
) -> PlaneMask:
    """Fixed-shape focal-plane selection (usable under ``jit``/``vmap``/``grad``).

    Args:
        coords: neuron positions (m), ``(neurons, 3)``.
        scope_focus_depth: distance from the objective to the focal plane along the
            direction (m), >= 0.
        scope_img_width: diameter of the imaged disc (m), > 0.
        scope_location: objective position (m), ``(3,)``.
        scope_direction: viewing direction, ``(3,)``, non-zero. Normalised unless
            ``cleo_compat=True`` (Cleo's free function uses it as given).
        soma_radius: soma radius ``R`` (m), > 0.
        sensor_location: ``"cytoplasm"`` (pixel fraction ``(r/R)²``) or ``"membrane"``
            (``r/R``).
        cleo_compat: reproduce Cleo 0.20 (``|s|`` projection, non-normalised direction).

    Returns:
        :class:`PlaneMask`: ``mask`` and the per-neuron geometry; unselected neurons hold a
        noise focus factor of 1.0 and finite geometry.

    Raises:
        ValueError: bad shapes, non-finite or non-positive values (concrete inputs only),
            zero direction, unknown ``sensor_location``.
    """
    check_coords(coords)
    _check_vec3("scope_location", scope_location)
    _warn_if_micrometres("scope_location", scope_location)
    check_direction(scope_direction)
    check_positive_length("scope_img_width", scope_img_width)
    check_positive_length("soma_radius", soma_radius)
    if _shape(scope_focus_depth) != ():
        raise ValueError(f"scope_focus_depth must be a scalar length in m, got shape {_shape(scope_focus_depth)}.")
    _check_real("scope_focus_depth", scope_focus_depth)
    if is_concrete(scope_focus_depth):
        f = float(scope_focus_depth)
        if not np.isfinite(f) or f < 0:
            raise ValueError(f"scope_focus_depth must be finite and >= 0 (in m), got {scope_focus_depth!r}.")
        _warn_if_micrometres("scope_focus_depth", scope_focus_depth)
    check_sensor_location(sensor_location)
    as_f = lambda v: jnp.asarray(v, dtype=float)
    return _plane_mask(
        as_f(coords),
        as_f(scope_focus_depth),
        as_f(scope_img_width),
        as_f(scope_location),
        as_f(scope_direction),
        as_f(soma_radius),
        sensor_location,
        bool(cleo_compat),
    )


@functools.partial(jax.jit, static_argnums=(6, 7))
def _plane_mask(coords, f, w, loc, direction, R, sensor_location, cleo_compat) -> PlaneMask:
    x = jnp.asarray(coords, dtype=float)
    d = jnp.asarray(direction, dtype=float)
    n = d if cleo_compat else unit_vector(d)
    L = jnp.asarray(loc, dtype=float)
    R = jnp.asarray(R, dtype=float)
    c = L + n * f
    s = jnp.sum((x - c[None, :]) * n[None, :], axis=-1)
    inside = jnp.abs(s) < R
    r = _safe_sqrt(R**2 - s**2, inside & (R**2 - s**2 > 0))
    ratio = r / R
    p = ratio**2 if sensor_location == "cytoplasm" else ratio
    shift = jnp.abs(s) if cleo_compat else s
    q = x - shift[:, None] * n[None, :]
    dq = q - c[None, :]
    rho2 = jnp.sum(dq * dq, axis=-1)
    rho = _safe_sqrt(rho2, rho2 > 0)
    mask = (r > 0) & (rho < w / 2)
    nff = 1.0 / _safe_sqrt(p, mask)
    nff = jnp.where(mask, nff, 1.0)
    return PlaneMask(
        mask=mask,
        noise_focus_factor=nff,
        pixel_fraction=p,
        coords_on_plane=q,
        signed_distance=s,
        radial_distance=rho,
        visible_radius=r,
    )


def target_neurons_in_plane(
    coords,
    scope_focus_depth,
    scope_img_width,
    scope_location=(0.0, 0.0, 0.0),
    scope_direction=(0.0, 0.0, 1.0),
    soma_radius=10e-6,
    sensor_location: str = "cytoplasm",
    *,
    cleo_compat: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neurons whose soma crosses the focal plane inside the field of view (Cleo's function,
    compacted on the host).

    Args: as :func:`plane_mask` (lengths in m). ``coords`` is the ``(neurons, 3)`` array
    (Cleo took a NeuronGroup; pass its ``x, y, z`` stacked in m).

    Returns:
        ``(i_targets, noise_focus_factor, coords_on_plane)``: selected neuron indices in
        ascending order ``(k,)`` (int), their noise focus factors ``(k,)`` (dimensionless,
        >= 1), and their on-plane coordinates ``(k, 3)`` (m), as NumPy arrays.
    """
    pm = plane_mask(
        coords,
        scope_focus_depth,
        scope_img_width,
        scope_location,
        scope_direction,
        soma_radius,
        sensor_location,
        cleo_compat=cleo_compat,
    )
    if not is_concrete(pm.mask):
        raise TypeError(
            "target_neurons_in_plane returns a data-dependent number of neurons and cannot run "
            "under jit/vmap; use jaxgeci.plane_mask there."
        )
    idx = np.flatnonzero(np.asarray(pm.mask))
    return idx, np.asarray(pm.noise_focus_factor)[idx], np.asarray(pm.coords_on_plane)[idx]
