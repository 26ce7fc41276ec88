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
# # Coming from Cleo
#
# jaxgeci re-implements the GECI and two-photon `Scope` models of Cleo's `cleo.imaging`
# (cleosim 0.20) in JAX. This notebook runs the same experiment in both, compares the
# numbers, and lists the Cleo quirks that jaxgeci reproduces or fixes. It uses Cleo's presets on
# purpose (`jaxgeci.gcamp6f()` is exactly Cleo's GCaMP6f, ΔF/F relative to the Ca-free
# brightness); for traces that look like recordings, use `jaxgeci.fitted(name)` instead.
#
# | Cleo / Brian2 | jaxgeci |
# |---|---|
# | `cleo.imaging.gcamp6f()` (Brian2 quantities) | `jaxgeci.gcamp6f()` (SI floats; M for concentrations) |
# | a Brian2 network driving the sensor synapses | `jaxgeci.simulate(sensor, spikes, dt)`, one jitted scan |
# | `StateMonitor(syn, "dFF")`, times in ms | `SimulationResult.dFF` `(time, neurons)`, `t` in s |
# | `sensor.get_state()` after `sim.run(T)` | `sensor.readout(res.final_state)` |
# | `rand_seed` / NumPy global RNG | explicit `jax.random` keys (`key=`) |
# | `sim.inject(scope, ng)`, `scope.inject_sensor_for_targets()` | `scope.inject(name, coords)` (a new scope) |
# | a Cleo GECI object | `jaxgeci.io.sensor_from_cleo(cleo_geci)` builds the jaxgeci equivalent |
# | `SpikeMonitor`, `NeuronGroup` x/y/z | `jaxgeci.io.spikes_from_brian2`, `jaxgeci.io.coords_from_brian2` |
#
# Cells that need Cleo are skipped when `cleosim` is not installed; the comparison then uses
# traces recorded from the real Cleo 0.20 (`tests/data/cleo_reference/`).

# %%
import os
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

import jaxgeci
import jaxgeci.io


FAST = os.environ.get("JAXGECI_FAST") == "1"
OUT = Path(os.environ.get("JAXGECI_OUT", "out"))  # everything this notebook writes goes here
OUT.mkdir(parents=True, exist_ok=True)
try:
    import brian2 as b2
    import cleo
    import cleo.imaging

    HAVE_CLEO = True
except Exception as err:  # ImportError, or a Brian2 that does not import with this NumPy
    HAVE_CLEO = False
    print(f"Cleo cells skipped ({type(err).__name__}: {err})")

# %% [markdown]
# ## The experiment
#
# Three GCaMP6f neurons (dynamic calcium + double-exponential binding), dt = 0.1 ms. Neuron 0
# fires once, neuron 1 fires a burst of three, neuron 2 fires at step 0 and later. We run in
# float64 to compare to ~1e-12; the default float32 agrees to ~1e-6 of the peak.

# %%
dt = 1e-4  # s
n_steps = 1000 if FAST else 3000
spike_steps = np.array([0, 100, 500, 510, 520, 900])
spike_neurons = np.array([2, 0, 1, 1, 1, 2])
n = 3

with jax.enable_x64(True):
    spikes = jaxgeci.SpikeTrains(steps=spike_steps, neurons=spike_neurons, n_steps=n_steps, n_neurons=n)
    sensor = jaxgeci.gcamp6f()
    res = jaxgeci.simulate(sensor, spikes, dt)
    dff_jax = np.asarray(res.dFF)  # (time, neurons); row k = state at the start of step k
    state_end = np.asarray(sensor.readout(res.final_state))  # Cleo's get_state() after run
print(dff_jax.shape, dff_jax.max(axis=0))

# %% [markdown]
# ## The same in Cleo (skipped without cleosim)
#
# Brian2 emits the spikes from a `TimedArray` threshold, so a spike in step `k` happens at
# `t_k = k dt`, as in jaxgeci. Cleo needs `x, y, z` coordinates even for explicit targets.

