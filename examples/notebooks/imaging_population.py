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
# # Imaging a population
#
# A two-photon `Scope` looks along a direction, focuses at a depth, and images the neurons
# whose soma crosses the focal plane inside its field of view. This notebook builds a
# population, selects ROIs (geometry, expression, SNR cutoff), images spiking activity with
# noise, adds a second plane, draws the 3-D figure, and saves the result to NWB.
#
# The indicator is GCaMP6f as fitted to real recordings (`jaxgeci.fitted("GCaMP6f", model="s2f")`: ΔF/F
# relative to the resting fluorescence, a typical recorded cell's amplitude), with the imaging
# noise of those recordings (0.023 ΔF/F per 30 Hz frame for an ROI on the focal plane). Cleo's
# own preset, `jaxgeci.gcamp6f()`, gives Cleo's numbers instead (see "Coming from Cleo").
#
# Lengths in m, times in s, ΔF/F and noise dimensionless. `JAXGECI_FAST=1` shrinks sizes.

# %%
import os
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

import jaxgeci


FAST = os.environ.get("JAXGECI_FAST") == "1"
OUT = Path(os.environ.get("JAXGECI_OUT", "out"))  # everything this notebook writes goes here
OUT.mkdir(parents=True, exist_ok=True)
N_NEURONS = 400 if FAST else 2000
DURATION = 1.0 if FAST else 10.0  # s
dt = 1e-4  # s

# %% [markdown]
# ## A population and a scope
#
# Neurons sit uniformly in a 500 µm x 500 µm x 300 µm box below the objective. The scope at
# the origin looks down +z and focuses 150 µm deep over a 400 µm wide field of view.

# %%
rng = np.random.default_rng(0)
coords = rng.uniform([-250e-6, -250e-6, 0.0], [250e-6, 250e-6, 300e-6], size=(N_NEURONS, 3))
NOISE_STD_30HZ = 0.023  # ΔF/F per 30 Hz frame of the GCaMP6f recordings the constants were fitted to
# model="s2f": the plain S2F family derives its single-spike peak `dFF_1AP`, which the SNR cut
# below needs (the adaptive families that `fitted` may pick by default have none, and the
# Scope then skips the cut with a warning, as Cleo does)
sensor = jaxgeci.fitted("GCaMP6f", model="s2f").replace(sigma_noise=NOISE_STD_30HZ)
scope = jaxgeci.Scope(sensor, img_width=400e-6, focus_depth=150e-6, soma_radius=10e-6, snr_cutoff=1.0)

# %% [markdown]
# ## ROI selection
#
# `target_neurons_in_plane` returns Cleo's tuple: the in-plane candidates, their noise focus
# factor (1 on the plane, growing towards the soma edge: fewer pixels, more noise) and their
# on-plane coordinates. Injecting keeps the candidates whose SNR
# `rho_rel * dFF_1AP / sigma` beats `snr_cutoff`; `rho_rel` (expression level) can be drawn
# per candidate by a function `(key, n) -> (n,)`.

# %%
i_cand, focus_factor, _ = scope.target_neurons_in_plane(coords)
print(f"{len(i_cand)} of {N_NEURONS} neurons cross the focal plane in view")


def lognormal_rho(key, n):
    """Log-normal expression levels (median 1)."""
    return jax.numpy.exp(0.5 * jax.random.normal(key, (n,)))


key = jax.random.key(0)
for cutoff in (0.0, 1.0, 2.0):
    s = jaxgeci.Scope(sensor, img_width=400e-6, focus_depth=150e-6, snr_cutoff=cutoff)
    s = s.inject("exc", coords, rho_rel=lognormal_rho, key=key)
    print(f"snr_cutoff={cutoff}: {s.n} ROIs")

scope = scope.inject("exc", coords, rho_rel=lognormal_rho, key=key)
sigma = np.asarray(scope.sigma_noise)
snr = np.asarray(scope.rho_rel) * float(sensor.dFF_1AP) / sigma
assert np.all(snr > 1.0)  # the cut is strict
print(f"{scope.n} ROIs; sigma from {sigma.min():.3f} to {sigma.max():.3f}")

# %% [markdown]
# ## Imaging with noise
#
# Poisson spikes, log-normal rates with a median of 2 Hz (a few neurons fire at 5-10 Hz).
# `scope.image` runs the sensor over the ROIs' neurons only, reads ΔF/F at ~30 Hz (every 333
# steps, 30.03 Hz) and adds `N(0, sigma_roi)` noise from an explicit key. `dFF_clean` is the
# noise-free signal at the same instants.

# %%
n_steps = int(DURATION / dt)
rates = np.exp(rng.normal(np.log(2.0), 0.6, N_NEURONS))  # Hz
spk = rng.random((n_steps, N_NEURONS)) < rates * dt
spikes = jaxgeci.SpikeTrains.from_dense(spk)
img = scope.image({"exc": spikes}, dt, sample_rate=30.0, key=jax.random.key(1))
print(img.dFF.shape, f"at {img.sample_rate_hz:.2f} Hz")
z = np.asarray(img.noise) / np.asarray(img.sigma)
print(f"noise z-scores: mean {z.mean():+.3f}, std {z.std():.3f}")

