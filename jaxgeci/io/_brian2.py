"""Brian2 interop: spikes from a ``SpikeMonitor``, coordinates from a ``NeuronGroup``.

Brian2 is imported lazily (only to read units), so this module imports without it; install
it with ``pip install 'jaxgeci[brian2]'``.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .._spikes import SpikeTrains
from .._validation import check_dt, check_int
from ._units import has_units, to_si


logger = logging.getLogger(__name__)

__all__ = ["coords_from_brian2", "spikes_from_brian2"]


def _values(obj, name):
    """``obj.name[:]`` for a Brian2 group/monitor (a Quantity or array), or ``obj[name]``."""
    if isinstance(obj, dict):
        if name not in obj:
            raise ValueError(f"the mapping has no key {name!r} (has {sorted(obj)}).")
        return obj[name]
    try:
        view = getattr(obj, name)
    except AttributeError:
        raise ValueError(f"{type(obj).__name__} has no variable {name!r}.") from None
    try:
        return view[:]
    except TypeError:
        return view


def spikes_from_brian2(
    monitor,
    dt: float,
    *,
    n_steps: int | None = None,
    n_neurons: int | None = None,
    t_start: float = 0.0,
) -> SpikeTrains:
    """Spikes recorded by a Brian2 ``SpikeMonitor`` as :class:`jaxgeci.SpikeTrains`.

    A spike at Brian2 time ``t`` goes to step ``floor((t - t_start)/dt + 1e-9)`` of the
    jaxgeci grid ``t_k = t_start + k dt`` (:meth:`SpikeTrains.from_times`). With the Brian2
    network's own ``dt`` this is the step Brian2 emitted it in, and, as in Cleo, the spike
    first shows in the sensor at index ``k + 1``.

    Args:
        monitor: a ``brian2.SpikeMonitor`` (or any object with spike times ``.t`` and neuron
            indices ``.i``; times as a Brian2 quantity or plain seconds).
        dt: jaxgeci time step (s); may differ from Brian2's.
        n_steps: number of steps (default: the monitor clock's current time, i.e. the
            duration run so far, divided by ``dt``; else just past the last spike).
        n_neurons: number of neurons (default ``len(monitor.source)``; else ``max(i) + 1``).
        t_start: time of step 0 (s, or a Brian2 quantity); earlier spikes are dropped with a
            logged warning.

    Returns:
        :class:`jaxgeci.SpikeTrains` with ``n_steps`` steps and ``n_neurons`` neurons.

    Raises:
        ValueError: a spike falls after ``n_steps * dt`` or a neuron index is out of range.
    """
    dt = check_dt(dt)
    times = to_si(_values(monitor, "t"), "time", "monitor.t").reshape(-1)
    idx = np.asarray(_values(monitor, "i")).reshape(-1).astype(np.int64)
    if times.shape != idx.shape:
        raise ValueError(f"monitor.t and monitor.i must have the same length, got {times.shape} and {idx.shape}.")
    t0 = float(to_si(t_start, "time", "t_start"))
    early = times < t0 - 1e-12
    if np.any(early):
        logger.warning("spikes_from_brian2: dropping %d spike(s) before t_start=%g s.", int(early.sum()), t0)
        times, idx = times[~early], idx[~early]
    times = np.maximum(times - t0, 0.0)
    if n_neurons is None:
        source = getattr(monitor, "source", None)
        n_neurons = len(source) if source is not None else (int(idx.max()) + 1 if idx.size else 1)
    n_neurons = check_int("n_neurons", n_neurons, minimum=1)
    if n_steps is None:
        clock = getattr(monitor, "clock", None)
        t_end = None
        if clock is not None and getattr(clock, "t", None) is not None:
            t_end = float(to_si(clock.t, "time", "monitor.clock.t")) - t0
        if t_end is not None and t_end > 0:
            n_steps = max(1, int(round(t_end / dt)))
        else:
            n_steps = int(math.floor(times.max() / dt + 1e-9)) + 1 if times.size else 1
    n_steps = check_int("n_steps", n_steps, minimum=1)
    return SpikeTrains.from_times(times, idx, dt, n_steps, n_neurons)


def coords_from_brian2(group, *, names=("x", "y", "z"), unit: float | None = None) -> np.ndarray:
    """Neuron coordinates of a Brian2 ``NeuronGroup`` as a ``(neurons, 3)`` float64 array (m).

    Cleo's ``cleo.coords.assign_coords*`` add variables ``x, y, z`` with unit metre; any
    length unit is converted. Unitless variables need ``unit`` (metres per unit, e.g.
    ``1e-6`` for micrometres).

    Args:
        group: a ``brian2.NeuronGroup`` (or subgroup), or a dict of arrays.
        names: the three coordinate variables.
        unit: metres per unit for unitless variables (ignored for quantities with units).

    Raises:
        ValueError: a variable is missing.
        TypeError: a variable has a non-length unit, or is unitless without ``unit``.
    """
    if len(names) != 3:
        raise ValueError(f"names must list 3 variables (x, y, z), got {names!r}.")
    cols = []
    for name in names:
        try:
            raw = _values(group, name)
        except ValueError as err:
            raise ValueError(
                f"{err} Give the group coordinates with unit metre, e.g. with "
                "cleo.coords.assign_coords_rand_rect_prism, or pass names=."
            ) from None
        if has_units(raw):
            cols.append(to_si(raw, "length", f"{name}"))
        elif unit is None:
            raise TypeError(
                f"coordinate {name!r} has no unit: pass unit= (metres per unit, e.g. 1e-6 for um) "
                "or give the variable a Brian2 length unit."
            )
        else:
            cols.append(np.asarray(raw, dtype=float) * float(unit))
    out = np.stack([c.reshape(-1) for c in cols], axis=1)
    if not np.all(np.isfinite(out)):
        raise ValueError("coordinates must be finite (got NaN/inf).")
    return out
