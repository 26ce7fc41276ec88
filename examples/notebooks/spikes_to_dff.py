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
# From spike times to a fluorescence trace in three lines, then: the indicator presets side
# by side, the effect of the relative expression level `rho_rel`, ΔF/F relative to the apo
# (Ca-free) brightness (Cleo's definition) versus relative to resting fluorescence (what
# experiments report), and float32 versus float64.
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
DURATION = 0.6 if FAST else 2.0  # s

# %% [markdown]
# ## Three lines to a trace
#
# The time grid is `t_k = k dt`. A spike in step `k` is first visible in the state at index
# `k + 1` (as in Cleo/Brian2). `sample_rate=` reads the state at about 1 kHz; the rate
# actually used (a whole number of steps) is reported in `res.sample_rate_hz`.

# %%
dt = 1e-4  # s
spikes = jaxgeci.SpikeTrains.from_times([0.1, 0.3, 0.32, 0.34], 0, dt, int(DURATION / dt), 1)
res = jaxgeci.simulate(jaxgeci.gcamp6f(), spikes, dt, sample_rate=1000.0)

fig, ax = plt.subplots(figsize=(7, 2.5))
ax.plot(res.t, res.dFF[:, 0])
ax.set(xlabel="time (s)", ylabel="ΔF/F", title="GCaMP6f: one spike, then a burst of three")
print(f"read {res.dFF.shape[0]} samples at {res.sample_rate_hz:.1f} Hz; peak ΔF/F {float(res.dFF.max()):.3f}")

# %% [markdown]
# ## Presets side by side
#
# GCaMP6f/s and GCaMP3 come with NAOMi's double-exponential binding kernel. The other presets
# (jGCaMP7b/c/f/s, OGB-1, GCaMP6-RS06/RS09) have no kernel constants, so they are built with
# `doub_exp_conv=False`, where the Hill read-out sees free Ca directly (`CaB_active = Ca`).
# Every preset takes keyword overrides in SI units.

# %%
presets = {
    "GCaMP6f": jaxgeci.gcamp6f(),
    "GCaMP6s": jaxgeci.gcamp6s(),
    "GCaMP3": jaxgeci.gcamp3(),
    "jGCaMP7f (no kernel)": jaxgeci.jgcamp7f(doub_exp_conv=False),
    "jGCaMP7s (no kernel)": jaxgeci.jgcamp7s(doub_exp_conv=False),
    "OGB-1 (no kernel)": jaxgeci.ogb1(doub_exp_conv=False),
}
fig, ax = plt.subplots(figsize=(7, 3))
peaks = {}
for label, sensor in presets.items():
    r = jaxgeci.simulate(sensor, spikes, dt, sample_rate=1000.0, record=("dFF",))
    peaks[label] = float(r.dFF.max())
    ax.plot(r.t, r.dFF[:, 0], label=label)
ax.set(xlabel="time (s)", ylabel="ΔF/F (apo-relative)")
ax.legend(fontsize=7)
for label, p in peaks.items():
    print(f"{label:22s} peak ΔF/F {p:7.3f}")

# %% [markdown]
# ## Relative expression `rho_rel`
#
# ΔF/F is proportional to `rho_rel` (one value per neuron): three copies of the same neuron
# at 0.5x, 1x and 2x expression.

# %%
dense = np.repeat(spikes.to_dense(), 3, axis=1)  # (time, 3): the same spikes thrice
rho = np.array([0.5, 1.0, 2.0])
r = jaxgeci.simulate(jaxgeci.gcamp6s(), dense, dt, rho_rel=rho, sample_rate=1000.0)
ratio = np.asarray(r.dFF.max(axis=0)) / float(r.dFF[:, 1].max())
print("peak ratio to rho_rel = 1:", np.round(ratio, 6))
assert np.allclose(ratio, rho, rtol=1e-5)  # exactly linear up to float32 rounding

# %% [markdown]
# ## ΔF/F relative to apo versus resting fluorescence
#
# Cleo (and jaxgeci by default, `dff_baseline="apo"`) reports
# `dFF = dFF_max (H(CaB) - H(Ca_rest))`, i.e. relative to the Ca-free brightness.
# Experiments divide by the resting fluorescence instead: `dff_baseline="rest"` divides the
# same signal by `1 + dFF_max H(Ca_rest)`. For GCaMP6s the 1-AP peak drops from about 0.38
# to 0.14, close to the 0.133 measured by Dana et al. (2019).

# %%
one = jaxgeci.SpikeTrains.from_times([0.05], 0, dt, int(0.5 / dt), 1)
apo = jaxgeci.simulate(jaxgeci.gcamp6s(), one, dt, record=("dFF",))
rest = jaxgeci.simulate(jaxgeci.gcamp6s(dff_baseline="rest"), one, dt, record=("dFF",))
s = jaxgeci.gcamp6s()
H_rest = float(jaxgeci.hill(s.Ca_rest, s.K_d, s.n_H))
print(f"1-AP peak: apo-relative {float(apo.dFF.max()):.3f}, rest-relative {float(rest.dFF.max()):.3f}")
np.testing.assert_allclose(
    np.asarray(rest.dFF), np.asarray(apo.dFF) / (1 + float(s.dFF_max) * H_rest), rtol=1e-5, atol=1e-7
)

# %% [markdown]
# ## float32 versus float64
#
# jaxgeci runs in float32 by default (fast on GPUs) and in float64 when `jax_enable_x64` is
# on, here just for one block with the `jax.enable_x64` context. The constants are built inside
# the context so that they are float64 too.

# %%
r32 = jaxgeci.simulate(jaxgeci.gcamp6f(), spikes, dt, sample_rate=1000.0, record=("dFF",))
with jax.enable_x64(True):
    r64 = jaxgeci.simulate(jaxgeci.gcamp6f(), spikes, dt, sample_rate=1000.0, record=("dFF",))
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