# four ROIs, each shifted by the height it needs; spikes as ticks under each trace
shown = list(range(min(4, scope.n)))
dff, clean = np.asarray(img.dFF), np.asarray(img.dFF_clean)
who, steps = np.asarray(spikes.neurons), np.asarray(spikes.steps)
fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
base = 0.0
for j in shown:
    c = f"C{j}"
    lo, hi = dff[:, j].min(), dff[:, j].max()
    off = base - hi
    ax.plot(img.t, dff[:, j] + off, color=c, lw=0.9, label="imaged ΔF/F (with noise)" if j == 0 else None)
    ax.plot(img.t, clean[:, j] + off, color="k", lw=1.0, label="noise-free ΔF/F" if j == 0 else None)
    st = steps[who == int(scope.i_targets[j])] * dt
    ax.plot(st, np.full(st.shape, off + lo - 0.03), "|", color="crimson", ms=5, label="spikes" if j == 0 else None)
    ax.text(img.t[-1] * 1.01, off, f"ROI {j}", fontsize=8, color=c, va="center")
    base = off + lo - 0.1
ax.plot([img.t[-1] * 1.01] * 2, [base + 0.05, base + 0.25], color="k", lw=2, clip_on=False)
ax.text(img.t[-1] * 1.02, base + 0.15, "0.2 ΔF/F", fontsize=8, va="center")
ax.set_yticks([])
ax.set_xlim(0, img.t[-1] * 1.1)
ax.set(
    xlabel="time (s)",
    ylabel="ΔF/F (traces offset)",
    title="fitted GCaMP6f, 30 Hz frames: noisy samples and the clean signal",
)
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=3, fontsize=8, frameon=False)

# %% [markdown]
# ## A second plane
#
# Injecting the same population again at another depth adds ROIs (a neuron seen in both
# planes becomes two ROIs, in injection order, as in Cleo).

# %%
two = scope.inject("exc", coords, focus_depth=200e-6, rho_rel=lognormal_rho, key=jax.random.key(2))
print(f"planes at 150 and 200 µm: {two.n} ROIs ({scope.n} + {two.n - scope.n})")
img2 = two.image({"exc": spikes}, dt, sample_rate=30.0, key=jax.random.key(1))
np.testing.assert_allclose(np.asarray(img2.dFF_clean[:, : scope.n]), np.asarray(img.dFF_clean), rtol=1e-6, atol=1e-7)

# %% [markdown]
# ## The 3-D figure
#
# All neurons in grey, the objective, both focal planes and the ROIs (Cleo's figure), the
# ROIs coloured by plane.

# %%
per_plane = [len(t) for t in two.i_targets_per_injct]
roi_colors = ["tab:green"] * per_plane[0] + ["tab:purple"] * per_plane[1]
fig, ax = two.plot({"exc": coords}, roi_color=roi_colors, neuron_size=2)
ax.view_init(elev=12, azim=-60)  # low enough to see the two planes apart
ax.set_xticks([-200, 0, 200])  # µm; sparser ticks do not run into each other
ax.set_yticks([-200, 0, 200])
ax.set_title(f"planes at 150 µm ({per_plane[0]} ROIs, green) and 200 µm ({per_plane[1]} ROIs, purple)", fontsize=9)
ax.legend(loc="upper left", fontsize=7, framealpha=0.8)

# %% [markdown]
# ## Save to NWB
#
# With the `[io]` extra, `jaxgeci.io.write_nwb` writes the samples, frame times, ROI centres
# and the imaged neurons' spike times to an NWB file that `nwbinspector` accepts.

# %%
try:
    import pynwb  # noqa: F401

    import jaxgeci.io

    roi_neuron = np.asarray(two.i_targets)
    times = spikes.times(dt)
    who = np.asarray(spikes.neurons)
    path = jaxgeci.io.write_nwb(
        OUT / "imaging_population.nwb",
        img2,  # an ImagingResult: samples and frame times steps * dt
        roi_coords=np.asarray(two.focus_coords),
        spike_times=[times[who == i] for i in range(N_NEURONS)],
        roi_units=roi_neuron,
        spike_resolution=dt,
        sensor=sensor,
        overwrite=True,
    )
    recs = jaxgeci.io.read_nwb(path)
    print(f"wrote {path}; read back {len(recs)} recordings")
except ImportError as err:
    print("NWB export skipped:", err)

# %%
for num in plt.get_fignums():  # every figure is saved, also when run headless as a script
    plt.figure(num).savefig(OUT / f"imaging_population_{num}.png", dpi=90)
if plt.get_backend().lower() != "agg":
    plt.show()
