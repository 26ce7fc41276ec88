# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Infer spikes from ΔF/F
#
# Given a ΔF/F recording and no electrophysiology, `jaxgeci.infer_spikes` finds the spike rate
# that best explains the trace under a fitted sensor: a non-negative, sparse spike train per
# frame bin, convolved with the sensor's own single-spike response, plus a slow B-spline
# baseline and Gaussian noise. The output `rate` (spikes/s) is the expected number of spikes in
# each frame bin `[t_i − Δ/2, t_i + Δ/2)` divided by the frame period Δ, on the spike clock.
#
# Here: a synthetic recording made by jaxgeci with the fitted jGCaMP8s constants (so the true
# spikes are known), then the same at 30 Hz with more noise, and several ROIs at once.
# Set `JAXGECI_FAST=1` for a shorter run.

# %%
import os
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

import jaxgeci


jax.config.update("jax_enable_x64", True)
FAST = os.environ.get("JAXGECI_FAST") == "1"
OUT = Path(os.environ.get("JAXGECI_OUT", "out"))  # everything this notebook writes goes here
OUT.mkdir(parents=True, exist_ok=True)
DURATION = 20.0 if FAST else 60.0  # s


def find_results(name):
    """fitting/results/<name>.json of this repository (the notebook may run from anywhere)."""
    here = Path(globals().get("__file__", "examples/notebooks/x.py")).resolve()
    for base in [Path.cwd(), *here.parents]:
        p = base / "fitting" / "results" / f"{name}.json"
        if p.exists():
            return p
    raise FileNotFoundError(f"fitting/results/{name}.json not found")


params = find_results("jGCaMP8s")
sensor = jaxgeci.sensor_from_results(params)

# %% [markdown]
# ## A recording with known spikes
#
# `synthetic_recording` simulates the sensor at 1 ms from Poisson spikes (with short bursts),
# reads it at 60 Hz and adds an offset, a slow drift and Gaussian noise.

# %%
rec = jaxgeci.synthetic_recording(
    sensor, jax.random.key(1), duration_s=DURATION, rate_hz=1.5, noise_std=0.05, offset=0.2, drift_per_s=0.002
)
res = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames)
print(
    f"{rec.n_frames} frames at {1 / res.frame_period_s:.0f} Hz; noise std estimated {res.noise_std:.3f} "
    f"(true 0.050), noise level nu {jaxgeci.noise_level(rec.dff, res.frame_period_s):.2f} %/sqrt(s), "
    f"{res.readout} read-out; amplitude rho_rel estimated {res.rho_rel:.2f} (true 1); "
    f"{res.n_spikes:.1f} spikes inferred, {rec.spike_times.size} true; "
    f"converged: {res.converged} in {res.n_iter} iterations, {res.wall_s:.1f} s"
)


# %%
def smoothed_counts(t, counts, sigma_s=0.05):
    """Counts per frame smoothed by a Gaussian of ``sigma_s`` (s), as in Cascade's score."""
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(counts, dtype=float), sigma_s / np.median(np.diff(t)))


def true_counts(t, spike_times):
    d = np.median(np.diff(t))
    return np.histogram(spike_times, np.concatenate([t - d / 2, [t[-1] + d / 2]]))[0]


def plot(rec, res, title, window=(5.0, 25.0)):
    t = rec.t_frames
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, height_ratios=(3, 2))
    a0.plot(t, rec.dff, color="0.6", lw=0.8, label="data")
    a0.plot(t, res.model, color="C3", lw=1.2, label="model (sensor ⊛ rate + baseline)")
    a0.plot(t, res.baseline, color="C0", lw=1.0, ls="--", label="baseline")
    a0.set(ylabel="ΔF/F", title=title)
    a0.legend(loc="upper right", fontsize=8)
    a1.plot(t, res.rate, color="C3", lw=1.0, label="inferred rate")
    a1.vlines(rec.spike_times, 0, -0.08 * max(res.rate.max(), 1.0), color="k", lw=1, label="true spikes")
    a1.set(xlabel="time (s)", ylabel="rate (spikes/s)", xlim=(window[0], min(window[1], t[-1])))
    a1.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


