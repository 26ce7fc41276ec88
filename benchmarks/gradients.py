"""Cost of gradients w.r.t. every GECI constant, and memory of long differentiable runs.

1. ``ratio``: ``eqx.filter_value_and_grad`` of a squared-error loss on ~30 Hz ΔF/F w.r.t. all
   array constants of a GCaMP6f GECI (K_d, n_H, dFF_max, Ca_rest, gamma, B_T, kappa_S, dCa_T,
   A, tau_on, tau_off, ...) vs the jitted forward loss alone. Target: <= 4x.
2. ``memory`` (a fresh subprocess, so the peak RSS is its own): value and gradient for
   1e4 neurons x 10 min at dt = 1 ms (600 000 steps, ``method="accurate"``, read every 33
   steps = 30.3 Hz) with the default chunk checkpointing. Target: within 24 GiB. Reports
   ``ru_maxrss``.

Usage::

    python benchmarks/gradients.py                      # both
    python benchmarks/gradients.py --part ratio --n 1000 10000
    python benchmarks/gradients.py --part memory --minutes 10 --n-memory 10000
    # the accurate method at dt = 1 ms (the step fits use), 10 s read every 33 steps
    python benchmarks/gradients.py --part ratio --dt 1e-3 --every 33 --duration 10 \
        --out benchmarks/results/gradients_accurate_1ms.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def _problem(n, n_steps, dt, every, seed=0):
    import jax.numpy as jnp

    import jaxgeci

    steps, neurons = C.poisson_events(np.random.default_rng(seed), n, n_steps, 5.0, dt)
    trains = jaxgeci.SpikeTrains(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=n)
    truth = jaxgeci.gcamp6f()
    method = "accurate" if dt >= 5e-4 else "cleo"
    target = jaxgeci.simulate(truth, trains, dt, sample_every=every, method=method, record=("dFF",)).dFF
    guess = truth.replace(
        K_d=1.1 * truth.K_d, tau_off=0.9 * truth.bind_act_model.tau_off, gamma=1.2 * truth.cal_model.gamma
    )

    def loss(sensor):
        dff = jaxgeci.simulate(sensor, trains, dt, sample_every=every, method=method, record=("dFF",)).dFF
        return jnp.mean((dff - target) ** 2)

    return guess, loss


def part_ratio(sizes, repeats, dt=1e-4, dur=1.0, every=333):
    import equinox as eqx
    import jax

    rows = []
    for n in sizes:
        n_steps = int(round(dur / dt))
        guess, loss = _problem(n, n_steps, dt, every)
        fwd = eqx.filter_jit(loss)
        vg = eqx.filter_jit(eqx.filter_value_and_grad(loss))
        f_first, f_t = C.timeit(lambda: C.block(fwd(guess)), repeats)
        g_first, g_t = C.timeit(lambda: C.block(vg(guess)), repeats)
        # interleave one more round of each to share the machine load fairly
        for _ in range(repeats):
            t0 = time.perf_counter()
            C.block(fwd(guess))
            f_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            C.block(vg(guess))
            g_t.append(time.perf_counter() - t0)
        _, grads = vg(guess)
        leaves = {
            jax.tree_util.keystr(p): float(g) for p, g in jax.tree_util.tree_leaves_with_path(grads) if g is not None
        }
        r = {
            "n_neurons": n,
            "n_steps": n_steps,
            "dt_s": dt,
            "sample_every": every,
            "forward_s": min(f_t),
            "value_and_grad_s": min(g_t),
            "ratio": min(g_t) / min(f_t),
            "forward_compile_s": f_first - min(f_t),
            "value_and_grad_compile_s": g_first - min(g_t),
            "n_constants_differentiated": len(leaves),
            "all_finite": bool(all(np.isfinite(v) for v in leaves.values())),
            "load": C.load(),
        }
        print(r, flush=True)
        rows.append(r)
    return rows


def _memory_child(n, minutes, dt, every, checkpoint):
    import equinox as eqx
    import jax.numpy as jnp

    import jaxgeci

    n_steps = int(round(minutes * 60 / dt))
    steps, neurons = C.poisson_events(np.random.default_rng(0), n, n_steps, 5.0, dt)
    trains = jaxgeci.SpikeTrains(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=n)
    guess = jaxgeci.gcamp6f()

    def loss(sensor):
        dff = jaxgeci.simulate(
            sensor, trains, dt, sample_every=every, method="accurate", record=("dFF",), checkpoint=checkpoint
        ).dFF
        return jnp.mean(dff**2)

    vg = eqx.filter_jit(eqx.filter_value_and_grad(loss))
    t0 = time.perf_counter()
    val, grads = vg(guess)
    C.block(grads)
    wall = time.perf_counter() - t0
    out = {
        "n_neurons": n,
        "minutes": minutes,
        "n_steps": n_steps,
        "dt_s": dt,
        "sample_every": every,
        "checkpoint": checkpoint,
        "wall_s_incl_compile": wall,
        "neuron_steps_per_s_value_and_grad": n * n_steps / wall,
        "peak_rss_gib": C.peak_rss_gib(),
        "loss_finite": bool(np.isfinite(float(val))),
        "load": C.load(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def part_memory(n, minutes, dt=1e-3, every=33, checkpoint=True):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        str(n),
        str(minutes),
        str(dt),
        str(every),
        str(int(checkpoint)),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            print(r, flush=True)
            return r
    return {"error": (proc.stdout + proc.stderr)[-2000:], "n_neurons": n, "minutes": minutes}


def main(argv=None):
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        n, minutes, dt, every, ck = sys.argv[2:7]
        return _memory_child(int(n), float(minutes), float(dt), int(every), bool(int(ck)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", nargs="+", default=["ratio", "memory"])
    p.add_argument("--n", nargs="+", type=int, default=[1000, 10_000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dt", type=float, default=1e-4, help="step (s); >= 0.5 ms uses method='accurate'")
    p.add_argument("--every", type=int, default=333, help="read every this many steps")
    p.add_argument("--duration", type=float, default=1.0, help="simulated time (s)")
    p.add_argument("--n-memory", type=int, default=10_000)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "gradients.json"))
    a = p.parse_args(argv)
    res = {"machine": C.machine()}
    if "ratio" in a.part:
        res["ratio"] = part_ratio(a.n, a.repeats, dt=a.dt, dur=a.duration, every=a.every)
    if "memory" in a.part:
        res["memory"] = part_memory(a.n_memory, a.minutes)
    res["machine"]["load_at_end"] = C.load()
    C.save(a.out, res)
    return res


if __name__ == "__main__":
    main()
