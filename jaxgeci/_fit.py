"""Fit indicator constants to recordings (ΔF/F + spikes) with Optax, all cells in one batch.

Design (see ``fitting/README.md``):

- The trainable tree is the sensor itself with the free constants wrapped in
  :class:`jaxgeci.Positive` (log space); ``unwrap`` resolves them at the top of the loss. The
  free set is an Equinox filter spec: ``eqx.partition(params, is_free)`` splits trainable and
  frozen leaves, so frozen constants never move. A constant may be shared (scalar) or per cell
  (a ``(cells,)`` leaf, mapped with ``eqx.filter_vmap(in_axes=0)``).
- Loss = mean over cells of ``1 - EV``; each cell's nuisance terms (amplitude, B-spline
  baseline, lag) are solved inside the loss (:func:`jaxgeci._projection.project`).
- Gradients run on a segmented simulation (parallel segments with a warm-up), evaluation on the
  exact sequential one.
- Adam (default) or L-BFGS; multi-start by screening random starts with the (cheap) loss and
  optimising the best; checkpoints with ``eqx.tree_serialise_leaves`` every few steps so that
  a resumed fit equals an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from ._batch import make_batch, RecordingBatch
from ._checkpoint import checkpoint_exists, CheckpointLock, load_checkpoint, save_checkpoint
from ._constraints import unwrap
from ._params import _cell_axes, constants_at_bounds, is_free, make_params, sensor_constants
from ._projection import lag_grid, project, Projection
from ._recording import check_scorable, DEFAULT_BURN_IN_S
from ._sensor import METHODS, Sensor
from ._unit_trace import unit_trace, unit_trace_segmented
from ._validation import check_int, check_number


# ---------------------------------------------------------------------------- the loss


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Static settings of a fit (SI units).

    Attributes:
        dt: fine simulation step (s).
        method: integration method passed to ``sensor.advance``.
        max_lag_s, lag_step_s: lag grid of the loss (s).
        burn_in_s: frames in the first ``burn_in_s`` (s) are not scored.
        gradient: ``"forward"`` (default): exact gradient in forward mode, the fine traces'
            Jacobian w.r.t. the free constants from ``jvp`` tangents (one per free scalar,
            ``vmap``-ed through the same sequential scan), then reverse mode through the cheap
            projection; ``"reverse"``: reverse mode through the simulation (segmented if
            ``segment_s`` is set); ``"adjoint"``: reverse mode through the exact sequential
            simulation by the loop's own adjoint (one reverse scan of the step's ``vjp``,
            ``jaxgeci._driver.ReverseAdjoint``; ``segment_s`` is not used).
        segment_s, warmup_s: segmented simulation for ``gradient="reverse"`` (s);
            ``segment_s=None`` differentiates the exact sequential simulation.
        per_cell: names of per-cell constants.
        isolated_weight: training only: frames around isolated spikes weigh ``1 +
            isolated_weight`` in the loss (and its nuisance fit); 0 = the protocol. The
            reported EVs always use the protocol's uniform weights.
        loss: how the cells' ``1 - EV`` are combined into the training loss: ``"mean"``
            (default) or ``"log"``, the mean of ``log(1 - EV)``: each cell's gradient is
            weighted by ``1/(1 - EV)``, i.e. the Gaussian likelihood with one unknown noise
            variance per cell profiled out (up to the cells' frame counts), so the cells
            that the model fits worst (noise-limited, or a plateau cell) weigh less.
            Training only; reported EVs are the protocol's.
        unroll: unroll factor of the fine simulation's scan, an integer >= 1, or ``None``
            (default): 8 for the sequential trace, 2 for the segmented one. A trade of compile
            time against run time, with the same results up to round-off: measured on a
            2-core CPU (GECI, accurate, 60 s at 1 ms, value_and_grad), unroll 8 compiles in
            16 s and runs in 0.30 s, unroll 1 in 7.5 s and 0.59 s. Use 1 for short test fits.
    """

    dt: float = 1e-3
    method: str = "accurate"
    max_lag_s: float = 0.05
    lag_step_s: float = 0.005
    burn_in_s: float = DEFAULT_BURN_IN_S
    segment_s: float | None = 20.0
    warmup_s: float = 5.0
    per_cell: tuple = ()
    gradient: str = "forward"
    isolated_weight: float = 0.0
    loss: str = "mean"
    unroll: int | None = None

    def __post_init__(self):
        check_number("FitConfig.dt", self.dt, unit="s", strict=True)
        check_number("FitConfig.max_lag_s", self.max_lag_s, unit="s")
        check_number("FitConfig.lag_step_s", self.lag_step_s, unit="s", strict=True)
        check_number("FitConfig.burn_in_s", self.burn_in_s, unit="s")
        if self.segment_s is not None:
            check_number("FitConfig.segment_s", self.segment_s, unit="s", strict=True)
        check_number("FitConfig.warmup_s", self.warmup_s, unit="s")
        check_number("FitConfig.isolated_weight", self.isolated_weight, unit="1")
        if self.gradient not in ("forward", "reverse", "adjoint"):
            raise ValueError(f"FitConfig.gradient must be 'forward', 'reverse' or 'adjoint', got {self.gradient!r}.")
        if self.loss not in FIT_LOSSES:
            raise ValueError(f"FitConfig.loss must be one of {FIT_LOSSES}, got {self.loss!r}.")
        if self.method not in METHODS:
            raise ValueError(f"FitConfig.method must be one of {METHODS}, got {self.method!r}.")
        if self.unroll is not None:
            check_int("FitConfig.unroll", self.unroll, minimum=1)


