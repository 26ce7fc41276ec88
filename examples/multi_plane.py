"""Multi-plane imaging: one population, three focal planes with different soma radii.

    python examples/multi_plane.py            # writes out/multi_plane.png

Each ``scope.inject`` call picks the ROIs of one focal plane (its own ``focus_depth`` and
``soma_radius``; a neuron crossing two planes becomes two ROIs). ROIs keep injection order,
so the imaged array is plane 1, then plane 2, then plane 3. The figure shows the 3-D layout
and the ROI x time ΔF/F of each plane.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

import jaxgeci as jg


PLANES = ((80e-6, 8e-6), (150e-6, 10e-6), (220e-6, 13e-6))
"""(focus depth, soma radius) of each plane (m)."""


def main(
    *,
    test_mode: bool = False,
    seed: int = 0,
    out_dir: str | Path = "out",
    n_neurons: int = 2000,
    duration_s: float = 10.0,
    dt: float = 1e-4,
    frame_rate_hz: float = 30.0,
    planes=PLANES,
    plot: bool | None = None,
) -> dict:
    """Run the example; returns a summary dict (ROIs per plane, wall time, figure path)."""
    if test_mode:
        n_neurons, duration_s = min(n_neurons, 400), min(duration_s, 0.3)
    plot = (not test_mode) if plot is None else plot
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    coords = np.array([-200e-6, -200e-6, 40e-6]) + np.array([400e-6, 400e-6, 220e-6]) * rng.random((n_neurons, 3))
    rates = np.exp(rng.normal(np.log(0.5), 1.0, n_neurons))  # log-normal, median 0.5 Hz (Hz)
    n_steps = int(round(duration_s / dt))
    counts = rng.poisson(rates * duration_s)
    neurons = np.repeat(np.arange(n_neurons), counts)
    spikes = jg.SpikeTrains.from_times(rng.uniform(0, duration_s, neurons.size), neurons, dt, n_steps, n_neurons)

    # GCaMP6s fitted to recorded cells (rest-relative ΔF/F); the Scope adds each ROI's
    # Gaussian noise at the sensor's sigma_noise
    scope = jg.Scope(jg.fitted("GCaMP6s"), img_width=400e-6)
    for depth, radius in planes:
        scope = scope.inject("cortex", coords, focus_depth=depth, soma_radius=radius)
    res = scope.image({"cortex": spikes}, dt, sample_rate=frame_rate_hz, key=jax.random.key(seed))
    res.dFF.block_until_ready()
    wall = time.perf_counter() - t0
    per_plane = [len(t) for t in scope.i_targets_per_injct]
    summary = {"n_rois": scope.n, "rois_per_plane": per_plane, "wall_s": wall, "figure": None}
    if plot:
        summary["figure"] = str(_figure(scope, coords, res, planes, Path(out_dir)))
    print(
        f"multi_plane: {n_neurons} neurons, planes at "
        + ", ".join(f"{d * 1e6:.0f} µm (R={r * 1e6:.0f} µm): {k} ROIs" for (d, r), k in zip(planes, per_plane))
        + f"; {wall:.1f} s wall"
    )
    return summary


def _figure(scope, coords, res, planes, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(12, 5.5), constrained_layout=True)
    gs = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.3])
    ax3d = fig.add_subplot(gs[0], projection="3d")
    colors = ["tab:blue", "tab:orange", "tab:green"]
    roi_colors = np.concatenate([[colors[j % 3]] * len(t) for j, t in enumerate(scope.i_targets_per_injct)])
    scope.plot({"neurons": coords}, ax=ax3d, roi_color=list(roi_colors), neuron_size=2, roi_size=18)
    ax3d.set_title(f"{scope.sensor.name} scope, three focal planes ({scope.n} ROIs)", fontsize=10)
    ax3d.legend(loc="upper left", fontsize=8)
    ax3d.set_box_aspect(None, zoom=0.85)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax3d.xaxis, ax3d.yaxis):
        axis.set_major_locator(MaxNLocator(4))

    ax = fig.add_subplot(gs[1])
    t = np.asarray(res.t)
    dff = np.asarray(res.dFF)
    # colour scale from the 1st to the 99.5th percentile, so that a few bursts don't wash out
    # the single spikes
    lo, hi = np.percentile(dff, [1.0, 99.5])
    img = ax.imshow(
        dff.T,
        vmin=lo,
        vmax=hi,
        aspect="auto",
        interpolation="nearest",
        cmap="magma",
        extent=(t[0], t[-1], scope.n - 0.5, -0.5),
    )
    start = 0
    for j, ((depth, radius), tg) in enumerate(zip(planes, scope.i_targets_per_injct)):
        ax.axhline(start - 0.5, color="w", lw=1)
        ax.text(
            t[-1],
            start + len(tg) / 2,
            f" plane {j + 1}\n {depth * 1e6:.0f} µm\n R = {radius * 1e6:.0f} µm",
            va="center",
            fontsize=8,
            color=colors[j % 3],
        )
        start += len(tg)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ROI (injection order)")
    fig.colorbar(img, ax=ax, label="ΔF/F (rest-relative, with noise; clipped at 1st-99.5th percentile)", pad=0.1)
    ax.set_title(f"imaged ΔF/F at {res.sample_rate_hz:.2f} Hz", fontsize=10)
    path = out_dir / "multi_plane.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
