"""The one time loop of jaxgeci: every run over the time axis goes through :func:`integrate`.

``simulate`` (and through it ``simulate_chunked``, ``simulate_sharded`` and ``Scope.image``),
the fits' unit traces (plain and segmented) and closed-loop stepping all run a sensor's own
``init``/``advance``/``observe`` here, never through a copy of the loop. A run is described by
small objects, as in diffrax's ``diffeqsolve`` (solver, ``SaveAt``, adjoint):

- a **spike source** (:class:`DenseSpikes`, :class:`StepEvents`, :class:`PeriodEvents`,
  :class:`NoSpikes`): ``source.at(ctx, k, j)`` is the ``(neurons,)`` counts of step ``k``
  (``j`` its index inside the current read period; ``ctx`` what ``source.period`` built once
  for that period, e.g. a dense block of the period's events);
- an optional **Ca source** (:class:`CaInput`) for pre-existing-Ca sensors;
- a **read schedule** (:class:`ReadEvery`, :class:`ReadAt`): the steps whose state is read;
- a **read** (:class:`Observe`, :class:`ReadState`): what is stored at a read step;
- a resolved, static integration **method** (``"euler"`` or ``"accurate"``);
- a **gradient strategy** (:class:`Checkpointed`, :class:`Direct`; :func:`integrate_segmented`
  for the segmented reverse mode of the fits);
- an unroll factor (from the caller's plan: ``jaxgeci._plan``).

Time grid: ``t_k = k dt``; reading at step ``r`` gives the state at the start of step ``r``
(Cleo's StateMonitor); a spike of step ``k`` is first visible at ``k + 1``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int


# ---------------------------------------------------------------------------- spike sources
class SpikeSource(eqx.Module):
    """Abstract: the spike counts of each step, ``(neurons,)``."""

    def period(self, c, length: int):
        """Anything built once per read period ``c`` of ``length`` steps (default nothing)."""
        return None

    def at(self, ctx, k, j, dtype):
        """Counts of global step ``k`` (``j``: its index inside the period), ``(neurons,)``."""
        raise NotImplementedError


class NoSpikes(SpikeSource):
    """No spikes (pre-existing Ca drives the sensor, or a silent run)."""

    n_neurons: int = eqx.field(static=True)

    def at(self, ctx, k, j, dtype):
        return jnp.zeros((self.n_neurons,), dtype)


class DenseSpikes(SpikeSource):
    """A dense ``(time, neurons)`` array of counts in any numeric or bool dtype; each step
    reads its own row (the array is never copied, cast or padded as a whole)."""

    counts: Array

    def at(self, ctx, k, j, dtype):
        return jax.lax.dynamic_index_in_dim(self.counts, k, 0, keepdims=False).astype(dtype)


class StepEvents(SpikeSource):
    """Per-step padded neuron lists ``who`` ``(time, width)`` (pad = ``n_neurons``, dropped):
    each step scatters its few events into a ``(neurons,)`` vector."""

    who: Int[Array, "time width"]
    n_neurons: int = eqx.field(static=True)

    def at(self, ctx, k, j, dtype):
        row = jax.lax.dynamic_index_in_dim(self.who, k, 0, keepdims=False)
        return jnp.zeros((self.n_neurons,), dtype).at[row].add(1.0, mode="drop")


class PeriodEvents(SpikeSource):
    """Per-read-period event tables (``(periods, width)`` local steps and neurons; pad neuron
    = ``n_neurons``, dropped): each period builds its dense ``(length, neurons)`` block once."""

    local: Int[Array, "periods width"]
    who: Int[Array, "periods width"]
    n_neurons: int = eqx.field(static=True)

    def period(self, c, length: int):
        dtype = jnp.result_type(float)
        return jnp.zeros((length, self.n_neurons), dtype).at[self.local[c], self.who[c]].add(1.0, mode="drop")

    def at(self, ctx, k, j, dtype):
        return jax.lax.dynamic_index_in_dim(ctx, j, 0, keepdims=False).astype(dtype)


class CaInput(eqx.Module):
    """Neuron-supplied Ca (M), ``(time, neurons)``: ``ca[k]`` is held during step ``k`` and
    read with the state at step ``r`` (``ca[min(r, time - 1)]``)."""

    ca: Float[Array, "time neurons"]

    def at(self, k):
        return jax.lax.dynamic_index_in_dim(self.ca, k, 0, keepdims=False)

    def read(self, r):
        return self.at(jnp.minimum(r, self.ca.shape[0] - 1))


# ---------------------------------------------------------------------------- read schedules
@dataclasses.dataclass(frozen=True)
class ReadEvery:
    """Read steps ``0, k, 2k, ... < n_steps`` (the regular, mask-free loop)."""

    k: int


class ReadAt(eqx.Module):
    """Read the given non-decreasing steps in ``[0, n_steps]`` (repeats allowed); the periods
    between reads are padded to the longest (``width`` steps) and masked."""

    steps: Int[Array, " reads"]
    width: int = eqx.field(static=True)

    @classmethod
    def from_steps(cls, steps, n_steps: int) -> ReadAt:
        """From host step indices (already validated by :func:`jaxgeci.read_schedule`)."""
        steps = np.asarray(steps, dtype=np.int64)
        bounds = np.concatenate([[0], steps, [n_steps]])
        return cls(steps=jnp.asarray(steps, jnp.int32), width=max(1, int(np.diff(bounds).max())))


def regular_or_at(steps, n_steps: int):
    """``ReadEvery(k)`` when ``steps`` are ``0, k, 2k, ... < n_steps`` (the mask-free loop
    applies), else :class:`ReadAt` (host-side planning, before anything is traced)."""
    s = np.asarray(steps, dtype=np.int64)
    k = int(s[1] - s[0]) if s.size > 1 else n_steps
    if s[0] == 0 and k >= 1 and np.all(np.diff(s) == k) and s[-1] < n_steps <= s[-1] + k:
        return ReadEvery(k)
    return ReadAt.from_steps(s, n_steps)


# ---------------------------------------------------------------------------- reads
class Observe(eqx.Module):
    """Store the sensor's observables ``record`` (``(neurons,)`` each) at read steps."""

    rho_rel: Any
    record: tuple = eqx.field(static=True)

    def __call__(self, sensor, state, ca):
        obs = sensor.observe(state, self.rho_rel, ca)
        return {k: obs[k] for k in self.record}


