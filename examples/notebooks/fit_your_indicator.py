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
# # Fit your indicator
#
# Fit indicator constants to recorded ΔF/F with simultaneously recorded spikes: load
# recordings, fit constants shared by the cells, evaluate on a left-out cell, plot fits and
# residuals, and export the fitted sensor.
#
# Data: a folder `shared/data/ground_truth/` of Cascade ground-truth recordings converted to
# jaxgeci's `.npz` format (cite the original studies), when one is found in or above the
# working directory; otherwise a synthetic dataset made with jaxgeci itself (known constants),
# so the notebook
# runs anywhere (`JAXGECI_SYNTHETIC=1` forces it). Your own data:
# `jaxgeci.load_recording("file.npz")`, `jaxgeci.io.read_nwb`, or
# `jaxgeci.io.read_suite2p(...).to_recordings(spike_times=...)`.
#
# The protocol (`jaxgeci.fit`, `jaxgeci.evaluate`): per recording only an amplitude
# (`rho_rel`), a slow B-spline baseline and a small lag are fitted; the indicator constants are
# shared. The score is the explained variance (EV) after a 2 s burn-in.

# %%
import os
from pathlib import Path

import jax


jax.config.update("jax_enable_x64", True)  # fits in float64 (this notebook's own process)

import matplotlib.pyplot as plt
import numpy as np

import jaxgeci


FAST = os.environ.get("JAXGECI_FAST") == "1"
OUT = Path(os.environ.get("JAXGECI_OUT", "out"))  # everything this notebook writes goes here
OUT.mkdir(parents=True, exist_ok=True)
CROP_S = 15.0 if FAST else None  # s of each recording used (None: all)
N_STEPS = 8 if FAST else 80  # optimiser steps

# %% [markdown]
# ## Load recordings


# %%
def find_ground_truth():
    here = [Path.cwd(), *Path.cwd().parents]
    if "__file__" in globals():
        here = [Path(__file__).resolve().parent, *Path(__file__).resolve().parents] + here
    for d in here:
        for cand in (d / "shared" / "data" / "ground_truth", d.parent / "shared" / "data" / "ground_truth"):
            if cand.is_dir() and any(cand.glob("*.npz")):
                return cand
    return None


folder = None if os.environ.get("JAXGECI_SYNTHETIC") == "1" else find_ground_truth()
if folder is not None:
    files = sorted(folder.glob("GCaMP6f_DS09_*.npz"))[:4]  # one indicator, one dataset
    recordings = [jaxgeci.load_recording(f) for f in files]
    recordings = [r.window(CROP_S) for r in recordings] if CROP_S else recordings
    start = jaxgeci.gcamp6f()
    print(f"real data from {folder}")
else:
    truth = jaxgeci.gcamp6f().replace(gamma=400.0, tau_off=0.02)  # what the fit should find
    recordings = [
        jaxgeci.synthetic_recording(
            truth, jax.random.key(i), duration_s=CROP_S or 30.0, rho_rel=1.0 + 0.2 * i, name=f"synthetic_{i}"
        )
        for i in range(4)
    ]
    start = jaxgeci.gcamp6f()
    print("synthetic data (true gamma = 400 1/s, tau_off = 0.02 s)")
for r in recordings:
    print(f"  {r.name}: {r.n_frames} frames at {r.frame_rate_hz:.1f} Hz, {r.spike_times.size} spikes")

# Leave out the cell with the most spikes for testing; cells without spikes in the window
# carry no information about the kinetics.
recordings = sorted((r for r in recordings if r.spike_times.size >= 3), key=lambda r: -r.spike_times.size)
test, train = recordings[:1], recordings[1:]
print("left out:", test[0].name)

# %% [markdown]
# ## Fit shared constants
#
# `free` names the constants to fit (in log space, so they stay positive); every other
# constant keeps the preset's value. `progress=False` turns the tqdm bar off.

# %%
free = ["gamma", "tau_off"]
result = jaxgeci.fit(
    train,
    start,
    free,
    n_steps=N_STEPS,
    learning_rate=0.05,
    # unroll: the scan's unroll factor; 1 compiles fastest (fine for short recordings), the
    # default 8 runs gradients about twice as fast on long ones
    config=jaxgeci.FitConfig(segment_s=5.0, warmup_s=3.0, unroll=1 if FAST else None),
    progress=False,
)
for k in free:
    print(f"{k}: {float(start.params[k]):.4g} -> {result.constants[k]:.4g}")
print("loss:", f"{result.loss_history[0]:.4f} -> {result.loss_history[-1]:.4f}")
assert result.loss_history[-1] <= result.loss_history[0]

# %% [markdown]
# ## Evaluate on the left-out cell
#
# The left-out recording was not used by the fit; its score tells whether the constants
# generalise. The preset is evaluated the same way for comparison.

# %%
ev_fit = jaxgeci.evaluate(result.sensor, test)
ev_preset = jaxgeci.evaluate(start, test)
for a, b in zip(ev_fit, ev_preset):
    print(
        f"{a['name']}: EV fitted {a['ev']:.3f}, preset {b['ev']:.3f} "
        f"(rho_rel {a['rho_rel']:.2f}, lag {a['lag_s'] * 1e3:.0f} ms)"
    )

# %% [markdown]
# ## Fits and residuals

# %%
rec, ev = test[0], ev_fit[0]
fig = jaxgeci.plot_evaluation(rec, ev, zoom_s=5.0 if FAST else 20.0)  # data, model, spikes; zoom; residual
# EV recomputed from the plotted traces alone (equal up to the loss's 1e-9 ridge)
assert np.isclose(jaxgeci.explained_variance(rec.dff, ev["model"], rec.t_frames), ev["ev"], rtol=0, atol=1e-7)

# %% [markdown]
# ## Export the fitted sensor
#
# A results file (JSON, SI units) holds the constants, each cell's score and the provenance;
# `jaxgeci.sensor_from_results` rebuilds the sensor for simulation, imaging or further fits.

# %%
pset = jaxgeci.parameter_set(result, train, model="geci", note="notebook fit")
doc = jaxgeci.write_results(OUT / "fitted_GCaMP6f.json", "GCaMP6f", {"notebook": pset}, default="notebook")
fitted = jaxgeci.sensor_from_results(OUT / "fitted_GCaMP6f.json")
for k in free:
    assert np.isclose(float(fitted.params[k]), result.constants[k], rtol=1e-12)
print("exported; rebuilt sensor:", {k: float(fitted.params[k]) for k in free})

# %% [markdown]
# The project ships constants fitted to all shared ground-truth cells of each indicator in
# `fitting/results/<indicator>.json` (see `fitting/README.md`; `python -m fitting` reproduces
# them): `jaxgeci.sensor_from_results("fitting/results/GCaMP6f.json")` gives that sensor.

# %%
for num in plt.get_fignums():  # every figure is saved, also when run headless as a script
    plt.figure(num).savefig(OUT / f"fit_your_indicator_{num}.png", dpi=90)
if plt.get_backend().lower() != "agg":
    plt.show()
