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
# # Spikes to ΔF/F
#
# From spike times to a fluorescence trace in three lines, then: the same trace as a
# microscope records it (30 Hz frames with photon shot noise), the indicators fitted to real
# recordings side by side, the effect of the relative expression level `rho_rel`, ΔF/F
# relative to resting fluorescence (what experiments report) versus relative to the apo
# (Ca-free) brightness (Cleo's definition), and float32 versus float64.
#
# The sensors here are `jaxgeci.fitted(...)`: constants fitted to simultaneous imaging and
# electrophysiology (Cascade ground-truth database), ΔF/F relative to the resting
# fluorescence, amplitudes of a typical recorded cell. Cleo's own presets
# (`jaxgeci.gcamp6f()`, ...) are there for parity with Cleo; see the "Coming from Cleo"
# notebook.
#
# Units are SI floats throughout: seconds, metres, 1/s, and M (mol/L) for concentrations.
# Set `JAXGECI_FAST=1` to run everything with shorter traces.

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
DURATION = 3.5  # s (a single neuron: fast in either mode)

# %% [markdown]
# ## Three lines to a trace
#
# The time grid is `t_k = k dt`. A spike in step `k` is first visible in the state at index
# `k + 1` (as in Cleo/Brian2). `sample_rate=` reads the state at about 1 kHz; the rate
# actually used (a whole number of steps) is reported in `res.sample_rate_hz`.

# %%
dt = 1e-4  # s
spike_times = [0.2, 1.0, 1.02, 1.04]  # s: one spike, then a burst of three
spikes = jaxgeci.SpikeTrains.from_times(spike_times, 0, dt, int(DURATION / dt), 1)
res = jaxgeci.simulate(jaxgeci.fitted("GCaMP6f"), spikes, dt, sample_rate=1000.0)
print(f"read {res.dFF.shape[0]} samples at {res.sample_rate_hz:.1f} Hz; peak ΔF/F {float(res.dFF.max()):.3f}")

# %% [markdown]
# ## What the microscope records
#
# A two-photon recording reads the trace once per frame (here ~30 Hz) and counts photons:
# `jaxgeci.PhotonNoise` draws Poisson photons with the photomultiplier's excess noise and read
# noise (NAOMi's defaults). With 2,000 detected photons per frame at rest the noise is about
# 0.024 ΔF/F per frame, the level of the GCaMP6f recordings the constants were fitted to
# (0.021-0.027); it grows with the signal (shot noise).

# %%
frames = jaxgeci.simulate(jaxgeci.fitted("GCaMP6f"), spikes, dt, sample_rate=30.0, record=("dFF",))
noise = jaxgeci.PhotonNoise(photons=2000.0)  # resting photons per ROI per frame
measured = np.asarray(noise.sample(jax.random.key(0), frames.dFF))
sd_rest = float(np.sqrt(noise.moments(np.zeros(1))[1][0]))  # the model's std at rest (ΔF/F)
print(f"{frames.dFF.shape[0]} frames at {frames.sample_rate_hz:.2f} Hz; noise std at rest {sd_rest:.3f} ΔF/F")
assert 0.02 < sd_rest < 0.03  # the recordings' level, as stated above

fig, ax = plt.subplots(figsize=(8, 3), constrained_layout=True)
ax.plot(
    frames.t, measured[:, 0], color="tab:green", lw=1.0, marker=".", ms=4, label="measured (30 Hz frames, photon noise)"
)
ax.plot(res.t, res.dFF[:, 0], color="k", lw=1.2, label="noise-free ΔF/F (1 kHz)")
ax.plot(spike_times, np.full(len(spike_times), -0.06), "|", color="crimson", ms=10, mew=1.5, label="spikes")
ax.set(xlabel="time (s)", ylabel="ΔF/F (relative to rest)", title="fitted GCaMP6f: one spike, then a burst of three")
ax.legend(loc="upper right", fontsize=8)

# %% [markdown]
# ## Fitted indicators side by side
#
# `jaxgeci.fitted(name)` returns the model family that explained the recordings best (S2F or
# adaptive S2F, Zhang et al. 2023). The fast indicators are back at rest within a second of
# the single spike; GCaMP6s and jGCaMP8s decay over seconds after the burst.

