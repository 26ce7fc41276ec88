"""Recordings padded to one batch on a fine time grid (the fits' input; leading axis = cell).

Spike ``t`` (s) goes to step ``floor(t/dt)`` of the grid ``t_k = k dt``; frames after the
burn-in carry the protocol's weight; each recording gets its cubic B-spline baseline basis.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._baseline import bspline_basis, MIN_KNOT_SPACING_S
from ._recording import DEFAULT_BURN_IN_S, Recording
from ._validation import check_dt, check_number


class RecordingBatch(eqx.Module):
    """Recordings padded to common shapes (leading axis = cell), ready for ``vmap``.

    Attributes:
        spikes: spike counts on the fine grid, ``(cells, n_steps)``; step ``k`` covers
            ``[k dt, (k+1) dt)`` (s).
        t_frames: frame times (s), ``(cells, frames)`` (padding repeats the last time).
        dff: ΔF/F, ``(cells, frames)`` (padding 0).
        weight: 1 on frames after the burn-in, 0 elsewhere (and on padding), ``(cells, frames)``.
        basis: B-spline baseline design matrices, ``(cells, frames, n_basis)``.
        basis_mask: 1 for real basis columns, 0 for padding, ``(cells, n_basis)``.
        dt: fine time step (s).
        names: the recordings' names.
    """

    spikes: Float[Array, "cells steps"]
    t_frames: Float[Array, "cells frames"]
    dff: Float[Array, "cells frames"]
    weight: Float[Array, "cells frames"]
    basis: Float[Array, "cells frames basis"]
    basis_mask: Float[Array, "cells basis"]
    dt: float = eqx.field(static=True)
    names: tuple = eqx.field(static=True)

    @property
    def n_cells(self) -> int:
        return int(self.spikes.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.spikes.shape[1])


def make_batch(
    recordings,
    dt: float = 1e-3,
    *,
    burn_in_s: float = DEFAULT_BURN_IN_S,
    max_lag_s: float = 0.05,
    min_knot_spacing_s: float = MIN_KNOT_SPACING_S,
    isolated_weight: float = 0.0,
) -> RecordingBatch:
    """Pad recordings to one batch on a fine grid of step ``dt`` (s).

    ``isolated_weight`` (λ >= 0) multiplies the weight of the frames around isolated spikes
    (:meth:`Recording.isolated_spike_frames`) by ``1 + λ`` (a fidelity-aware training loss);
    0 (default) is the protocol's uniform weight.

    The grid covers ``[0, max(t_frames) + max_lag_s]`` plus two steps, so every lagged read
    lies inside it. Spike ``t`` goes to step ``floor(t/dt)`` (as
    :meth:`jaxgeci.SpikeTrains.from_times`).
    """
    recs = [r if isinstance(r, Recording) else Recording.create(*r) for r in recordings]
    if not recs:
        raise ValueError("make_batch needs at least one recording.")
    dt = check_dt(dt)
    check_number("max_lag_s", max_lag_s, unit="s")
    fastest = max(recs, key=lambda r: r.frame_rate_hz)
    if dt > 1.0 / fastest.frame_rate_hz:
        raise ValueError(
            f"dt={dt!r} s is longer than the frame period of {fastest.name!r} "
            f"({1.0 / fastest.frame_rate_hz:.4g} s at {fastest.frame_rate_hz:g} Hz): the fine grid "
            "must resolve sub-frame spike timing; use dt <= 2 ms (1 ms for jGCaMP8)."
        )
    t_max = max(r.duration_s for r in recs)
    n_steps = int(np.ceil((t_max + abs(max_lag_s)) / dt)) + 2
    n_frames = max(r.n_frames for r in recs)
    bases = [bspline_basis(r.t_frames, r.t_frames[0], r.t_frames[-1], min_knot_spacing_s) for r in recs]
    n_basis = max(b.shape[1] for b in bases)
    C = len(recs)
    spikes = np.zeros((C, n_steps))
    t = np.zeros((C, n_frames))
    y = np.zeros((C, n_frames))
    w = np.zeros((C, n_frames))
    B = np.zeros((C, n_frames, n_basis))
    bm = np.zeros((C, n_basis))
    for i, (r, b) in enumerate(zip(recs, bases)):
        k = np.floor(r.spike_times / dt + 1e-9).astype(np.int64)
        np.add.at(spikes[i], k, 1.0)
        T = r.n_frames
        t[i, :T] = r.t_frames
        t[i, T:] = r.t_frames[-1]
        y[i, :T] = r.dff
        w[i, :T] = r.eval_mask(burn_in_s) * (1.0 + isolated_weight * r.isolated_spike_frames())
        B[i, :T, : b.shape[1]] = b
        bm[i, : b.shape[1]] = 1.0
    f = lambda a: jnp.asarray(a, dtype=float)
    return RecordingBatch(
        spikes=f(spikes),
        t_frames=f(t),
        dff=f(y),
        weight=f(w),
        basis=f(B),
        basis_mask=f(bm),
        dt=dt,
        names=tuple(r.name for r in recs),
    )