class ReadState(eqx.Module):
    """Store the whole sensor state at read steps."""

    def __call__(self, sensor, state, ca):
        return state


# ---------------------------------------------------------------------------- gradients, plans
@dataclasses.dataclass(frozen=True)
class Checkpointed:
    """Reverse mode with bounded memory: each read period is rematerialised (memory
    O(reads x neurons)) and so is each step inside it (only the carried state is kept per
    step). Measured gains are listed in benchmarks/README.md. A no-op without differentiation."""


@dataclasses.dataclass(frozen=True)
class Direct:
    """Plain reverse mode through the scan (stores every step's intermediates)."""


@dataclasses.dataclass(frozen=True)
class ReverseAdjoint:
    """A ``custom_vjp`` over the loop: the forward scan stores the state at every step; one
    reverse scan then computes, step by step, the state adjoint, the gradient of the spike
    input and the constants' gradient from the step's own ``vjp`` (for a linear step, e.g.
    the S2F kernel, that is the same filter run backwards in time). Reads at every step
    (``ReadEvery(1)``) of a :class:`DenseSpikes` float input without Ca input; reverse mode
    only (no ``jvp``). Memory: one state per step.
    """


# ---------------------------------------------------------------------------- the loop
def advance(sensor, state, spikes_k, dt: float, ca_k, method):
    """One step ``k -> k+1`` of ``sensor`` (its own ``advance``): the driver's step, also the
    step of closed-loop runs (``Scope.advance``, ``ClosedLoopScope.step``)."""
    return sensor.advance(state, spikes_k, dt, ca_k, method=method)


