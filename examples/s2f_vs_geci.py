"""S2F (Zhang et al. 2023) versus the Cleo/NAOMi GECI model, and the jGCaMP8 family.

For GCaMP6f and GCaMP6s, the mechanistic GECI (dynamic Ca + double-exponential binding, Cleo's
defaults) and the phenomenological spike-to-fluorescence (S2F) model fitted to recordings are
driven by the same spikes: 1 AP, 3 APs at 10 Hz, 10 APs at 50 Hz. The two models disagree on
the decay: after one spike the GECI's ΔF/F halves in about 1.3 s (GCaMP6f), the S2F model's in
about 0.3 s. The half-decay times are measured on the traces and written on the figure. The
last row shows the S2F responses of jGCaMP8f/m/s (with jGCaMP7f for reference).

The GECI rows use Cleo's presets on purpose (``jg.gcamp6f()``: Cleo's numbers, ΔF/F relative to
the Ca-free brightness) to show how they differ from models fitted to recordings; for realistic
traces use ``jg.fitted(name)`` (constants fitted to real cells, rest-relative ΔF/F).

Run: ``python examples/s2f_vs_geci.py`` (writes ``out/s2f_vs_geci.png``).
"""

from pathlib import Path

import numpy as np

import jaxgeci as jg


PATTERNS = {
    "1 AP": [0.0],
    "3 APs at 10 Hz": [0.0, 0.1, 0.2],
    "10 APs at 50 Hz": list(np.arange(10) * 0.02),
}
"""Spike times (s) relative to the first spike."""


def half_decay_time(t, y):
    """Time (s) from the peak of ``y`` until it first falls to half the peak (linear
    interpolation between samples); NaN if it never does within the trace."""
    i = int(np.argmax(y))
    half = 0.5 * y[i]
    below = np.nonzero(y[i:] < half)[0]
    if below.size == 0:
        return float("nan")
    j = i + int(below[0])
    t_half = t[j - 1] + (half - y[j - 1]) * (t[j] - t[j - 1]) / (y[j] - y[j - 1])
    return float(t_half - t[i])


def spike_matrix(dt, n_steps, t_first):
    """Dense (time, patterns) spikes: one column per pattern, first spike at ``t_first`` (s)."""
    spikes = np.zeros((n_steps, len(PATTERNS)), np.float32)
    for j, times in enumerate(PATTERNS.values()):
        steps = np.floor((np.asarray(times) + t_first) / dt + 1e-9).astype(int)
        spikes[steps, j] = 1.0
    return spikes


