"""What real recordings also have: neuropil, photobleaching, slow drift, spike-amplitude jitter,
and ΔF/F computed the way analysis pipelines compute it.

Pure functions on time-major arrays (``(frames,)`` or ``(frames, rois)``); times in s, rates in
1/s, fluorescence in photons (or any linear unit), ΔF/F dimensionless.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._driver import ar1
from ._validation import check_number


BLEACH_POWER_EXPONENT = 3.0
"""Two-photon photobleaching rate ∝ Pᵏ with k ≈ 3 (Patterson & Piston 2000, Biophys J 78:2159,
measured k ≥ 3 for 2P excitation of GFP and dyes: higher-order photobleaching)."""

SPIKE_AMPLITUDE_CV = 0.3
"""Spike-to-spike ΔF/F amplitude variability (coefficient of variation), as modelled by
Lütcke et al. 2013 (Front Neural Circuits 7:201, CalciumSim)."""

SUITE2P_NEUROPIL_FACTOR = 0.7
"""suite2p's default neuropil coefficient: ``F - 0.7 F_neu``."""


# ar1, the AR(1) recursion over time, lives in the one time-loop module (jaxgeci._driver)


def ou_drift(key, n_frames: int, frame_period: float, tau, sigma, shape=()):
    """Stationary Ornstein–Uhlenbeck drift sampled at the frames (dimensionless ΔF/F units).

    ``tau``: correlation time (s); ``sigma``: stationary std; frame ``m``'s innovation from
    ``fold_in(key, m + 1)``, the initial state from ``fold_in(key, 0)`` (stationary start).
    Exact discretisation: ``a = exp(-frame_period / tau)``, innovation std ``sigma sqrt(1 - a²)``.
    Returns ``(n_frames, *shape)``.
    """
    a = jnp.broadcast_to(jnp.exp(-frame_period / jnp.asarray(tau, dtype=float)), shape)
    sig = jnp.broadcast_to(jnp.asarray(sigma, dtype=float), shape)
    return _ou(key, int(n_frames), a, sig, tuple(shape))


@functools.partial(jax.jit, static_argnums=(1, 4))  # one program: eager dispatch of the scan's levels is slow
def _ou(key, n_frames, a, sig, shape):
    x0 = jax.random.normal(jax.random.fold_in(key, 0), shape) * sig
    ks = jax.vmap(lambda m: jax.random.fold_in(key, m + 1))(jnp.arange(n_frames))
    step_sd = sig * jnp.sqrt(1.0 - a * a)
    e = jax.vmap(lambda k: jax.random.normal(k, shape) * step_sd)(ks)
    return ar1(a, e, x0)


# ----------------------------------------------------------------------------- bleaching
def bleach_rate(power, *, rate_ref, power_ref, k=BLEACH_POWER_EXPONENT):
    """Photobleaching rate (1/s) at laser ``power`` (W): ``rate_ref (power/power_ref)**k``."""
    return rate_ref * (jnp.asarray(power, dtype=float) / power_ref) ** k


def bleach_factor(t, rate):
    """Remaining fluorescence fraction ``exp(-rate t)`` at times ``t`` (s), rate in 1/s."""
    return jnp.exp(-jnp.asarray(rate, dtype=float) * jnp.asarray(t, dtype=float))


# ----------------------------------------------------------------------------- amplitude jitter
def spike_amplitudes(key, n_spikes: int, cv=SPIKE_AMPLITUDE_CV):
    """Per-spike amplitude factors (dimensionless): Gamma with mean 1 and coefficient of
    variation ``cv`` (``cv=0``: all ones). Use them as fractional spike counts of a sensor
    simulation (a spike of weight w adds w times the calcium of one spike)."""
    cv = jnp.asarray(cv, dtype=float)
    shape_k = 1.0 / jnp.maximum(cv * cv, 1e-12)
    g = jax.random.gamma(key, shape_k, (n_spikes,)) / shape_k
    return jnp.where(cv > 0, g, 1.0)


# ----------------------------------------------------------------------------- neuropil
def annulus_weights(roi_xy, neuron_xy, *, inner, outer):
    """Neuropil weights ``(rois, neurons)``: each row averages the neurons whose distance to the
    ROI centre lies in ``[inner, outer)`` (m), like suite2p's neuropil annulus (a row with none
    is all zeros). Positions in m, ``(rois, d)`` and ``(neurons, d)``."""
    roi_xy, neuron_xy = np.asarray(roi_xy, float), np.asarray(neuron_xy, float)
    d = np.linalg.norm(roi_xy[:, None, :] - neuron_xy[None, :, :], axis=-1)
    w = ((d >= inner) & (d < outer)).astype(float)
    n = w.sum(axis=1, keepdims=True)
    return w / np.maximum(n, 1.0)


