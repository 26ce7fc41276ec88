"""``simulate``: one jitted ``lax.scan`` over time that calls the sensor's own
``advance``/``observe`` (the same physics as closed-loop stepping and the Scope).

Structure: the read-out instants ``r_0 < r_1 < ...`` split the time grid into chunks; an
outer scan runs over chunks and an inner scan advances the state step by step inside a chunk,
then the state is read once. ΔF/F is therefore only computed at read steps, and
``jax.checkpoint`` on the chunk body keeps reverse-mode memory at O(reads x neurons).
"""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._sensor import Sensor
from ._spikes import SpikeTrains
from ._validation import check_dt, check_int, is_concrete


class SimulationResult(eqx.Module):
    """Output of :func:`simulate`, time-major.

    Attributes:
        t: read-out times (s), ``(n_read,)``; ``t = steps * dt``.
        steps: read-out step indices, ``(n_read,)``: row ``m`` is the state at the start of
            step ``steps[m]`` (Cleo's StateMonitor convention).
        dFF: ΔF/F (dimensionless), ``(n_read, neurons)``.
        traces: every recorded trace by name (``dFF``; for a GECI ``Ca``, ``CaB_active`` (M)
            and, with double-exponential binding, ``b`` (M), ``beta`` (M/s)).
        final_state: the sensor state after all ``n_steps`` steps (continue from it with
            ``state0=``, or read it with ``sensor.readout``: Cleo's ``get_state()``).
        dt: time step (s).
        sample_rate_hz: the read-out rate actually used (Hz), or ``None`` for irregular reads.
    """

    t: Float[Array, " read"]
    steps: Int[Array, " read"]
    dFF: Float[Array, "read neurons"]
    traces: dict
    final_state: Any
    dt: float = eqx.field(static=True)
    sample_rate_hz: float | None = eqx.field(static=True, default=None)

    def _get(self, name):
        return self.traces.get(name)

    @property
    def Ca(self):
        """Free Ca2+ (M), ``(n_read, neurons)``, or None."""
        return self._get("Ca")

    @property
    def CaB_active(self):
        """Ca seen by the Hill read-out (M), ``(n_read, neurons)``, or None."""
        return self._get("CaB_active")

    @property
    def b(self):
        """Double-exponential state b (M), or None."""
        return self._get("b")

    @property
    def beta(self):
        """Double-exponential state beta (M/s), or None."""
        return self._get("beta")


