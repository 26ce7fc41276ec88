"""One prepared, time-boxed accelerator session: every GPU figure the performance and fitting
issues ask for, in one command that fits a short device lease (~6 min on an H100/H200).

Sections, in order of value (each writes its rows to ``OUT/gpu_session.json`` as soon as it
ends, so a run stopped at its time limit keeps what it measured):

1. ``forward``: ``simulate`` throughput, GCaMP6f, Poisson 5 Hz events: Euler at dt = 0.1 ms
   read every 333 steps (30.03 Hz), N = 1e5 .. 1e7 (target >= 1e10 neuron-steps/s on one H100),
   and the accurate method at 1 ms read every 33 steps, N = 1e5, 1e6 (the unroll/layout rule of
   ``simulate`` was measured on CPU only; these rows show what it does on a GPU).
2. ``gradients``: value_and_grad / forward of a loss on 30 Hz ΔF/F w.r.t. all 13 GECI constants
   (``benchmarks/gradients.py``'s problem), Euler at 0.1 ms and ``method="accurate"`` at 1 ms
   (target <= 4x).
3. ``sweep``: ``eqx.filter_vmap`` over B GCaMP6f variants x 1e4 neurons (throughput vs B).
4. ``fit``: with ``--data DIR`` (recordings in the ground-truth format), per parameter set
   the model of ``fitting/results/<indicator>.json`` for that dataset: time of one optimiser
   step on all of its cells at once (the benchmark's optimiser and dt): ``fit`` is called with 1 + k steps
   (compiles), then with 1 and with 1 + k steps (compiled code reused); the difference over k
   is the time per step (L-BFGS steps include their line search).

Usage (device session; the recordings travel in a git-ignored folder, never committed)::

    python benchmarks/gpu_session.py --out "$OUT" --data out/gt --budget-s 360
    python benchmarks/gpu_session.py --smoke --out out/gpu_smoke     # CPU check, seconds

Only the public ``jaxgeci`` API is used.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


DEADLINE = [float("inf")]
"""perf_counter() after which no new size/group is started (``--budget-s``)."""

RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fitting", "results")

# (sizes, repeats) per section; --smoke shrinks everything to a CPU check of the code paths
FULL = {
    "forward": dict(
        runs=[
            dict(sizes=[100_000, 1_000_000, 10_000_000], dt=1e-4, steps=2_000, every=333, method="cleo"),
            dict(sizes=[100_000, 1_000_000], dt=1e-3, steps=2_000, every=33, method="accurate"),
        ],
        repeats=3,
    ),
    "gradients": dict(
        runs=[
            dict(n=[10_000, 100_000, 1_000_000], dt=1e-4, every=333, duration=1.0),
            dict(n=[10_000, 100_000], dt=1e-3, every=33, duration=10.0),
        ],
        repeats=2,
    ),
    "sweep": dict(batches=[1, 8, 64], n=10_000, duration=0.5, repeats=2),
    "fit": dict(extra_steps=1),
}
SMOKE = {
    "forward": dict(
        runs=[
            dict(sizes=[100], dt=1e-4, steps=50, every=10, method="cleo"),
            dict(sizes=[100], dt=1e-3, steps=50, every=10, method="accurate"),
        ],
        repeats=1,
    ),
    "gradients": dict(runs=[dict(n=[50], dt=1e-4, every=10, duration=0.005)], repeats=1),
    "sweep": dict(batches=[1, 2], n=20, duration=0.1, repeats=1),
    "fit": dict(extra_steps=1),
}


def _late(section, item) -> bool:
    if time.perf_counter() > DEADLINE[0]:
        print(f"{section}: budget spent, skipping {item} and the rest", flush=True)
        return True
    return False


def gpu_info() -> dict:
    """``jax.devices()`` and ``nvidia-smi``'s name/memory/clock line (when present)."""
    import jax

    info = {"devices": [str(d) for d in jax.devices()], "backend": jax.default_backend()}
    try:
        q = "name,memory.total,clocks.max.sm,driver_version"
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
        info["nvidia_smi"] = out.stdout.strip()
    except Exception as e:  # no NVIDIA driver here: a CPU smoke run
        info["nvidia_smi"] = f"unavailable ({type(e).__name__})"
    return info


def section_forward(runs, repeats):
    import roofline

    rows = []
    for r in runs:
        for n in r["sizes"]:
            if _late("forward", n):
                return rows
            rows += roofline.measure([n], repeats, dt=r["dt"], every=r["every"], method=r["method"], n_steps=r["steps"])
    return rows


def section_gradients(runs, repeats):
    import gradients

    rows = []
    for r in runs:
        if _late("gradients", r):
            break
        rows += gradients.part_ratio(r["n"], repeats, dt=r["dt"], dur=r["duration"], every=r["every"])
    return rows


def section_sweep(batches, n, duration, repeats, out_dir):
    import sweep

    path = os.path.join(out_dir, "sweep_gpu.json")
    argv = ["--batches", *map(str, batches), "--n", str(n), "--duration", str(duration)]
    res = sweep.main([*argv, "--repeats", str(repeats), "--out", path])
    return res["rows"]


