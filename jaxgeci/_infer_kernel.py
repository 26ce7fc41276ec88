"""The frame-grid response kernel of a sensor, for spike inference.

A spike at an unknown time ``u`` spread uniformly over the frame bin ``[t_i - Δ/2, t_i + Δ/2)``
changes frame ``j`` by, on average over ``u``::

    K[m] = (1/Δ) ∫_{-Δ/2}^{Δ/2} h(m Δ - lag - v) dv,   m = j - i,

with ``h`` the sensor's own single-spike ΔF/F response minus its rest value (from
:func:`jaxgeci.unit_trace` on a fine grid of step ``dt``; 0 before the spike) and ``lag`` (s)
the delay of the fluorescence after the spike (positive = fluorescence later). ``K`` is
exact for a linear sensor; it is the small-signal kernel of a nonlinear one.
"""

from __future__ import annotations

import math

import jax
import numpy as np


_KERNEL_MAX_S = 60.0
"""Longest kernel support (s); a slower tail is absorbed by the slow baseline."""
_KERNEL_REL_TOL = 1e-4
"""The kernel is cut where it stays below this fraction of its peak."""


def single_spike_trace(sensor, dt: float, trace: str = "dFF") -> np.ndarray:
    """The sensor's response to one spike at ``t = 0`` minus rest, on ``t_k = k dt`` (s), cut
    where it stays below ``1e-4`` of its peak (at most 60 s): ``"dFF"`` from
    :func:`jaxgeci.unit_trace`, or another recorded trace (e.g. S2F's latent ``"c"``) from
    :func:`jaxgeci.simulate`."""
    n = int(math.ceil(_KERNEL_MAX_S / dt)) + 2
    spikes = np.zeros(n)
    spikes[0] = 1.0
    if trace == "dFF":
        from . import unit_trace  # the public entry (imported at call time)

        h = np.asarray(jax.jit(unit_trace, static_argnums=(2, 3))(sensor, spikes, dt, "accurate"), dtype=np.float64)
    else:
        from . import simulate  # the public driver entry (imported at call time)

        res = simulate(sensor, spikes[:, None], dt, method="accurate", record=(trace,))
        h = np.asarray(res.traces[trace], dtype=np.float64)[:, 0]
    h = h - h[0]
    peak = float(np.max(np.abs(h)))
    if not np.isfinite(peak) or peak <= 0:
        raise ValueError(
            f"the sensor's single-spike response ({trace}) is zero or not finite: nothing to deconvolve "
            f"(peak = {peak!r}); check the sensor's constants."
        )
    above = np.flatnonzero(np.abs(h) > _KERNEL_REL_TOL * peak)
    return h[: min(above[-1] + 3, h.size)]


def bin_average(h, dt: float, frame_period_s: float, *, lag_s: float, m0: int, size: int) -> np.ndarray:
    """``K[m] = (1/Δ) ∫ h(m Δ - lag - v) dv`` over ``v`` in ``[-Δ/2, Δ/2)`` for the offsets
    ``m = -m0 .. size - 1 - m0`` (``h`` on ``t_k = k dt``, 0 before ``t = 0``)."""
    D = float(frame_period_s)
    t = np.arange(h.size) * dt
    H = np.concatenate([[0.0], np.cumsum(0.5 * (h[1:] + h[:-1]) * dt)])  # ∫_0^t h (trapezoid)

    def H_at(x):
        # beyond the support H keeps growing with the (tiny) last value of h
        inside = np.interp(x, t, H)
        return np.where(x > t[-1], H[-1] + (x - t[-1]) * h[-1], np.where(x < 0, 0.0, inside))

    m = np.arange(-m0, size - m0)
    return (H_at(m * D - lag_s + D / 2) - H_at(m * D - lag_s - D / 2)) / D


def frame_kernel(sensor, frame_period_s: float, *, lag_s: float = 0.0, dt: float = 1e-3, max_frames: int | None = None):
    """The bin-averaged, lagged frame kernel of the sensor's ΔF/F (module docstring).

    Args:
        sensor: a scalar :class:`jaxgeci.Sensor`.
        frame_period_s: frame period Δ (s).
        lag_s: fluorescence delay after the spike (s).
        dt: fine step of the sensor simulation (s).
        max_frames: cut the causal part at this many frames (the recording's length).

    Returns:
        ``(kernel, m0)``: ``kernel[k]`` (ΔF/F per spike) is ``K[k - m0]``; ``m0 >= 0`` frames of
        the kernel lie before the spike's own frame (negative lags and the bin's half width).
    """
    D = float(frame_period_s)
    h = single_spike_trace(sensor, dt, "dFF")
    support = h.size * dt
    m0 = max(0, int(math.ceil((-lag_s + D / 2) / D)))
    m1 = int(math.ceil((support + abs(lag_s) + D / 2) / D)) + 1
    if max_frames is not None:
        m1 = min(m1, int(max_frames))
    return bin_average(h, dt, D, lag_s=lag_s, m0=m0, size=m0 + m1 + 1), m0
