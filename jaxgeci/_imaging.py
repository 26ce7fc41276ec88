"""Offline imaging: every ROI of a :class:`jaxgeci.Scope` simulated by :func:`jaxgeci.simulate`
(one run per population over its ROIs, each ROI with its own neuron's constants), read at the
sample steps, plus the imaging noise. Sample ``m``'s noise is drawn from ``fold_in(key, m)``,
so the closed-loop reader draws the same noise.

Times in s, ΔF/F and noise dimensionless.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._injection import group_sensor
from ._noise import NoiseModel
from ._raw_measurement import RawMeasurement
from ._simulate import simulate
from ._spikes import SpikeTrains
from ._targeting import _shape
from ._validation import check_dt, is_concrete


class ImagingResult(eqx.Module):
    """Imaged ROI traces (time-major).

    Attributes:
        dFF: noisy samples ``clean + N(0, sigma)`` (dimensionless), ``(n_samples, n_rois)``;
            equal to ``dFF_clean`` when imaging without noise.
        dFF_clean: noise-free ΔF/F of each ROI at the sample instants, ``(n_samples, n_rois)``.
        t: sample times (s), ``(n_samples,)``; row ``m`` is the state at the start of step
            ``steps[m]``.
        steps: sample step indices, ``(n_samples,)``.
        sigma: per-ROI noise std (dimensionless), ``(n_rois,)``.
        final_states: sensor state after the last step, per population (continue a run).
        dt: time step (s).
        sample_rate_hz: the sampling rate actually used (Hz), or ``None`` for irregular times.
        f_raw, f_neuropil: with ``noise=jaxgeci.RawMeasurement(...)``, the noisy raw ROI and
            neuropil fluorescence (photons per frame), ``(n_samples, n_rois)``, from which
            ``dFF`` was computed by the measurement's pipeline; else ``None``.
    """

    dFF: Float[Array, "read rois"]
    dFF_clean: Float[Array, "read rois"]
    t: Float[Array, " read"]
    steps: Int[Array, " read"]
    sigma: Float[Array, " rois"]
    final_states: dict
    dt: float = eqx.field(static=True)
    sample_rate_hz: float | None = eqx.field(static=True, default=None)
    f_raw: Float[Array, "read rois"] | None = None
    f_neuropil: Float[Array, "read rois"] | None = None

    @property
    def noise(self):
        """``dFF - dFF_clean`` (dimensionless)."""
        return self.dFF - self.dFF_clean


def _noise(key, sigma, steps_shape_n: int, dtype):
    """Noise of sample ``m`` drawn from ``fold_in(key, m)``: offline and closed loop agree."""
    n_rois = sigma.shape[0]

    def one(m):
        return jax.random.normal(jax.random.fold_in(key, m), (n_rois,), dtype) * sigma

    return jax.vmap(one)(jnp.arange(steps_shape_n))


@eqx.filter_jit
def _assemble(cols, order, sigma, key):
    """Populations' ΔF/F columns -> ROI order, plus the noise (``key=None``: none), in one
    compiled call (done eagerly, these few ops cost ~2 ms per image at 1e3 ROIs, ~10 % of the
    whole 2 s imaging run; benchmarks/compare_cleo.py)."""
    clean = jnp.concatenate(cols, axis=1)[:, order]
    sigma = sigma.astype(clean.dtype)
    noisy = clean if key is None else clean + _noise(key, sigma, clean.shape[0], clean.dtype)
    return noisy, clean, sigma


def image(
    scope,
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
    """:meth:`jaxgeci.Scope.image` (see there): one ``simulate`` run per population over its
    ROIs (each ROI with its own neuron's constants), ΔF/F at the sample steps, plus noise."""
    if scope.n == 0:
        raise ValueError("this scope has no ROIs: inject a population first (scope = scope.inject(...)).")
    dt = check_dt(dt)
    model = noise if isinstance(noise, (NoiseModel, RawMeasurement)) else None
    if not (model is not None or isinstance(noise, bool)):
        raise TypeError(
            f"noise must be True (Cleo's Gaussian noise), False, a noise model such as jaxgeci.PhotonNoise, or "
            f"a jaxgeci.RawMeasurement, got {type(noise).__name__}."
        )
    if noise is not False and key is None:
        raise ValueError("key is required for the imaging noise (key=jax.random.key(0)); or pass noise=False.")
    ca_pre = scope._by_population(ca_pre_by_population, "ca_pre_by_population", required=False)
    if spikes_by_population is None and scope.sensor.needs_ca_input and ca_pre:
        spikes = {p: None for p in scope.population_names}  # Ca alone drives the sensor
    else:
        spikes = scope._by_population(spikes_by_population, "spikes_by_population")
    cols, finals = [], {}
    t = steps = rate = None
    n_steps_seen = None
    for grp in scope.layout:
        p, nid, rho, n_neurons = grp.population, grp.nid, grp.rho_rel, grp.n_neurons
        roi_spk = None if spikes[p] is None else _roi_spikes(spikes[p], nid, n_neurons, p)
        roi_ca = None
        if p in ca_pre:
            ca = ca_pre[p]
            if len(_shape(ca)) != 2 or _shape(ca)[1] != n_neurons:
                raise ValueError(
                    f"ca_pre_by_population[{p!r}] must be (time, {n_neurons}) in M, got shape {_shape(ca)}."
                )
            roi_ca = jnp.take(jnp.asarray(ca, dtype=float), jnp.asarray(nid), axis=1)
        if roi_spk is None:
            if roi_ca is None:
                raise ValueError(f"spikes of population {p!r} are None and no ca_pre was given for it.")
            T = _shape(roi_ca)[0]
        else:
            T = roi_spk.n_steps if isinstance(roi_spk, SpikeTrains) else _shape(roi_spk)[0]
        if n_steps_seen is not None and T != n_steps_seen:
            raise ValueError(f"every population needs the same number of steps; {p!r} has {T}, others {n_steps_seen}.")
        n_steps_seen = T
        res = simulate(
            group_sensor(scope.sensor, grp),
            roi_spk,
            dt,
            rho_rel=rho,
            ca_pre=roi_ca,
            sample_every=sample_every,
            sample_period=sample_period,
            sample_rate=sample_rate,
            sample_times=sample_times,
            method=method,
            record=("dFF",),
            checkpoint=checkpoint,
        )
        cols.append(res.dFF)
        finals[p] = res.final_state
        t, steps, rate = res.t, res.steps, res.sample_rate_hz
    noisy, clean, sigma = _assemble(
        cols, jnp.asarray(scope.roi_order), scope.sigma_noise, key if noise is True else None
    )
    f_raw = f_neu = None
    if isinstance(model, RawMeasurement):  # raw and neuropil fluorescence, ΔF/F by the pipeline
        if rate is None:
            raise ValueError("noise=RawMeasurement(...) needs evenly spaced frames: sample_every/_period/_rate.")
        f_raw, f_neu, noisy = model.measure(key, clean, np.asarray(scope.focus_coords), t, rate)
    elif model is not None:  # the measurement model draws the samples from the clean ΔF/F
        noisy = model.sample(key, clean)
    return ImagingResult(
        dFF=noisy,
        dFF_clean=clean,
        t=t,
        steps=steps,
        sigma=sigma,
        final_states=finals,
        dt=dt,
        sample_rate_hz=rate,
        f_raw=f_raw,
        f_neuropil=f_neu,
    )


def _roi_spikes(spk, nid: np.ndarray, n_neurons: int, population: str):
    """The spikes seen by each ROI (ROI ``r`` is neuron ``nid[r]``; duplicates allowed)."""
    if isinstance(spk, SpikeTrains):
        if spk.n_neurons != n_neurons:
            raise ValueError(
                f"SpikeTrains of population {population!r} has n_neurons={spk.n_neurons}, expected {n_neurons}."
            )
        ev_n = np.asarray(spk.neurons, dtype=np.int64)
        ev_s = np.asarray(spk.steps, dtype=np.int64)
        order = np.argsort(nid, kind="stable")
        counts = np.bincount(nid, minlength=n_neurons)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        reps = counts[ev_n]
        ev_idx = np.repeat(np.arange(ev_n.size), reps)
        offs = np.arange(ev_idx.size) - np.repeat(np.cumsum(reps) - reps, reps)
        rois = order[starts[ev_n[ev_idx]] + offs]
        return SpikeTrains(steps=ev_s[ev_idx], neurons=rois, n_steps=spk.n_steps, n_neurons=max(1, nid.size))
    if len(_shape(spk)) != 2 or _shape(spk)[1] != n_neurons:
        raise ValueError(
            f"spikes of population {population!r} must be (time, {n_neurons}) counts or SpikeTrains, "
            f"got shape {_shape(spk)}."
        )
    arr = np.asarray(spk) if is_concrete(spk) else spk
    if is_concrete(arr) and arr.dtype == bool:
        arr = arr.astype(np.float32)
    return jnp.take(jnp.asarray(arr), jnp.asarray(nid), axis=1)
