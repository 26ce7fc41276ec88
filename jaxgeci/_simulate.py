"""``simulate``: the public entry of a simulation. It validates the inputs (before anything
is compiled), resolves the method once, turns the inputs into a spike source, a read schedule
and a plan, and runs the one time loop (``jaxgeci._driver.integrate``) under one ``jit``.
"""

from __future__ import annotations

import functools
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from . import _driver as driver, _plan as plan_mod
from ._sensor import Sensor
from ._spike_input import chunk_events, dense_spikes, find_events, host_counts, step_events
from ._spikes import SpikeTrains
from ._validation import check_dt, check_int, check_number, is_concrete, real_array


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


RATE_TOLERANCE = 1e-3
"""Relative difference between the asked and the achieved read-out rate beyond which
:func:`read_schedule` warns (0.1 %, compared to 0.01 %: 0.6 s of drift over a 10 min
recording; 30 Hz at 0.1 ms, 30.03 Hz, is at the tolerance and does not warn)."""


class LayoutWarning(UserWarning):
    """A dense input looks transposed: far more neurons than steps in under 10 ms."""


class RateWarning(UserWarning):
    """The read-out rate actually used differs from the one asked for by more than 0.1 %."""


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
      333 steps = 30.03 Hz). A :class:`RateWarning` says so when the rate used differs
      from the one asked for by more than 0.1 % (30 Hz at 1 ms reads at 30.30 Hz). A period
      that rounds to 0 steps (shorter than ``dt/2``) is an error, not a silent read every step.
    - ``sample_times`` (s): each rounded to the nearest step, which must lie in
      ``[0, n_steps]`` (``n_steps`` reads the final state); non-decreasing.
    """
    asked_period = None
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
            sample_rate = check_number("sample_rate", sample_rate, unit="Hz", strict=True)
            sample_period = 1.0 / sample_rate
        sample_period = check_number("sample_period", sample_period, unit="s", strict=True)
        asked_period = float(sample_period)
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
    used = 1.0 / (k * dt)
    # compared at the 0.01 % the warning reports: Cleo's 30 Hz at 0.1 ms (30.03 Hz, +0.1001 %) is
    # at the tolerance, not beyond it
    if asked_period is not None and round(abs(asked_period / (k * dt) - 1.0), 4) > RATE_TOLERANCE:
        asked = f"sample_rate={sample_rate!r} Hz" if sample_rate is not None else f"sample_period={sample_period!r} s"
        warnings.warn(
            f"{asked} reads every {k} steps of dt={dt!r} s, i.e. at {used:.6g} Hz "
            f"({100 * (asked_period / (k * dt) - 1.0):+.3g} %; reads stay on the nearest step). Over a "
            f"{n_steps * dt:.4g} s run that drifts {abs(n_steps * dt * (1 - k * dt / asked_period)):.3g} s against "
            "real frame times: choose dt so that the frame period is a whole number of steps, or read at "
            "the recording's own times with sample_times=.",
            RateWarning,
            stacklevel=3,
        )
    return np.arange(0, n_steps, k, dtype=np.int64), used


def _check_rho(rho_rel, n_neurons):
    rho_rel = real_array("rho_rel", rho_rel, expected="a scalar or (neurons,) array (dimensionless)")
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


@eqx.filter_jit
def _run(sensor, state0, source, ca, *, read, n_steps, dt, method, schedule, gradient, unroll):
    return driver.integrate(
        sensor,
        state0,
        source,
        n_steps,
        dt,
        method=method,
        schedule=schedule,
        read=read,
        ca=ca,
        gradient=gradient,
        unroll=unroll,
    )


def _layout(spikes, kind, n_steps, *, n_neurons, schedule, reads, method, unroll, plan, auto, min_width=8):
    """How ``spikes`` of ``kind`` (``"dense"``, ``"events"``, ``"none"``) enter the loop over
    ``n_steps`` steps, in NumPy only: ``(layout, arrays, plan, width)`` with layout ``"dense"``
    / ``"none"`` (``arrays``: the spikes as given), ``"steps"`` (a per-step event table of
    ``width`` columns) or ``"periods"`` (per-read-period tables). The auto plan moves to
    read-period blocks where spikes bunch."""
    regular = isinstance(schedule, driver.ReadEvery)
    period = schedule.k if regular else schedule.width
    rule = dict(n_neurons=n_neurons, period_steps=period, method=method, regular=regular, unroll=unroll)
    if auto:
        plan = plan_mod.plan_run(spikes=kind, **rule)
    if kind in ("dense", "none"):
        return kind, spikes, plan, 0
    who = step_events(spikes, n_steps, min_width) if plan.layout == "steps" else None
    if who is None and plan.layout == "steps" and auto:  # bunched spikes: period blocks
        plan = plan_mod.plan_run(spikes="dense", **rule)
    if who is not None:
        return "steps", who, plan, who.shape[1]
    bounds = np.concatenate([reads, [n_steps]]) if regular else np.concatenate([[0], reads, [n_steps]])
    return "periods", chunk_events(spikes, bounds.astype(np.int64)), plan, 0


def _source(layout, arrays, n_neurons):
    """The loop's spike source for a :func:`_layout` (dense arrays as validated device arrays)."""
    if layout == "dense":
        return driver.DenseSpikes(arrays)
    if layout == "none":
        return driver.NoSpikes(n_neurons)
    if layout == "steps":
        return driver.StepEvents(jnp.asarray(arrays), n_neurons)
    return driver.PeriodEvents(*(jnp.asarray(a) for a in arrays), n_neurons)