def main(*, test_mode=False, seed=0, out_dir="out", show=False):
    """Simulate, plot and return the measured peaks and half-decay times.

    Args:
        test_mode: coarser and shorter run (for the test suite).
        seed: unused (deterministic example), kept for the examples' common signature.
        out_dir: folder for ``s2f_vs_geci.png``.
        show: open a window.

    Returns:
        dict ``{(model, indicator): {"peak_1AP": ..., "t_peak_1AP_s": ..., "half_decay_s": ...}}``
        with ``model`` in ("GECI", "S2F").
    """
    import matplotlib

    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    del seed
    dt = 2e-4 if test_mode else 1e-4  # s; Cleo's reference step is 0.1 ms
    duration = 2.6 if test_mode else 4.0  # s; long enough for the GECI's ~1.3 s (6f) half decay
    t_first = 0.2  # s of baseline before the first spike
    n_steps = int(round(duration / dt))
    spikes = spike_matrix(dt, n_steps, t_first)

    results = {}
    traces = {}
    for ind, geci in (("GCaMP6f", jg.gcamp6f()), ("GCaMP6s", jg.gcamp6s())):
        for model, sensor in (("GECI", geci), ("S2F", jg.s2f(ind))):
            res = jg.simulate(sensor, spikes, dt, record=("dFF",))
            t = np.asarray(res.t) - t_first
            dff = np.asarray(res.dFF, dtype=float)
            traces[model, ind] = (t, dff)
            one = dff[:, 0]
            i = int(np.argmax(one))
            results[model, ind] = {
                "peak_1AP": float(one[i]),
                "t_peak_1AP_s": float(t[i]),
                "half_decay_s": half_decay_time(t, one),
            }
    family = ["jGCaMP8f", "jGCaMP8m", "jGCaMP8s", "jGCaMP7f"]
    for ind in family:
        sensor = jg.s2f(ind)
        res = jg.simulate(sensor, spikes, dt, record=("dFF",))
        t = np.asarray(res.t) - t_first
        traces["S2F", ind] = (t, np.asarray(res.dFF, dtype=float))
        one = traces["S2F", ind][1][:, 0]
        results["S2F", ind] = {
            "peak_1AP": float(one.max()),
            "t_peak_1AP_s": float(t[int(np.argmax(one))]),
            "half_decay_s": half_decay_time(t, one),
        }

    fig, axes = plt.subplots(3, 3, figsize=(15, 11), constrained_layout=True)
    style = {"GECI": dict(color="tab:blue", lw=1.8), "S2F": dict(color="tab:orange", lw=1.8, ls="--")}
    label = {"GECI": "GECI (Cleo/NAOMi; ΔF/F vs apo, Cleo default)", "S2F": "S2F (Zhang et al. 2023 fit)"}
    for row, ind in enumerate(("GCaMP6f", "GCaMP6s")):
        for col, pattern in enumerate(PATTERNS):
            ax = axes[row, col]
            for model in ("GECI", "S2F"):
                t, dff = traces[model, ind]
                ax.plot(t, dff[:, col], label=label[model], **style[model])
            for s in PATTERNS[pattern]:
                ax.axvline(s, ymin=0, ymax=0.04, color="k", lw=1)
            ax.set_title(f"{ind}: {pattern}")
            ax.set_xlim(-0.1, duration - t_first)
            ax.set_xlabel("time after first spike (s)")
            ax.set_ylabel("ΔF/F")
            ax.grid(alpha=0.3)
            if col == 0:
                for k, model in enumerate(("GECI", "S2F")):
                    r = results[model, ind]
                    tp, pk, th = r["t_peak_1AP_s"], r["peak_1AP"], r["half_decay_s"]
                    ax.plot([tp, tp + th], [pk / 2, pk / 2], color=style[model]["color"], lw=3, alpha=0.6)
                    ax.plot([tp], [pk], "o", color=style[model]["color"])
                    ax.text(
                        0.97,
                        0.93 - 0.12 * k,
                        f"{model}: peak {pk:.3f} at {tp * 1e3:.0f} ms, t½ = {th:.2f} s",
                        transform=ax.transAxes,
                        ha="right",
                        va="top",
                        color=style[model]["color"],
                        fontsize=9,
                    )
                ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.76), fontsize=8)
    colors = {"jGCaMP8f": "tab:green", "jGCaMP8m": "tab:red", "jGCaMP8s": "tab:purple", "jGCaMP7f": "0.5"}
    for col, pattern in enumerate(PATTERNS):
        ax = axes[2, col]
        for ind in family:
            t, dff = traces["S2F", ind]
            r = results["S2F", ind]
            lab = ind if col else f"{ind} (1 AP: {r['peak_1AP']:.2f}, t½ {r['half_decay_s'] * 1e3:.0f} ms)"
            ax.plot(t, dff[:, col], color=colors[ind], lw=1.6, label=lab)
        for s in PATTERNS[pattern]:
            ax.axvline(s, ymin=0, ymax=0.04, color="k", lw=1)
        ax.set_xlim(-0.05, 1.0)
        ax.set_title(f"S2F, jGCaMP8 family: {pattern}")
        ax.set_xlabel("time after first spike (s)")
        ax.set_ylabel("ΔF/F")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(
        "GECI vs S2F: same spikes, different decay (dt = %.1f ms; black ticks: spikes; bars: half-decay after 1 AP)"
        % (dt * 1e3)
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "s2f_vs_geci.png", dpi=110)
    if show:
        plt.show()
    plt.close(fig)
    for (model, ind), r in results.items():
        print(
            f"{model:4s} {ind:9s} 1-AP peak {r['peak_1AP']:.3f} at {r['t_peak_1AP_s'] * 1e3:6.1f} ms, "
            f"half-decay {r['half_decay_s']:.3f} s"
        )
    return results


if __name__ == "__main__":
    main()