# %%
names = ["GCaMP6f", "GCaMP6s", "jGCaMP7f", "jGCaMP8f", "jGCaMP8m", "jGCaMP8s"]
fig, ax = plt.subplots(figsize=(8, 3.5), constrained_layout=True)
peaks = {}
for name in names:
    r = jaxgeci.simulate(jaxgeci.fitted(name), spikes, dt, sample_rate=1000.0, record=("dFF",))
    one = np.asarray(r.dFF[:, 0])[np.asarray(r.t) < 0.9]
    peaks[name] = float(one.max())
    ax.plot(r.t, r.dFF[:, 0], lw=1.3, label=f"{name} (1 AP: {peaks[name]:.2f})")
ax.plot(spike_times, np.full(len(spike_times), -0.1), "|", color="k", ms=10, mew=1.5, label="spikes")
ax.set(xlabel="time (s)", ylabel="ΔF/F (relative to rest)", title="indicators fitted to real recordings")
ax.legend(fontsize=8, loc="upper left", ncol=2)
for name, p in peaks.items():
    print(f"{name:9s} 1-AP peak ΔF/F {p:6.3f} ({jaxgeci.fitted_info(name)['model']})")

# %% [markdown]
# ## Relative expression `rho_rel`
#
# ΔF/F is proportional to `rho_rel` (one value per neuron): three copies of the same neuron
# at 0.5x, 1x and 2x expression.

# %%
dense = np.repeat(spikes.to_dense(), 3, axis=1)  # (time, 3): the same spikes thrice
rho = np.array([0.5, 1.0, 2.0])
r = jaxgeci.simulate(jaxgeci.fitted("GCaMP6s"), dense, dt, rho_rel=rho, sample_rate=1000.0)
ratio = np.asarray(r.dFF.max(axis=0)) / float(r.dFF[:, 1].max())
print("peak ratio to rho_rel = 1:", np.round(ratio, 6))
assert np.allclose(ratio, rho, rtol=1e-5)  # exactly linear up to float32 rounding

# %% [markdown]
# ## ΔF/F relative to resting fluorescence versus apo
#
# This section is about Cleo's preset on purpose. Cleo (and jaxgeci's Cleo presets by default,
# `dff_baseline="apo"`) reports `dFF = dFF_max (H(CaB) - H(Ca_rest))`, i.e. relative to the
# Ca-free brightness. Experiments divide by the resting fluorescence instead:
# `dff_baseline="rest"` divides the same signal by `1 + dFF_max H(Ca_rest)`. For Cleo's
# GCaMP6s the 1-AP peak drops from about 0.38 to 0.14, close to the 0.133 measured by Dana et
# al. (2019). The fitted sensors are rest-relative already.

# %%
one = jaxgeci.SpikeTrains.from_times([0.05], 0, dt, int(0.5 / dt), 1)
apo = jaxgeci.simulate(jaxgeci.gcamp6s(), one, dt, record=("dFF",))
rest = jaxgeci.simulate(jaxgeci.gcamp6s(dff_baseline="rest"), one, dt, record=("dFF",))
s = jaxgeci.gcamp6s()
H_rest = float(jaxgeci.hill(s.Ca_rest, s.K_d, s.n_H))
print(f"Cleo GCaMP6s 1-AP peak: apo-relative {float(apo.dFF.max()):.3f}, rest-relative {float(rest.dFF.max()):.3f}")
np.testing.assert_allclose(
    np.asarray(rest.dFF), np.asarray(apo.dFF) / (1 + float(s.dFF_max) * H_rest), rtol=1e-5, atol=1e-7
)

# %% [markdown]
# ## float32 versus float64
#
# jaxgeci runs in float32 by default (fast on GPUs) and in float64 when `jax_enable_x64` is
# on, here just for one block with the `jax.enable_x64` context. The sensor is built inside
# the context so that its constants are float64 too.

# %%
r32 = jaxgeci.simulate(jaxgeci.fitted("GCaMP6f"), spikes, dt, sample_rate=1000.0, record=("dFF",))
with jax.enable_x64(True):
    r64 = jaxgeci.simulate(jaxgeci.fitted("GCaMP6f"), spikes, dt, sample_rate=1000.0, record=("dFF",))
    d64 = np.asarray(r64.dFF)
print(r32.dFF.dtype, d64.dtype)
err = np.max(np.abs(np.asarray(r32.dFF, dtype=float) - d64)) / np.max(np.abs(d64))
print(f"largest float32 error relative to the peak: {err:.2e}")
assert err < 1e-3  # float32 keeps ~7 digits; the scan accumulates a few hundred roundings

# %%
for num in plt.get_fignums():  # every figure is saved, also when run headless as a script
    plt.figure(num).savefig(OUT / f"spikes_to_dff_{num}.png", dpi=90)
if plt.get_backend().lower() != "agg":
    plt.show()