# %%
dff_cleo = None
if HAVE_CLEO:
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    table = np.zeros((n_steps, n))
    table[spike_steps, spike_neurons] = 1
    spk = b2.TimedArray(table, dt=dt * b2.second)
    ng = b2.NeuronGroup(
        n,
        "x : meter\ny : meter\nz : meter",
        threshold="spk(t, i) > 0.5",
        reset="",
        dt=dt * b2.second,
        namespace={"spk": spk},
    )
    sim = cleo.CLSimulator(b2.Network(ng))
    cleo_sensor = cleo.imaging.gcamp6f()
    scope = cleo.imaging.Scope(sensor=cleo_sensor, img_width=500 * b2.um, focus_depth=None)
    sim.inject(scope, ng, i_targets=range(n))
    scope.inject_sensor_for_targets()
    syn = list(scope.sensor.synapses.values())[0]
    mon = b2.StateMonitor(syn, "dFF", record=True, dt=dt * b2.second)
    sim.network.add(mon)
    sim.run(n_steps * dt * b2.second)
    dff_cleo = np.asarray(mon.dFF).T  # Cleo: (neurons, time) -> (time, neurons)
    print("Cleo:", dff_cleo.shape, dff_cleo.max(axis=0))

    # The jaxgeci sensor equivalent to Cleo's object, from its params (Brian2 units -> SI):
    same = jaxgeci.io.sensor_from_cleo(cleo_sensor)
    for k, v in same.params.items():
        w = sensor.params[k]
        assert (v is None and w is None) or np.isclose(float(v), float(w), rtol=1e-6), k

# %% [markdown]
# ## Numbers compared
#
# With Cleo installed we compare the live run; otherwise a trace recorded from Cleo 0.20 with
# the same model (GCaMP6f, dynamic Ca, double exponential, dt = 0.1 ms) and its own spikes.


# %%
def find_reference():
    here = [Path.cwd(), *Path.cwd().parents]
    if "__file__" in globals():
        here = [Path(__file__).resolve().parent, *Path(__file__).resolve().parents] + here
    for d in here:
        p = d / "tests" / "data" / "cleo_reference" / "sensor_gcamp6f_dexp.npz"
        if p.exists():
            return p
    return None


if dff_cleo is not None:
    err = np.max(np.abs(dff_jax - dff_cleo))
    print(f"max |jaxgeci - Cleo| = {err:.2e} (peak {dff_cleo.max():.3f})")
    assert err < 1e-10  # same equations, same Euler steps: agreement to rounding
    ref_t, ref_dff, ours = np.arange(n_steps) * dt, dff_cleo, dff_jax
else:
    path = find_reference()
    if path is None:
        print("no Cleo and no recorded reference here: comparison skipped")
        ref_t = ref_dff = ours = None
    else:
        with np.load(path) as d:
            T = 2000 if FAST else int(d["n_steps"])
            steps, who, i_targets = d["spike_steps"], d["spike_neurons"], d["i_targets"]
            ref_dff = d["dFF"][:, :T].T  # (time, rois)
            rho = d["rho_rel"]
            ref_dt = float(d["dt_s"])
        keep = steps < T
        with jax.enable_x64(True):
            st = jaxgeci.SpikeTrains(steps=steps[keep], neurons=who[keep], n_steps=T, n_neurons=int(who.max()) + 1)
            full = np.asarray(jaxgeci.simulate(jaxgeci.gcamp6f(), st, ref_dt).dFF)
        ours = full[:, i_targets] * rho
        err = np.max(np.abs(ours - ref_dff))
        print(f"max |jaxgeci - recorded Cleo| = {err:.2e} (peak {ref_dff.max():.3f})")
        assert err < 1e-9
        ref_t = np.arange(T) * ref_dt

if ref_dff is not None:
    fig, axs = plt.subplots(2, 1, figsize=(7, 4), sharex=True)
    axs[0].plot(ref_t, ref_dff, color="k", lw=2, alpha=0.4)
    axs[0].plot(ref_t, ours, lw=0.8)
    axs[0].set(ylabel="ΔF/F", title="Cleo (grey) and jaxgeci (colour)")
    axs[1].plot(ref_t, ours - ref_dff)
    axs[1].set(xlabel="time (s)", ylabel="difference")

