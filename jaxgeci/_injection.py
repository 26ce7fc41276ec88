"""Scope injection: pure functions from a scope's geometry and a population's coordinates
to the :class:`Injection` (ROIs, noise, expression) that :meth:`jaxgeci.Scope.inject` appends,
and the per-population ROI layout computed once per scope.

Targeting runs eagerly on the host (the number of ROIs is data dependent). Lengths in m,
ΔF/F and noise dimensionless.
"""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._targeting import _shape, check_coords, check_positive_length, plane_mask
from ._validation import _short, is_concrete


class _Default:
    def __repr__(self):
        return "<scope default>"


SCOPE_DEFAULT = _Default()
"""Sentinel: "use the scope's value" (so that an explicit ``focus_depth=None`` can mean
explicit-target mode)."""


def _scalar_or_none(name, value, *, allow_zero):
    if value is None:
        return None
    if _shape(value) != ():
        raise ValueError(f"{name} must be a scalar (m), got shape {_shape(value)}.")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'} (in m), got {value!r}.")
    return v


def _per_neuron(name, value, n_neurons, idx):
    """A scalar or ``(n_neurons,)`` sensor constant, taken at the neurons ``idx``."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(len(idx), float(arr))
    if arr.shape == (n_neurons,):
        return arr[idx]
    raise ValueError(f"{name} must be a scalar or ({n_neurons},) (one per neuron), got shape {arr.shape}.")


class Injection(eqx.Module):
    """One injection: the ROIs it selected, in ROI order.

    Attributes:
        population: name of the neuron population.
        n_neurons: number of neurons of that population.
        i_targets: neuron index of each ROI within the population, ``(rois,)`` ints (NumPy;
            stored as a static tuple so the ROI layout is static under ``jit``).
        sigma: noise std of each ROI (dimensionless), ``(rois,)``.
        rho_rel: relative expression of each ROI (dimensionless), ``(rois,)``.
        focus_coords: ROI positions (m), ``(rois, 3)``: on-plane coordinates in plane mode,
            the neuron coordinates in explicit mode.
        focus_depth: the focus depth used (m), or ``None`` (explicit-target mode).
        soma_radius: the soma radius used (m).
        n_candidates: in-plane candidates before the SNR cut (explicit mode: ROIs).
    """

    population: str = eqx.field(static=True)
    n_neurons: int = eqx.field(static=True)
    targets: tuple = eqx.field(static=True)
    sigma: Float[Array, " rois"]
    rho_rel: Float[Array, " rois"]
    focus_coords: Float[Array, "rois 3"]
    focus_depth: float | None = eqx.field(static=True)
    soma_radius: float = eqx.field(static=True)
    n_candidates: int = eqx.field(static=True)

    @property
    def i_targets(self) -> np.ndarray:
        return np.asarray(self.targets, dtype=np.int64).reshape(-1)


class RoiGroup(eqx.Module):
    """The ROIs of one population, computed once per scope (at inject time).

    Attributes:
        population: population name.
        rois: global ROI index of each of the group's ROIs, ROI order (static).
        neurons: neuron index (within the population) of each ROI (static).
        n_neurons: neurons in the population.
        rho_rel: relative expression of each ROI (dimensionless), ``(rois,)``.
    """

    population: str = eqx.field(static=True)
    rois: tuple = eqx.field(static=True)
    neurons: tuple = eqx.field(static=True)
    n_neurons: int = eqx.field(static=True)
    rho_rel: Float[Array, " rois"]

    @property
    def nid(self) -> np.ndarray:
        return np.asarray(self.neurons, dtype=np.int64)

    @property
    def g(self) -> np.ndarray:
        return np.asarray(self.rois, dtype=np.int64)


def roi_layout(injections) -> tuple:
    """Per population (order of first injection) its :class:`RoiGroup`; populations whose
    injections selected no neuron are left out."""
    starts = np.cumsum([0] + [len(inj.targets) for inj in injections])
    groups = []
    for p in dict.fromkeys(inj.population for inj in injections):
        mine = [j for j, inj in enumerate(injections) if inj.population == p]
        rois = np.concatenate([np.arange(starts[j], starts[j + 1]) for j in mine]).astype(np.int64)
        if rois.size == 0:
            continue
        neurons = np.concatenate([injections[j].i_targets for j in mine])
        groups.append(
            RoiGroup(
                population=p,
                rois=tuple(int(i) for i in rois),
                neurons=tuple(int(i) for i in neurons),
                n_neurons=injections[mine[0]].n_neurons,
                rho_rel=jnp.concatenate([injections[j].rho_rel for j in mine]),
            )
        )
    return tuple(groups)


def group_sensor(sensor, group: RoiGroup):
    """``sensor`` with its per-neuron constants (``(n_neurons,)`` leaves) taken at the
    group's neurons, so that each ROI is simulated with its own neuron's constants."""
    nid = jnp.asarray(group.nid)

    def take(path, leaf):
        if not (eqx.is_array(leaf) and leaf.ndim == 1):
            return leaf
        if leaf.shape[0] != group.n_neurons:
            raise ValueError(
                f"sensor constant {jax.tree_util.keystr(path)} has shape {leaf.shape}, but population "
                f"{group.population!r} has {group.n_neurons} neurons: per-neuron constants must have shape "
                f"({group.n_neurons},), one per neuron of the population (the Scope maps them to its ROIs)."
            )
        return jnp.take(leaf, nid)

    return jax.tree_util.tree_map_with_path(take, sensor)


def make_injection(
    scope,
    population: str,
    coords,
    *,
    focus_depth=SCOPE_DEFAULT,
    soma_radius=None,
    base_sigma=None,
    rho_rel=None,
    i_targets=None,
    sigma_noise=None,
    key=None,
) -> Injection:
    """The ROIs that ``scope`` selects in ``population``: what :meth:`jaxgeci.Scope.inject`
    appends (arguments, units and errors as documented there)."""
    if not isinstance(population, str) or not population:
        raise TypeError(f"population must be a non-empty string naming the neuron population, got {population!r}.")
    check_coords(coords)
    if not is_concrete(coords):
        raise TypeError("coords must be concrete (inject runs eagerly; targeting is data dependent).")
    coords = jnp.asarray(coords, dtype=float)
    n_neurons = int(coords.shape[0])
    for inj in scope.injections:
        if inj.population == population and inj.n_neurons != n_neurons:
            raise ValueError(
                f"population {population!r} was injected before with {inj.n_neurons} neurons, now coords has "
                f"{n_neurons}; use another name for another population."
            )
    fd = scope.focus_depth if focus_depth is SCOPE_DEFAULT else focus_depth
    fd = _scalar_or_none("focus_depth", fd, allow_zero=True)
    if soma_radius is None:
        R = float(scope.soma_radius)
    else:
        check_positive_length("soma_radius", soma_radius)
        R = float(soma_radius)
    if base_sigma is not None:
        arr = np.asarray(base_sigma, dtype=float)
        if arr.ndim > 1 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"base_sigma must be finite and >= 0 (dimensionless), got {_short(base_sigma)}.")
    plane = fd is not None and fd != 0.0

    if plane:
        if i_targets is not None:
            raise ValueError(
                f"i_targets is only used in explicit-target mode, but the focus depth is {fd!r} m; "
                "pass focus_depth=None to target neurons explicitly."
            )
        if sigma_noise is not None:
            raise ValueError(
                "sigma_noise is only used in explicit-target mode (focus_depth=None); in plane mode "
                "use base_sigma (the in-focus noise std)."
            )
        pm = plane_mask(
            coords,
            fd,
            scope.img_width,
            scope.location,
            scope.direction,
            R,
            scope.sensor.location,
            cleo_compat=scope.cleo_compat,
        )
        cand = np.flatnonzero(np.asarray(pm.mask))
        nff = np.asarray(pm.noise_focus_factor)[cand]
        cop = np.asarray(pm.coords_on_plane)[cand]
        base = scope.sensor.sigma_noise if base_sigma is None else base_sigma
        sigma = nff * _per_neuron("base_sigma", base, n_neurons, cand)
        rho = draw_rho(rho_rel, cand.size, key)
        if scope.sensor.dFF_1AP is None:
            warnings.warn(
                f"SNR cutoff not used, since {scope.sensor.name or type(scope.sensor).__name__} has no "
                "dFF_1AP (None); every in-plane candidate is kept.",
                stacklevel=3,
            )
            keep = np.ones(cand.size, dtype=bool)
        else:
            d1 = _per_neuron("dFF_1AP", scope.sensor.dFF_1AP, n_neurons, cand)
            with np.errstate(divide="ignore", invalid="ignore"):
                snr = rho * d1 / sigma
            keep = snr > float(scope.snr_cutoff)
        targets, sigma, rho, fcoords = cand[keep], sigma[keep], rho[keep], cop[keep]
        n_cand = int(cand.size)
        _warn_if_off_axis(scope, coords, population, int(targets.size))
    else:
        if i_targets is None:
            targets = np.arange(n_neurons)
        else:
            it = np.asarray(i_targets)
            if it.ndim != 1 or (it.size and not np.issubdtype(it.dtype, np.integer)):
                raise TypeError(f"i_targets must be a 1-D array of neuron indices (ints), got {_short(i_targets)}.")
            if it.size and (it.min() < 0 or it.max() >= n_neurons):
                raise ValueError(
                    f"i_targets must lie in [0, {n_neurons}) for population {population!r}, got {_short(it)}."
                )
            targets = it.astype(np.int64)
        if sigma_noise is not None:
            sig = np.asarray(sigma_noise, dtype=float)
            if sig.ndim > 1 or not np.all(np.isfinite(sig)) or np.any(sig < 0):
                raise ValueError(f"sigma_noise must be finite and >= 0 (dimensionless), got {_short(sigma_noise)}.")
            if sig.ndim == 1 and sig.shape != targets.shape:
                raise ValueError(
                    f"sigma_noise must be a scalar or ({targets.size},) (one per target), got {sig.shape}."
                )
            sigma = np.broadcast_to(sig, targets.shape).astype(float)
        else:
            base = scope.sensor.sigma_noise if base_sigma is None else base_sigma
            sigma = _per_neuron("sigma_noise", base, n_neurons, targets)
        rho = draw_rho(rho_rel, targets.size, key)
        fcoords = np.asarray(coords)[targets]
        n_cand = int(targets.size)
        fd = None

    inj = Injection(
        population=population,
        n_neurons=n_neurons,
        targets=tuple(int(i) for i in targets),
        sigma=jnp.asarray(sigma, dtype=float),
        rho_rel=jnp.asarray(rho, dtype=float),
        focus_coords=jnp.asarray(fcoords, dtype=float).reshape(-1, 3),
        focus_depth=fd,
        soma_radius=R,
        n_candidates=n_cand,
    )
    return inj


def draw_rho(rho_rel, n: int, key) -> np.ndarray:
    """``rho_rel`` as given (None, scalar, array or ``(key, n) -> (n,)`` function) for ``n``
    candidates, checked (dimensionless, finite, >= 0)."""
    if rho_rel is None:
        return np.ones(n)
    if callable(rho_rel):
        if key is None:
            raise ValueError("rho_rel is a function (key, n) -> (n,): pass key=jax.random.key(...).")
        out = np.asarray(rho_rel(key, n), dtype=float)
        what = f"rho_rel({n}) returned"
    else:
        out = np.asarray(rho_rel, dtype=float)
        if out.ndim == 0:
            out = np.full(n, float(out))
        what = "rho_rel has"
    if out.shape != (n,):
        raise ValueError(
            f"{what} shape {out.shape}; expected ({n},), one value per candidate (plane mode: in-plane "
            "neurons before the SNR cut; explicit mode: one per target)."
        )
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise ValueError(f"rho_rel must be finite and >= 0 (dimensionless), got {_short(out)}.")
    return out


def place_under_objective(coords, scope) -> np.ndarray:
    """``coords`` (m, ``(neurons, 3)``) moved sideways so that the population's centre lies on
    the scope's optical axis (the line through ``scope.location`` along its direction); depths
    along the axis are kept. The objective sits at ``location`` (default the origin), so a
    population drawn in ``[0, 500 µm]^3`` otherwise fills one quadrant of the field of view.
    """
    check_coords(coords)
    c = np.asarray(coords, dtype=float)
    loc = np.asarray(scope.location, dtype=float)
    d = np.asarray(scope.direction, dtype=float)
    centre = c.mean(axis=0) - loc
    lateral = centre - np.dot(centre, d) * d
    return c - lateral


def _warn_if_off_axis(scope, coords, population: str, n_rois: int) -> None:
    """Warn when a population's centre lies off the optical axis by more than a quarter of
    the field of view and the injection kept few ROIs: the usual sign of coordinates drawn in
    ``[0, L]`` with the objective at the origin."""
    c = np.asarray(coords, dtype=float)
    if c.shape[0] < 8:
        return
    loc = np.asarray(scope.location, dtype=float)
    d = np.asarray(scope.direction, dtype=float)
    centre = c.mean(axis=0) - loc
    off = float(np.linalg.norm(centre - np.dot(centre, d) * d))
    width = float(scope.img_width)
    if off > 0.25 * width:
        warnings.warn(
            f"population {population!r}: its centre lies {off * 1e6:.0f} µm off the scope's optical axis "
            f"(field of view {width * 1e6:.0f} µm wide, objective at location={tuple(loc.tolist())} m), so "
            f"only {n_rois} ROIs were found; to image the population's middle, inject "
            "jaxgeci.place_under_objective(coords, scope) or build the Scope with location= under it.",
            stacklevel=4,
        )
