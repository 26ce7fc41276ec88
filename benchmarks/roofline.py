"""Achieved neuron-steps/s of ``jaxgeci.simulate`` vs a simple roofline for this CPU.

The roofline counts, from the jaxpr of one ``GECI.advance`` step (GCaMP6f, dynamic Ca +
double exponential, ``method="cleo"`` = Euler, float32), the elementwise operations on the
``(neurons,)`` arrays (scalar work on constants is hoisted out of the loop and ignored):
simple ops (add/sub/mul/neg/select/compare/convert), divisions and transcendentals. With

* ``cores`` and the clock ``f`` from ``lscpu`` (``CPU max MHz``, else BogoMIPS/2),
* ``L`` fp32 SIMD lanes (16 with AVX-512, 8 with AVX2),
* 1 vector instruction per cycle per core for simple ops (conservative: Zen 4 splits a
  512-bit op over two 256-bit pipes), 1 vector division per 5 cycles (``vdivps`` reciprocal
  throughput), 20 simple-op cycles per vector transcendental (XLA's polynomial ``exp``),

the compute roof is ``cores x f x L / (simple + 5 div + 20 transc)`` neuron-steps/s. A memory
roof uses the bytes each neuron-step must move (state read + write, spikes) at the bandwidth
measured here with numpy on arrays of the same size (cache-resident for small N).

The measured time per run is fitted as ``T x (overhead + N / throughput)``: the per-step
loop overhead dominates small N, arithmetic (or memory) large N.

Usage::

    python benchmarks/roofline.py
    python benchmarks/roofline.py --sizes 10 1000 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

import numpy as np


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


SIMPLE = {
    "add",
    "sub",
    "mul",
    "neg",
    "select_n",
    "max",
    "min",
    "abs",
    "lt",
    "le",
    "gt",
    "ge",
    "eq",
    "ne",
    "convert_element_type",
    "integer_pow",
    "square",
    "and",
    "or",
    "not",
    "sign",
    "copy",
    "add_any",
}
DIV = {"div", "rem", "rsqrt", "sqrt"}
TRANSC = {"exp", "expm1", "log", "log1p", "pow", "tanh", "logistic", "exp2", "sin", "cos"}


def op_counts(method="cleo", n=8, dt=1e-4):
    """Per-neuron elementwise ops of one ``advance`` step (and of one ``readout``)."""
    import jax
    import jax.numpy as jnp

    import jaxgeci

    sensor = jaxgeci.gcamp6f()
    state = sensor.init(n)
    spk = jnp.zeros((n,), jnp.float32)

    def count(fn, *args):
        jaxpr = jax.make_jaxpr(fn)(*args)
        c = collections.Counter()

        def walk(jx):
            for eq in jx.eqns:
                for sub in jax.core.subjaxprs(eq) if hasattr(jax.core, "subjaxprs") else []:
                    walk(sub)
                if "jaxpr" in eq.params and hasattr(eq.params["jaxpr"], "eqns"):
                    walk(eq.params["jaxpr"])
                elif "jaxpr" in eq.params and hasattr(eq.params["jaxpr"], "jaxpr"):
                    walk(eq.params["jaxpr"].jaxpr)
                shapes = [getattr(v.aval, "shape", ()) for v in eq.outvars]
                if not any(s == (n,) for s in shapes):
                    continue  # scalar work on constants: hoisted out of the loop
                name = eq.primitive.name
                if name in DIV:
                    c["div"] += 1
                elif name in TRANSC:
                    c["transcendental"] += 1
                elif name == "integer_pow":
                    c["simple"] += max(1, int(eq.params.get("y", 2)) - 1)
                elif name in SIMPLE:
                    c["simple"] += 1
                elif name in (
                    "broadcast_in_dim",
                    "reshape",
                    "squeeze",
                    "pjit",
                    "jit",
                    "closed_call",
                    "custom_jvp_call",
                ):
                    pass
                else:
                    c["other:" + name] += 1

        walk(jaxpr.jaxpr)
        return dict(c)

    step = count(lambda st, s: sensor.advance(st, s, dt, method=method), state, spk)
    read = count(lambda st: sensor.readout(st), state)
    return step, read


def clock_hz(info):
    for key in ("CPU max MHz", "CPU MHz"):
        if key in info:
            try:
                return float(info[key]) * 1e6, key
            except ValueError:
                pass
    if "BogoMIPS" in info:
        return float(info["BogoMIPS"]) / 2 * 1e6, "BogoMIPS/2"
    return 2.5e9, "assumed 2.5 GHz"


def bandwidth(n_bytes, repeats=20):
    """numpy a = b + c bandwidth (bytes/s) for float32 arrays totalling ~n_bytes."""
    m = max(1024, int(n_bytes // 12))
    b = np.ones(m, np.float32)
    c = np.ones(m, np.float32)
    a = np.empty_like(b)
    best = 1e9
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.add(b, c, out=a)
        best = min(best, time.perf_counter() - t0)
    return 12 * m / best


def measure(sizes, repeats, *, dt=1e-4, every=333, method="cleo", n_steps=None):
    """``simulate`` throughput of GCaMP6f on Poisson 5 Hz events read every ``every`` steps of
    ``dt`` (s); ``n_steps`` defaults to ~1e8 neuron-steps (2e3-2e4 steps)."""
    import jaxgeci

    sensor = jaxgeci.gcamp6f()
    rows = []
    for n in sizes:
        steps_n = n_steps or int(min(20_000, max(2_000, 1e8 // n)))
        steps, neurons = C.poisson_events(np.random.default_rng(0), n, steps_n, 5.0, dt)
        trains = jaxgeci.SpikeTrains(steps=steps, neurons=neurons, n_steps=steps_n, n_neurons=n)
        first, ts = C.timeit(
            lambda: C.block(
                jaxgeci.simulate(sensor, trains, dt, sample_every=every, method=method, record=("dFF",)).dFF
            ),
            repeats,
        )
        r = {
            "method": method,
            "dt_s": dt,
            "sample_every": every,
            "n_neurons": n,
            "n_steps": steps_n,
            "time_s": min(ts),
            "compile_s": first - min(ts),
            "us_per_step": min(ts) / steps_n * 1e6,
            "neuron_steps_per_s": n * steps_n / min(ts),
            "load": C.load(),
        }
        print(r, flush=True)
        rows.append(r)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=int, default=[10, 1000, 10_000, 100_000, 1_000_000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "roofline.json"))
    a = p.parse_args(argv)
    info = C.lscpu()
    cores = int(info.get("Core(s) per socket", os.cpu_count() or 1)) * int(info.get("Socket(s)", 1))
    f, f_src = clock_hz(info)
    lanes = 16 if "avx512f" in info.get("Flags", "") else 8
    step, read = op_counts()
    simple = step.get("simple", 0) + sum(v for k, v in step.items() if k.startswith("other:"))
    div, tr = step.get("div", 0), step.get("transcendental", 0)
    cycles_per_vector = simple * 1 + div * 5 + tr * 20
    compute_roof = cores * f * lanes / cycles_per_vector
    compute_roof_1core = compute_roof / cores
    bytes_per_ns = 3 * 4 * 2 + 4  # Ca, b, beta read+write (float32) + one spike count
    rows = measure(a.sizes, a.repeats)
    for r in rows:
        # at least 1 MiB so numpy's call overhead does not swamp the copy (smaller working
        # sets are cache-resident, so this is a lower bound on their bandwidth)
        bw = bandwidth(max(r["n_neurons"] * 12, 2**20))
        r["memory_roof_neuron_steps_per_s"] = bw / bytes_per_ns
        r["bandwidth_bytes_per_s"] = bw
        r["fraction_of_compute_roof"] = r["neuron_steps_per_s"] / compute_roof
        r["fraction_of_1core_compute_roof"] = r["neuron_steps_per_s"] / compute_roof_1core
    # fit t/T = overhead + N / throughput on the two smallest / largest sizes
    small, large = rows[0], rows[-1]
    overhead_s = small["time_s"] / small["n_steps"]
    per_ns = (large["time_s"] / large["n_steps"] - overhead_s) / large["n_neurons"]
    res = {
        "machine": C.machine(),
        "lscpu": {
            k: info.get(k)
            for k in (
                "Model name",
                "Core(s) per socket",
                "Socket(s)",
                "BogoMIPS",
                "CPU max MHz",
                "L2 cache",
                "L3 cache",
            )
        },
        "assumptions": {
            "cores": cores,
            "clock_hz": f,
            "clock_source": f_src,
            "fp32_simd_lanes": lanes,
            "simple_ops_per_cycle_per_core_vectors": 1,
            "division_cycles_per_vector": 5,
            "transcendental_cycles_per_vector": 20,
            "bytes_per_neuron_step": bytes_per_ns,
        },
        "ops_per_neuron_step": step,
        "ops_per_readout": read,
        "cycles_per_vector_of_neurons": cycles_per_vector,
        "compute_roof_neuron_steps_per_s": compute_roof,
        "compute_roof_1core_neuron_steps_per_s": compute_roof_1core,
        "measured": rows,
        "fit_loop_overhead_us_per_step": overhead_s * 1e6,
        "fit_ns_per_neuron_step_large_n": per_ns * 1e9,
        "fit_large_n_neuron_steps_per_s": 1 / per_ns if per_ns > 0 else None,
    }
    res["machine"]["load_at_end"] = C.load()
    print({k: v for k, v in res.items() if k not in ("measured", "machine")})
    C.save(a.out, res)
    return res


if __name__ == "__main__":
    main()
