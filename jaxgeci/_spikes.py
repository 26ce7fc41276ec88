"""Spike inputs: dense ``(time, neurons)`` counts or :class:`SpikeTrains` event lists.

Time grid: ``t_k = k dt``; a spike in step ``k`` is first visible in the state at index
``k + 1`` (DESIGN §4).
"""

from __future__ import annotations

import equinox as eqx
import numpy as np
from jaxtyping import Array, Int

from ._validation import check_dt, check_int, real_array


INT32_MAX = 2**31 - 1
"""Largest step or neuron index an event list holds (indices are int32 on device, where JAX's
default integer is 32-bit; a larger one would wrap to a negative index)."""


def _check_index_range(name: str, value) -> int:
    try:
        return check_int(name, value, minimum=1, maximum=INT32_MAX)
    except ValueError:
        if check_int(name, value, minimum=1) > INT32_MAX:
            raise ValueError(
                f"{name}={value!r} exceeds {INT32_MAX} (2**31 - 1): event indices are stored as int32 and "
                "would wrap; split the run (jaxgeci.simulate_chunked) or use a coarser dt."
            ) from None
        raise


class SpikeTrains(eqx.Module):
    """Spikes as event lists (never densified in full by :func:`jaxgeci.simulate`).

    Event ``e`` is a spike of neuron ``neurons[e]`` in step ``steps[e]``. Repeated
    ``(step, neuron)`` pairs add up (``c`` spikes in one step add ``c`` increments).

    Attributes:
        steps: step index of each event, ``(events,)`` ints in ``[0, n_steps)``.
        neurons: neuron index of each event, ``(events,)`` ints in ``[0, n_neurons)``.
        n_steps: number of simulation steps.
        n_neurons: number of neurons.
    """

    steps: Int[Array, " events"]
    neurons: Int[Array, " events"]
    n_steps: int = eqx.field(static=True)
    n_neurons: int = eqx.field(static=True)

    def __init__(self, *, steps, neurons, n_steps: int, n_neurons: int):
        n_steps = _check_index_range("n_steps", n_steps)
        n_neurons = _check_index_range("n_neurons", n_neurons)
        steps = np.asarray(real_array("SpikeTrains.steps", steps, expected="a 1-D (events,) array of step indices"))
        neurons = np.asarray(
            real_array("SpikeTrains.neurons", neurons, expected="a 1-D (events,) array of neuron indices")
        )
        for name, arr, hi in (("steps", steps, n_steps), ("neurons", neurons, n_neurons)):
            if arr.ndim != 1:
                raise ValueError(f"SpikeTrains.{name} must be 1-D (events,), got shape {arr.shape}.")
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                    raise TypeError(f"SpikeTrains.{name} must hold integers, got dtype {arr.dtype}.")
            if arr.size and (arr.min() < 0 or arr.max() >= hi):
                bad = arr[(arr < 0) | (arr >= hi)][0]
                raise ValueError(
                    f"SpikeTrains.{name} must lie in [0, {hi}), got {bad!r} "
                    f"({'outside the time grid' if name == 'steps' else 'no such neuron'})."
                )
        if steps.shape != neurons.shape:
            raise ValueError(
                f"SpikeTrains.steps and .neurons must have the same length, got {steps.shape} and {neurons.shape}."
            )
        self.steps = steps.astype(np.int32)
        self.neurons = neurons.astype(np.int32)
        self.n_steps = n_steps
        self.n_neurons = n_neurons

    @classmethod
    def from_times(cls, times_s, neurons, dt: float, n_steps: int, n_neurons: int) -> SpikeTrains:
        """Spike times (s) -> events on the grid ``t_k = k dt``.

        A spike at time ``t`` goes to step ``floor(t/dt + 1e-9)`` (the small offset absorbs
        rounding of times that are meant to be exact multiples of ``dt``).

        Raises:
            ValueError: a time is NaN or outside ``[0, n_steps*dt)``.
        """
        dt = check_dt(dt)
        times = real_array("times_s", times_s, expected="a 1-D (events,) array of spike times in s", dtype=float)
        neurons = np.broadcast_to(np.asarray(neurons), times.shape)
        if times.ndim != 1:
            raise ValueError(f"times_s must be 1-D (events,), got shape {times.shape}.")
        if not np.all(np.isfinite(times)):
            raise ValueError("times_s must be finite (s), got NaN/inf.")
        n_steps = _check_index_range("n_steps", n_steps)
        steps = np.floor(times / dt + 1e-9).astype(np.int64)
        bad = (steps < 0) | (steps >= n_steps)
        if np.any(bad):
            t = times[bad][0]
            raise ValueError(
                f"spike time {t!r} s is outside the time grid [0, {n_steps * dt!r}) s (n_steps={n_steps}, dt={dt})."
            )
        return cls(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=n_neurons)

    @classmethod
    def from_dense(cls, spikes) -> SpikeTrains:
        """Events from dense ``(time, neurons)`` non-negative integer counts."""
        arr = np.asarray(
            real_array("spikes", spikes, expected="a (time, neurons) array of spike counts", allow_bool=True)
        )
        if arr.ndim != 2:
            raise ValueError(f"spikes must be (time, neurons), got shape {arr.shape}.")
        counts = arr.astype(np.int64)
        if np.any(counts != arr) or np.any(counts < 0):
            raise ValueError("spikes must be non-negative integer counts to convert to SpikeTrains.")
        k, n = np.nonzero(counts)
        c = counts[k, n]
        return cls(steps=np.repeat(k, c), neurons=np.repeat(n, c), n_steps=arr.shape[0], n_neurons=arr.shape[1])

    @property
    def n_events(self) -> int:
        return int(self.steps.shape[0])

    def to_dense(self, dtype=np.float32) -> np.ndarray:
        """Dense ``(n_steps, n_neurons)`` counts (host memory; for small cases and plots)."""
        out = np.zeros((self.n_steps, self.n_neurons), dtype=dtype)
        np.add.at(out, (np.asarray(self.steps), np.asarray(self.neurons)), 1)
        return out

    def times(self, dt: float) -> np.ndarray:
        """Event times ``steps * dt`` (s)."""
        return np.asarray(self.steps) * float(dt)
