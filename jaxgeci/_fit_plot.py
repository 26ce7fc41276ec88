"""Figure of one evaluated recording: data, fitted model and spikes, a zoom on the busiest
stretch, and the residual. matplotlib is imported lazily (extras ``[examples]``/``[test]``)."""

from __future__ import annotations

import numpy as np


def busiest_window(spike_times, t_frames, width_s: float) -> tuple[float, float]:
    """``(start, stop)`` (s) of the ``width_s``-long stretch of ``t_frames`` holding the most
    spikes (the first stretch if there are none)."""
    t = np.asarray(t_frames, dtype=float)
    sp = np.asarray(spike_times, dtype=float)
    lo, hi = float(t[0]), float(t[-1])
    if hi - lo <= width_s or sp.size == 0:
        return lo, min(hi, lo + width_s)
    starts = np.clip(sp - 0.5 * width_s, lo, hi - width_s)
    counts = np.searchsorted(sp, starts + width_s, side="right") - np.searchsorted(sp, starts, side="left")
    a = float(starts[int(np.argmax(counts))])
    return a, a + width_s


def plot_evaluation(recording, result: dict, *, zoom_s: float = 20.0, fig=None):
    """Plot one recording against its evaluated model.

    Rows: the whole trace (data, model, spike ticks), the busiest ``zoom_s`` seconds of it
    (omitted when the recording is not longer than 1.5 ``zoom_s``), and the residual
    ``dff - model``. The title gives the protocol's EV, ``rho_rel`` and lag.

    Args:
        recording: the :class:`jaxgeci.Recording`.
        result: its entry of :func:`jaxgeci.evaluate` (``model``, ``ev``, ``rho_rel``,
            ``lag_s``).
        zoom_s: length of the zoomed stretch (s).
        fig: a matplotlib figure to draw into (default: a new one).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    t, y = np.asarray(recording.t_frames), np.asarray(recording.dff)
    m = np.asarray(result["model"])
    if m.shape != y.shape:
        raise ValueError(f"result['model'] has shape {m.shape}; the recording has {y.shape} frames.")
    sp = np.asarray(recording.spike_times)
    zoom = t[-1] - t[0] > 1.5 * zoom_s
    rows = 3 if zoom else 2
    fig = fig or plt.figure(figsize=(11, 2.2 * rows))
    axes = fig.subplots(rows, 1, height_ratios=[2] * (rows - 1) + [1])
    windows = [(float(t[0]), float(t[-1]))] + ([busiest_window(sp, t, zoom_s)] if zoom else [])
    for ax, (a, b) in zip(axes, windows):
        sel = (t >= a) & (t <= b)
        ax.plot(t[sel], y[sel], color="0.5", lw=0.6, label="data")
        ax.plot(t[sel], m[sel], color="C3", lw=0.9, label="model")
        span = float(np.ptp(y[sel])) if sel.any() else 1.0
        low = float(np.min(y[sel])) if sel.any() else 0.0
        ticks = sp[(sp >= a) & (sp <= b)]
        ax.vlines(ticks, low - 0.15 * span, low - 0.05 * span, color="k", lw=0.6, label="spikes")
        ax.set_xlim(a, b)
        ax.set_ylabel("ΔF/F")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(
        f"{recording.name}  EV={result['ev']:.3f}  rho_rel={result['rho_rel']:.3g}  lag={1e3 * result['lag_s']:.0f} ms"
    )
    if zoom:
        axes[1].set_title(f"busiest {zoom_s:g} s", fontsize=9)
    axes[-1].plot(t, y - m, color="C0", lw=0.5)
    axes[-1].axhline(0.0, color="k", lw=0.5)
    axes[-1].set(xlim=(t[0], t[-1]), xlabel="time (s)", ylabel="residual")
    fig.tight_layout()
    return fig