def integrate(
    sensor,
    state0,
    spikes: SpikeSource,
    n_steps: int,
    dt: float,
    *,
    method: str,
    schedule,
    read,
    ca: CaInput | None = None,
    gradient=Checkpointed(),
    unroll: int = 1,
):
    """Run ``sensor`` for ``n_steps`` steps of ``dt`` (s) from ``state0``.

    Returns:
        ``(final_state, reads)``: the state after ``n_steps`` steps and ``read(...)`` at every
        read step of ``schedule``, stacked on a leading axis.
    """
    if isinstance(gradient, ReverseAdjoint):
        return _integrate_adjoint(
            sensor, state0, spikes, n_steps, dt, method=method, schedule=schedule, read=read, ca=ca, unroll=unroll
        )
    dtype = jnp.result_type(float)
    ckpt = isinstance(gradient, Checkpointed)
    remat = (lambda f: jax.checkpoint(f, prevent_cse=False)) if ckpt else (lambda f: f)

    def ca_at(k):
        return None if ca is None else ca.at(k)

    def ca_read(r):
        return None if ca is None else ca.read(r)

    def step_fn(ctx, start, length=None):
        def body(st, j):
            k = start + j
            if length is not None:  # padded period: clip the index, keep the state past its end
                k = jnp.minimum(k, n_steps - 1)
            new = advance(sensor, st, spikes.at(ctx, k, j, dtype), dt, ca_at(k), method)
            if length is not None:
                new = jax.tree_util.tree_map(lambda a, b: jnp.where(j < length, a, b), new, st)
            return new

        return remat(body)

    def run_steps(state, body, length: int):
        if length == 0:
            return state
        return jax.lax.scan(lambda st, j: (body(st, j), None), state, jnp.arange(length), unroll=unroll)[0]

    if isinstance(schedule, ReadEvery):
        k = schedule.k
        if k == 1:
            # a read at every step: one flat scan that reads step c's state, then steps (the
            # reads stack straight into the output; no first row joined on afterwards)

            def read_then_step(state, c):
                out = read(sensor, state, ca_read(c))
                return step_fn(spikes.period(c, 1), c)(state, 0), out

            return jax.lax.scan(remat(read_then_step), state0, jnp.arange(n_steps), unroll=unroll)

        n_full = -(-n_steps // k) - 1
        tail = n_steps - n_full * k
        first = read(sensor, state0, ca_read(0))

        def period(state, c):
            start = c * k
            state = run_steps(state, step_fn(spikes.period(c, k), start), k)
            return state, read(sensor, state, ca_read(start + k))

        state, obs = jax.lax.scan(remat(period), state0, jnp.arange(n_full))
        obs = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, obs)
        final = run_steps(state, step_fn(spikes.period(n_full, tail), n_full * k), tail)
        return final, obs

    # irregular reads: periods [bounds[c], bounds[c+1]) padded to the longest, masked
    width = schedule.width
    bounds = jnp.concatenate([jnp.zeros((1,), jnp.int32), schedule.steps, jnp.full((1,), n_steps, jnp.int32)])
    starts, ends = bounds[:-1], bounds[1:]
    lengths = ends - starts

    def padded(state, c):
        body = step_fn(spikes.period(c, width), starts[c], lengths[c])
        state = run_steps(state, body, width)
        return state, read(sensor, state, ca_read(ends[c]))

    final, obs = jax.lax.scan(remat(padded), state0, jnp.arange(starts.shape[0]))
    return final, jax.tree_util.tree_map(lambda a: a[:-1], obs)


def _integrate_adjoint(sensor, state0, spikes, n_steps, dt, *, method, schedule, read, ca, unroll):
    """:func:`integrate` with :class:`ReverseAdjoint` gradients (see there)."""
    if not (isinstance(schedule, ReadEvery) and schedule.k == 1 and isinstance(spikes, DenseSpikes) and ca is None):
        raise ValueError("ReverseAdjoint needs reads at every step (ReadEvery(1)) of DenseSpikes without Ca input.")
    dtype = jnp.result_type(float)
    counts = spikes.counts.astype(dtype)
    params, static = eqx.partition((sensor, read), eqx.is_inexact_array)

    def step(p, st, x):
        sensor_, _ = eqx.combine(p, static)
        return advance(sensor_, st, x, dt, None, method)

    def observe(p, st):
        sensor_, read_ = eqx.combine(p, static)
        return read_(sensor_, st, None)

    def forward(p, st0, xs):
        def body(st, x):
            return step(p, st, x), (st, observe(p, st))

        final, (states, obs) = jax.lax.scan(body, st0, xs, unroll=unroll)
        return final, obs, states

    @jax.custom_vjp
    def run(p, st0, xs):
        final, obs, _ = forward(p, st0, xs)
        return final, obs

    def run_fwd(p, st0, xs):
        final, obs, states = forward(p, st0, xs)
        return (final, obs), (p, states, xs)

    def step_and_observe(p, st, x):
        return step(p, st, x), observe(p, st)

    def run_bwd(res, ct):
        p, states, xs = res
        ct_final, ct_obs = ct

        def body(carry, inp):
            lam, gp = carry
            st, x, cty = inp
            # one vjp of the step and the read together: their shared work (e.g. the latent
            # that both the adaptive decay and the read-out use) is linearised once, and the
            # state adjoint comes out summed (adaptive S2F, 64 ROIs x 60 s at 1 ms: 3.98 ->
            # 3.10 x forward against two separate vjps, benchmarks/README.md)
            _, vjp_both = jax.vjp(step_and_observe, p, st, x)
            dp, lam, dx = vjp_both((lam, cty))
            return (lam, jax.tree_util.tree_map(jnp.add, gp, dp)), dx

        zeros = jax.tree_util.tree_map(jnp.zeros_like, p)
        # the reverse body (a vjp: the step, its transpose and the constants' cotangents) is
        # several times the forward step's size: unless the step is a few multiply-adds
        # (Sensor.small_step), unrolling it by more than 2 ran slower on XLA:CPU (64 ROIs x
        # 10 min at 1 ms, unroll 2 vs 8: adaptive S2F 4.23 vs 4.51 s, GECI 7.86 vs 12.75 s;
        # S2F 2.92 vs 2.44 s, hence its own unroll; benchmarks/README.md)
        rev_unroll = unroll if type(sensor).small_step else min(unroll, 2)
        (lam0, gp), dxs = jax.lax.scan(body, (ct_final, zeros), (states, xs, ct_obs), reverse=True, unroll=rev_unroll)
        return gp, lam0, dxs

    run.defvjp(run_fwd, run_bwd)
    return run(params, state0, counts)


