"""Closed-loop imaging: step every ROI one step at a time inside a running network and read it
(Cleo's ``Scope.get_state``). One step function and one read function serve both
:meth:`jaxgeci.Scope.advance`/:meth:`jaxgeci.Scope.get_state` and :class:`ClosedLoopScope`;
the step is the driver's own (``jaxgeci._driver.advance``), so closed-loop and offline runs
are the same physics. After ``n`` steps, the read equals row ``n`` of ``Scope.image``.

Times in s, Ca in M, ΔF/F dimensionless.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from . import _driver as driver
from ._injection import group_sensor
from ._targeting import _shape
from ._validation import check_dt, is_concrete


class ScopeState(eqx.Module):
    """Closed-loop state: the sensor state of each population's ROIs and the step count."""

    sensor_states: dict
    step: Int[Array, ""]


def init_state(scope) -> ScopeState:
    """Every ROI's sensor at rest (step 0)."""
    return ScopeState(
        sensor_states={g.population: scope.sensor.init(len(g.rois)) for g in scope.layout},
        step=jnp.asarray(0),
    )


def _check_step_inputs(scope, spikes_by_population, ca_by_population):
    """This step's ``{population: (neurons,)}`` spikes (finite counts >= 0) and Ca (M)."""
    spikes = scope._by_population(spikes_by_population, "spikes_by_population")
    ca = scope._by_population(ca_by_population, "ca_by_population", required=False)
    for g in scope.layout:
        p, n = g.population, g.n_neurons
        s = spikes[p]
        if _shape(s) != (n,):
            raise ValueError(f"spikes of population {p!r} for one step must be ({n},), got {_shape(s)}.")
        if is_concrete(s):
            arr = np.asarray(s)
            if arr.dtype != bool and not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                raise TypeError(f"spikes of population {p!r} must be real counts, got dtype {arr.dtype}.")
            if arr.dtype != bool and (not np.all(np.isfinite(arr)) or np.any(arr < 0)):
                raise ValueError(
                    f"spikes of population {p!r} must be finite counts >= 0, got NaN/inf or negative values."
                )
        if p in ca:
            if _shape(ca[p]) != (n,):
                raise ValueError(f"ca_by_population[{p!r}] for one step must be ({n},) in M, got {_shape(ca[p])}.")
            if is_concrete(ca[p]) and (
                not np.all(np.isfinite(np.asarray(ca[p], float))) or np.any(np.asarray(ca[p]) < 0)
            ):
                raise ValueError(f"ca_by_population[{p!r}] must be finite and >= 0 (M).")
    return spikes, ca


@eqx.filter_jit
def _step(sensor, layout, states, spikes, ca, dt, method):
    new = {}
    for g in layout:
        nid = jnp.asarray(g.nid)
        s = group_sensor(sensor, g)
        ca_k = None if ca.get(g.population) is None else jnp.take(jnp.asarray(ca[g.population], dtype=float), nid)
        spk = jnp.take(jnp.asarray(spikes[g.population]), nid).astype(jnp.result_type(float))
        new[g.population] = driver.advance(s, states[g.population], spk, dt, ca_k, method)
    return new


@eqx.filter_jit
def _read(sensor, layout, states, order, sigma, key, m, ca):
    cols = []
    for g in layout:
        nid = jnp.asarray(g.nid)
        ca_now = None if ca.get(g.population) is None else jnp.take(jnp.asarray(ca[g.population], dtype=float), nid)
        cols.append(group_sensor(sensor, g).readout(states[g.population], g.rho_rel, ca_now))
    clean = jnp.concatenate(cols)[order]
    if key is None:
        return clean
    return clean + jax.random.normal(jax.random.fold_in(key, m), clean.shape, clean.dtype) * sigma.astype(clean.dtype)


def step(scope, state: ScopeState, spikes_by_population, dt: float, method: str, *, ca_by_population=None):
    """One step ``k -> k+1`` of every ROI (``method`` already resolved)."""
    spikes, ca = _check_step_inputs(scope, spikes_by_population, ca_by_population)
    names = [g.population for g in scope.layout]
    new = _step(
        scope.sensor,
        scope.layout,
        state.sensor_states,
        {p: spikes[p] for p in names},
        {p: ca.get(p) for p in names},
        dt,
        method,
    )
    return ScopeState(sensor_states=new, step=state.step + 1)


def read(scope, state: ScopeState, *, key=None, sample_index=0, ca_by_population=None):
    """ΔF/F of every ROI now, ROI order, plus ``N(0, sigma)`` noise drawn from
    ``fold_in(key, sample_index)`` when ``key`` is given."""
    ca = scope._by_population(ca_by_population, "ca_by_population", required=False)
    names = [g.population for g in scope.layout]
    return _read(
        scope.sensor,
        scope.layout,
        state.sensor_states,
        jnp.asarray(scope.roi_order),
        scope.sigma_noise,
        key,
        jnp.asarray(sample_index),
        {p: ca.get(p) for p in names},
    )


class ClosedLoopScope:
    """Stateful wrapper for step-by-step use (Cleo's ``get_state`` inside a simulation).

    ``reader.step(spikes_k)`` advances one step; ``reader.get_state()`` returns the ROIs'
    noisy ΔF/F now (clean when built without ``key``). With ``save_history=True`` every
    ``get_state`` call is stored: :attr:`t` (s; Cleo's ``t_ms`` in ms) and :attr:`dFF`
    ``(n_calls, n_rois)``. After ``n`` steps, ``get_state`` equals row ``n`` of
    ``scope.image(...)`` (noise included: call ``m`` draws from ``fold_in(key, m)``).
    """

    def __init__(self, scope, dt: float, *, key=None, save_history: bool = False, method: str = "cleo"):
        self.scope = scope
        self.dt = check_dt(dt)
        self.method = scope.sensor.check_run(self.dt, method)  # resolved once
        self.key = key
        self.save_history = bool(save_history)
        self.state = init_state(scope)
        self.n_steps = 0
        self.n_calls = 0
        self._t: list[float] = []
        self._dFF: list[Any] = []

    def step(self, spikes_by_population, *, ca_by_population=None) -> None:
        """Advance one step with this step's ``{population: (neurons,)}`` spike counts."""
        self.state = step(
            self.scope, self.state, spikes_by_population, self.dt, self.method, ca_by_population=ca_by_population
        )
        self.n_steps += 1

    def get_state(self, *, ca_by_population=None):
        """ROI ΔF/F now (plus noise when the reader has a key), ``(n_rois,)``."""
        y = read(self.scope, self.state, key=self.key, sample_index=self.n_calls, ca_by_population=ca_by_population)
        if self.save_history:
            self._t.append(self.n_steps * self.dt)
            self._dFF.append(y)
        self.n_calls += 1
        return y

    @property
    def t(self) -> np.ndarray:
        """Times (s) of the recorded ``get_state`` calls."""
        return np.asarray(self._t)

    @property
    def dFF(self):
        """Recorded ``get_state`` outputs, ``(n_calls, n_rois)``."""
        return jnp.stack(self._dFF) if self._dFF else jnp.zeros((0, self.scope.n))

    @property
    def sigma(self):
        """Per-ROI noise std (dimensionless), ``(n_rois,)``."""
        return self.scope.sigma_noise