def _chosen(indicator, dataset):
    """The model, free constants and fit settings of the committed parameter set for
    ``dataset`` (``jaxgeci.select_parameter_set``: the set listing it, else the file's
    default), or None when there is no results file for ``indicator``."""
    import jaxgeci

    path = os.path.join(RESULTS, f"{indicator}.json")
    if not os.path.exists(path):
        return None
    _, ps = jaxgeci.select_parameter_set(path, dataset)
    return ps["model"], tuple(ps["free"]), ps.get("fit", {}).get("config", {})


def section_fit(data, extra_steps, smoke):
    import jax

    import jaxgeci

    jax.config.update("jax_enable_x64", True)  # the fits run in float64 (fitting/README.md)
    if smoke:
        truth = jaxgeci.s2f("jGCaMP8m")
        recs = {
            "jGCaMP8m": [
                jaxgeci.synthetic_recording(
                    truth, jax.random.key(i), duration_s=6.0, name=f"c{i}", indicator="jGCaMP8m"
                )
                for i in range(2)
            ]
        }
    else:
        recs = {}
        for f in sorted(glob.glob(os.path.join(data, "*.npz"))):
            r = jaxgeci.load_recording(f)
            recs.setdefault(r.indicator, []).append(r)
    rows = []
    for indicator, group in sorted(recs.items()):
        by_set = {}
        for r in group:
            by_set.setdefault(r.dataset, []).append(r)
        for dataset, cells in sorted(by_set.items()):
            chosen = _chosen(indicator, dataset)
            if chosen is None:
                break
            if _late("fit", dataset):
                break
            model, free, cfg0 = chosen
            spec = jaxgeci.get_model(model)
            dt = 2e-3 if smoke else cfg0.get("dt", 1e-3)
            # smoke: a scan unrolled by 1 compiles ~2x faster (the code path is what is checked)
            cfg = jaxgeci.FitConfig(dt=dt, gradient=spec.gradient, unroll=1 if smoke else None)
            optimizer = "lbfgs" if model.startswith("s2f") else "adam"

            def run(k):
                t0 = time.perf_counter()
                jaxgeci.fit(
                    cells,
                    spec.initial(indicator, dataset),
                    free,
                    constraints=spec.constraints,
                    n_steps=k,
                    optimizer=optimizer,
                    n_starts=1,
                    config=cfg,
                    progress=False,
                )
                return time.perf_counter() - t0

            first = run(1 + extra_steps)  # compiles
            # per-step time as a difference of two calls: minima of 3 each, so that one slow
            # call (a loaded machine) cannot make the difference negative
            one = min(run(1) for _ in range(3))
            more = min(run(1 + extra_steps) for _ in range(3))
            seconds = sum(r.t_frames[-1] - r.t_frames[0] for r in cells)
            rows.append(
                {
                    "indicator": indicator,
                    "dataset": dataset,
                    "model": model,
                    "optimizer": optimizer,
                    "n_cells": len(cells),
                    "recorded_s": float(seconds),
                    "dt_s": dt,
                    "first_call_s": first,  # incl. compile, 1 + extra_steps steps
                    "one_step_call_s": one,
                    "s_per_optimiser_step": (more - one) / extra_steps,
                }
            )
            print("fit", rows[-1], flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("OUT", "out/gpu"), help="folder for gpu_session.json")
    p.add_argument("--data", default=None, help="folder of recordings (*.npz) for the fit section")
    p.add_argument("--sections", nargs="+", default=["forward", "gradients", "sweep", "fit"])
    p.add_argument("--smoke", action="store_true", help="tiny sizes: check the code paths (CPU, seconds)")
    p.add_argument("--budget-s", type=float, default=360.0, help="start no new size/group after this (s)")
    a = p.parse_args(argv)
    DEADLINE[0] = time.perf_counter() + a.budget_s
    sizes = SMOKE if a.smoke else FULL
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "gpu_session.json")
    res = {"machine": C.machine(), "gpu": gpu_info(), "smoke": a.smoke, "sections": {}, "errors": {}}
    for name in a.sections:
        t0 = time.perf_counter()
        try:
            if name == "forward":
                rows = section_forward(**sizes["forward"])
            elif name == "gradients":
                rows = section_gradients(**sizes["gradients"])
            elif name == "sweep":
                rows = section_sweep(**sizes["sweep"], out_dir=a.out)
            elif name == "fit":
                if a.data is None and not a.smoke:
                    res["errors"]["fit"] = "skipped: no --data"
                    continue
                rows = section_fit(a.data, sizes["fit"]["extra_steps"], a.smoke)
            else:
                raise ValueError(f"unknown section {name!r}")
            res["sections"][name] = {"rows": rows, "wall_s": time.perf_counter() - t0}
        except Exception as e:  # keep the other sections' figures
            res["errors"][name] = f"{type(e).__name__}: {e}"
            print(f"section {name} failed: {res['errors'][name]}", flush=True)
        res["machine"]["load_at_end"] = C.load()
        C.save(path, res)
    return res


if __name__ == "__main__":
    main()