def integrate_segmented(
    sensor,
    state0,
    spikes: SpikeSource,
    n_steps: int,
    dt: float,
    *,
    method,
    read,
    segment_steps,
    warmup_steps,
    unroll: int = 2,
):
    """Every-step reads computed as parallel segments (the fits' segmented reverse mode).

    First an exact sequential pass under ``stop_gradient`` records the state ``warmup_steps``
    steps before each segment of ``segment_steps`` steps; then every segment is re-run from
    that state over its warm-up and its own steps, all segments at once (``vmap``), and the
    reads are stitched. The values equal :func:`integrate`'s (up to round-off); the gradient
    omits only the dependence of each warm-up's initial state on the constants, which decays
    over the warm-up. ``spikes`` must be a :class:`DenseSpikes`.
    """
    L, W = int(segment_steps), int(warmup_steps)
    if L < W:
        raise ValueError(f"segment_steps ({L}) must be >= warmup_steps ({W}).")
    counts = spikes.counts
    n_seg = -(-n_steps // L)
    pad = lambda m: jnp.zeros((m,) + counts.shape[1:], counts.dtype)
    padded = jnp.concatenate([pad(W), counts, pad(n_seg * L - n_steps)])
    segs = padded[np.arange(n_seg)[:, None] * L + np.arange(W + L)[None, :]]

    frozen = jax.lax.stop_gradient(sensor)
    _, states = integrate(
        frozen,
        state0,
        spikes,
        n_steps,
        dt,
        method=method,
        schedule=ReadEvery(1),
        read=ReadState(),
        gradient=Direct(),
        unroll=unroll,
    )
    starts = np.maximum(np.arange(n_seg) * L - W, 0)
    init = jax.tree_util.tree_map(lambda a: a[starts], states)
    # segment 0 starts W steps before t = 0: at rest (its padded spikes are zeros)
    init = jax.tree_util.tree_map(lambda a, r: a.at[0].set(r), init, state0)
    init = jax.lax.stop_gradient(init)

    def run(st, sp):
        return integrate(
            sensor,
            st,
            DenseSpikes(sp),
            W + L,
            dt,
            method=method,
            schedule=ReadEvery(1),
            read=read,
            gradient=Direct(),
            unroll=unroll,
        )[1]

    traces = jax.vmap(run)(init, segs)
    return jax.tree_util.tree_map(lambda a: a[:, W:].reshape((-1,) + a.shape[2:])[:n_steps], traces)


# ---------------------------------------------------------------------------- linear recursions
def ar1(a, innovations, x0):
    """``x[t] = a x[t-1] + innovations[t]`` for ``t = 0..T-1`` with ``x[-1] = x0``.

    Args:
        a: AR coefficient (dimensionless), scalar or broadcastable to ``innovations[0]``.
        innovations: ``(T, ...)``.
        x0: state before the first step, shape of ``innovations[0]``.

    Returns ``x``, ``(T, ...)``, by a parallel prefix scan of the affine maps ``x -> a x + e``
    (O(log T) depth; differentiable).
    """
    e = jnp.asarray(innovations)
    a_t = jnp.broadcast_to(jnp.asarray(a, e.dtype), e.shape)
    e = e.at[0].add(a_t[0] * jnp.asarray(x0, e.dtype))

    def compose(left, right):  # apply left, then right
        a1, b1 = left
        a2, b2 = right
        return a1 * a2, a2 * b1 + b2

    return jax.lax.associative_scan(compose, (a_t, e), axis=0)[1]
