"""Slow ΔF/F baseline of the fixed evaluation protocol: a cubic B-spline with uniform knots no
closer than ``min_knot_spacing_s`` (30 s). Cubic B-splines reproduce every polynomial of degree
<= 3 on their span, so the basis contains the offset and the linear drift."""

from __future__ import annotations

import math

import numpy as np


MIN_KNOT_SPACING_S = 30.0


def bspline_basis(t, t_start: float, t_stop: float, min_knot_spacing_s: float = MIN_KNOT_SPACING_S) -> np.ndarray:
    """Cubic B-spline design matrix on ``[t_start, t_stop]`` (s).

    The span is split into ``n = max(1, floor((t_stop - t_start)/min_knot_spacing_s))`` equal
    intervals (knot spacing >= ``min_knot_spacing_s``), giving ``n + 3`` basis functions.

    Args:
        t: evaluation times (s), ``(T,)``; clipped to the span.

    Returns:
        ``(T, n + 3)`` float64 matrix; rows sum to 1 (partition of unity).
    """
    t = np.clip(np.asarray(t, dtype=np.float64), t_start, t_stop)
    span = float(t_stop) - float(t_start)
    if not span > 0:
        raise ValueError(f"B-spline span must be > 0 s, got [{t_start!r}, {t_stop!r}].")
    n = max(1, int(math.floor(span / min_knot_spacing_s + 1e-9)))
    h = span / n
    # Uniform cardinal cubic B-spline: local coordinate u in [0, n]; basis j (j = 0..n+2)
    # is centred on knot (j - 1) (knots extended by 3 on each side).
    u = (t - t_start) / h
    out = np.zeros((t.size, n + 3))
    cell = np.minimum(np.floor(u).astype(np.int64), n - 1)
    s = u - cell
    # the four non-zero cubic pieces on a cell, for basis cell .. cell+3
    w0 = (1 - s) ** 3 / 6
    w1 = (3 * s**3 - 6 * s**2 + 4) / 6
    w2 = (-3 * s**3 + 3 * s**2 + 3 * s + 1) / 6
    w3 = s**3 / 6
    rows = np.arange(t.size)
    for k, w in enumerate((w0, w1, w2, w3)):
        out[rows, cell + k] = w
    return out
