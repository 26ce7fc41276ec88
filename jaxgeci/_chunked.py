"""Long simulations in time chunks, with a progress bar that can be turned off.

:func:`jaxgeci.simulate` is one jitted scan: it cannot report progress while it runs, and it
keeps every read-out on the device until the end. :func:`simulate_chunked` runs the same
simulation as consecutive :func:`simulate` calls over windows of ``chunk_steps`` steps, each
starting from the previous window's final state (``state0=``), shows a ``tqdm`` bar over the
windows, and moves each window's traces to host memory. The result equals ``simulate``'s.
"""

from __future__ import annotations

import logging
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._sensor import Sensor
from ._simulate import read_schedule, simulate, SimulationResult
from ._spikes import SpikeTrains
from ._validation import check_dt, check_int


logger = logging.getLogger(__name__)

__all__ = ["simulate_chunked"]


def _window(spikes, s0: int, s1: int):
    if isinstance(spikes, SpikeTrains):
        steps = np.asarray(spikes.steps)
        sel = (steps >= s0) & (steps < s1)
        return SpikeTrains(
            steps=steps[sel] - s0, neurons=np.asarray(spikes.neurons)[sel], n_steps=s1 - s0, n_neurons=spikes.n_neurons
        )
    if spikes is None:
        return None
    return spikes[s0:s1]


def simulate_chunked(
    sensor: Sensor,
    spikes,
    dt: float,
    *,
    chunk_s: float = 10.0,
    chunk_steps: int | None = None,
    progress: bool = True,
    to_host: bool = True,
    rho_rel=1.0,
    ca_pre=None,
    sample_every: int | None = None,
    sample_period: float | None = None,
    sample_rate: float | None = None,
    method: str = "cleo",
    state0=None,
    record: tuple[str, ...] | None = None,
    **kwargs,
) -> SimulationResult:
    """:func:`jaxgeci.simulate` over consecutive time windows, with a progress bar.

    Args:
        sensor, spikes, dt, rho_rel, ca_pre, method, state0, record: as
            :func:`jaxgeci.simulate` (``spikes``: dense ``(time, neurons)`` counts or
            :class:`jaxgeci.SpikeTrains`; ``dt`` in s).
        chunk_s: window length (s), rounded to a whole number of read-out periods; ignored
            when ``chunk_steps`` is given.
        chunk_steps: window length in steps (rounded up to a multiple of the read-out period).
        progress: show a ``tqdm`` bar over the windows (``False`` turns it off).
        to_host: move each window's traces to host memory (NumPy arrays), so that device
            memory holds one window at a time.
        sample_every, sample_period, sample_rate: regular read-out instants, see
            :func:`jaxgeci.read_schedule` (irregular ``sample_times`` need
            :func:`jaxgeci.simulate`).
        **kwargs: passed on to :func:`jaxgeci.simulate` (e.g. ``checkpoint``, ``unroll``).

    Returns:
        A :class:`jaxgeci.SimulationResult` equal to ``simulate``'s for the same arguments
        (the same steps in the same order; only the jitted program is split).
    """
    from tqdm.auto import tqdm

    if "sample_times" in kwargs:
        raise ValueError("simulate_chunked reads at regular instants; use jaxgeci.simulate for sample_times.")
    dt = check_dt(dt)
    if isinstance(spikes, SpikeTrains):
        T, N = spikes.n_steps, spikes.n_neurons
    elif spikes is not None:
        if jnp.ndim(spikes) != 2:
            raise ValueError(f"spikes must be (time, neurons) counts or SpikeTrains, got shape {jnp.shape(spikes)}.")
        T, N = jnp.shape(spikes)
    elif ca_pre is not None and jnp.ndim(ca_pre) == 2:
        T, N = jnp.shape(ca_pre)
    else:
        raise ValueError("give spikes (time, neurons) or SpikeTrains, or ca_pre (time, neurons) with spikes=None.")
    reads, rate = read_schedule(T, dt, sample_every=sample_every, sample_period=sample_period, sample_rate=sample_rate)
    every = int(reads[1] - reads[0]) if reads.size > 1 else max(1, T)
    if chunk_steps is None:
        if not (isinstance(chunk_s, (int, float)) and math.isfinite(chunk_s) and chunk_s > 0):
            raise ValueError(f"chunk_s must be a finite number > 0 (s), got {chunk_s!r}.")
        chunk_steps = max(1, int(round(chunk_s / dt)))
    chunk_steps = check_int("chunk_steps", chunk_steps, minimum=1)
    chunk_steps = every * max(1, math.ceil(chunk_steps / every))
    bounds = list(range(0, T, chunk_steps)) + [T]
    n_chunks = len(bounds) - 1
    logger.info("simulate_chunked: %d steps in %d window(s) of %d steps", T, n_chunks, chunk_steps)

    state = sensor.init(N) if state0 is None else state0
    parts, final = [], None
    with tqdm(total=T, disable=not progress, desc="simulate", unit="step", unit_scale=True, leave=False) as bar:
        for s0, s1 in zip(bounds[:-1], bounds[1:]):
            ca = None if ca_pre is None else ca_pre[s0:s1]
            res = simulate(
                sensor,
                _window(spikes, s0, s1),
                dt,
                rho_rel=rho_rel,
                ca_pre=ca,
                sample_every=every,
                method=method,
                state0=state,
                record=record,
                **kwargs,
            )
            state = res.final_state
            traces = res.traces
            if to_host:
                traces = {k: np.asarray(v) for k, v in traces.items()}
            parts.append((np.asarray(res.steps) + s0, traces))
            final = res.final_state
            bar.update(s1 - s0)
    steps = np.concatenate([p[0] for p in parts])
    cat = np.concatenate if to_host else jnp.concatenate
    traces = {k: cat([p[1][k] for p in parts], axis=0) for k in parts[0][1]}
    dtype = jax.dtypes.canonicalize_dtype(float)
    return SimulationResult(
        t=(steps * dt).astype(dtype) if to_host else jnp.asarray(steps) * dt,
        steps=steps if to_host else jnp.asarray(steps),
        dFF=traces["dFF"],
        traces=traces,
        final_state=final,
        dt=dt,
        sample_rate_hz=rate,
    )
