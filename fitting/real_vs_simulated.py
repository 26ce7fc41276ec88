"""The README's picture: real recordings next to jaxgeci's traces from the same spikes.

    python -m fitting.real_vs_simulated --data path/to/recordings [--out docs/real_vs_simulated.png]

For each indicator shown, the cell whose score is the median of its set (``jaxgeci.fitted_info``)
is loaded, and ``jaxgeci.evaluate`` simulates the shipped fitted sensor (``jaxgeci.fitted``)
from the recorded spike times under the fixed protocol (only a slow baseline, the amplitude and
one lag are fitted per cell). The figure shows the 20 s with the most spikes. The recordings are
not in the repository (Cascade ground truth: Chen et al. 2013, Zhang et al. 2023); the figure
credits them.
"""

from __future__ import annotations

import argparse
import os


SHOWN = (("GCaMP6f", "Chen et al. 2013"), ("jGCaMP8m", "Zhang et al. 2023"))
WINDOW_S = 20.0


def _median_cell(info: dict) -> str:
    cells = sorted(info["cells"].items(), key=lambda kv: kv[1])
    return cells[(len(cells) - 1) // 2][0]


def _busiest(t, spikes, width):
    import numpy as np

    starts = np.arange(t[0] + 2.0, max(t[0] + 2.0, t[-1] - width) + 1e-9, 0.5)
    counts = [np.sum((spikes >= s) & (spikes < s + width)) for s in starts]
    return float(starts[int(np.argmax(counts))])


def make_figure(data_dir: str, out: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import jaxgeci

    fig, axes = plt.subplots(len(SHOWN), 1, figsize=(11, 2.6 * len(SHOWN)), constrained_layout=True)
    for ax, (name, study) in zip(np.atleast_1d(axes), SHOWN):
        info = jaxgeci.fitted_info(name)
        cell = _median_cell(info)
        path = os.path.join(data_dir, cell + ".npz")
        rec = jaxgeci.load_recording(path)
        (r,) = jaxgeci.evaluate(jaxgeci.fitted(name), [rec])
        t0 = _busiest(rec.t_frames, rec.spike_times, WINDOW_S)
        m = (rec.t_frames >= t0) & (rec.t_frames <= t0 + WINDOW_S)
        t = rec.t_frames[m] - t0
        ax.plot(t, rec.dff[m], color="0.55", lw=0.8, label=f"recorded ΔF/F ({rec.frame_rate_hz:.0f} Hz frames)")
        ax.plot(t, r["model"][m], color="tab:red", lw=1.1, label="jaxgeci from the recorded spikes")
        s = rec.spike_times[(rec.spike_times >= t0) & (rec.spike_times <= t0 + WINDOW_S)] - t0
        lo = float(np.min(rec.dff[m]))
        ax.plot(s, np.full(s.shape, lo - 0.06 * np.ptp(rec.dff[m])), "|", color="k", ms=6, label="spikes")
        ax.set_title(
            f"{name}, {info['description'].split(' (')[0]}: cell {cell.split('_', 2)[-1]} "
            f"(data: {study}, Cascade); EV {r['ev']:.2f} over the whole recording",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel("ΔF/F")
        ax.set_xlim(0, WINDOW_S)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    ax.set_xlabel("time (s)")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    labels[0] = "recorded ΔF/F"
    fig.legend(handles, labels, loc="outside upper center", ncol=3, fontsize=9, frameon=False)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fitting.real_vs_simulated", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder of the ground-truth recording .npz files")
    p.add_argument("--out", default=os.path.join("docs", "real_vs_simulated.png"), help="figure to write")
    a = p.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    print(f"wrote {make_figure(a.data, a.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
