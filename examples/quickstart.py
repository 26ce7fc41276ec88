"""Quick start: ~1,000 Poisson-firing neurons imaged by a GCaMP6f two-photon scope.

    python examples/quickstart.py            # writes out/quickstart.png, prints a summary

Neurons sit at random in a 500 x 500 x 200 µm box of cortex centred under the objective. The
objective looks down (+z) and focuses 100 µm deep; every neuron whose soma (radius 10 µm)
crosses the focal plane inside the 500 µm field of view, and whose single-spike SNR passes the
cut, becomes an ROI. We image 10 s at ~30 Hz (dt = 0.1 ms, so one frame every 333 steps =
30.03 Hz) and plot a 3-D view of the scope and ROIs next to ΔF/F traces of a few ROIs with
their spikes.

The traces are meant to look like an experiment's: the GCaMP6f constants fitted to real
recordings (``jg.fitted("GCaMP6f")``, Cascade ground truth of Chen et al. 2013), ΔF/F relative
to the resting fluorescence, and Cleo's Gaussian imaging noise at the level of those recordings
(0.023 ΔF/F per 30 Hz frame, see ``NOISE_STD_30HZ``). For Cleo's own GCaMP6f preset and numbers
use ``jg.gcamp6f()`` instead (see "Coming from Cleo" in the README).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

import jaxgeci as jg


NOISE_STD_30HZ = 0.023
"""Imaging noise (ΔF/F std per frame) of the GCaMP6f recordings the constants were fitted to
(Chen et al. 2013 via Cascade DS09: 60 Hz frames averaged in pairs to 30 Hz; frame-difference
MAD estimate, ``jg.estimate_noise_std``; the four cells give 0.021-0.027, median 0.0225)."""


def poisson_spike_trains(rates_hz, duration_s, dt, rng) -> jg.SpikeTrains:
    """Homogeneous Poisson spikes, one rate per neuron (Hz), as event lists."""
    n_neurons = rates_hz.size
    counts = rng.poisson(rates_hz * duration_s)
    neurons = np.repeat(np.arange(n_neurons), counts)
    times = rng.uniform(0.0, duration_s, size=neurons.size)
    n_steps = int(round(duration_s / dt))
    return jg.SpikeTrains.from_times(times, neurons, dt, n_steps, n_neurons)


def main(
    *,
    test_mode: bool = False,
    seed: int = 0,
    out_dir: str | Path = "out",
    n_neurons: int = 1000,
    duration_s: float = 10.0,
    dt: float = 1e-4,
    frame_rate_hz: float = 30.0,
    focus_depth_m: float = 100e-6,
    img_width_m: float = 500e-6,
    n_shown: int = 5,
    plot: bool | None = None,
) -> dict:
    """Run the quick start; returns a summary dict (ROIs, wall time, figure path)."""
    if test_mode:
        n_neurons, duration_s = min(n_neurons, 300), min(duration_s, 0.5)
    plot = (not test_mode) if plot is None else plot
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)

    # 1. Neurons in a 3-D box (m) and their Poisson spikes (log-normal rates, median 1 Hz, as
    #    for L2/3 pyramidal cells; a few fire at 5-10 Hz).
    box_lo = np.array([-250e-6, -250e-6, 0.0])
    box_hi = np.array([250e-6, 250e-6, 200e-6])
    coords = box_lo + (box_hi - box_lo) * rng.random((n_neurons, 3))
    rates = np.exp(rng.normal(np.log(1.0), 0.8, n_neurons))
    spikes = poisson_spike_trains(rates, duration_s, dt, rng)

    # 2. GCaMP6f as fitted to real recordings (rest-relative ΔF/F), with the recordings' noise
    #    level; a two-photon scope focused 100 µm deep; inject the population "L2/3".
    sensor = jg.fitted("GCaMP6f").replace(sigma_noise=NOISE_STD_30HZ)
    scope = jg.Scope(sensor, img_width=img_width_m, focus_depth=focus_depth_m, soma_radius=10e-6)
    scope = scope.inject("L2/3", coords)

    # 3. Image: one scan over the ROIs, read at ~30 Hz, plus Gaussian noise N(0, sigma_roi).
    #    A frame every round(1/(30 Hz * dt)) = 333 steps: 30.03 Hz, stated rather than rounded silently.
    every = max(1, round(1.0 / (frame_rate_hz * dt)))
    res = scope.image({"L2/3": spikes}, dt, sample_every=every, key=key)
    res.dFF.block_until_ready()
    wall = time.perf_counter() - t0

    summary = {
        "n_neurons": n_neurons,
        "n_rois": scope.n,
        "n_spikes": spikes.n_events,
        "n_samples": int(res.t.shape[0]),
        "sample_rate_hz": res.sample_rate_hz,
        "wall_s": wall,
        "figure": None,
    }
    if plot:
        summary["figure"] = str(_figure(scope, coords, spikes, res, dt, Path(out_dir), n_shown, rng))
    print(
        f"quickstart: {n_neurons} neurons, {spikes.n_events} spikes over {duration_s:g} s -> {scope.n} ROIs "
        f"imaged at {res.sample_rate_hz:.2f} Hz ({summary['n_samples']} frames) in {wall:.1f} s wall"
        + (f"; figure: {summary['figure']}" if summary["figure"] else "")
    )
    return summary


def _figure(scope, coords, spikes, res, dt, out_dir: Path, n_shown: int, rng) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import patheffects

    out_dir.mkdir(parents=True, exist_ok=True)
    t = np.asarray(res.t)
    noisy, clean = np.asarray(res.dFF), np.asarray(res.dFF_clean)
    i_targets = np.asarray(scope.i_targets)
    # ROIs from quiet to busy: a random handful, spread over their activity ranks
    spike_steps, spike_neurons = np.asarray(spikes.steps), np.asarray(spikes.neurons)
    counts = np.bincount(spike_neurons, minlength=spikes.n_neurons)[i_targets]
    active = np.flatnonzero(counts > 0)
    active = active if active.size else np.arange(scope.n)
    pool = rng.choice(active, size=min(active.size, 4 * n_shown), replace=False)
    ranked = pool[np.argsort(counts[pool])]
    # (from the 10th to the 85th percentile: typical cells, not the one outlier that fires at 8 Hz)
    ranks = np.linspace(0.1 * (len(ranked) - 1), 0.85 * (len(ranked) - 1), min(n_shown, len(ranked)))
    shown = ranked[np.unique(ranks.round().astype(int))][::-1]
    colors = [plt.cm.tab10(j % 10) for j in range(len(shown))]

    fig = plt.figure(figsize=(13, 6.2), constrained_layout=True)
    gs = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.45])
    ax3d = fig.add_subplot(gs[0], projection="3d")
    scope.plot({"neurons": coords}, ax=ax3d, roi_color="palegreen", neuron_size=3)
    fc = np.asarray(scope.focus_coords) * 1e6
    for j, (c, r) in enumerate(zip(colors, shown)):
        ax3d.scatter(*fc[r], s=110, color=c, edgecolors="k", linewidths=1.2, depthshade=False, zorder=5)
        dz = -28 if j % 2 == 0 else 34  # labels alternately above and below: neighbours do not overlap
        label = ax3d.text(fc[r][0], fc[r][1], fc[r][2] + dz, f"{r}", color=c, fontsize=9, fontweight="bold")
        label.set_path_effects([patheffects.withStroke(linewidth=3, foreground="white")])  # legible over markers
    ax3d.computed_zorder = False  # draw in call order: the labels (added last) stay on top of the markers
    ax3d.set_title(
        f"{scope.sensor.name} two-photon scope: focal plane at {float(scope.focus_depth) * 1e6:.0f} µm depth,\n"
        f"{scope.n} ROIs of {coords.shape[0]} neurons",
        fontsize=10,
    )
    ax3d.legend(loc="upper left", fontsize=8, framealpha=0.8)
    ax3d.view_init(elev=18, azim=-60)
    ax3d.set_box_aspect(None, zoom=0.85)  # keep the axis labels inside the panel

    ax = fig.add_subplot(gs[1])
    # one ΔF/F scale for all traces (the scale bar), each trace given the height it needs
    sig = np.asarray(scope.sigma_noise)[shown]
    lows = noisy[:, shown].min(axis=0)
    heights = noisy[:, shown].max(axis=0) - lows
    gap = 0.35 * float(np.median(heights))  # room for the spike ticks
    top = 0.0
    for j, (c, r) in enumerate(zip(colors, shown)):
        base = top - heights[j] - lows[j]  # the trace's lowest point sits at top - height
        ax.plot(t, noisy[:, r] + base, color=c, lw=1.3, alpha=0.9)
        ax.plot(t, clean[:, r] + base, color="k", lw=0.7)
        st = spike_steps[spike_neurons == i_targets[r]] * dt
        y_ticks = base + lows[j] - 0.3 * gap
        ax.plot(st, np.full(st.shape, y_ticks), "|", color="crimson", ms=6, mew=1.2)
        ax.text(t[-1] * 1.01, base + lows[j], f"ROI {r}\n({counts[r]} spikes)", va="bottom", fontsize=8, color=c)
        top = y_ticks - 0.7 * gap
    total = -top
    bar = 0.1 if total < 1.5 else (0.2 if total < 3.0 else (0.5 if total < 6.0 else 1.0))
    ax.plot([t[-1] * 1.02] * 2, [-bar, 0.0], color="k", lw=2, clip_on=False)  # top right: free space
    ax.text(t[-1] * 1.03, -bar / 2, f"{bar:g} ΔF/F", va="center", fontsize=8)
    del sig
    ax.set_yticks([])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ΔF/F (traces offset)")
    ax.set_xlim(t[0], t[-1] * 1.12)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=colors[0], lw=1, label=f"imaged ΔF/F ({res.sample_rate_hz:.2f} Hz frames, with noise)"),
        Line2D([], [], color="k", lw=1, label="noise-free ΔF/F"),
        Line2D([], [], color="crimson", marker="|", ls="none", ms=8, mew=1.2, label="spikes"),
    ]
    ax.legend(handles=handles, loc="lower center", fontsize=8, ncol=3, bbox_to_anchor=(0.45, 1.0), frameon=False)
    ax.set_title(f"ΔF/F of {len(shown)} ROIs (labelled in the 3-D view), with their spikes", fontsize=10, pad=22)
    path = out_dir / "quickstart.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
