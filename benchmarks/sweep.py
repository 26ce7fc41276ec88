"""Batched parameter sweeps: ``eqx.filter_vmap`` over B stacked GECI parameter sets x N neurons,
no Python loop over the batch. Reports neuron-steps/s (B x N x steps / time) vs B.

The B indicator variants scale K_d and tau_off over +-20 % (a grid a fit would explore); all
share the same spikes (Poisson 5 Hz, ``SpikeTrains``), dt = 0.1 ms, 1 s, read every 333 steps
(30.03 Hz), ``record=("dFF",)``. For comparison each row also times the same sweep laid out
flat: ONE sensor of B x N neurons whose varied constants are per-neuron arrays, spikes
replicated as events (``flat_*`` columns).

Usage::

    python benchmarks/sweep.py                       # B = 1, 2, 4, ..., 64; N = 1000
    python benchmarks/sweep.py --batches 1 8 64 --n 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def stacked_variants(b):
    """``b`` GCaMP6f variants stacked leaf-wise (a batch for ``eqx.filter_vmap``)."""
    import jax
    import jax.numpy as jnp

    import jaxgeci

    base = jaxgeci.gcamp6f()
    scale = np.linspace(0.8, 1.2, b) if b > 1 else np.ones(1)
    variants = [base.replace(K_d=base.K_d * f, tau_off=base.bind_act_model.tau_off / f) for f in scale]
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *variants)


def flat_variants(stacked, b, n):
    """The stacked sensor as ONE sensor of ``b x n`` neurons: each batched constant repeated
    over its ``n`` neurons (the flat alternative to ``filter_vmap``)."""
    import jaxgeci

    base = jaxgeci.gcamp6f()
    flat = {}
    for key in ("K_d", "tau_off"):
        leaf = stacked.K_d if key == "K_d" else stacked.bind_act_model.tau_off
        flat[key] = np.repeat(np.asarray(leaf), n)
    return base.replace(**flat)


def main(argv=None):
    import equinox as eqx

    import jaxgeci

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32, 64])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "sweep.json"))
    a = p.parse_args(argv)
    dt, every = 1e-4, 333
    n_steps = int(round(a.duration / dt))
    steps, neurons = C.poisson_events(np.random.default_rng(0), a.n, n_steps, 5.0, dt)
    trains = jaxgeci.SpikeTrains(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=a.n)

    @eqx.filter_jit
    @eqx.filter_vmap
    def run(sensor):
        return jaxgeci.simulate(sensor, trains, dt, sample_every=every, record=("dFF",)).dFF

    rows = []
    for b in a.batches:
        batch = stacked_variants(b)
        first, ts = C.timeit(lambda: C.block(run(batch)), a.repeats)
        out = run(batch)
        assert out.shape == (b, len(range(0, n_steps, every)), a.n)
        # the same sweep laid out flat: B x N neurons, the varied constants per neuron
        flat = flat_variants(batch, b, a.n)
        flat_trains = jaxgeci.SpikeTrains(
            steps=np.tile(steps, b),
            neurons=(np.arange(b)[:, None] * a.n + neurons[None, :]).reshape(-1),
            n_steps=n_steps,
            n_neurons=b * a.n,
        )
        f_first, f_ts = C.timeit(
            lambda: C.block(jaxgeci.simulate(flat, flat_trains, dt, sample_every=every, record=("dFF",)).dFF),
            a.repeats,
        )
        flat_out = jaxgeci.simulate(flat, flat_trains, dt, sample_every=every, record=("dFF",)).dFF
        flat_out = np.asarray(flat_out).reshape(-1, b, a.n).transpose(1, 0, 2)
        r = {
            "batch": b,
            "n_neurons": a.n,
            "n_steps": n_steps,
            "time_s": min(ts),
            "compile_s": first - min(ts),
            "neuron_steps_per_s": b * a.n * n_steps / min(ts),
            "flat_time_s": min(f_ts),
            "flat_neuron_steps_per_s": b * a.n * n_steps / min(f_ts),
            "flat_max_rel_diff_vs_vmap": float(
                np.abs(flat_out - np.asarray(out)).max() / np.abs(np.asarray(out)).max()
            ),
            "load": C.load(),
        }
        print(r, flush=True)
        rows.append(r)
    base = rows[0]["neuron_steps_per_s"]
    for r in rows:
        r["throughput_vs_first"] = r["neuron_steps_per_s"] / base
    res = {"machine": C.machine(), "rows": rows}
    res["machine"]["load_at_end"] = C.load()
    C.save(a.out, res)
    return res


if __name__ == "__main__":
    main()