def _run_pieces(run, state0, host, n_pieces, args):
    """Run a dense host array (regular reads, concrete inputs) in ``n_pieces`` consecutive time
    pieces of whole read periods, each from the previous one's final state: a worker thread
    finds piece ``j + 1``'s events and lays out its table (NumPy only, which releases the GIL)
    while this thread runs the loop over piece ``j``. Everything JAX stays on this thread,
    under its own settings (e.g. ``jax.enable_x64``). The pieces are the whole run's steps in
    the same order: the same arithmetic. Bad counts in a later piece raise after earlier
    pieces have run (the error still comes before any result)."""
    T = host.shape[0]
    k = args["schedule"].k
    per = k * (T // k // n_pieces)
    bounds = list(zip([j * per for j in range(n_pieces)], [j * per for j in range(1, n_pieces)] + [T]))
    width = [8]  # never narrower than an earlier piece's table: fewer distinct compiled shapes

    def prepare(s0, s1):  # in the worker, pieces in order
        events = find_events(host[s0:s1])
        kind, spikes = ("dense", host[s0:s1]) if events is None else ("events", events)
        reads = np.arange(0, s1 - s0, k, dtype=np.int64)
        out = _layout(spikes, kind, s1 - s0, **{**args, "reads": reads, "min_width": width[0]})
        width[0] = max(width[0], out[3])
        return out

    state, obs = state0, []
    with ThreadPoolExecutor(1) as worker:
        ready = [worker.submit(prepare, s0, s1) for s0, s1 in bounds]
        try:
            for (s0, s1), piece in zip(bounds, ready):
                layout, arrays, plan, _ = piece.result()
                source = _source(layout, dense_spikes(arrays) if layout == "dense" else arrays, args["n_neurons"])
                state, o = run(state, source, None, n_steps=s1 - s0, schedule=driver.ReadEvery(k), unroll=plan.unroll)
                obs.append(o)
        finally:
            for f in ready:
                f.cancel()
    return state, jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *obs)


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
    plan: plan_mod.Plan | None = None,
    time_axis: int = 0,
) -> SimulationResult:
    """Simulate a sensor population driven by spikes (and/or pre-existing Ca).

    Args:
        sensor: a :class:`jaxgeci.GECI` (or any :class:`jaxgeci.Sensor`).
        spikes: ``(time, neurons)`` spike counts (bool/int/float), or :class:`SpikeTrains`
            (event lists, never densified in full), or ``None`` with ``ca_pre`` only. Arrays
            held ``(neurons, time)``, as Cleo/Brian2 users often do, need ``time_axis=1``.
            Sparse counts in host memory are run as events; an array of 128 MiB or more runs
            in time pieces whose events a worker thread finds while the loop runs the
            previous piece (the same results; a first call at a new size compiles two
            shapes; a bad count in a later piece raises after earlier pieces ran).
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
        unroll: minimum unroll factor of the inner scan (performance knob; with regular
            reads at least 2 is used where that measured faster on CPU, see
            ``jaxgeci._plan.plan_run``).
        time_axis: the time axis of dense ``spikes`` and ``ca_pre``: 0 (default,
            ``(time, neurons)``) or 1 (``(neurons, time)``). The result is time-major either way.
        plan: force a loop layout (``jaxgeci._plan.Plan``; default: ``plan_run``'s choice
            from the sizes). Results do not depend on it.

    Returns:
        :class:`SimulationResult` with traces ``(n_read, neurons)``; row ``m`` is the state at
        the start of step ``steps[m]``.

    Raises:
        ValueError/TypeError: bad shapes or values, named, before anything is compiled.
    """
    if not isinstance(sensor, Sensor):
        raise TypeError(f"sensor must be a jaxgeci Sensor (e.g. jaxgeci.gcamp6f()), got {type(sensor).__name__}.")
    dt = check_dt(dt)
    if isinstance(time_axis, bool) or time_axis not in (0, 1):
        raise ValueError(f"time_axis must be 0 ((time, neurons) arrays) or 1 ((neurons, time)), got {time_axis!r}.")
    if time_axis == 1:
        if spikes is not None and not isinstance(spikes, SpikeTrains) and jnp.ndim(spikes) == 2:
            spikes = spikes.T if hasattr(spikes, "T") else np.asarray(spikes).T
        if ca_pre is not None and jnp.ndim(ca_pre) == 2:
            ca_pre = ca_pre.T if hasattr(ca_pre, "T") else np.asarray(ca_pre).T
    resolved = sensor.check_run(dt, method)

    spikes_in = spikes
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
        host = host_counts(spikes)  # counts in host memory: the event finder's (below)
        if host is not None:
            kind, (T, N) = "host", host.shape
        else:
            kind, spikes = "dense", dense_spikes(spikes)
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
    if not isinstance(spikes_in, SpikeTrains) and T < N and T * dt < 1e-2 and time_axis == 0:
        warnings.warn(
            f"spikes/ca_pre of shape {(T, N)} are read as {T} time step(s) of dt={dt!r} s for {N} neurons; "
            "if the array is (neurons, time), pass time_axis=1 (or its transpose).",
            LayoutWarning,
            stacklevel=2,
        )
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

    schedule = driver.regular_or_at(reads, T)
    regular = isinstance(schedule, driver.ReadEvery)
    period = schedule.k if regular else schedule.width
    auto = plan is None
    if auto:
        plan = plan_mod.plan_run(
            spikes="dense" if kind == "host" else kind,
            n_neurons=N,
            period_steps=period,
            method=resolved,
            regular=regular,
            unroll=unroll,
            host_bytes=host.nbytes if kind == "host" else 0,
        )
    ca = driver.CaInput(jnp.asarray(ca_pre, dtype=float)) if sensor.needs_ca_input else None
    run = functools.partial(
        _run,
        sensor,
        read=driver.Observe(rho_rel, record),
        dt=dt,
        method=resolved,
        gradient=driver.Checkpointed() if checkpoint else driver.Direct(),
    )
    args = dict(n_neurons=N, schedule=schedule, reads=reads, method=resolved, unroll=unroll, plan=plan, auto=auto)
    concrete = all(is_concrete(x) for x in jax.tree_util.tree_leaves((sensor, state0, rho_rel)))
    if kind == "host" and plan.pieces > 1 and regular and ca is None and concrete and T // period >= 2:
        final, obs = _run_pieces(run, state0, host, min(plan.pieces, T // period), args)
    else:
        if kind == "host":  # the whole array searched first, then run
            events = find_events(host)
            kind, spikes = ("dense", dense_spikes(spikes)) if events is None else ("events", events)
        layout, arrays, plan, _ = _layout(spikes, kind, T, **args)
        final, obs = run(state0, _source(layout, arrays, N), ca, n_steps=T, schedule=schedule, unroll=plan.unroll)
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