FIT_LOSSES = ("mean", "log")
"""Training losses of :class:`FitConfig` (``jaxgeci.FIT_LOSSES``)."""


def combine_cells(ev, loss: str = "mean"):
    """The training loss from the cells' EVs: mean of ``1 - EV`` or of ``log(1 - EV)``."""
    return jnp.mean(jnp.log(1.0 - ev)) if loss == "log" else jnp.mean(1.0 - ev)


def _traces(sensor, batch: RecordingBatch, cfg: FitConfig, exact: bool):
    axes = _cell_axes(sensor, cfg.per_cell)

    unroll = {} if cfg.unroll is None else {"unroll": int(cfg.unroll)}

    def one(s, spikes):
        if exact or cfg.segment_s is None or cfg.gradient == "adjoint":
            return unit_trace(
                s, spikes, batch.dt, cfg.method, adjoint=cfg.gradient == "adjoint" and not exact, **unroll
            )
        return unit_trace_segmented(
            s,
            spikes,
            batch.dt,
            cfg.method,
            segment_steps=max(1, int(round(cfg.segment_s / batch.dt))),
            warmup_steps=int(round(cfg.warmup_s / batch.dt)),
            **unroll,
        )

    return eqx.filter_vmap(one, in_axes=(axes, 0))(sensor, batch.spikes)


def project_batch(traces, batch: RecordingBatch, lags) -> Projection:
    """:func:`project` for every cell of the batch (``vmap``)."""
    return jax.vmap(project, in_axes=(0, 0, 0, 0, 0, 0, None, None))(
        traces, batch.t_frames, batch.dff, batch.weight, batch.basis, batch.basis_mask, lags, batch.dt
    )


def batch_loss(params, batch: RecordingBatch, cfg: FitConfig, lags, exact: bool = False):
    """The training loss (:func:`combine_cells` of the EVs; ``FitConfig.loss``) and the
    per-cell :class:`Projection`."""
    sensor = unwrap(params)
    traces = _traces(sensor, batch, cfg, exact)
    proj = project_batch(traces, batch, lags)
    return combine_cells(proj.ev, cfg.loss), proj


def forward_mode(inner, outer):
    """``x -> outer(inner(x), aux)`` for a flat vector ``x`` whose gradient is taken with
    ``inner`` in forward mode and ``outer`` in reverse mode.

    ``inner(x, aux)`` is the expensive, long sequential part with few inputs (the simulation:
    ``x`` = the free constants, a few scalars) and a large output (the fine traces);
    ``outer(y, aux)`` is cheap and scalar (the projection and loss). The Jacobian of ``inner``
    costs one ``jvp`` per entry of ``x``, ``vmap``-ed so that the scan runs once with
    ``x.size`` tangents; reverse mode would have to store or recompute the whole scan. The
    returned function has a ``custom_vjp``, so ``jax.grad``, ``eqx.filter_value_and_grad`` and
    Optax's line searches all use this gradient. ``aux`` (a pytree of arrays, e.g. the data)
    gets a zero cotangent.
    """

    @jax.custom_vjp
    def f(x, aux):
        return outer(inner(x, aux), aux)

    def f_fwd(x, aux):
        basis = jnp.eye(x.size, dtype=x.dtype)
        y, jac = jax.vmap(lambda v: jax.jvp(lambda z: inner(z, aux), (x,), (v,)), out_axes=(None, 0))(basis)
        val, g_y = jax.value_and_grad(outer)(y, aux)
        g = jnp.tensordot(jac, g_y, axes=g_y.ndim)
        return val, (g, aux)

    def f_bwd(res, ct):
        g, aux = res
        return ct * g, jax.tree_util.tree_map(jnp.zeros_like, aux)

    f.defvjp(f_fwd, f_bwd)
    return f


