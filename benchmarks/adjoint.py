"""Gradient cost of the loop's own adjoint vs autodiff through the scan, in ONE run.

The inference and fitting gradient: ``value_and_grad`` of a least-squares loss on the every-step
unit traces of ``R`` ROIs (``vmap``) with respect to the spike input (one entry per step) and the
sensor's constants, over ``duration_s`` at ``dt``, for each model family. Reported: forward
time, ``value_and_grad`` time with autodiff (``adjoint=False``) and with the loop's
``ReverseAdjoint`` (``adjoint=True``), the adjoint's ``value_and_grad`` w.r.t. the spike input
only (what inference needs), and the ratios to the forward pass. Minimum of
``--repeats`` interleaved runs after one compile run.

    python benchmarks/adjoint.py                     # 64 ROIs x 10 min at 1 ms
    python benchmarks/adjoint.py --rois 8 --duration 60
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rois", type=int, default=64)
    p.add_argument("--duration", type=float, default=600.0, help="recording length (s)")
    p.add_argument("--dt", type=float, default=1e-3, help="step (s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "adjoint.json"))
    a = p.parse_args(argv)

    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import jaxgeci as jg

    T = int(round(a.duration / a.dt))
    rng = np.random.default_rng(0)
    spikes = jnp.asarray((rng.random((a.rois, T)) < 2.0 * a.dt).astype(np.float32))
    families = {
        "S2F (jGCaMP8m)": jg.s2f("jGCaMP8m"),
        "adaptive S2F (GCaMP6s fit)": jg.AdaptiveS2F(jg.s2f("GCaMP6s"), c_half=2.0),
        "GECI (GCaMP6f, accurate)": jg.gcamp6f(),
    }
    rows = []
    for name, sensor in families.items():
        target = jax.jit(jax.vmap(lambda x: jg.unit_trace(sensor, x, a.dt)))(spikes) * 1.1

        def loss(s, x, y, adjoint):
            tr = jax.vmap(lambda xi: jg.unit_trace(s, xi, a.dt, adjoint=adjoint))(x)
            return jnp.mean((tr - y) ** 2)

        # the data are arguments, not constants folded into the program
        fwd = eqx.filter_jit(lambda s, x, y: loss(s, x, y, False))
        vg_auto = eqx.filter_jit(eqx.filter_value_and_grad(lambda sx, y: loss(sx[0], sx[1], y, False)))
        vg_adj = eqx.filter_jit(eqx.filter_value_and_grad(lambda sx, y: loss(sx[0], sx[1], y, True)))
        # what spike inference needs: the gradient w.r.t. the spike input only (the constants
        # fixed), so the reverse scan does not accumulate the constants' gradient
        vg_x = eqx.filter_jit(eqx.filter_value_and_grad(lambda x, s, y: loss(s, x, y, True)))
        fns = {
            "forward": lambda: C.block(fwd(sensor, spikes, target)),
            "autodiff": lambda: C.block(vg_auto((sensor, spikes), target)),
            "adjoint": lambda: C.block(vg_adj((sensor, spikes), target)),
            "adjoint_spikes_only": lambda: C.block(vg_x(spikes, sensor, target)),
        }
        times = {k: [] for k in fns}
        for f in fns.values():
            f()  # compile
        for _ in range(a.repeats):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        best = {k: min(v) for k, v in times.items()}
        ga, gb = vg_auto((sensor, spikes), target)[1], vg_adj((sensor, spikes), target)[1]
        diff = max(
            float(jnp.max(jnp.abs(x - y)) / (jnp.max(jnp.abs(x)) + 1e-30))
            for x, y in zip(jax.tree_util.tree_leaves(ga), jax.tree_util.tree_leaves(gb))
        )
        row = {
            "family": name,
            "rois": a.rois,
            "n_steps": T,
            "dt_s": a.dt,
            "forward_s": best["forward"],
            "autodiff_value_and_grad_s": best["autodiff"],
            "adjoint_value_and_grad_s": best["adjoint"],
            "autodiff_over_forward": best["autodiff"] / best["forward"],
            "adjoint_over_forward": best["adjoint"] / best["forward"],
            "adjoint_spikes_only_s": best["adjoint_spikes_only"],
            "adjoint_spikes_only_over_forward": best["adjoint_spikes_only"] / best["forward"],
            "max_rel_grad_difference": diff,
            "all_times": times,
            "load": C.load(),
        }
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "all_times"}, flush=True)
        rows.append(row)
        C.save(a.out, {"machine": C.machine(), "rows": rows})  # after each family: a long run keeps what it measured


if __name__ == "__main__":
    main()