def annulus_neuropil(dff, roi_xy, *, inner, outer):
    """Each ROI's neuropil ΔF/F, ``(frames, rois)``: the mean ΔF/F ``dff`` ``(frames, rois)`` of
    the ROIs whose distance to its centre lies in ``[inner, outer)`` (m), i.e.
    ``dff @ annulus_weights(roi_xy, roi_xy, ...).T`` (0 where none), with positions ``roi_xy``
    ``(rois, d)`` in m. Computed in square tiles of side ``4 outer``: each tile's weights see
    only the ROIs within ``outer`` of the tile, so memory and work grow linearly in ROIs (the
    dense weights of 1e4 ROIs take 0.8 GB and their distances 2.4 GB)."""
    inner = check_number("inner", inner, unit="m")
    outer = check_number("outer", outer, unit="m", strict=True)
    xy = np.asarray(roi_xy, float)
    dff = jnp.asarray(dff)
    if xy.ndim != 2 or dff.ndim != 2 or dff.shape[1] != xy.shape[0]:
        raise ValueError(
            f"annulus_neuropil needs dff (frames, rois) and roi_xy (rois, d), got {dff.shape}, {xy.shape}."
        )
    side = 4.0 * outer
    cell = np.floor(xy / side).astype(np.int64)
    keys, tile = np.unique(cell, axis=0, return_inverse=True)
    tile = tile.reshape(-1)
    rois, nbs = [], []
    for k, key in enumerate(keys):
        lo, hi = key * side - outer, (key + 1) * side + outer
        rois.append(np.flatnonzero(tile == k))
        nbs.append(np.flatnonzero(np.all((xy >= lo) & (xy < hi), axis=1)))
    # one product per tile, its ROI and neighbour counts padded to powers of 2 (zero weights):
    # a handful of shapes, each compiled once, and no array larger than a tile's gather
    bucket = lambda n: 1 << max(0, int(n) - 1).bit_length()  # noqa: E731
    parts, where, at = [], np.empty(xy.shape[0], dtype=np.int64), 0
    for roi, nb in zip(rois, nbs):
        r, n = bucket(len(roi)), bucket(len(nb))
        W = np.zeros((r, n))
        W[: len(roi), : len(nb)] = annulus_weights(xy[roi], xy[nb], inner=inner, outer=outer)
        idx = np.zeros(n, dtype=np.int64)
        idx[: len(nb)] = nb
        parts.append(dff[:, idx] @ jnp.asarray(W.T, dff.dtype))
        where[roi] = at + np.arange(len(roi))
        at += r
    return jnp.concatenate(parts, axis=1)[:, where]


def raw_fluorescence(dff_cell, dff_neuropil, *, f0, neuropil_level, contamination=1.0, bleach=1.0, drift=0.0):
    """Noise-free ROI and neuropil fluorescence (photons/frame, or any linear unit).

    ``F_neu = neuropil_level * bleach * (1 + dff_neuropil)`` and ``F_raw = f0 * bleach *
    (1 + dff_cell + drift) + contamination * F_neu``: the ROI's own fluorescence plus the
    out-of-focus neuropil under it. The brightness ratio ``F_neu/F_raw`` at rest is
    ``neuropil_level / (f0 + contamination neuropil_level)`` (real data: 0.56–0.95, median 0.81).
    Returns ``(f_raw, f_neuropil)``.
    """
    f_neu = neuropil_level * bleach * (1.0 + dff_neuropil)
    f_raw = f0 * bleach * (1.0 + dff_cell + drift) + contamination * f_neu
    return f_raw, f_neu


# ----------------------------------------------------------------------------- ΔF/F pipelines
def running_percentile(x, window: int, q: float, *, stride: int | None = None):
    """Running ``q``-th percentile (0–100) of ``x`` over a centred window of ``window`` frames,
    evaluated every ``stride`` frames (default ``window // 10``) and linearly interpolated
    (the window is clipped at the ends). ``(frames,)`` or ``(frames, rois)``."""
    x = jnp.asarray(x)
    n = x.shape[0]
    window = int(max(1, min(window, n)))
    stride = int(max(1, stride or window // 10))
    centres = np.arange(0, n, stride)
    if centres[-1] != n - 1:
        centres = np.append(centres, n - 1)
    starts = np.clip(centres - window // 2, 0, n - window)
    idx = starts[:, None] + np.arange(window)[None, :]
    p = jnp.percentile(x[idx], q, axis=1)  # (centres, ...)
    t = jnp.arange(n, dtype=p.dtype)
    if x.ndim == 1:
        return jnp.interp(t, jnp.asarray(centres, p.dtype), p)
    return jax.vmap(lambda col: jnp.interp(t, jnp.asarray(centres, p.dtype), col), in_axes=1, out_axes=1)(p)


def dff_from_fluorescence(
    f_raw,
    f_neuropil,
    *,
    neuropil_factor=SUITE2P_NEUROPIL_FACTOR,
    baseline: str = "running",
    percentile: float = 8.0,
    window_s: float = 60.0,
    frame_rate=None,
):
    """ΔF/F the way pipelines compute it: ``Fc = F_raw - neuropil_factor F_neu``, then
    ``(Fc - F0) / F0``.

    ``baseline="running"`` (suite2p-like): F0 is the running ``percentile`` of Fc over
    ``window_s`` (s; needs ``frame_rate``, Hz). ``baseline="global"`` (the variant of the
    jGCaMP7f/8 ground-truth recordings: factor 0.8, 20th percentile): F0 is the ``percentile``
    of Fc over the whole trace.
    """
    fc = jnp.asarray(f_raw) - neuropil_factor * jnp.asarray(f_neuropil)
    if baseline == "running":
        if frame_rate is None:
            raise ValueError("frame_rate (Hz) is needed for baseline='running'.")
        fr = check_number("frame_rate", frame_rate, unit="Hz", strict=True)
        check_number("window_s", window_s, unit="s", strict=True)
        f0 = running_percentile(fc, int(round(window_s * fr)), percentile)
    elif baseline == "global":
        f0 = jnp.percentile(fc, percentile, axis=0, keepdims=True)
    else:
        raise ValueError(f"baseline must be 'running' or 'global', got {baseline!r}.")
    return (fc - f0) / f0
