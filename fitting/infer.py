"""``python -m fitting infer``: spike rates from ΔF/F recordings through fitted constants.

    python -m fitting infer --params P.json --json OUT.json --save DIR FILES...

Reads each recording's ``t_frames`` and ``dff`` (``spike_times`` is never read: it may be empty or
absent), picks the parameter set for its ``dataset`` (else the file's default; a two-state set is
replaced by its S2F-family alternative, ``jaxgeci.INFERENCE_MODELS``), and infers the
spike rate with :func:`jaxgeci.infer_spikes` (the lag removed is the median fitted lag of the
set's cells). Writes ``DIR/<stem>.npz`` with ``t_frames`` (as given), ``rate`` (spikes/s: expected
spikes in ``[t_i - Δ/2, t_i + Δ/2)`` over Δ, Δ the median frame period) and ``model`` (the fitted
ΔF/F), and ``OUT.json`` with one summary per file. Works at any frame rate and noise level.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time


def add_parser(subparsers):
    """Register the ``infer`` subcommand (``python -m fitting infer --help``)."""
    from .cli import add_command

    p = add_command(subparsers, "infer", help="infer spike rates from recordings (spike_times never read)", run=run)
    p.add_argument("--params", required=True, help="results JSON (e.g. fitting/results/jGCaMP8m.json)")
    p.add_argument("--json", required=True, help="summary JSON to write")
    p.add_argument("--save", required=True, help="write DIR/<stem>.npz (t_frames, rate, model) per file")
    p.add_argument("--set", default=None, help="parameter set to use for every file (default: by dataset)")
    p.add_argument("--penalty", type=float, default=None, help="sparsity penalty, z-score (default: the library's)")
    p.add_argument("--noise-std", type=float, default=None, help="ΔF/F noise std (default: estimated per file)")
    p.add_argument("--dt", type=float, default=1e-3, help="fine simulation step of the kernel (s)")
    p.add_argument(
        "--readout",
        choices=("auto", "linear", "sigmoid"),
        default="auto",
        help="auto (default): the sensor's sigmoid read-out below the noise level nu = 4 %%/sqrt(s), the linear "
        "one above; sigmoid gives better absolute counts at high noise",
    )
    p.add_argument(
        "--noise",
        choices=("gaussian", "photon"),
        default="gaussian",
        help="likelihood: white noise (default) or the photon-noise surrogate (variance grows with the signal)",
    )
    p.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    p.add_argument("files", nargs="+", help="recording .npz files (spike_times may be absent)")
    return p


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def infer_files(
    params, files, save_dir, *, set_name=None, penalty=None, noise_std=None, dt=1e-3, readout="auto",
    noise="gaussian", log=_log,
) -> dict:  # fmt: skip
    """Infer every file; writes ``save_dir/<stem>.npz`` and returns the summary document."""
    import numpy as np

    import jaxgeci

    doc = jaxgeci.load_results(params)
    recs = [jaxgeci.load_recording(f, burn_in_s=0.0, read_spikes=False) for f in files]  # all checked first
    want = str(doc.get("indicator", ""))
    for f, rec in zip(files, recs):
        if rec.indicator and want and rec.indicator.lower() != want.lower():
            raise ValueError(f"recording {f!r} is {rec.indicator!r} but --params holds constants for {want!r}.")
    os.makedirs(save_dir, exist_ok=True)
    kw = dict(readout=readout, noise=noise, **({} if penalty is None else {"penalty": penalty}))
    out = {}
    for f, rec in zip(files, recs):
        t0 = time.perf_counter()
        if set_name:
            name, pset = set_name, doc["parameter_sets"].get(set_name)
            if pset is None:
                known = sorted(doc["parameter_sets"])
                raise ValueError(f"no parameter set {set_name!r} in {params!r}; available: {known}.")
        else:
            name, pset = jaxgeci.select_parameter_set(doc, rec.dataset, models=jaxgeci.INFERENCE_MODELS)
        sensor = jaxgeci.sensor_from_results(doc, set_name=name)
        lags = [c["lag_s"] for c in pset.get("cells", {}).values() if "lag_s" in c]
        lag = float(statistics.median(lags)) if lags else 0.0
        res = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames, lag_s=lag, noise_std=noise_std, dt=dt, **kw)
        stem = os.path.splitext(os.path.basename(f))[0]
        np.savez(os.path.join(save_dir, stem + ".npz"), t_frames=rec.t_frames, rate=res.rate, model=res.model)
        wall = time.perf_counter() - t0
        out[os.path.basename(f)] = {
            "indicator": rec.indicator,
            "dataset": rec.dataset,
            "frame_rate_hz": 1.0 / res.frame_period_s,
            "duration_s": float(rec.t_frames[-1] - rec.t_frames[0]),
            "parameter_set": name,
            "model": pset["model"],
            "lag_s": lag,
            "noise_std": float(res.noise_std),
            "noise_level_nu": float(jaxgeci.noise_level(rec.dff, res.frame_period_s)),
            "readout": res.readout,
            "noise_model": noise,
            "rho_rel": float(res.rho_rel),
            "penalty": res.penalty,
            "n_spikes": float(res.n_spikes),
            "converged": bool(res.converged),
            "n_iter": int(res.n_iter),
            "wall_s": wall,
        }
        log(
            f"{stem}: {out[os.path.basename(f)]['n_spikes']:.1f} spikes at {1 / res.frame_period_s:.4g} Hz, "
            f"noise {float(res.noise_std):.3g}, {res.readout} read-out, set {name}, "
            f"{'converged' if res.converged else 'NOT converged'}, "
            f"{wall:.1f} s"
        )
    return {
        "params": os.fspath(params),
        "rate_definition": "spikes/s: expected spikes in [t_i - Δ/2, t_i + Δ/2) over Δ (median frame period), "
        "lag removed",
        "files": out,
    }


def run(a) -> int:
    """Run ``infer`` from parsed arguments; prints one summary line to stdout."""
    t0 = time.perf_counter()
    doc = infer_files(
        a.params, a.files, a.save, set_name=a.set, penalty=a.penalty, noise_std=a.noise_std, dt=a.dt,
        readout=a.readout, noise=a.noise, log=_log,
    )  # fmt: skip
    d = os.path.dirname(os.path.abspath(a.json))
    os.makedirs(d, exist_ok=True)
    with open(a.json, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    files = doc["files"].values()
    n_conv = sum(v["converged"] for v in files)
    print(
        f"infer: {len(doc['files'])} file(s), {sum(v['n_spikes'] for v in files):.1f} spikes inferred, "
        f"{n_conv}/{len(doc['files'])} converged, {time.perf_counter() - t0:.1f} s -> {a.json}, {a.save}/"
    )
    return 0