def read_schedule(
    n_steps: int,
    dt: float,
    *,
    sample_every: int | None = None,
    sample_period: float | None = None,
    sample_rate: float | None = None,
    sample_times=None,
) -> tuple[np.ndarray, float | None]:
    """Step indices at which the state is read, and the rate actually used (Hz).

    Exactly one of the options may be given (none: every step):

    - ``sample_every=k``: steps ``0, k, 2k, ... < n_steps``.
    - ``sample_period`` (s) or ``sample_rate`` (Hz): rounded to the nearest whole number of
      steps ``k >= 1``; the rate used, ``1/(k dt)``, is returned (30 Hz at 0.1 ms reads every
      333 steps = 30.03 Hz). A period that rounds to 0 steps (shorter than ``dt/2``) is an
      error, not a silent read every step.
    - ``sample_times`` (s): each rounded to the nearest step, which must lie in
      ``[0, n_steps]`` (``n_steps`` reads the final state); non-decreasing.
    """
    given = [x is not None for x in (sample_every, sample_period, sample_rate, sample_times)]
    if sum(given) > 1:
        raise ValueError("Give at most one of sample_every, sample_period, sample_rate, sample_times.")
    if sample_times is not None:
        times = np.asarray(sample_times, dtype=float).reshape(-1)
        if times.size == 0 or not np.all(np.isfinite(times)):
            raise ValueError(f"sample_times must be a non-empty array of finite times (s), got {sample_times!r}.")
        steps = np.rint(times / dt).astype(np.int64)
        if steps.min() < 0 or steps.max() > n_steps:
            raise ValueError(
                f"sample_times must lie in [0, {n_steps * dt!r}] s (the time grid of n_steps={n_steps}, "
                f"dt={dt}), got values in [{times.min()!r}, {times.max()!r}] s."
            )
        if np.any(np.diff(steps) < 0):
            raise ValueError("sample_times must be non-decreasing.")
        return steps, None
    if sample_period is not None or sample_rate is not None:
        if sample_rate is not None:
            if not (isinstance(sample_rate, (int, float)) and math.isfinite(sample_rate) and sample_rate > 0):
                raise ValueError(f"sample_rate must be a finite number > 0 (Hz), got {sample_rate!r}.")
            sample_period = 1.0 / sample_rate
        if not (isinstance(sample_period, (int, float)) and math.isfinite(sample_period) and sample_period > 0):
            raise ValueError(f"sample_period must be a finite number > 0 (s), got {sample_period!r}.")
        sample_every = int(round(sample_period / dt))
        if sample_every < 1:
            asked = (
                f"sample_rate={sample_rate!r} Hz" if sample_rate is not None else f"sample_period={sample_period!r} s"
            )
            raise ValueError(
                f"{asked} is faster than the simulation step allows (one read per step of dt={dt!r} s "
                f"is {1.0 / dt:.6g} Hz at most); use a smaller dt or a lower read-out rate."
            )
    k = 1 if sample_every is None else check_int("sample_every", sample_every, minimum=1)
    return np.arange(0, n_steps, k, dtype=np.int64), 1.0 / (k * dt)


def _check_rho(rho_rel, n_neurons):
    if jnp.ndim(rho_rel) > 1 or (jnp.ndim(rho_rel) == 1 and jnp.shape(rho_rel)[0] != n_neurons):
        raise ValueError(
            f"rho_rel must be a scalar or ({n_neurons},) (one per neuron), got shape {jnp.shape(rho_rel)}."
        )
    if is_concrete(rho_rel):
        arr = np.asarray(rho_rel, dtype=float)
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            shown = arr if arr.size < 7 else "an array with bad values"
            raise ValueError(f"rho_rel must be finite and >= 0 (dimensionless), got {shown}.")


def _check_leaf_shapes(sensor, n_neurons):
    for path, leaf in jax.tree_util.tree_leaves_with_path(sensor):
        if eqx.is_array(leaf) and leaf.ndim == 1 and leaf.shape[0] != n_neurons:
            raise ValueError(
                f"sensor constant {jax.tree_util.keystr(path)} has shape {leaf.shape}; per-neuron "
                f"constants must have shape ({n_neurons},) to match the spikes."
            )


def _valid_counts(arr) -> bool:
    return bool(np.all(np.isfinite(arr)) and arr.min() >= 0)


def _dense_spikes(spikes):
    if isinstance(spikes, jax.Array) and is_concrete(spikes):
        # device array (possibly sharded over devices/hosts): validate on device, keep its placement
        if spikes.ndim != 2:
            raise ValueError(f"spikes must be a (time, neurons) array of counts, got shape {spikes.shape}.")
        if spikes.dtype == bool:
            spikes = spikes.astype(jnp.float32)
        if not jnp.issubdtype(spikes.dtype, jnp.number):
            raise TypeError(f"spikes must be numeric counts, got dtype {spikes.dtype}.")
        if spikes.size and spikes.is_fully_addressable and not _valid_counts(np.asarray(spikes)):
            raise ValueError("spikes must be finite, non-negative counts (got NaN/inf or negative values).")
        return spikes
    if is_concrete(spikes):
        arr = np.asarray(spikes)
        if arr.ndim != 2:
            raise ValueError(f"spikes must be a (time, neurons) array of counts, got shape {arr.shape}.")
        if arr.dtype == bool:
            arr = arr.astype(np.float32)
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"spikes must be numeric counts, got dtype {arr.dtype}.")
        if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0):
            raise ValueError("spikes must be finite, non-negative counts (got NaN/inf or negative values).")
        return jnp.asarray(arr)
    if jnp.ndim(spikes) != 2:
        raise ValueError(f"spikes must be a (time, neurons) array of counts, got shape {jnp.shape(spikes)}.")
    return spikes