def make_loss(frozen, cfg: FitConfig, lags):
    """The training loss ``loss(trainable, batch)`` (``FitConfig.loss``) with the gradient
    path chosen by ``cfg.gradient`` (see :class:`FitConfig`)."""
    if cfg.gradient in ("reverse", "adjoint"):
        return lambda tr, b: batch_loss(eqx.combine(tr, frozen), b, cfg, lags)[0]

    def outer(traces, b):
        return combine_cells(project_batch(traces, b, lags).ev, cfg.loss)

    def loss(tr, b):
        x, unravel = jax.flatten_util.ravel_pytree(tr)

        def inner(z, b):
            return _traces(unwrap(eqx.combine(unravel(z), frozen)), b, cfg, exact=True)

        return forward_mode(inner, outer)(x, b)

    return loss


# Compiled once per (shapes, FitConfig, optimiser), not once per call: every fit used to build
# new closures and so recompiled (~10 s on CPU) even when refitting the same cells in a notebook.


@functools.lru_cache(maxsize=4)
def _optimizer(name: str):
    """The Optax optimiser (``name`` validated by :func:`fit`); cached so that every fit gets
    the same (hashable, static) object and the jitted step below is reused. Adam's step size is
    an injected hyperparameter (:func:`optax.inject_hyperparams`), set before every step from
    :func:`_adam_schedule`, so neither ``learning_rate`` nor ``n_steps`` enters the compiled step."""
    if name == "adam":
        return optax.inject_hyperparams(optax.adam)(learning_rate=0.0)
    return optax.lbfgs()


def _adam_schedule(learning_rate: float, n_steps: int):
    """Adam's step size per step: cosine decay from ``learning_rate`` to a tenth of it over
    ``n_steps`` (log units per step)."""
    return optax.cosine_decay_schedule(learning_rate, max(1, n_steps), alpha=0.1)


@eqx.filter_jit
def _loss_value(trainable, frozen, batch, lags, cfg: FitConfig):
    return make_loss(frozen, cfg, lags)(trainable, batch)


@eqx.filter_jit
def _train_step(trainable, opt_state, frozen, batch, lags, cfg: FitConfig, optim, line_search: bool):
    def loss(t):
        return make_loss(frozen, cfg, lags)(t, batch)

    val, grads = eqx.filter_value_and_grad(loss)(trainable)
    if line_search:
        updates, opt_state = optim.update(grads, opt_state, trainable, value=val, grad=grads, value_fn=loss)
    else:
        updates, opt_state = optim.update(grads, opt_state, trainable)
    return eqx.apply_updates(trainable, updates), opt_state, val


@eqx.filter_jit
def _exact_loss(params, batch, lags, cfg: FitConfig):
    return batch_loss(params, batch, cfg, lags, exact=True)


# ---------------------------------------------------------------------------- results


