"""A Brian2 network imaged by a jaxgeci two-photon scope.

    python examples/brian2_population.py      # writes out/brian2_population.png

Brian2 simulates a population of leaky integrate-and-fire neurons with coordinates
(``x, y, z`` in metres, as Cleo's ``cleo.coords`` assigns them). jaxgeci takes the spikes from
the ``SpikeMonitor`` (``jaxgeci.io.spikes_from_brian2``) and the positions from the
``NeuronGroup`` (``jaxgeci.io.coords_from_brian2``), selects the ROIs of one focal plane with
a ``Scope`` and images them at 30 Hz with GCaMP6f. Needs ``pip install 'jaxgeci[brian2]'``;
without Brian2 ``main`` returns ``{"skipped": ...}``.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

import jaxgeci as jg
import jaxgeci.io


def _brian2_network(n_neurons: int, duration_s: float, dt: float, seed: int):
    """LIF neurons driven by noisy input, placed in a 400 x 400 x 250 µm box."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"  # no compilation step
    b2.start_scope()
    b2.seed(seed)
    eqs = """
    dv/dt = (mu - v) / (10*ms) + sigma * sqrt(2 / (10*ms)) * xi : 1
    mu : 1
    sigma : 1
    x : meter
    y : meter
    z : meter
    """
    group = b2.NeuronGroup(
        n_neurons, eqs, threshold="v > 1", reset="v = 0", refractory=2 * b2.ms, method="euler", dt=dt * b2.second
    )
    group.mu = "0.3 + 0.3 * rand()"  # sub-threshold drive: 0-10 Hz, median 1.5 Hz (cortex-like)
    group.sigma = 0.2
    group.x = "(rand() - 0.5) * 400*um"
    group.y = "(rand() - 0.5) * 400*um"
    group.z = "rand() * 250*um"
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, monitor)
    net.run(duration_s * b2.second)
    return group, monitor


def main(
    *,
    test_mode: bool = False,
    seed: int = 0,
    out_dir: str | Path = "out",
    n_neurons: int = 1000,
    duration_s: float = 10.0,
    dt: float = 1e-4,
    plot: bool | None = None,
) -> dict:
    """Run the example; returns a summary (neurons, spikes, ROIs, figure path or None)."""
    try:
        import brian2  # noqa: F401
    except Exception as err:  # absent, or incompatible with this NumPy
        print(f"brian2_population skipped: Brian2 unavailable ({type(err).__name__}: {err})")
        return {"skipped": str(err)}
    if test_mode:
        n_neurons, duration_s = min(n_neurons, 200), min(duration_s, 0.2)
    plot = (not test_mode) if plot is None else plot

    t0 = time.perf_counter()
    group, monitor = _brian2_network(n_neurons, duration_s, dt, seed)
    t_brian = time.perf_counter() - t0

    spikes = jaxgeci.io.spikes_from_brian2(monitor, dt)  # SpikeTrains on the same dt
    coords = jaxgeci.io.coords_from_brian2(group)  # (neurons, 3) in m
    # GCaMP6f with the S2F constants fitted to real recordings (rest-relative ΔF/F, the data's noise
    # level); S2F, not the two-state default, whose decay slowing was fitted on sparse firing only
    scope = jg.Scope(jg.fitted("GCaMP6f", model="s2f"), img_width=350e-6, focus_depth=120e-6)
    scope = scope.inject("lif", coords)
    img = scope.image({"lif": spikes}, dt, sample_rate=30.0, key=jax.random.key(seed))
    rates = spikes.n_events / (n_neurons * spikes.n_steps * dt)
    print(
        f"{n_neurons} LIF neurons, {spikes.n_events} spikes ({rates:.1f} Hz mean) in {t_brian:.1f} s of Brian2; "
        f"{scope.n} ROIs imaged at {img.sample_rate_hz:.2f} Hz"
    )

    figure = None
    if plot and scope.n > 0:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        fig = plt.figure(figsize=(11, 4.5))
        ax3 = fig.add_subplot(1, 2, 1, projection="3d")
        scope.plot({"lif": coords}, ax=ax3)
        ax = fig.add_subplot(1, 2, 2)
        order = np.argsort(np.asarray(scope.focus_coords)[:, 0])
        dff = np.asarray(img.dFF)[:, order].T
        lo, hi = np.percentile(dff, [1, 99.5])  # a colour scale for the typical cell, not the one outlier
        im = ax.imshow(
            dff, aspect="auto", origin="lower", extent=[0, float(img.t[-1]), 0, scope.n], cmap="magma", vmin=lo, vmax=hi
        )
        ax.set(
            xlabel="time (s)",
            ylabel="ROI (sorted by x)",
            title=f"imaged ΔF/F of {scope.n} ROIs (fitted GCaMP6f, 30 Hz)",
        )
        fig.colorbar(im, ax=ax, label="ΔF/F (rest-relative)", extend="both")
        fig.tight_layout()
        figure = str(out / "brian2_population.png")
        fig.savefig(figure, dpi=100)
        plt.close(fig)
    return {
        "n_neurons": n_neurons,
        "n_spikes": spikes.n_events,
        "n_rois": scope.n,
        "dff_shape": tuple(img.dFF.shape),
        "figure": figure,
    }


if __name__ == "__main__":
    main()
