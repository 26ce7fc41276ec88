"""Command line of the fitting pipelines (public jaxgeci API only).

    python -m fitting fit --model MODEL --out PARAMS.json FILES...
    python -m fitting evaluate --params PARAMS.json --json OUT.json [--save-traces DIR] FILES...

``fit`` fits constants shared across the given recordings of one indicator (one parameter set
per ``dataset`` by default, e.g. virus-expressed vs transgenic GCaMP6) plus the per-recording
terms of the fixed protocol; ``evaluate`` freezes the constants and fits only the per-recording
terms (cubic B-spline baseline with knots >= 30 s apart, amplitude, one lag within ±50 ms).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time


def _set_name(dataset: str) -> str:
    m = re.search(r"DS\d+", dataset)
    return m.group(0) if m else (dataset or "default")


def _enable_x64(flag: bool):
    import jax

    jax.config.update("jax_enable_x64", bool(flag))


def _load(files, window=None):
    import jaxgeci

    recs = [jaxgeci.load_recording(f) for f in files]
    if window:
        recs = [r.window(window) for r in recs]
    return recs


def fit_indicator(
    recs,
    model: str = "geci",
    *,
    free=None,
    per_cell=(),
    split_datasets: bool = True,
    n_steps: int = 150,
    learning_rate: float = 0.05,
    optimizer: str = "adam",
    n_starts: int = 4,
    dt: float = 1e-3,
    segment_s: float = 20.0,
    warmup_s: float = 5.0,
    gradient: str | None = None,
    isolated_weight: float = 0.0,
    loss: str = "mean",
    checkpoint_dir=None,
    progress: bool = True,
    log=print,
):
    """Fit one indicator's recordings; returns ``(indicator, sets, default)`` ready for
    :func:`jaxgeci.write_results`."""
    import jax

    import jaxgeci

    indicators = sorted({r.indicator for r in recs})
    if len(indicators) != 1:
        raise SystemExit(f"fit: all recordings must have one indicator, got {indicators}.")
    indicator = indicators[0]
    spec = jaxgeci.get_model(model)
    groups = collections.defaultdict(list)
    for r in recs:
        groups[_set_name(r.dataset) if split_datasets else "all"].append(r)
    sets = {}
    for name, group in sorted(groups.items()):
        sensor0 = spec.initial(indicator, group[0].dataset)
        cfg = jaxgeci.FitConfig(
            dt=dt,
            segment_s=segment_s,
            warmup_s=warmup_s,
            gradient=gradient or spec.gradient,
            isolated_weight=isolated_weight,
            loss=loss,
        )
        ckpt = None
        if checkpoint_dir:
            os.makedirs(checkpoint_dir, exist_ok=True)
            ckpt = os.path.join(checkpoint_dir, f"{indicator}_{name}_{model}.eqx")
        t0 = time.perf_counter()
        res = jaxgeci.fit(
            group,
            sensor0,
            tuple(free or spec.default_free),
            per_cell=per_cell,
            constraints=spec.constraints,
            n_steps=n_steps,
            learning_rate=learning_rate,
            optimizer=optimizer,
            n_starts=n_starts,
            key=jax.random.key(0),
            config=cfg,
            checkpoint=ckpt,
            progress=progress,
        )
        evs = [c["ev"] for c in res.cells.values()]
        log(
            f"{indicator} [{name}] {model}: {len(group)} cells, {time.perf_counter() - t0:.1f} s, "
            f"EV per cell {', '.join(f'{e:.3f}' for e in evs)}"
        )
        sets[name] = jaxgeci.parameter_set(res, group, model=model)
    default = max(sorted(sets), key=lambda k: len(sets[k]["cells"]))
    return indicator, sets, default


def evaluate_files(params_path, recs, *, dt=1e-3, save_traces=None, progress=True):
    """Evaluate a results file on recordings; returns the JSON document."""
    import jaxgeci

    doc = jaxgeci.load_results(params_path)
    files = {}
    it = recs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(recs, desc="evaluate", leave=False)
    for rec in it:
        set_name, pset = jaxgeci.select_parameter_set(doc, rec.dataset)
        sensor = jaxgeci.sensor_from_results(doc, set_name=set_name)
        r = jaxgeci.evaluate(sensor, [rec], dt=dt)[0]
        files[rec.name + ".npz"] = {
            "ev": r["ev"],
            "rho_rel": r["rho_rel"],
            "lag_s": r["lag_s"],
            "n_frames_scored": r["n_frames_scored"],
            "parameter_set": set_name,
            "model": pset["model"],
            "dataset": rec.dataset,
            "indicator": rec.indicator,
        }
        if save_traces:
            _save_trace(save_traces, rec, r)
    evs = sorted(v["ev"] for v in files.values())
    return {
        "params": params_path if isinstance(params_path, str) else "<in memory>",
        "protocol": "EV = 1 - mean((dff - model)^2)/var(dff) over frames after the first 2 s; per recording "
        "only a cubic B-spline baseline (knots >= 30 s apart), an amplitude scale and one lag in ±50 ms are fitted",
        "files": files,
        "median_ev": evs[len(evs) // 2] if len(evs) % 2 else 0.5 * (evs[len(evs) // 2 - 1] + evs[len(evs) // 2]),
        "mean_ev": sum(evs) / len(evs),
    }


def _save_trace(out_dir, rec, r):
    import numpy as np

    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, rec.name)
    np.savez(
        stem + ".npz",
        t_frames=rec.t_frames,
        dff=rec.dff,
        model=r["model"],
        baseline=r["baseline"],
        spike_times=rec.spike_times,
        ev=r["ev"],
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jaxgeci

    fig = jaxgeci.plot_evaluation(rec, r)
    fig.savefig(stem + ".png", dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    import jaxgeci

    p = argparse.ArgumentParser(prog="python -m fitting", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pf = sub.add_parser("fit", help="fit indicator constants shared across recordings")
    pf.add_argument("--model", default="geci", help=f"model family: {', '.join(sorted(jaxgeci.MODELS))}")
    pf.add_argument("--out", required=True, help="results JSON to write")
    pf.add_argument("--free", default=None, help="comma-separated constants to fit (default: the model's)")
    pf.add_argument("--per-cell", default="", help="comma-separated free constants fitted per cell")
    pf.add_argument("--no-split", action="store_true", help="one parameter set for all datasets")
    pf.add_argument("--steps", type=int, default=150)
    pf.add_argument("--lr", type=float, default=0.05)
    pf.add_argument("--optimizer", default="adam", choices=("adam", "lbfgs"))
    pf.add_argument("--starts", type=int, default=4, help="random starts screened (best is optimised)")
    pf.add_argument("--dt", type=float, default=1e-3, help="fine simulation step (s)")
    pf.add_argument(
        "--gradient",
        default=None,
        choices=("forward", "reverse"),
        help="exact forward-mode or reverse-mode gradient (default: the model's faster one)",
    )
    pf.add_argument(
        "--isolated-weight",
        type=float,
        default=0.0,
        help="training only: frames around isolated spikes weigh 1 + W (reported EVs stay the protocol's)",
    )
    pf.add_argument(
        "--loss",
        default="mean",
        choices=jaxgeci.FIT_LOSSES,
        help="training loss over cells: mean of 1 - EV, or mean of log(1 - EV) (reported EVs stay the protocol's)",
    )
    pf.add_argument("--segment", type=float, default=20.0, help="segment length for reverse-mode gradients (s)")
    pf.add_argument("--warmup", type=float, default=5.0, help="segment warm-up (s)")
    pf.add_argument("--window", type=float, default=None, help="use only the first WINDOW s (development)")
    pf.add_argument("--checkpoint-dir", default=None, help="resumable checkpoints here")
    pf.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    pf.add_argument("--no-progress", action="store_true")
    pf.add_argument("files", nargs="+")
    pe = sub.add_parser("evaluate", help="evaluate frozen constants on recordings")
    pe.add_argument("--params", required=True)
    pe.add_argument("--json", required=True)
    pe.add_argument("--save-traces", default=None, help="write DIR/<stem>.npz and .png per file")
    pe.add_argument("--dt", type=float, default=1e-3)
    pe.add_argument("--float32", action="store_true")
    pe.add_argument("--no-progress", action="store_true")
    pe.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    _enable_x64(not a.float32)
    try:
        if a.cmd == "fit":
            recs = _load(a.files, a.window)
            free = [s for s in a.free.split(",") if s] if a.free else None
            per_cell = tuple(s for s in a.per_cell.split(",") if s)
            indicator, sets, default = fit_indicator(
                recs,
                a.model,
                free=free,
                per_cell=per_cell,
                split_datasets=not a.no_split,
                n_steps=a.steps,
                learning_rate=a.lr,
                optimizer=a.optimizer,
                n_starts=a.starts,
                dt=a.dt,
                segment_s=a.segment,
                warmup_s=a.warmup,
                gradient=a.gradient,
                isolated_weight=a.isolated_weight,
                loss=a.loss,
                checkpoint_dir=a.checkpoint_dir,
                progress=not a.no_progress,
                log=lambda s: print(s, file=sys.stderr),
            )
            jaxgeci.write_results(a.out, indicator, sets, default)
            print(f"wrote {a.out}", file=sys.stderr)
        else:
            recs = _load(a.files)
            doc = evaluate_files(a.params, recs, dt=a.dt, save_traces=a.save_traces, progress=not a.no_progress)
            os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
            with open(a.json, "w") as f:
                json.dump(doc, f, indent=1)
            print(f"median EV {doc['median_ev']:.4f} over {len(doc['files'])} file(s); wrote {a.json}", file=sys.stderr)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
