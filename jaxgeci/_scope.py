"""The two-photon ``Scope`` (functional Cleo): targeting at inject time, imaging with noise.

A :class:`Scope` is immutable: :meth:`Scope.inject` returns a new scope with one more
injection. Targeting runs eagerly on the host (the number of ROIs is data dependent); imaging
(:meth:`Scope.image`) runs the sensor once per population through :func:`jaxgeci.simulate`
with static ROI index arrays, so it jits, vmaps and differentiates like ``simulate``.

Lengths in m, times in s, ΔF/F and noise dimensionless.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from . import _closed_loop as _cl, _imaging
from ._closed_loop import ScopeState
from ._imaging import ImagingResult
from ._injection import _scalar_or_none, group_sensor, make_injection, roi_layout, SCOPE_DEFAULT
from ._sensor import Sensor
from ._targeting import (
    _shape,
    check_direction,
    check_positive_length,
    plane_mask,
    target_neurons_in_plane as _free_target,
    unit_vector,
)
from ._validation import _short, check_dt, is_concrete


class Scope(eqx.Module):
    """A two-photon microscope (Cleo's ``Scope``), immutable.

    ``scope = Scope(sensor, img_width=500e-6, focus_depth=100e-6)``, then
    ``scope = scope.inject("exc", coords)`` (returns a new scope), then
    ``res = scope.image({"exc": spikes}, dt, sample_rate=30, key=key)``.

    Attributes:
        sensor: any :class:`jaxgeci.Sensor` (needs ``sigma_noise``, ``dFF_1AP``, ``location``).
        img_width: diameter of the imaged disc (m).
        focus_depth: default focus depth (m) along the direction, or ``None`` (explicit
            targets by default). ``0`` behaves like ``None`` (Cleo).
        location: objective position (m), ``(3,)``.
        direction_input: the viewing direction as given, ``(3,)``; :attr:`direction` is its
            unit vector (the Scope always normalises, as Cleo).
        soma_radius: default soma radius (m).
        snr_cutoff: keep a candidate iff ``rho_rel * dFF_1AP / sigma > snr_cutoff`` (strict).
        cleo_compat: use Cleo's ``|s|`` on-plane projection (default: orthogonal projection).
        injections: the injections so far, in order.
    """

    sensor: Sensor
    img_width: Float[Array, ""]
    focus_depth: Float[Array, ""] | None
    location: Float[Array, " 3"]
    direction_input: Float[Array, " 3"]
    soma_radius: Float[Array, ""]
    snr_cutoff: Float[Array, ""]
    cleo_compat: bool = eqx.field(static=True)
    injections: tuple = ()
    layout: tuple = ()

    def __init__(
        self,
        sensor: Sensor,
        img_width,
        focus_depth=None,
        location=(0.0, 0.0, 0.0),
        direction=(0.0, 0.0, 1.0),
        soma_radius=10e-6,
        snr_cutoff=1.0,
        *,
        cleo_compat: bool = False,
        injections: tuple = (),
    ):
        """Args: see the class attributes (lengths in m). ``direction`` need not be a unit
        vector."""
        if not isinstance(sensor, Sensor):
            raise TypeError(f"sensor must be a jaxgeci Sensor (e.g. jaxgeci.gcamp6f()), got {type(sensor).__name__}.")
        for attr in ("sigma_noise", "dFF_1AP", "location"):
            if not hasattr(sensor, attr):
                raise TypeError(f"sensor {type(sensor).__name__} lacks {attr!r}, which the Scope needs.")
        check_positive_length("img_width", img_width)
        fd = _scalar_or_none("focus_depth", focus_depth, allow_zero=True) if is_concrete(focus_depth) else focus_depth
        check_positive_length("soma_radius", soma_radius)
        check_direction(direction, "direction")
        if _shape(location) != (3,) or (is_concrete(location) and not np.all(np.isfinite(np.asarray(location, float)))):
            raise ValueError(f"location must be a finite 3-vector (m), got {_short(location)}.")
        if _shape(snr_cutoff) != () or (is_concrete(snr_cutoff) and not np.isfinite(float(snr_cutoff))):
            raise ValueError(f"snr_cutoff must be a finite scalar (dimensionless), got {snr_cutoff!r}.")
        self.sensor = sensor
        self.img_width = jnp.asarray(img_width, dtype=float)
        self.focus_depth = None if fd is None else jnp.asarray(fd, dtype=float)
        self.location = jnp.asarray(location, dtype=float)
        self.direction_input = jnp.asarray(direction, dtype=float)
        self.soma_radius = jnp.asarray(soma_radius, dtype=float)
        self.snr_cutoff = jnp.asarray(snr_cutoff, dtype=float)
        self.cleo_compat = bool(cleo_compat)
        self.injections = tuple(injections)
        self.layout = roi_layout(self.injections)  # per-population ROI groups, once per scope

    # ------------------------------------------------------------------ geometry
    @property
    def direction(self):
        """Unit viewing direction, ``(3,)``."""
        return unit_vector(self.direction_input)

    def _replace(self, **changes) -> Scope:
        kw = dict(
            sensor=self.sensor,
            img_width=self.img_width,
            focus_depth=self.focus_depth,
            location=self.location,
            direction=self.direction_input,
            soma_radius=self.soma_radius,
            snr_cutoff=self.snr_cutoff,
            cleo_compat=self.cleo_compat,
            injections=self.injections,
        )
        kw.update(changes)
        return Scope(**kw)

    def with_sensor(self, sensor: Sensor) -> Scope:
        """The same scope and ROIs with another sensor (e.g. new constants while fitting).
        The ROIs are not re-targeted."""
        return eqx.tree_at(lambda s: s.sensor, self, sensor)

    def target_neurons_in_plane(self, coords, focus_depth=None, soma_radius=None):
        """Cleo's ``Scope.target_neurons_in_plane``: the free function with this scope's
        geometry (unit direction, sensor location, projection mode).

        Args:
            coords: ``(neurons, 3)`` positions (m).
            focus_depth: focus depth (m); default the scope's.
            soma_radius: soma radius (m); default the scope's.

        Returns:
            ``(i_targets, noise_focus_factor, coords_on_plane)`` (NumPy).
        """
        return _free_target(coords, *self._plane_geometry(focus_depth, soma_radius), cleo_compat=self.cleo_compat)

    def _plane_geometry(self, focus_depth, soma_radius) -> tuple:
        """Positional geometry arguments of the free targeting functions for this scope."""
        fd = self.focus_depth if focus_depth is None else focus_depth
        if fd is None:
            raise ValueError("focus_depth is None: give focus_depth (m) or build the Scope with one.")
        R = self.soma_radius if soma_radius is None else soma_radius
        return (fd, self.img_width, self.location, self.direction, R, self.sensor.location)

    def plane_mask(self, coords, focus_depth=None, soma_radius=None):
        """Fixed-shape form of :meth:`target_neurons_in_plane` (see :func:`jaxgeci.plane_mask`)."""
        return plane_mask(coords, *self._plane_geometry(focus_depth, soma_radius), cleo_compat=self.cleo_compat)

    # ------------------------------------------------------------------ injection
    def inject(
        self,
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
    ) -> Scope:
        """Select ROIs in ``population`` and return a new scope with them appended.

        Plane mode (the effective focus depth is a number > 0): candidates are the neurons
        whose soma crosses the focal plane inside the field of view; ``sigma = focus factor
        x base_sigma``; ``rho_rel`` is drawn for the candidates; candidates with
        ``rho_rel * dFF_1AP / sigma <= snr_cutoff`` are dropped (skipped with a warning when
        the sensor's ``dFF_1AP`` is ``None``).

        Explicit mode (``focus_depth=None`` or ``0``, as Cleo): the ROIs are ``i_targets`` as
        given (order kept, duplicates allowed) or all neurons; ``sigma = sigma_noise`` (or
        ``base_sigma``, or the sensor's); no focus factor, no SNR cut; focus coordinates are
        the neuron coordinates.

        Per-neuron sensor constants (``(neurons,)`` leaves) belong to the population's
        neurons: each ROI is simulated with the constants of its own neuron.

        Args:
            population: name of the neuron population (Cleo's neuron group).
            coords: ``(neurons, 3)`` neuron positions (m).
            focus_depth: focus depth (m); default the scope's; ``None``/``0``: explicit mode.
            soma_radius: soma radius (m), > 0; default the scope's.
            base_sigma: in-focus noise std (dimensionless); default the sensor's
                ``sigma_noise``.
            rho_rel: relative expression: ``None`` (ones), a scalar, an array with one value
                per candidate (plane mode: in-plane candidates *before* the SNR cut; explicit
                mode: per target), or a function ``(key, n) -> (n,)`` (Cleo's
                ``rho_rel_generator``, called once with the number of candidates).
            i_targets: explicit mode only: neuron indices.
            sigma_noise: explicit mode only: noise std (dimensionless), scalar or per target.
            key: ``jax.random`` key for a ``rho_rel`` function.

        Raises:
            ValueError/TypeError: bad coordinates or lengths, ``i_targets`` out of range or
                given with a focus depth, a population re-injected with another neuron count,
                per-neuron sensor constants of another length than the population.
        """
        inj = make_injection(
            self,
            population,
            coords,
            focus_depth=focus_depth,
            soma_radius=soma_radius,
            base_sigma=base_sigma,
            rho_rel=rho_rel,
            i_targets=i_targets,
            sigma_noise=sigma_noise,
            key=key,
        )
        new = self._replace(injections=self.injections + (inj,))
        for g in new.layout:  # per-neuron constants must match the population (raises naming them)
            if g.population == population:
                jax.eval_shape(lambda s, g=g: group_sensor(s, g), self.sensor)
        return new

    # ------------------------------------------------------------------ attributes (Cleo's)
    @property
    def n(self) -> int:
        """Number of ROIs."""
        return sum(len(inj.targets) for inj in self.injections)

    @property
    def populations(self) -> tuple[str, ...]:
        """Population of each injection, in injection order (Cleo's ``neuron_groups``)."""
        return tuple(inj.population for inj in self.injections)

    @property
    def population_names(self) -> tuple[str, ...]:
        """Distinct populations, in order of first injection."""
        return tuple(dict.fromkeys(self.populations))

    @property
    def i_targets_per_injct(self) -> list:
        return [inj.i_targets for inj in self.injections]

    @property
    def sigma_per_injct(self) -> list:
        return [inj.sigma for inj in self.injections]

    @property
    def rho_rel_per_injct(self) -> list:
        return [inj.rho_rel for inj in self.injections]

    @property
    def focus_coords_per_injct(self) -> list:
        return [inj.focus_coords for inj in self.injections]

    def _cat(self, attr, empty_shape=(0,), dtype=float):
        parts = [getattr(inj, attr) for inj in self.injections]
        return jnp.concatenate(parts) if parts else jnp.zeros(empty_shape, dtype)

    @property
    def i_targets(self) -> np.ndarray:
        """Neuron index (within its population) of every ROI, ROI order, ``(n_rois,)``."""
        return np.concatenate([inj.i_targets for inj in self.injections] or [np.zeros(0, np.int64)])

    @property
    def sigma_noise(self):
        """Noise std of every ROI (dimensionless), ``(n_rois,)``."""
        return self._cat("sigma")

    @property
    def rho_rel(self):
        """Relative expression of every ROI (dimensionless), ``(n_rois,)``."""
        return self._cat("rho_rel")

    @property
    def focus_coords(self):
        """ROI positions (m), ``(n_rois, 3)``."""
        return self._cat("focus_coords", (0, 3))

    @property
    def roi_injection(self) -> np.ndarray:
        """Injection index of every ROI, ``(n_rois,)``."""
        return np.concatenate(
            [np.full(len(inj.targets), j, np.int64) for j, inj in enumerate(self.injections)] or [np.zeros(0, np.int64)]
        )

    @property
    def roi_population(self) -> tuple[str, ...]:
        """Population name of every ROI."""
        pops = self.populations  # once: the property rebuilds the tuple on every access
        return tuple(pops[j] for j in self.roi_injection)

    @property
    def dFF_1AP(self):
        """``rho_rel * dFF_1AP`` per ROI (dimensionless), ``(n_rois,)``.

        Raises:
            TypeError: the sensor has no ``dFF_1AP`` (``None``), as in Cleo.
        """
        if self.sensor.dFF_1AP is None:
            raise TypeError(f"{self.sensor.name or type(self.sensor).__name__} has no dFF_1AP (None).")
        parts = []
        for inj in self.injections:
            d1 = jnp.asarray(self.sensor.dFF_1AP, dtype=float)
            d1 = d1[inj.i_targets] if d1.ndim == 1 else d1
            parts.append(inj.rho_rel * d1)
        return jnp.concatenate(parts) if parts else jnp.zeros((0,))

    def i_targets_for_population(self, population: str):
        """ROIs' neuron indices of ``population``, its injections concatenated in order."""
        self._check_population(population)
        return np.concatenate([inj.i_targets for inj in self.injections if inj.population == population])

    def _check_population(self, population):
        if population not in self.populations:
            raise ValueError(f"unknown population {population!r}; this scope has {list(self.population_names)}.")

    @property
    def roi_order(self) -> np.ndarray:
        """Permutation from the populations' concatenated ROIs (layout order) to ROI order."""
        if not self.layout:
            return np.zeros(0, np.int64)
        return np.argsort(np.concatenate([g.g for g in self.layout]), kind="stable")

    def _by_population(self, value, what: str, required: bool = True) -> dict:
        names = self.population_names
        if value is None:
            if required:
                raise ValueError(f"{what} is None; give a dict {{population: ...}} for {list(names)}.")
            return {}
        if not isinstance(value, dict):
            if len(names) != 1:
                raise TypeError(f"{what} must be a dict {{population name: ...}} for the populations {list(names)}.")
            return {names[0]: value}
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"{what} has unknown population(s) {unknown}; this scope has {list(names)}.")
        missing = [k for k in names if k not in value]
        if missing and required:
            raise ValueError(f"{what} lacks population(s) {missing}; this scope images {list(names)}.")
        return value

    # ------------------------------------------------------------------ imaging (offline)
    def image(
        self,
        spikes_by_population,
        dt: float,
        *,
        key=None,
        noise=True,
        sample_every: int | None = None,
        sample_period: float | None = None,
        sample_rate: float | None = None,
        sample_times=None,
        method: str = "cleo",
        ca_pre_by_population=None,
        checkpoint: bool = True,
    ) -> ImagingResult:
        """Image every ROI: run the sensor once per population (one ``simulate`` scan over
        that population's ROIs), read ΔF/F at the sample steps, and add noise.

        Args:
            spikes_by_population: ``{population: spikes}`` with dense ``(time, neurons)``
                counts or :class:`jaxgeci.SpikeTrains` over the population's neurons (a bare
                spikes object is accepted when the scope has one population; ``None`` for a
                pre-existing-Ca sensor driven by ``ca_pre_by_population`` alone).
            dt: time step (s).
            key: ``jax.random`` key for the noise (required when ``noise=True``). Sample
                ``m`` uses ``fold_in(key, m)``, so the closed-loop reader draws the same noise.
            noise: ``True`` (default): Cleo's ``N(0, sigma_roi)`` noise; ``False``: none; or a
                noise model (:class:`jaxgeci.NoiseModel`, e.g. :class:`jaxgeci.PhotonNoise`
                from :meth:`jaxgeci.LightExcitation.noise_model`) that draws the samples from
                the clean ΔF/F with ``key``; or a :class:`jaxgeci.RawMeasurement`: raw ROI and
                neuropil fluorescence with bleaching and photon noise (``f_raw``,
                ``f_neuropil`` in the result) and ``dFF`` made from them by its pipeline.
            sample_every, sample_period, sample_rate, sample_times: read-out instants, see
                :func:`jaxgeci.read_schedule` (30 Hz at 0.1 ms reads every 333 steps,
                reported as 30.03 Hz).
            method: integration method, see :func:`jaxgeci.simulate`.
            ca_pre_by_population: ``{population: (time, neurons)}`` Ca (M) for
                pre-existing-Ca sensors.
            checkpoint: see :func:`jaxgeci.simulate`.

        Returns:
            :class:`ImagingResult` with ``(n_samples, n_rois)`` traces in ROI order.
        """
        return _imaging.image(
            self,
            spikes_by_population,
            dt,
            key=key,
            noise=noise,
            sample_every=sample_every,
            sample_period=sample_period,
            sample_rate=sample_rate,
            sample_times=sample_times,
            method=method,
            ca_pre_by_population=ca_pre_by_population,
            checkpoint=checkpoint,
        )

    # ------------------------------------------------------------------ closed loop
    def init_state(self) -> ScopeState:
        """Every ROI's sensor at rest (step 0)."""
        return _cl.init_state(self)

    def advance(self, state: ScopeState, spikes_by_population, dt: float, *, ca_by_population=None, method="cleo"):
        """One step ``k -> k+1`` of every ROI (the driver's step, as :meth:`image`).

        Args:
            state: :class:`ScopeState` at the start of step ``k``.
            spikes_by_population: ``{population: (neurons,)}`` spike counts of step ``k``
                (finite, >= 0).
            dt: time step (s).
            ca_by_population: ``{population: (neurons,)}`` Ca (M) of step ``k`` for
                pre-existing-Ca sensors.
            method: integration method, see :func:`jaxgeci.simulate`.
        """
        dt = check_dt(dt)
        method = self.sensor.check_run(dt, method)
        return _cl.step(self, state, spikes_by_population, dt, method, ca_by_population=ca_by_population)

    def get_state(self, state: ScopeState, *, key=None, sample_index=None, ca_by_population=None):
        """ΔF/F of every ROI now (Cleo's ``get_state``), ROI order, ``(n_rois,)``, plus
        ``N(0, sigma)`` noise when ``key`` is given (drawn from ``fold_in(key, sample_index)``,
        as sample ``sample_index`` of :meth:`image`; default ``sample_index = 0``)."""
        m = 0 if sample_index is None else sample_index
        return _cl.read(self, state, key=key, sample_index=m, ca_by_population=ca_by_population)

    def closed_loop(self, dt: float, *, key=None, save_history: bool = False, method: str = "cleo"):
        """A stateful closed-loop reader (Cleo's ``Scope`` inside a running network); see
        :class:`ClosedLoopScope`."""
        return _cl.ClosedLoopScope(self, dt, key=key, save_history=save_history, method=method)

    # ------------------------------------------------------------------ plotting and export
    def add_self_to_plot(self, ax, **kwargs):
        """Draw the objective, focal plane(s) and ROIs on a 3-D matplotlib axis (Cleo's
        figure); see :func:`jaxgeci.add_scope_to_plot`."""
        from ._scope_plot import add_scope_to_plot

        return add_scope_to_plot(self, ax, **kwargs)

    def plot(self, coords_by_population=None, **kwargs):
        """A new 3-D figure of the scope, its ROIs and (optionally) all neurons; see
        :func:`jaxgeci.plot_scope`."""
        from ._scope_plot import plot_scope

        return plot_scope(self, coords_by_population, **kwargs)

    def to_neo(self, result=None, **kwargs):
        """Export imaged traces to a ``neo.Block`` (extra ``[io]``); see
        :func:`jaxgeci.scope_to_neo`."""
        from ._neo import scope_to_neo

        return scope_to_neo(self, result, **kwargs)
