"""Multi-device runs: split the neuron axis (and parameter batches) over a device mesh with
JAX's own sharding (``jax.sharding.Mesh`` + ``NamedSharding``).

Neurons are independent, so the scan body is purely elementwise over neurons: once the
per-neuron inputs (initial state, expression ``rho_rel``, per-neuron constants, dense spikes,
``ca_pre``) live on a ``NamedSharding`` that splits the neuron axis, XLA's SPMD partitioner runs
every step on each device's block with no communication, and the outputs come back sharded
the same way. The same code runs on 1 CPU, 8 GPUs, or many hosts after
``jax.distributed.initialize()``: only the mesh changes. See ``docs/scaling.md``.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from ._sensor import Sensor
from ._simulate import simulate, SimulationResult
from ._spikes import SpikeTrains
from ._validation import check_int, is_concrete


NEURONS = "neurons"
BATCH = "batch"


def neuron_mesh(devices=None, *, batch: int = 1) -> Mesh:
    """A 2-D device mesh with axes ``("batch", "neurons")``.

    Args:
        devices: the devices to use (default ``jax.devices()``: every device of every process
            after ``jax.distributed.initialize()``).
        batch: how many devices split the parameter-batch axis; the rest split neurons.
            ``len(devices)`` must be a multiple of ``batch``.

    Returns:
        ``Mesh`` of shape ``(batch, len(devices) // batch)``.
    """
    if devices is not None and not isinstance(devices, (list, tuple, np.ndarray)):
        raise TypeError(
            f"devices must be a sequence of jax devices (e.g. jax.devices()[:4]), got {devices!r}; "
            "the number of devices is len(devices)."
        )
    devices = list(jax.devices() if devices is None else devices)
    batch = check_int("batch", batch, minimum=1)
    if len(devices) % batch:
        raise ValueError(f"batch={batch} must divide the number of devices ({len(devices)}).")
    return Mesh(np.asarray(devices, dtype=object).reshape(batch, len(devices) // batch), (BATCH, NEURONS))


def _check_mesh(mesh):
    if mesh is None:
        return neuron_mesh()
    if not isinstance(mesh, Mesh) or NEURONS not in mesh.axis_names:
        raise TypeError(f"mesh must be a jax.sharding.Mesh with a {NEURONS!r} axis (see neuron_mesh), got {mesh!r}.")
    return mesh


def _put(x, sharding):
    """Place a host/device array on ``sharding`` in a multi-process-safe way (each process
    supplies only its addressable shards)."""
    if isinstance(x, jax.Array) and not is_concrete(x):
        return jax.lax.with_sharding_constraint(x, sharding)
    arr = np.asarray(x)
    return jax.make_array_from_callback(arr.shape, sharding, lambda idx: arr[idx])


def shard_neurons(x, mesh: Mesh | None = None, *, axis: int = -1):
    """Put ``x`` on ``mesh`` with its neuron ``axis`` split over the mesh's ``"neurons"`` axis
    (other axes replicated). The neuron count must be a multiple of the number of devices on
    that axis (:func:`simulate_sharded` pads for you)."""
    mesh = _check_mesh(mesh)
    x = jnp.asarray(x) if not isinstance(x, (np.ndarray, jax.Array)) else x
    ndim = np.ndim(x)
    axis = axis % ndim
    spec = [None] * ndim
    spec[axis] = NEURONS
    d = mesh.shape[NEURONS]
    if np.shape(x)[axis] % d:
        raise ValueError(
            f"neuron axis of length {np.shape(x)[axis]} is not a multiple of the {d} devices on 'neurons'."
        )
    return _put(x, NamedSharding(mesh, P(*spec)))


def _pad_last(x, n_pad, mode="edge"):
    if n_pad == 0:
        return x
    widths = [(0, 0)] * (np.ndim(x) - 1) + [(0, n_pad)]
    if isinstance(x, jax.Array) and not is_concrete(x):
        return jnp.pad(x, widths, mode=mode)
    return np.pad(np.asarray(x), widths, mode=mode)


def shard_sensor(sensor: Sensor, mesh: Mesh | None = None, *, n_neurons: int | None = None, batched: bool = False):
    """Place a sensor's array constants on ``mesh``: per-neuron constants (last axis of length
    ``n_neurons``) split over ``"neurons"``, a leading parameter-batch axis (``batched=True``,
    a stack built for ``eqx.filter_vmap``) split over ``"batch"``, everything else replicated."""
    mesh = _check_mesh(mesh)

    def place(leaf):
        if not eqx.is_array(leaf):
            return leaf
        spec = [None] * leaf.ndim
        if batched and leaf.ndim >= 1:
            if leaf.shape[0] % mesh.shape[BATCH]:
                raise ValueError(
                    f"parameter batch of {leaf.shape[0]} is not a multiple of the "
                    f"{mesh.shape[BATCH]} devices on 'batch'."
                )
            spec[0] = BATCH
        if n_neurons is not None and leaf.ndim >= 1 + batched and leaf.shape[-1] == n_neurons:
            spec[-1] = NEURONS
        return _put(leaf, NamedSharding(mesh, P(*spec)))

    return jax.tree_util.tree_map(place, sensor)


def simulate_sharded(sensor: Sensor, spikes, dt: float, *, mesh: Mesh | None = None, **kwargs) -> SimulationResult:
    """:func:`jaxgeci.simulate` with the neuron axis split over the ``"neurons"`` axis of
    ``mesh`` (default: every device, see :func:`neuron_mesh`). Same arguments, same result
    (traces ``(n_read, neurons)``, sharded over neurons; ``final_state`` too).

    The neuron count is padded to a multiple of the device count with silent neurons that
    copy the last neuron's constants, and the padding is removed from the result.

    Args:
        sensor, spikes, dt, **kwargs: as :func:`jaxgeci.simulate` (``rho_rel``, ``ca_pre``,
            ``sample_every``/..., ``method``, ``state0``, ``record``, ``checkpoint``, ...).
        mesh: a ``jax.sharding.Mesh`` with a ``"neurons"`` axis.
    """
    mesh = _check_mesh(mesh)
    if not isinstance(sensor, Sensor):
        raise TypeError(f"sensor must be a jaxgeci Sensor, got {type(sensor).__name__}.")
    if isinstance(spikes, SpikeTrains):
        n = spikes.n_neurons
    elif spikes is not None:
        if np.ndim(spikes) != 2:
            raise ValueError(f"spikes must be a (time, neurons) array of counts, got shape {np.shape(spikes)}.")
        n = np.shape(spikes)[1]
    elif kwargs.get("ca_pre") is not None and np.ndim(kwargs["ca_pre"]) == 2:
        n = np.shape(kwargs["ca_pre"])[1]
    else:
        raise ValueError("simulate_sharded needs spikes (time, neurons), SpikeTrains, or ca_pre (time, neurons).")
    d = mesh.shape[NEURONS]
    n_pad = math.ceil(n / d) * d - n

    # pad every per-neuron input to a multiple of d
    if isinstance(spikes, SpikeTrains):
        if n_pad:
            spikes = SpikeTrains(
                steps=spikes.steps, neurons=spikes.neurons, n_steps=spikes.n_steps, n_neurons=n + n_pad
            )
    elif spikes is not None:
        spikes = shard_neurons(_pad_last(spikes, n_pad, mode="constant"), mesh)
    if kwargs.get("ca_pre") is not None:
        kwargs["ca_pre"] = shard_neurons(_pad_last(kwargs["ca_pre"], n_pad), mesh)
    rho = kwargs.get("rho_rel", 1.0)
    if np.ndim(rho) == 1:
        if np.shape(rho)[0] != n:
            raise ValueError(f"rho_rel must be a scalar or ({n},) (one per neuron), got shape {np.shape(rho)}.")
        kwargs["rho_rel"] = shard_neurons(_pad_last(rho, n_pad), mesh)

    def pad_leaf(leaf):
        if eqx.is_array(leaf) and leaf.ndim == 1 and leaf.shape[0] == n:
            return _pad_last(leaf, n_pad)
        return leaf

    sensor = shard_sensor(jax.tree_util.tree_map(pad_leaf, sensor), mesh, n_neurons=n + n_pad)
    state0 = kwargs.pop("state0", None)
    if state0 is None:
        state0 = sensor.init(n + n_pad)
    else:
        state0 = jax.tree_util.tree_map(lambda x: _pad_last(x, n_pad) if np.ndim(x) >= 1 else x, state0)
    state0 = jax.tree_util.tree_map(lambda x: shard_neurons(x, mesh) if np.ndim(x) >= 1 else x, state0)

    res = simulate(sensor, spikes, dt, state0=state0, **kwargs)
    if not n_pad:
        return res

    def cut(x):
        return x[..., :n] if eqx.is_array(x) and x.ndim >= 1 and x.shape[-1] == n + n_pad else x

    traces = {k: cut(v) for k, v in res.traces.items()}
    return SimulationResult(
        t=res.t,
        steps=res.steps,
        dFF=traces["dFF"],
        traces=traces,
        final_state=jax.tree_util.tree_map(cut, res.final_state),
        dt=res.dt,
        sample_rate_hz=res.sample_rate_hz,
    )