@dataclasses.dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes:
        sensor: the fitted sensor (per-cell constants as ``(cells,)`` leaves).
        params: the fitted parameter tree (wrapped, for resuming or re-fitting).
        constants: every constant by name (SI).
        free, per_cell: the names that were fitted.
        cells: per recording: ``ev`` (exact simulation), ``rho_rel``, ``lag_s``.
        loss_history: training loss per step.
        n_steps: optimisation steps done; ``time_s``: wall time (s) of this call.
        start_losses: screening loss of each random start.
        at_bound: free constants that ended at an edge of their constraint's range
            (:func:`constants_at_bounds`).
    """

    sensor: object
    params: object
    constants: dict
    free: tuple
    per_cell: tuple
    cells: dict
    loss_history: list
    n_steps: int
    time_s: float
    start_losses: list
    config: FitConfig
    at_bound: tuple = ()


def _config_hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save_checkpoint(path, trainable, opt_state, step, history, meta):
    save_checkpoint(path, (trainable, opt_state, jnp.asarray(step)), step, history, meta)  # atomic pair


def _load_checkpoint(path, like, meta):
    (trainable, opt_state, _), step, history = load_checkpoint(path, like, meta)  # clear errors
    return trainable, opt_state, step, history


def _perturb(trainable, key, spread):
    leaves, treedef = jax.tree_util.tree_flatten(trainable)
    keys = jax.random.split(key, max(1, len(leaves)))
    new = [l + spread * jax.random.normal(k, jnp.shape(l), jnp.result_type(l)) for l, k in zip(leaves, keys)]
    return jax.tree_util.tree_unflatten(treedef, new)


def fit(
    recordings,
    sensor: Sensor,
    free,
    *,
    per_cell=(),
    constraints=None,
    n_steps: int = 150,
    learning_rate: float = 0.05,
    optimizer: str = "adam",
    n_starts: int = 1,
    start_spread: float = 0.5,
    key=None,
    config: FitConfig | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 10,
    stop_after: int | None = None,
    progress: bool = True,
) -> FitResult:
    """Fit the ``free`` constants of ``sensor`` to recordings, shared across cells (or per cell
    for the names in ``per_cell``), under the fixed evaluation protocol.

    Args:
        recordings: :class:`Recording` objects (one indicator).
        sensor: initial sensor (any :class:`jaxgeci.Sensor` whose constants are inexact
            array leaves); its constants are the first start.
        free: names of the constants to fit (see :func:`constant_names`); fitted in log space.
        per_cell: subset of ``free`` fitted per cell.
        constraints: ``{name: "positive" | "real" | (lower, upper) | ("positive", upper)}``
            (default positive; see :func:`make_params`).
        n_steps: optimiser steps.
        learning_rate: Adam's initial step size in log space (0.05 = 5 % relative steps),
            cosine-decayed to a tenth of it over ``n_steps``.
        optimizer: ``"adam"`` or ``"lbfgs"`` (optax.lbfgs, zoom line search). The compiled
            step depends on neither ``learning_rate`` nor ``n_steps``: refits with other values
            compile nothing.
        n_starts: number of starts screened with the loss (start 0 = the given constants,
            others perturbed by ``start_spread`` in log space); the best is optimised.
        key: ``jax.random`` key for the starts (default ``key(0)``).
        config: :class:`FitConfig` (dt, lags, segmentation).
        checkpoint: file path; state is saved every ``checkpoint_every`` steps and at the end,
            with its sidecar ``PATH.json`` as one atomic pair (a kill never tears them), and an
            existing checkpoint of the same fit is resumed. ``PATH.lock`` keeps a second fit
            off the same path while this one runs (``ValueError``); a corrupt, incomplete or
            foreign checkpoint is refused with a ``ValueError`` naming it.
        stop_after: stop after this many steps in this call (simulates an interruption).
        progress: show a tqdm progress bar.

    Returns:
        :class:`FitResult`.
    """
    from tqdm.auto import tqdm

    check_int("n_steps", n_steps)
    check_int("n_starts", n_starts, minimum=1)
    check_int("checkpoint_every", checkpoint_every, minimum=1)
    if stop_after is not None:
        check_int("stop_after", stop_after)
    check_number("start_spread", start_spread, unit="log units")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}.")
    if optimizer == "adam":
        check_number("learning_rate", learning_rate, unit="log units per step", strict=True)
    cfg = config or FitConfig()
    cfg = dataclasses.replace(cfg, per_cell=tuple(per_cell))
    sensor.check_run(cfg.dt, cfg.method)  # e.g. an unstable Euler step, before anything runs
    recs = list(recordings)
    for r in recs:  # a flat dff has no EV: refuse before compiling (its loss froze at ~2e19)
        check_scorable(r, cfg.burn_in_s)
    lock = CheckpointLock.acquire(checkpoint)  # a second fit on this checkpoint: a clear error, now
    t_start = time.perf_counter()
    batch = make_batch(
        recs, cfg.dt, burn_in_s=cfg.burn_in_s, max_lag_s=cfg.max_lag_s, isolated_weight=cfg.isolated_weight
    )
    lags = jnp.asarray(lag_grid(cfg.max_lag_s, cfg.lag_step_s), dtype=float)
    params0 = make_params(sensor, free, per_cell, batch.n_cells, constraints)
    trainable, frozen = eqx.partition(params0, is_free(params0))

    optim = _optimizer(optimizer)  # one compiled step for every learning_rate and n_steps
    schedule = _adam_schedule(float(learning_rate), int(n_steps)) if optimizer == "adam" else None

    # ---- multi-start screening
    key = jax.random.key(0) if key is None else key
    start_losses = []
    if n_starts > 1:
        cands = [trainable] + [_perturb(trainable, k, start_spread) for k in jax.random.split(key, n_starts - 1)]
        start_losses = [float(_loss_value(c, frozen, batch, lags, cfg)) for c in cands]
        trainable = cands[int(np.nanargmin(start_losses))]

    # strongly typed from the start: optax.lbfgs's line-search info starts weakly typed and
    # would otherwise recompile the step after the first update
    opt_state = jax.tree_util.tree_map(
        lambda x: jnp.asarray(x, dtype=x.dtype) if eqx.is_array(x) else x, optim.init(trainable)
    )

    def step(tr, st, b):
        return _train_step(tr, st, frozen, b, lags, cfg, optim, optimizer == "lbfgs")

    meta = {
        "hash": _config_hash(
            {
                "names": batch.names,
                "free": list(free),
                "per_cell": list(per_cell),
                "n_steps": n_steps,
                "lr": learning_rate,
                "opt": optimizer,
                "n_starts": n_starts,
                "spread": start_spread,
                "cfg": dataclasses.asdict(cfg),
                "init": sensor_constants(sensor),
                "state": 2,  # opt_state layout (2: Adam with an injected step size)
            }
        )
    }
    done, history = 0, []
    ckpt = None if checkpoint is None else os.fspath(checkpoint)
    if ckpt is not None and checkpoint_exists(ckpt):
        trainable, opt_state, done, history = _load_checkpoint(ckpt, (trainable, opt_state, jnp.asarray(0)), meta)

    todo = n_steps - done if stop_after is None else min(n_steps - done, stop_after)
    with tqdm(total=n_steps, initial=done, disable=not progress, desc="fit", leave=False) as bar:
        for _ in range(todo):
            if schedule is not None:  # the step size of step `done` (0-based), as a traced leaf
                lr = opt_state.hyperparams["learning_rate"]
                hp = {**opt_state.hyperparams, "learning_rate": jnp.asarray(schedule(done), dtype=lr.dtype)}
                opt_state = opt_state._replace(hyperparams=hp)
            trainable, opt_state, val = step(trainable, opt_state, batch)
            done += 1
            history.append(float(val))
            bar.update(1)
            bar.set_postfix(loss=f"{float(val):.4f}")
            if ckpt is not None and (done % checkpoint_every == 0 or done == n_steps):
                _save_checkpoint(ckpt, trainable, opt_state, done, history, meta)
    if ckpt is not None and todo > 0:
        _save_checkpoint(ckpt, trainable, opt_state, done, history, meta)
    lock.release()

    params = eqx.combine(trainable, frozen)
    fitted = unwrap(params)
    constants = sensor_constants(fitted)
    if cfg.isolated_weight:
        batch = make_batch(recs, cfg.dt, burn_in_s=cfg.burn_in_s, max_lag_s=cfg.max_lag_s)
    _, proj = _exact_loss(params, batch, lags, cfg)
    cells = {
        n: {"ev": float(proj.ev[i]), "rho_rel": float(proj.rho_rel[i]), "lag_s": float(proj.lag_s[i])}
        for i, n in enumerate(batch.names)
    }
    return FitResult(
        sensor=fitted,
        params=params,
        constants=constants,
        free=tuple(free),
        per_cell=tuple(per_cell),
        cells=cells,
        loss_history=history,
        n_steps=done,
        time_s=time.perf_counter() - t_start,
        start_losses=start_losses,
        config=cfg,
        at_bound=constants_at_bounds({n: constants[n] for n in free}, constraints),
    )