fig = plot(rec, res, "jGCaMP8s at 60 Hz (synthetic, fitted constants)")


def score(rec, res):
    """Pearson r of the smoothed inferred and true counts per frame."""
    pred = smoothed_counts(rec.t_frames, res.rate * res.frame_period_s)
    true = smoothed_counts(rec.t_frames, true_counts(rec.t_frames, rec.spike_times))
    return np.corrcoef(pred, true)[0, 1]


r = score(rec, res)
print(f"correlation of the smoothed (σ = 50 ms) inferred and true counts: r = {r:.3f}")
assert r > 0.8  # the true sensor generated the data: recovery is good

# %% [markdown]
# ## At 30 Hz with more noise
#
# Nothing was fitted at this rate or noise level: the kernel is recomputed for the frame
# period, the noise std is estimated from the trace, and the penalty (a matched-filter z-score)
# adapts to both.

# %%
rec30 = jaxgeci.synthetic_recording(
    sensor, jax.random.key(1), duration_s=DURATION, rate_hz=1.5, frame_rate_hz=30.0, noise_std=0.15
)
res30 = jaxgeci.infer_spikes(sensor, rec30.dff, rec30.t_frames)
r30 = score(rec30, res30)
print(
    f"30 Hz, noise 0.15: r = {r30:.3f}, {res30.n_spikes:.1f} spikes inferred, {rec30.spike_times.size} true "
    f"({res30.readout} read-out at nu {jaxgeci.noise_level(rec30.dff, res30.frame_period_s):.2f} %/sqrt(s))"
)
fig30 = plot(rec30, res30, "jGCaMP8s at 30 Hz, noise std 0.15")
assert r30 > 0.7

# %% [markdown]
# ## Many ROIs at once
#
# ROIs that share frame times are solved together in one compiled, `vmap`-ed call
# (`dff` of shape `(rois, frames)`).

# %%
rois = [
    jaxgeci.synthetic_recording(sensor, jax.random.key(k), duration_s=DURATION, rate_hz=1.0 + k, noise_std=0.05)
    for k in range(4)
]
batch = jaxgeci.infer_spikes(sensor, np.stack([x.dff for x in rois]), rois[0].t_frames)
for k, x in enumerate(rois):
    print(f"ROI {k}: {batch.n_spikes[k]:6.1f} spikes inferred, {x.spike_times.size:4d} true")
print(f"{len(rois)} ROIs in {batch.wall_s:.1f} s (incl. compilation)")

# %% [markdown]
# ## Notes
#
# - With real data, take the constants for your indicator from `fitting/results/` and the lag
#   from the fitted cells (`python -m fitting infer` does both).
# - The amplitude `rho_rel` (expression level) is not identifiable from ΔF/F alone: it scales
#   the inferred counts, not their timing. By default it is estimated per ROI (on a grid from 0.5
#   to 4, factors of √2) under the sensor's sigmoid read-out, within about a factor of 2: pass
#   `rho_rel=` when you know it. Relative rates are reliable, absolute counts less so.
# - `readout="auto"` (the default) uses that sigmoid read-out below Cascade's noise level
#   ν = 4 %·s^-1/2 (`jaxgeci.noise_level`) and the linear one above, where it scored higher on
#   ground-truth cells; the linear read-out over-counts bursts on expansive sensors, so pass
#   `readout="sigmoid"` at high noise when absolute counts matter.

# %%
for num in plt.get_fignums():  # every figure is saved, also when run headless as a script
    plt.figure(num).savefig(OUT / f"infer_spikes_{num}.png", dpi=90)
if plt.get_backend().lower() != "agg":
    plt.show()
