"""Side-by-side timing of jaxgeci and Cleo 0.20 (Brian2, cython target) in ONE run.

Needs the ``[bench]`` extra (``pip install -e .[bench]``: cleosim==0.20.0, brian2, cython) in
the same Python as jaxgeci. Without Cleo the script measures jaxgeci only and marks the Cleo
columns as missing (it never mixes in numbers from other runs).

Sections (``--sections``, default all):

* ``kernel``: the sensor alone. Cleo: a network of N Poisson (5 Hz) neurons with a GCaMP6f
  GECI (dynamic Ca + double exponential) injected, run for D s, minus the same network without
  the GECI (no monitors, nothing read: Brian2 only evaluates ΔF/F when read). Because that
  difference of two noisy wall times is fragile on a loaded machine, the GECI's cost is also
  taken from Brian2's own profiler (``run(..., profile=True)``: the time spent in the GECI
  synapses' code objects), reported as ``cleo_geci_profiled_s``. jaxgeci:
  ``simulate`` on given spikes (``SpikeTrains``, built before the timer) read every 333 steps
  (30.03 Hz), ``record=("dFF",)``. dt = 0.1 ms.
* ``imaging``: what a user runs. Cleo: network + GECI + ``Scope`` (all neurons as ROIs) read by
  a ``RecordOnlyProcessor`` every 33.3 ms, ``run(2 s)``. jaxgeci, all inside the timer: draw
  the Poisson events (numpy, never a dense raster) -> ``SpikeTrains`` -> ``Scope.image`` at
  every 333 steps with noise.
* ``accuracy``: error of jaxgeci's ``method="accurate"`` at dt = 1 ms and of Cleo's forward
  Euler at 0.1 ms (jaxgeci ``method="euler"``, which reproduces Cleo to 1e-9 in
  ``tests/test_reference_sensor.py``), both against a float64 reference (accurate method,
  dt = 2 us, convergence checked against 4 us); speed ratio at equal or better accuracy, using
  the Cleo kernel time of the ``kernel`` section of the same run.
* ``inputs``: the same spikes at N = 1e4, T = 1e4 in every input form (``SpikeTrains``, dense
  numpy bool / float64, dense jax bool / float32), each timed from the call to
  ``block_until_ready``; medians, ratios against ``SpikeTrains`` and against the ``kernel``
  section's Cleo GECI at the same size; with the read bounds (one ``np.count_nonzero`` pass over
  each dense array) interleaved in the same run.
* ``fullrate``: ΔF/F recorded at every step. Cleo: network + GECI + ``StateMonitor(dFF)``
  minus the network alone; jaxgeci: ``simulate(sample_every=1)``.

Timing: each side runs once untimed (Cleo: a 10 ms run that generates and compiles the code;
jaxgeci: the first call, which compiles), then ``--repeats`` timed runs, interleaved between
the two sides; the minimum is reported (the inputs section: the median). The machine load is
recorded with every measurement.

With ``--host-devices 2`` the kernel section also times ``jaxgeci.simulate_sharded`` with the
neurons split over 2 XLA CPU devices (one per core; Brian2's runtime cython target uses one
core).

Usage::

    python benchmarks/compare_cleo.py                       # everything, writes JSON
    python benchmarks/compare_cleo.py --host-devices 2      # + the 2-device sharded kernel
    python benchmarks/compare_cleo.py --sections kernel --sizes 1000 10000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


if "--host-devices" in sys.argv:  # must be set before JAX starts
    _nd = sys.argv[sys.argv.index("--host-devices") + 1]
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={_nd}"
    ).strip()

import jax  # noqa: E402

import jaxgeci  # noqa: E402


DT = 1e-4  # s
RATE = 5.0  # Hz
EVERY = 333  # steps: 30.03 Hz at 0.1 ms


# ---------------------------------------------------------------------------- Cleo side
def have_cleo():
    try:
        import brian2  # noqa: F401
        import cleo  # noqa: F401

        return True
    except Exception as e:  # pragma: no cover - depends on the environment
        print(f"Cleo/Brian2 not importable ({type(e).__name__}: {e}); measuring jaxgeci only.")
        return False


_NET_ID = [0]


def cleo_network(n, *, geci=False, scope=False, record_every_step=False, sample_period_s=None):
    """A Cleo simulator: ``n`` Poisson neurons (``rand() < rate*dt``), optionally a GCaMP6f GECI
    (double exponential) on every neuron, a Scope imaging all of them, a RecordOnlyProcessor,
    or a StateMonitor of dFF at every step. Returns ``(sim, run)`` where ``run(seconds)``."""
    import brian2 as b2
    import cleo
    from cleo.imaging import gcamp6f, Scope

    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = DT * b2.second
    _NET_ID[0] += 1
    ng = b2.NeuronGroup(n, "rate : Hz", threshold="rand() < rate*dt", name=f"ng{_NET_ID[0]}")
    ng.rate = RATE * b2.Hz
    objs = [ng]
    if scope:
        cleo.coords.assign_coords_rand_rect_prism(ng, (-0.2, 0.2), (-0.2, 0.2), (0.1, 0.3))
    net = b2.Network(*objs)
    sim = cleo.CLSimulator(net)
    sensor = gcamp6f(doub_exp_conv=True) if (geci or scope) else None
    if scope:
        sc = Scope(sensor=sensor, img_width=1 * b2.mm, focus_depth=None)
        sim.inject(sc, ng)
        sc.inject_sensor_for_targets()
    elif geci:
        sim.inject(sensor, ng)
    if sample_period_s is not None:
        from cleo.ioproc import RecordOnlyProcessor

        sim.set_io_processor(RecordOnlyProcessor(sample_period=sample_period_s * b2.second))
    if record_every_step:
        mon = b2.StateMonitor(sensor.synapses[ng.name], "dFF", record=True)
        net.add(mon)

    def run(seconds):
        sim.run(seconds * b2.second)

    def profiled_geci_s(seconds):
        """Run with Brian2's profiler; seconds spent in the GECI's own code objects (state
        update, spike effect, spike queue) of this run (Brian2 resets the profile per run)."""
        sim.run(seconds * b2.second, profile=True)
        return sum(float(t) for name, t in net.profiling_info if name.startswith("syn_"))

    run.profiled_geci_s = profiled_geci_s
    return sim, run


# ---------------------------------------------------------------------------- helpers
def trains_for(n, n_steps, seed=0):
    steps, neurons = C.poisson_events(np.random.default_rng(seed), n, n_steps, RATE, DT)
    return jaxgeci.SpikeTrains(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=n)


def rec(d, **kw):
    d.update(kw)
    d["load"] = C.load()
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}, flush=True)
    return d


def interleaved(fns: dict, repeats: int, rotate: bool = False):
    """Warm each callable once (timed separately as 'first'), then time them round-robin
    (with ``rotate``, round ``r`` starts at the ``r``-th callable, so none always runs first)."""
    first, times = {}, {k: [] for k in fns}
    for k, f in fns.items():
        t0 = time.perf_counter()
        f()
        first[k] = time.perf_counter() - t0
    keys = list(fns)
    for r in range(repeats):
        for i in range(len(keys)):
            k = keys[(i + r) % len(keys)] if rotate else keys[i]
            t0 = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t0)
    return first, times


def cleo_pair(n, dur, labels=("cleo_with", "cleo_without"), **with_kw):
    """Cleo's network of ``n`` neurons with the GECI (and ``with_kw``, e.g. a monitor) and
    without it, each built and run once for 10 ms (code generation + cython compile, or cache
    load). Returns ``({label: run for dur s}, {label: setup times}, the network with the GECI)``."""
    fns, setup = {}, {}
    for label, geci in zip(labels, (True, False)):
        t0 = time.perf_counter()
        _, run = cleo_network(n, geci=geci, **(with_kw if geci else {}))
        t1 = time.perf_counter()
        run(0.01)
        setup[label] = {"build_s": t1 - t0, "warmup_10ms_incl_compile_s": time.perf_counter() - t1}
        fns[label] = (lambda r: lambda: r(dur))(run)
        if geci:
            run_with = run
    return fns, setup, run_with


# ---------------------------------------------------------------------------- sections
def section_kernel(sizes, repeats, cleo_ok):
    sensor = jaxgeci.gcamp6f()
    out = []
    for n in sizes:
        dur = 1.0 if n <= 10_000 else 0.2
        n_steps = int(round(dur / DT))
        trains = trains_for(n, n_steps)

        def jx():
            C.block(jaxgeci.simulate(sensor, trains, DT, sample_every=EVERY, record=("dFF",)).dFF)

        fns = {"jaxgeci": jx}
        if len(jax.devices()) > 1:  # the same run with neurons split over all devices (cores)
            mesh = jaxgeci.neuron_mesh()

            def jx_sharded():
                C.block(
                    jaxgeci.simulate_sharded(sensor, trains, DT, sample_every=EVERY, record=("dFF",), mesh=mesh).dFF
                )

            fns["jaxgeci_sharded"] = jx_sharded
        setup = {}
        if cleo_ok:
            cleo, setup, run_with = cleo_pair(n, dur)
            fns.update(cleo)
        first, times = interleaved(fns, repeats)
        prof = []
        if cleo_ok:  # Brian2's own profile of the GECI code objects in the network with it
            prof = [run_with.profiled_geci_s(dur) for _ in range(repeats)]
        r = {"n_neurons": n, "duration_s": dur, "n_steps": n_steps, "n_events": trains.n_events}
        best = {k: min(v) for k, v in times.items()}
        r["jaxgeci_s"] = best["jaxgeci"]
        r["jaxgeci_first_call_s"] = first["jaxgeci"]
        r["jaxgeci_compile_s"] = first["jaxgeci"] - best["jaxgeci"]
        r["jaxgeci_neuron_steps_per_s"] = n * n_steps / best["jaxgeci"]
        r["all_times"] = times
        if "jaxgeci_sharded" in best:
            r["jaxgeci_sharded_devices"] = len(jax.devices())
            r["jaxgeci_sharded_s"] = best["jaxgeci_sharded"]
            r["jaxgeci_sharded_neuron_steps_per_s"] = n * n_steps / best["jaxgeci_sharded"]
        if cleo_ok:
            geci_s = best["cleo_with"] - best["cleo_without"]
            r.update(
                cleo_with_s=best["cleo_with"],
                cleo_without_s=best["cleo_without"],
                cleo_geci_s=geci_s,
                cleo_setup=setup,
                cleo_geci_neuron_steps_per_s=n * n_steps / geci_s if geci_s > 0 else float("inf"),
                speedup=geci_s / best["jaxgeci"],
            )
            if "jaxgeci_sharded" in best:
                r["speedup_sharded"] = geci_s / best["jaxgeci_sharded"]
            r["cleo_geci_profiled_s"] = min(prof)
            r["cleo_geci_profiled_all"] = prof
            r["cleo_geci_profiled_neuron_steps_per_s"] = n * n_steps / min(prof)
            r["speedup_vs_profiled"] = min(prof) / best["jaxgeci"]
        out.append(rec(r, section="kernel"))
    return out


def section_inputs(kernel_rows, repeats, cleo_ok=False, n=10_000, dur=1.0):
    """The same spikes in every input form ``simulate`` takes (N = 1e4, T = 1e4 steps of
    0.1 ms, 5 Hz Poisson, GCaMP6f read every 333 steps), each timed from the call to
    ``block_until_ready`` (conversion and validation included; the dense arrays are built
    before the timer, as a user holds them); ratios (of medians) against ``SpikeTrains`` and
    against Cleo's GECI kernel of the ``kernel`` section at the same size in this run.

    Interleaved with them: the dense host forms run with the whole array searched for events
    before the loop (``(whole array first)``: the plan's ``pieces=1``, instead of the pieces
    overlapped with the loop), and the read bounds: ``np.count_nonzero`` over each dense
    array's 8-byte words (one pass over its memory, nothing found or stored), and
    ``SpikeTrains`` -> per-step event table (part of every event-loop time). The order rotates
    every round; ``time_over_spiketrains_paired`` is the median of the per-round ratios.

    With Cleo, its network with and without the GECI (N = 1e4, 1 s) runs in the same rotation,
    so that its GECI time (difference of the medians) meets the same machine state as the
    input forms (each call here follows another call's pass over up to 800 MB):
    ``speedup_vs_cleo_geci_interleaved``."""
    import dataclasses

    import jax.numpy as jnp

    from jaxgeci import _plan, _spike_input

    sensor = jaxgeci.gcamp6f()
    n_steps = int(round(dur / DT))
    trains = trains_for(n, n_steps)
    dense = trains.to_dense(np.float64)
    forms = {
        "SpikeTrains": trains,
        "numpy bool": dense.astype(bool),
        "numpy float64": dense,
        "jax bool": jnp.asarray(dense.astype(bool)),
        "jax float32": jnp.asarray(dense, dtype=jnp.float32),
    }
    rule = dict(n_neurons=n, period_steps=EVERY, method="euler", regular=True)
    whole = dataclasses.replace(_plan.plan_run(spikes="events", **rule), pieces=1)

    def timed(x, plan=None):
        def run():
            C.block(jaxgeci.simulate(sensor, x, DT, sample_every=EVERY, record=("dFF",), plan=plan).dFF)

        return run

    fns = {k: timed(v) for k, v in forms.items()}
    for k in ("numpy bool", "numpy float64", "jax float32"):
        fns[f"{k} (whole array first)"] = timed(forms[k], whole)
    cleo = cleo_pair(n, dur)[0] if cleo_ok else {}
    bounds = {
        "read numpy bool": lambda: np.count_nonzero(forms["numpy bool"].view(np.uint64)),
        "read numpy float64": lambda: np.count_nonzero(dense.view(np.uint64)),
        "read jax float32 (in place)": lambda: np.count_nonzero(np.from_dlpack(forms["jax float32"]).view(np.uint64)),
        "SpikeTrains -> step table": lambda: _spike_input.step_events(trains, n_steps),
    }
    first, times = interleaved({**fns, **bounds, **cleo}, repeats, rotate=True)
    med = {k: float(np.median(v)) for k, v in times.items()}
    cleo_geci = med["cleo_with"] - med["cleo_without"] if cleo else None
    st = np.asarray(times["SpikeTrains"])
    kern = next((r for r in kernel_rows if r["n_neurons"] == n and r["n_steps"] == n_steps), None)
    out = []
    for k in fns:
        r = {"form": k, "n_neurons": n, "n_steps": n_steps, "jaxgeci_s": med[k], "jaxgeci_min_s": min(times[k])}
        r["first_call_s"] = first[k]
        r["neuron_steps_per_s"] = n * n_steps / med[k]
        r["time_over_spiketrains"] = med[k] / med["SpikeTrains"]
        r["time_over_spiketrains_paired"] = float(np.median(np.asarray(times[k]) / st))  # same round
        if kern is not None and "cleo_geci_s" in kern:
            r["speedup_vs_cleo_geci"] = kern["cleo_geci_s"] / med[k]
            r["speedup_vs_cleo_geci_profiled"] = kern["cleo_geci_profiled_s"] / med[k]
            # like for like: Cleo's figures are differences/profiles of minima
            r["speedup_vs_cleo_geci_min"] = kern["cleo_geci_s"] / min(times[k])
            r["speedup_vs_cleo_geci_profiled_min"] = kern["cleo_geci_profiled_s"] / min(times[k])
        if cleo_geci is not None:
            r["cleo_geci_interleaved_s"] = cleo_geci
            r["speedup_vs_cleo_geci_interleaved"] = cleo_geci / med[k]
        r["all_times"] = times[k]
        out.append(rec(r, section="inputs"))
    for k in cleo:
        out.append(rec({"cleo": k, "median_s": med[k]}, section="inputs", all_times=times[k]))
    for k in bounds:
        r = {"bound": k, "median_s": med[k], "over_spiketrains_run": med[k] / med["SpikeTrains"]}
        out.append(rec(r, section="inputs", all_times=times[k]))
    return out


def section_imaging(sizes, repeats, cleo_ok, dur=2.0):
    n_steps = int(round(dur / DT))
    out = []
    for n in sizes:
        coords = np.random.default_rng(1).uniform([-2e-4, -2e-4, 1e-4], [2e-4, 2e-4, 3e-4], (n, 3))
        scope = jaxgeci.Scope(jaxgeci.gcamp6f(), img_width=1e-3, focus_depth=None).inject("exc", coords)
        seed = [0]

        def jx():
            seed[0] += 1
            rng = np.random.default_rng(seed[0])
            steps, neurons = C.poisson_events(rng, n, n_steps, RATE, DT)
            trains = jaxgeci.SpikeTrains(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=n)
            res = scope.image({"exc": trains}, DT, sample_every=EVERY, key=jax.random.key(seed[0]))
            C.block(res.dFF)

        fns = {"jaxgeci": jx}
        setup = {}
        if cleo_ok:
            t0 = time.perf_counter()
            _, run = cleo_network(n, scope=True, sample_period_s=EVERY * DT)
            t1 = time.perf_counter()
            run(0.01)
            setup = {"build_s": t1 - t0, "warmup_10ms_incl_compile_s": time.perf_counter() - t1}
            fns["cleo"] = lambda: run(dur)
        first, times = interleaved(fns, max(1, repeats - 1) if n > 1000 else repeats)
        best = {k: min(v) for k, v in times.items()}
        r = {
            "n_neurons": n,
            "duration_s": dur,
            "n_steps": n_steps,
            "jaxgeci_s": best["jaxgeci"],
            "jaxgeci_first_call_s": first["jaxgeci"],
            "jaxgeci_compile_s": first["jaxgeci"] - best["jaxgeci"],
            "jaxgeci_neuron_steps_per_s": n * n_steps / best["jaxgeci"],
            "all_times": times,
        }
        if cleo_ok:
            r.update(
                cleo_s=best["cleo"],
                cleo_setup=setup,
                cleo_neuron_steps_per_s=n * n_steps / best["cleo"],
                speedup=best["cleo"] / best["jaxgeci"],
            )
        out.append(rec(r, section="imaging"))
    return out


def _accuracy_inputs(n=16, dur=1.0, seed=3):
    """Spikes on the 1 ms grid (exact on every dt used), rates 2-40 Hz."""
    rng = np.random.default_rng(seed)
    times, who = [], []
    for i, rate in enumerate(np.geomspace(2, 40, n)):
        k = np.unique(rng.integers(0, int(dur * 1000), rng.poisson(rate * dur)))
        times.append(k * 1e-3)
        who.append(np.full(k.size, i))
    return np.concatenate(times), np.concatenate(who), dur


def _run_acc(dt, method, times, who, dur, n):
    n_steps = int(round(dur / dt))
    trains = jaxgeci.SpikeTrains.from_times(times, who, dt, n_steps, n)
    res = jaxgeci.simulate(jaxgeci.gcamp6f(), trains, dt, sample_period=1e-3, method=method, record=("dFF",))
    return np.asarray(res.dFF, dtype=np.float64)


def section_accuracy(kernel_rows, repeats):
    times, who, dur = _accuracy_inputs()
    n = int(who.max()) + 1
    with jax.enable_x64(True):
        ref = _run_acc(2e-6, "accurate", times, who, dur, n)
        ref4 = _run_acc(4e-6, "accurate", times, who, dur, n)
        euler64 = _run_acc(1e-4, "euler", times, who, dur, n)
        acc64 = {dt: _run_acc(dt, "accurate", times, who, dur, n) for dt in (1e-3, 5e-4, 2.5e-4)}
    acc32 = {dt: _run_acc(dt, "accurate", times, who, dur, n) for dt in (1e-3, 5e-4, 2.5e-4)}
    euler32 = _run_acc(1e-4, "euler", times, who, dur, n)
    peak = float(np.abs(ref).max())

    def err(x):
        return {"max_abs": float(np.abs(x - ref).max()), "rms": float(np.sqrt(np.mean((x - ref) ** 2)))}

    r = {
        "n_neurons": n,
        "duration_s": dur,
        "reference": "float64, method='accurate', dt=2e-6 s, read every 1 ms",
        "reference_peak_dFF": peak,
        "reference_convergence_max_abs_vs_4us": float(np.abs(ref4 - ref).max()),
        "cleo_euler_0.1ms_float64": err(euler64),
        "cleo_euler_0.1ms_float32": err(euler32),
        "accurate_float64": {f"{dt * 1e3:g}ms": err(x) for dt, x in acc64.items()},
        "accurate_float32": {f"{dt * 1e3:g}ms": err(x) for dt, x in acc32.items()},
    }
    # the largest dt whose float32 error is at most Euler-at-0.1-ms's (both max-abs and rms)
    target = r["cleo_euler_0.1ms_float64"]
    ok = [dt for dt, x in acc32.items() if err(x)["max_abs"] <= target["max_abs"] and err(x)["rms"] <= target["rms"]]
    dt_eq = max(ok) if ok else 2.5e-4
    r["accurate_dt_at_equal_or_better_accuracy_s"] = dt_eq
    r["equal_or_better_found"] = bool(ok)
    # speed at N = 1e4 (or the largest kernel size), 1 s, read at ~30 Hz
    row = next((k for k in kernel_rows if k["n_neurons"] == 10_000), kernel_rows[-1] if kernel_rows else None)
    nn = row["n_neurons"] if row else 10_000
    n_steps = int(round(1.0 / dt_eq))
    steps, neurons = C.poisson_events(np.random.default_rng(0), nn, int(round(1.0 / DT)), RATE, DT)
    tr = jaxgeci.SpikeTrains.from_times(steps * DT, neurons, dt_eq, n_steps, nn)
    sensor = jaxgeci.gcamp6f()
    every = max(1, int(round((EVERY * DT) / dt_eq)))

    def jx():
        C.block(jaxgeci.simulate(sensor, tr, dt_eq, sample_every=every, method="accurate", record=("dFF",)).dFF)

    first, ts = C.timeit(jx, repeats)
    r["jaxgeci_accurate_s"] = min(ts)
    r["jaxgeci_accurate_compile_s"] = first - min(ts)
    r["speed_n_neurons"] = nn
    if row and "cleo_geci_s" in row:
        cleo_1s = row["cleo_geci_s"] * (1.0 / row["duration_s"])
        r["cleo_geci_euler_0.1ms_s_per_simulated_s"] = cleo_1s
        r["speedup_at_equal_or_better_accuracy"] = cleo_1s / min(ts)
    return [rec(r, section="accuracy")]


def section_fullrate(sizes, repeats, cleo_ok, dur=0.2):
    sensor = jaxgeci.gcamp6f()
    n_steps = int(round(dur / DT))
    out = []
    for n in sizes:
        trains = trains_for(n, n_steps)

        def jx():
            C.block(jaxgeci.simulate(sensor, trains, DT, sample_every=1, record=("dFF",)).dFF)

        fns = {"jaxgeci": jx}
        if cleo_ok:
            fns.update(cleo_pair(n, dur, ("cleo_with_monitor", "cleo_without"), record_every_step=True)[0])
        first, times = interleaved(fns, repeats)
        best = {k: min(v) for k, v in times.items()}
        r = {
            "n_neurons": n,
            "duration_s": dur,
            "n_steps": n_steps,
            "jaxgeci_s": best["jaxgeci"],
            "jaxgeci_compile_s": first["jaxgeci"] - best["jaxgeci"],
            "jaxgeci_neuron_steps_per_s": n * n_steps / best["jaxgeci"],
            "all_times": times,
        }
        if cleo_ok:
            cleo = best["cleo_with_monitor"] - best["cleo_without"]
            r.update(
                cleo_with_monitor_s=best["cleo_with_monitor"],
                cleo_without_s=best["cleo_without"],
                cleo_geci_and_monitor_s=cleo,
                speedup=cleo / best["jaxgeci"],
            )
        out.append(rec(r, section="fullrate"))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", nargs="+", default=["kernel", "inputs", "imaging", "accuracy", "fullrate"])
    p.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 100_000])
    p.add_argument("--imaging-sizes", nargs="+", type=int, default=[1000, 10_000])
    p.add_argument("--fullrate-sizes", nargs="+", type=int, default=[1000, 10_000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-cleo", action="store_true", help="measure jaxgeci only")
    p.add_argument(
        "--host-devices",
        type=int,
        default=1,
        help="split the CPU into this many XLA host devices and also time simulate_sharded (kernel section)",
    )
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "compare_cleo.json"))
    a = p.parse_args(argv)
    cleo_ok = (not a.no_cleo) and have_cleo()
    result = {
        "machine": C.machine(),
        "cleo_measured_same_run": cleo_ok,
        "dt_s": DT,
        "rate_hz": RATE,
        "sample_every": EVERY,
    }
    if cleo_ok:
        import brian2
        import cleo

        result["machine"]["brian2"] = brian2.__version__
        result["machine"]["cleosim"] = getattr(cleo, "__version__", "0.20.0")
    kernel = []
    if "kernel" in a.sections:
        kernel = result["kernel"] = section_kernel(a.sizes, a.repeats, cleo_ok)
    if "inputs" in a.sections:
        result["inputs"] = section_inputs(kernel, a.repeats, cleo_ok)
    if "imaging" in a.sections:
        result["imaging"] = section_imaging(a.imaging_sizes, a.repeats, cleo_ok)
    if "accuracy" in a.sections:
        result["accuracy"] = section_accuracy(kernel, a.repeats)
    if "fullrate" in a.sections:
        result["fullrate"] = section_fullrate(a.fullrate_sizes, a.repeats, cleo_ok)
    result["machine"]["load_at_end"] = C.load()
    C.save(a.out, result)
    return result


if __name__ == "__main__":
    main()
