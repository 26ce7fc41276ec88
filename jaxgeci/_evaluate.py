"""Evaluation of frozen constants under the fixed protocol: per recording, the exact sequential
unit trace and the variable projection of its nuisance terms (baseline, amplitude, lag); the
explained variance (EV) over the frames after the burn-in.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._batch import make_batch, RecordingBatch
from ._projection import lag_grid, model_frames, project
from ._recording import check_scorable, DEFAULT_BURN_IN_S, warn_other_indicator as _warn_other_indicator
from ._sensor import Sensor
from ._unit_trace import unit_trace


def evaluate(
    sensor: Sensor,
    recordings,
    *,
    dt: float = 1e-3,
    method: str = "accurate",
    max_lag_s: float = 0.05,
    lag_step_s: float = 0.001,
    burn_in_s: float = DEFAULT_BURN_IN_S,
) -> list[dict]:
    """Evaluate frozen constants on recordings under the fixed protocol: per recording only
    the B-spline baseline (knots >= 30 s apart), the amplitude ``rho_rel`` and one lag within
    ``±max_lag_s`` (grid step ``lag_step_s``, s) are fitted; exact sequential simulation at
    ``dt`` (s).

    Returns:
        One dict per recording: ``name``, ``ev``, ``rho_rel``, ``lag_s``, ``n_frames_scored``,
        ``model`` (ΔF/F at the frame times, ``(T,)`` numpy) and ``baseline`` (``(T,)``).
    """
    method = sensor.check_run(dt, method)  # dt > 0, a known method, a stable Euler step: resolved once
    out = []
    lags = jnp.asarray(lag_grid(max_lag_s, lag_step_s), dtype=float)
    for rec in recordings:
        check_scorable(rec, burn_in_s)  # a flat dff's EV would be -inf or NaN
        _warn_other_indicator(sensor, rec)
        b = make_batch([rec], dt, burn_in_s=burn_in_s, max_lag_s=max_lag_s)
        # without its (static) name, recordings of equal length share one compiled evaluation
        proj, model = _evaluate_one(sensor, dataclasses.replace(b, names=()), lags, method)
        T = rec.n_frames
        out.append(
            {
                "name": rec.name,
                "ev": float(proj.ev),
                "rho_rel": float(proj.rho_rel),
                "lag_s": float(proj.lag_s),
                "n_frames_scored": int(np.sum(rec.eval_mask(burn_in_s))),
                "model": np.asarray(model)[:T],
                "baseline": np.asarray(b.basis[0] @ proj.baseline_coef)[:T],
            }
        )
    return out


@eqx.filter_jit
def _evaluate_one(sensor, b: RecordingBatch, lags, method: str):
    """Exact trace, protocol fit and model frames of a one-recording batch (compiled once per
    recording length and sensor structure, not per call or per recording)."""
    trace = unit_trace(sensor, b.spikes[0], b.dt, method)
    proj = project(trace, b.t_frames[0], b.dff[0], b.weight[0], b.basis[0], b.basis_mask[0], lags, b.dt)
    return proj, model_frames(trace, b.t_frames[0], b.basis[0], proj, b.dt)


def explained_variance(dff, model, t_frames, burn_in_s: float = DEFAULT_BURN_IN_S) -> float:
    """``EV = 1 - mean((dff - model)^2) / var(dff)`` over frames with ``t >= t_frames[0] +
    burn_in_s`` (s): the protocol's score, computable outside the project from saved traces."""
    dff, model, t = (np.asarray(a, dtype=float) for a in (dff, model, t_frames))
    m = t >= t[0] + burn_in_s
    return float(1.0 - np.mean((dff[m] - model[m]) ** 2) / np.var(dff[m]))