def _bucket(width: int) -> int:
    """Pad an event-table width to the next power of two (>= 8), so new spikes of a similar
    rate reuse the compiled scan instead of recompiling for every new maximum."""
    return max(8, 1 << (max(1, width) - 1).bit_length())


def _chunk_events(spk: SpikeTrains, bounds: np.ndarray):
    steps = np.asarray(spk.steps, dtype=np.int64)
    neurons = np.asarray(spk.neurons, dtype=np.int64)
    n_chunks = bounds.size - 1
    chunk = np.searchsorted(bounds[1:], steps, side="right")
    order = np.argsort(chunk, kind="stable")
    chunk, steps, neurons = chunk[order], steps[order], neurons[order]
    counts = np.bincount(chunk, minlength=n_chunks)
    width = _bucket(int(counts.max()) if counts.size else 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(steps.size) - starts[chunk]
    local = np.zeros((n_chunks, width), dtype=np.int32)
    who = np.full((n_chunks, width), spk.n_neurons, dtype=np.int32)  # pad -> dropped
    local[chunk, slot] = steps - bounds[chunk]
    who[chunk, slot] = neurons
    return local, who


def _remat_step(step_body):
    """Checkpoint one step inside the (already checkpointed) read-out chunk: the reverse pass
    then keeps only the carried state per step (not every intermediate of ``advance``) and
    recomputes the step while transposing it. Measured on the 2-core CPU (GCaMP6f, dt = 0.1 ms,
    1 s, reads every 333 steps): value_and_grad 213 -> 144 ms at N = 1e3 and 2.44 -> 1.31 s at
    N = 1e4 (benchmarks/gradients.py). A no-op without differentiation."""
    return jax.checkpoint(step_body, prevent_cse=False)


@eqx.filter_jit
def _run(sensor, state0, inputs, rho_rel, *, dt, method, n_neurons, width, record, checkpoint, unroll):
    kind = inputs["kind"]

    def chunk_body(state, xs):
        if kind == "dense":
            spikes_c = xs["spikes"]
        elif kind == "events":
            dtype = jnp.result_type(float)
            spikes_c = jnp.zeros((width, n_neurons), dtype).at[xs["local"], xs["who"]].add(1.0, mode="drop")
        else:
            spikes_c = jnp.zeros((width, n_neurons), jnp.result_type(float))
        ca_c = xs.get("ca")

        def step_body(st, ys):
            s, valid, ca = ys
            new = sensor.advance(st, s, dt, ca, method=method)
            st = jax.tree_util.tree_map(lambda a, b: jnp.where(valid, a, b), new, st)
            return st, None

        if checkpoint:
            step_body = _remat_step(step_body)

        state, _ = jax.lax.scan(step_body, state, (spikes_c, xs["valid"], ca_c), unroll=unroll)
        obs = sensor.observe(state, rho_rel, xs.get("ca_read"))
        return state, {k: obs[k] for k in record}

    body = jax.checkpoint(chunk_body, prevent_cse=False) if checkpoint else chunk_body
    xs = {k: v for k, v in inputs.items() if k != "kind"}
    if kind == "dense":
        xs["spikes"] = inputs["spikes"][inputs["idx"]] * xs["valid"][..., None]
    if "ca_pre" in xs:
        ca_pre = xs.pop("ca_pre")
        xs["ca"] = ca_pre[xs["idx"]]
        xs["ca_read"] = ca_pre[xs.pop("read_idx")]
    xs.pop("idx", None)
    final, obs = jax.lax.scan(body, state0, xs)
    return final, {k: v[:-1] for k, v in obs.items()}


# Event spikes on the regular path: a read period's dense (k, neurons) block is built at once
# when it has <= 2**20 entries (4 MiB; measured faster up to ~3000 neurons at 333 steps); beyond that each step
# scatters its own few events into a (neurons,) vector (measured on CPU: see benchmarks/).
_CHUNK_DENSE_MAX = 2**20
# Measured on the 2-core CPU (GCaMP6f and S2F jGCaMP8m, 5 Hz, k = 33 and 333 steps per read,
# interleaved runs; benchmarks/README.md): unrolling the scan by 2 pays with the per-step event
# table (Euler GECI 0.8-1.6 ns per neuron-step, the fastest layout from 2048 neurons on; S2F
# 0.74-0.76 vs 1.0-1.3), but unrolling the per-period dense blocks (or dense input) was 1.3-3x
# slower than not, except for the accurate GECI step from ~2e4 neurons on (3.1-3.7 vs 4.1-5.1).
_UNROLL2_MIN_NEURONS = 2048  # Euler: per-step event table (unrolled by 2) from here on
_UNROLL2_MIN_NEURONS_ACCURATE = 20_000  # any layout unrolled by 2 from here on
_PER_STEP_EVENTS = None  # None: choose by size; True/False force a layout (benchmarks)


def _step_events(spk: SpikeTrains, n_steps: int):
    """Per-step padded neuron lists ``(n_steps, width)`` (pad = ``n_neurons``, dropped), or
    ``None`` when spikes bunch so much that the padded table would dwarf the event list."""
    steps = np.asarray(spk.steps, dtype=np.int64)
    neurons = np.asarray(spk.neurons, dtype=np.int64)
    counts = np.bincount(steps, minlength=n_steps)
    width = _bucket(int(counts.max()) if counts.size else 1)
    # Padding to a power of two can reach ~6x the mean rate's events (e.g. 1e4 neurons at 5 Hz,
    # dt = 0.1 ms: mean 5, max ~17 events per step -> width 32); the per-period dense blocks of
    # the fallback were measured 2.8x slower there (0.85 vs 0.30 s for 2 s imaged). Fall back
    # only when spikes bunch far more than that (synchronous bursts).
    if n_steps * width > 16 * steps.size + 64 * n_steps:
        return None
    order = np.argsort(steps, kind="stable")
    steps, neurons = steps[order], neurons[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(steps.size) - starts[steps]
    who = np.full((n_steps, width), spk.n_neurons, dtype=np.int32)
    who[steps, slot] = neurons
    return who


@eqx.filter_jit
def _run_regular(
    sensor, state0, inputs, rho_rel, *, dt, method, n_neurons, k, n_full, tail, record, checkpoint, unroll
):
    """Reads every ``k`` steps from step 0: no per-step masks, no gathers. ``n_full`` chunks of
    exactly ``k`` steps each end in a read; ``tail`` (1..k) steps end the run unread."""
    kind = inputs["kind"]
    dtype = jnp.result_type(float)
    split = n_full * k

    def cut(x):  # (T, ...) -> (n_full, k, ...), (tail, ...)
        return x[:split].reshape((n_full, k) + x.shape[1:]), x[split:]

    main, rest = {}, {}
    if kind == "dense":
        main["spikes"], rest["spikes"] = cut(inputs["spikes"])
    elif kind == "steps":
        main["who"], rest["who"] = cut(inputs["who"])
    elif kind == "events":  # per read period: (n_full + 1, width) local steps and neurons
        main["local"], main["cwho"] = inputs["local"][:n_full], inputs["who"][:n_full]
    if "ca_pre" in inputs:
        ca = inputs["ca_pre"]
        main["ca"], rest["ca"] = cut(ca)
        main["ca_read"] = ca[k : split + 1 : k]

    def spikes_of(ys):
        if "spikes" in ys:
            return ys["spikes"]
        if kind == "steps":
            return jnp.zeros((n_neurons,), dtype).at[ys["who"]].add(1.0, mode="drop")
        return jnp.zeros((n_neurons,), dtype)

    def step_body(st, ys):
        return sensor.advance(st, spikes_of(ys), dt, ys.get("ca"), method=method), None

    if checkpoint:
        step_body = _remat_step(step_body)

    def dense_chunk(local, cwho, length):
        return jnp.zeros((length, n_neurons), dtype).at[local, cwho].add(1.0, mode="drop")

    def chunk_body(state, xs):
        ys = {key: v for key, v in xs.items() if key not in ("ca_read", "local", "cwho")}
        if "local" in xs:
            ys["spikes"] = dense_chunk(xs["local"], xs["cwho"], k)
        if ys:
            state, _ = jax.lax.scan(step_body, state, ys, unroll=unroll)
        else:
            state, _ = jax.lax.scan(lambda st, _: step_body(st, {}), state, None, length=k, unroll=unroll)
        obs = sensor.observe(state, rho_rel, xs.get("ca_read"))
        return state, {key: obs[key] for key in record}

    body = jax.checkpoint(chunk_body, prevent_cse=False) if checkpoint else chunk_body
    obs0 = sensor.observe(state0, rho_rel, inputs["ca_pre"][0] if "ca_pre" in inputs else None)
    obs0 = {key: obs0[key] for key in record}
    if n_full:
        if main:
            state, obs = jax.lax.scan(body, state0, main)
        else:
            state, obs = jax.lax.scan(lambda st, _: body(st, {}), state0, None, length=n_full)
        obs = {key: jnp.concatenate([obs0[key][None], obs[key]]) for key in record}
    else:
        state, obs = state0, {key: obs0[key][None] for key in record}
    if kind == "events":
        rest["spikes"] = dense_chunk(inputs["local"][n_full], inputs["who"][n_full], tail)
    if rest:
        final, _ = jax.lax.scan(step_body, state, rest, unroll=unroll)
    else:
        final, _ = jax.lax.scan(lambda st, _: step_body(st, {}), state, None, length=tail, unroll=unroll)
    return final, obs


def simulate(
    sensor: Sensor,
    spikes,
    dt: float,
    *,
    rho_rel=1.0,
    ca_pre=None,
    sample_every: int | None = None,
    sample_period: float | None = None,
    sample_rate: float | None = None,
    sample_times=None,
    method: str = "cleo",
    n_steps: int | None = None,
    state0=None,
    record: tuple[str, ...] | None = None,
    checkpoint: bool = True,
    unroll: int = 1,
) -> SimulationResult:
    """Simulate a sensor population driven by spikes (and/or pre-existing Ca).

    Args:
        sensor: a :class:`jaxgeci.GECI` (or any :class:`jaxgeci.Sensor`).
        spikes: ``(time, neurons)`` spike counts (bool/int/float), or :class:`SpikeTrains`
            (event lists, never densified in full), or ``None`` with ``ca_pre`` only.
        dt: time step (s). The grid is ``t_k = k dt``.
        rho_rel: relative expression, scalar or ``(neurons,)`` (dimensionless).
        ca_pre: neuron-supplied Ca (M), ``(time, neurons)``, for pre-existing-Ca sensors:
            ``ca_pre[k]`` is held during step ``k``.
        sample_every, sample_period, sample_rate, sample_times: read-out instants, see
            :func:`read_schedule` (default: every step).
        method: ``"cleo"`` (default: what Brian2 did for this model: forward Euler for
            dynamic Ca, its exact zero-order hold for pre-existing Ca + double exponential),
            ``"euler"``, or ``"accurate"`` (exact exponential updates of the linear parts,
            exponential-midpoint Ca, spikes at their step's start; error shrinks with dt,
            usable at dt = 1 ms). ``"exact"`` is an alias of ``"accurate"``.
        n_steps: number of steps (only needed with ``spikes=None`` and no ``ca_pre``).
        state0: initial state (default ``sensor.init(neurons)``, at rest).
        record: which traces to keep (default all the sensor has; ``("dFF",)`` saves memory).
        checkpoint: rematerialise each read-out chunk in reverse mode (bounded memory).
        unroll: unroll factor of the inner scan (performance knob; with regular reads at
            least 2 is used where that measured faster on CPU: with the per-step event table
            (Euler from 2048 neurons on, any method above 2**20 events slots per read period)
            and from 2e4 neurons on).

    Returns:
        :class:`SimulationResult` with traces ``(n_read, neurons)``; row ``m`` is the state at
        the start of step ``steps[m]``.

    Raises:
        ValueError/TypeError: bad shapes or values, named, before anything is compiled.
    """
    if not isinstance(sensor, Sensor):
        raise TypeError(f"sensor must be a jaxgeci Sensor (e.g. jaxgeci.gcamp6f()), got {type(sensor).__name__}.")
    dt = check_dt(dt)
    resolved = sensor.check_run(dt, method)

    if isinstance(spikes, SpikeTrains):
        kind, N, T = "events", spikes.n_neurons, spikes.n_steps
    elif spikes is None:
        kind = "none"
        if ca_pre is not None:
            T, N = jnp.shape(ca_pre) if jnp.ndim(ca_pre) == 2 else (None, None)
        elif n_steps is not None:
            raise ValueError("spikes=None needs ca_pre (time, neurons) to know the number of neurons.")
        else:
            raise ValueError("spikes is None: give spikes (time, neurons) or ca_pre for a pre-existing-Ca sensor.")
    else:
        kind = "dense"
        spikes = _dense_spikes(spikes)
        T, N = spikes.shape
    if n_steps is not None and T is not None and check_int("n_steps", n_steps, minimum=1) != T:
        raise ValueError(f"n_steps={n_steps} does not match the inputs' {T} steps.")

    if sensor.needs_ca_input:
        if ca_pre is None:
            raise ValueError(
                f"{sensor.name or 'this sensor'} uses pre-existing calcium: pass ca_pre, the "
                "neuron's Ca (M) as a (time, neurons) array."
            )
        if jnp.ndim(ca_pre) != 2 or (T is not None and jnp.shape(ca_pre) != (T, N)):
            raise ValueError(f"ca_pre must have shape (time, neurons) = {(T, N)}, got {jnp.shape(ca_pre)}.")
        if is_concrete(ca_pre):
            arr = np.asarray(ca_pre, dtype=float)
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError("ca_pre must be finite and >= 0 (M), got NaN/inf or negative values.")
    elif ca_pre is not None:
        raise ValueError(
            f"ca_pre was given but {sensor.name or 'the sensor'} simulates its own calcium "
            "(DynamicCalcium); build it with pre_existing_cal=True to use ca_pre."
        )
    if T is None or N is None:
        raise ValueError("Could not infer (time, neurons) from the inputs.")
    if T < 1 or N < 1:
        raise ValueError(f"need at least one step and one neuron, got (time, neurons) = {(T, N)}.")
    _check_rho(rho_rel, N)
    _check_leaf_shapes(sensor, N)

    reads, rate = read_schedule(
        T,
        dt,
        sample_every=sample_every,
        sample_period=sample_period,
        sample_rate=sample_rate,
        sample_times=sample_times,
    )
    if sensor.needs_ca_input and reads.max() >= T:
        raise ValueError(
            "sample_times of a pre-existing-Ca sensor must be < n_steps*dt (ca_pre has no value at n_steps)."
        )
    names = sensor.trace_names()
    if record is None:
        record = names
    else:
        record = tuple(record)
        unknown = [r for r in record if r not in names]
        if unknown:
            raise ValueError(f"record has unknown trace(s) {unknown}; this sensor has {names}.")
        if "dFF" not in record:
            record = ("dFF",) + record
    if state0 is None:
        state0 = sensor.init(N)
    rho_rel = jnp.asarray(rho_rel, dtype=float)

    k_reg = int(reads[1] - reads[0]) if reads.size > 1 else T
    regular = reads[0] == 0 and k_reg >= 1 and np.all(np.diff(reads) == k_reg) and reads[-1] < T <= reads[-1] + k_reg
    euler = resolved == "euler"
    if _PER_STEP_EVENTS is not None:
        per_step = _PER_STEP_EVENTS
    else:
        per_step = k_reg * N > _CHUNK_DENSE_MAX or (euler and N >= _UNROLL2_MIN_NEURONS)
    who = _step_events(spikes, T) if regular and kind == "events" and per_step else None
    fast_unroll = 2 if who is not None or N >= _UNROLL2_MIN_NEURONS_ACCURATE else 1
    if regular:
        # Fast path (regular reads from step 0, e.g. sample_every/sample_period): the scan
        # runs over whole read periods of k steps, without per-step masks or gathers, and
        # event spikes are scattered per step from a small padded table (never densified).
        inputs = {"kind": "steps" if who is not None else kind}
        if kind == "dense":
            inputs["spikes"] = jnp.asarray(spikes, dtype=float)
        elif who is not None:
            inputs["who"] = jnp.asarray(who)
        elif kind == "events":
            local, cwho = _chunk_events(spikes, np.concatenate([reads, [T]]).astype(np.int64))
            inputs["local"], inputs["who"] = jnp.asarray(local), jnp.asarray(cwho)
        if sensor.needs_ca_input:
            inputs["ca_pre"] = jnp.asarray(ca_pre, dtype=float)
        n_full = reads.size - 1
        final, obs = _run_regular(
            sensor,
            state0,
            inputs,
            rho_rel,
            dt=dt,
            method=resolved,
            n_neurons=N,
            k=k_reg,
            n_full=n_full,
            tail=T - n_full * k_reg,
            record=record,
            checkpoint=checkpoint,
            # at least 2 where measured faster (see _UNROLL2_MIN_NEURONS); results are unchanged
            unroll=max(unroll, fast_unroll),
        )
        steps = jnp.asarray(reads)
        return SimulationResult(
            t=steps * dt, steps=steps, dFF=obs["dFF"], traces=obs, final_state=final, dt=dt, sample_rate_hz=rate
        )

    bounds = np.concatenate([[0], reads, [T]]).astype(np.int64)
    lengths = np.diff(bounds)
    width = max(1, int(lengths.max()))
    j = np.arange(width)
    valid = j[None, :] < lengths[:, None]
    idx = np.minimum(bounds[:-1, None] + j[None, :], T - 1).astype(np.int32)

    inputs: dict = {"kind": kind, "valid": jnp.asarray(valid)}
    if kind == "dense":
        inputs["spikes"] = jnp.asarray(spikes, dtype=float)
        inputs["idx"] = jnp.asarray(idx)
    elif kind == "events":
        local, who = _chunk_events(spikes, bounds)
        inputs["local"] = jnp.asarray(local)
        inputs["who"] = jnp.asarray(who)
    if sensor.needs_ca_input:
        inputs["ca_pre"] = jnp.asarray(ca_pre, dtype=float)
        inputs.setdefault("idx", jnp.asarray(idx))
        inputs["read_idx"] = jnp.asarray(np.concatenate([reads, [T - 1]]).astype(np.int32))
    if kind != "dense" and not sensor.needs_ca_input:
        inputs.pop("idx", None)

    final, obs = _run(
        sensor,
        state0,
        inputs,
        rho_rel,
        dt=dt,
        method=resolved,
        n_neurons=N,
        width=width,
        record=record,
        checkpoint=checkpoint,
        unroll=unroll,
    )
    steps = jnp.asarray(reads)
    return SimulationResult(
        t=steps * dt,
        steps=steps,
        dFF=obs["dFF"],
        traces=obs,
        final_state=final,
        dt=dt,
        sample_rate_hz=rate,
    )