# %% [markdown]
# ## Quirks: reproduced or fixed
#
# Reproduced by default (they are the model's definition, or Cleo users rely on them):
#
# * Brian2's forward Euler for dynamic calcium (`method="cleo"`); `method="accurate"` is an
#   exponential integrator whose error shrinks with dt (usable at dt = 1 ms).
# * ΔF/F relative to the apo (Ca-free) brightness; `dff_baseline="rest"` gives the
#   experimental definition.
# * Strict boundaries in targeting; the SNR cut skipped when `dFF_1AP` is unknown (with a
#   warning); ROI order = injection order, duplicates are separate ROIs; `focus_depth = 0`
#   means explicit-target mode, like `None` (quirk 5).
#
# Fixed (Cleo crashes, silently depends on unrelated names, or is geometrically wrong):
#
# 1. Pre-existing Ca + double-exponential binding crashes in Cleo (sympy reads `beta` as a
#    function); jaxgeci runs it with Brian2's exact zero-order hold (what Cleo does when the
#    name clash is avoided).
# 2. Pre-existing Ca + null binding has no `Ca_rest` in Cleo; jaxgeci keeps one (5e-8 M).
# 3. Presets without kernel constants build in Cleo and fail at run time; jaxgeci raises at
#    construction with what to do instead.
# 6. Cleo's on-plane coordinates use `|s|` instead of `s`; jaxgeci projects correctly, and
#    `cleo_compat=True` reproduces Cleo.

# %%
try:
    jaxgeci.jgcamp7f()  # quirk 3: no kernel constants
except ValueError as e:
    print("jgcamp7f():", str(e)[:160], "...")

pre_null = jaxgeci.gcamp6f(pre_existing_cal=True, doub_exp_conv=False)  # quirk 2
print(f"pre-existing Ca + null binding, Ca_rest = {float(pre_null.Ca_rest):.3g} M")

with jax.enable_x64(True):  # quirk 1: runs, with the exact integrator
    pre = jaxgeci.gcamp6f(pre_existing_cal=True)
    ca = np.full((n_steps, 1), 5e-8)
    ca[n_steps // 4 :, 0] = 4e-7  # a step in the neuron's own Ca (M)
    r = jaxgeci.simulate(pre, None, dt, ca_pre=ca)
    print("pre-existing Ca + double exponential: final ΔF/F", float(r.dFF[-1, 0]))

# %% [markdown]
# ### Quirk 6: the on-plane projection
#
# Two neurons 5 µm above and below a focal plane at 100 µm depth, 99.9 µm off axis, with a
# 200 µm wide field of view. Both somata cross the plane and both project inside the field.
# Cleo projects with `|s|`, which puts the objective-side neuron 10 µm *off* the plane and out
# of view; `cleo_compat=True` reproduces that.

# %%
twins = np.array([[99.9e-6, 0.0, 95e-6], [99.9e-6, 0.0, 105e-6]])  # m
for compat in (False, True):
    i_t, _, q = jaxgeci.target_neurons_in_plane(twins, 100e-6, 200e-6, cleo_compat=compat)
    z_um = (np.asarray(q)[:, 2] * 1e6).round(3).tolist()
    print(f"cleo_compat={compat}: targets {np.asarray(i_t).tolist()}, on-plane z (µm) {z_um}")
assert list(np.asarray(jaxgeci.target_neurons_in_plane(twins, 100e-6, 200e-6)[0])) == [0, 1]
assert list(np.asarray(jaxgeci.target_neurons_in_plane(twins, 100e-6, 200e-6, cleo_compat=True)[0])) == [1]

# %%
for num in plt.get_fignums():  # every figure is saved, also when run headless as a script
    plt.figure(num).savefig(OUT / f"coming_from_cleo_{num}.png", dpi=90)
if plt.get_backend().lower() != "agg":
    plt.show()
