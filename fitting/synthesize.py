"""``python -m fitting synthesize``: synthetic twins of recordings from a calibrated measurement model.

    python -m fitting synthesize --params P.json [--seed S] [--draws K] --save DIR FILES...

For each recording: pick the parameter set as ``evaluate`` does; fit the per-recording terms
(amplitude, lag, baseline) and calibrate the measurement (photons per frame, white noise,
spike-amplitude jitter, OU drift, neuropil ratio, bleaching) on the **first half** of its frames
only (t < (t_frames[0] + t_frames[-1]) / 2); simulate the whole recording from its own spike
times, with K noise draws keyed by the seed and the file stem. Nothing read from the second half's
fluorescence enters the output. Recordings with ``f_raw``, ``f_neuropil`` and a ``dff_provenance``
that states their ΔF/F definition are drawn as raw ROI and neuropil fluorescence (bleaching,
neuropil, photon noise) and turned into ΔF/F that way; their outputs also hold draw 0's ``f_raw``
and ``f_neuropil``. Writes ``DIR/<stem>.npz`` (a full recording: ``t_frames``, ``dff``
= draw 0, ``spike_times``, metadata, plus ``dff_draws`` (K, frames) and ``dff_clean``, the
noise-free prediction), ``DIR/<stem>.json`` (the calibrated parameters) and ``DIR/<stem>.png``.
"""

from __future__ import annotations

import json
import os
import sys
import zlib


JITTER_COLUMNS = 16
"""Monte Carlo runs of the sensor with jittered spike weights used to calibrate the amplitude CV."""
JITTER_CV = 0.5
"""Per-spike gain CV of those runs (dimensionless); the variance is rescaled to CV 1."""
JITTER_KEY = 20_231
"""Fixed PRNG seed of those runs (the calibration does not depend on ``--seed``)."""


def add_parser(subparsers):
    """Register the ``synthesize`` subcommand (``python -m fitting synthesize --help``)."""
    from .cli import add_command

    p = add_command(
        subparsers,
        "synthesize",
        help="synthetic twins from a measurement model calibrated on the first half",
        run=run,
    )
    p.add_argument("--params", required=True, help="results JSON (e.g. fitting/results/jGCaMP8m.json)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (draws are keyed by seed and file stem)")
    p.add_argument("--draws", type=int, default=1, help="noise draws per recording (K >= 1)")
    p.add_argument("--save", required=True, help="write DIR/<stem>.npz, .json and .png per file")
    p.add_argument("--dt", type=float, default=1e-3, help="fine simulation step (s)")
    p.add_argument("--no-plot", action="store_true", help="skip the .png")
    p.add_argument("files", nargs="+", help="recording .npz files")
    return p


def draw_key(seed: int, stem: str):
    """The key of a file's draws: ``fold_in(key(seed), crc32(stem))`` (stable across runs)."""
    import jax

    return jax.random.fold_in(jax.random.key(int(seed)), zlib.crc32(stem.encode()) & 0x7FFFFFFF)


def _traces(sensor, spike_times, weights, t_sample, dt):
    """Unit ΔF/F traces ``(frames, columns)`` for spikes weighted per column (``weights``:
    ``(spikes, columns)``), read at ``t_sample`` (s)."""
    import numpy as np

    import jaxgeci

    n_steps = int(np.ceil(max(float(np.max(t_sample)), float(spike_times.max(initial=0.0))) / dt)) + 2
    out = []
    for lo in range(0, weights.shape[1], 24):  # bounds the dense input (steps x 24 floats)
        w = weights[:, lo : lo + 24]
        dense = np.zeros((n_steps, w.shape[1]))
        np.add.at(dense, np.minimum((spike_times / dt).astype(np.int64), n_steps - 1), w)
        res = jaxgeci.simulate(sensor, dense, dt, sample_times=t_sample, method="accurate")
        out.append(np.asarray(res.dFF))
    return np.concatenate(out, axis=1)


def synthesize_recording(doc, rec, *, seed=0, draws=1, dt=1e-3):
    """Calibrate on the first half of ``rec`` and draw ``draws`` synthetic ΔF/F traces.

    Returns ``(arrays, params)``: ``arrays`` holds ``dff_draws`` (K, T) and ``dff_clean`` (T,);
    ``params`` the calibrated parameters (JSON-ready)."""
    import jax
    import numpy as np

    import jaxgeci

    if draws < 1:
        raise ValueError(f"--draws must be >= 1, got {draws}.")
    t = rec.t_frames
    mid = 0.5 * (t[0] + t[-1])
    first_idx = np.flatnonzero(t < mid)
    first = rec.window(float(t[first_idx[-1]]))  # frames with t < mid; their spikes only
    set_name, pset = jaxgeci.select_parameter_set(doc, rec.dataset)
    sensor = jaxgeci.sensor_from_results(doc, set_name=set_name)
    fit = jaxgeci.evaluate(sensor, [first], dt=dt)[0]
    rho, lag = float(fit["rho_rel"]), float(fit["lag_s"])
    base_first = np.asarray(fit["baseline"])
    tail = first.t_frames >= first.t_frames[-1] - 30.0
    base_const = float(np.median(base_first[tail]))
    # deterministic baseline: the first half's last 30 s, held constant; the baseline's wander is
    # the (random) drift, calibrated on the residual around this constant
    baseline = np.full(t.size, base_const)

    key = draw_key(seed, rec.name)
    n_sp = rec.spike_times.size
    t_sample = np.clip(t - lag, 0.0, None)
    # column 0: the prediction; columns 1..: JITTER_COLUMNS Monte Carlo runs with per-spike gains of
    # CV JITTER_CV from a fixed key (not the seed: the calibration is the same for every seed), whose
    # spread around the prediction is the jitter variance the likelihood calibration needs
    mc_gains = jaxgeci.spike_amplitudes(jax.random.key(JITTER_KEY), n_sp * JITTER_COLUMNS, JITTER_CV)
    w0 = np.concatenate([np.ones((n_sp, 1)), np.asarray(mc_gains).reshape(n_sp, JITTER_COLUMNS)], axis=1)
    cols = _traces(sensor, rec.spike_times, w0, t_sample, dt)
    unit = cols[:, 0]
    jitter_var = rho**2 * np.mean((cols[:, 1:] - unit[:, None]) ** 2, axis=1) / JITTER_CV**2
    clean = rho * unit + baseline
    n1 = first.n_frames
    cal = jaxgeci.calibrate_measurement(
        first.dff,
        clean[:n1],
        first.t_frames,
        f_raw=first.f_raw,
        f_neuropil=first.f_neuropil,
        jitter_var=jitter_var[:n1],
    )
    # recordings with raw ROI and neuropil traces and a stated ΔF/F definition: draws are made on the
    # raw fluorescence (bleaching, neuropil, photon noise) and turned into ΔF/F the recording's way
    raw = None
    if first.f_raw is not None and first.f_neuropil is not None:
        how = jaxgeci.parse_dff_provenance(rec.metadata.get("dff_provenance", ""))
        if how is not None:
            raw = jaxgeci.calibrate_raw(
                first.f_raw, first.f_neuropil, first.dff, first.t_frames, cal, neuropil_factor=how[0], percentile=how[1]
            )
    keys = [jax.random.fold_in(key, k) for k in range(draws)]
    # per draw: its own amplitude CV (the calibration's bootstrap uncertainty), then per-spike gains
    cvs = [
        min(cal.amplitude_cv * float(np.exp(cal.amplitude_cv_sd * jax.random.normal(jax.random.fold_in(k, 2)))), 2.0)
        for k in keys
    ]
    gains = jaxgeci.spike_amplitudes
    w = np.stack([np.asarray(gains(jax.random.fold_in(k, 0), n_sp, c)) for k, c in zip(keys, cvs)], axis=1)
    jit = _traces(sensor, rec.spike_times, w.reshape(n_sp, draws), t_sample, dt)
    extra = {}
    if raw is None:
        draw = jaxgeci.synthesize_dff
        out = np.stack(
            [
                np.asarray(draw(jax.random.fold_in(k, 1), cal, rho * jit[:, i], t_frames=t, baseline=baseline))
                for i, k in enumerate(keys)
            ]
        )
    else:
        fl = [
            jaxgeci.synthesize_raw(jax.random.fold_in(k, 1), cal, raw, rho * jit[:, i], t_frames=t, baseline=baseline)
            for i, k in enumerate(keys)
        ]
        out = np.stack([np.asarray(f[2]) for f in fl])
        extra = {"f_raw": np.asarray(fl[0][0]), "f_neuropil": np.asarray(fl[0][1])}  # draw 0's
    params = {
        "parameter_set": set_name,
        "model": pset["model"],
        "rho_rel": rho,
        "lag_s": lag,
        "baseline_after_first_half": base_const,
        "first_half_end_s": float(first.t_frames[-1]),
        "midpoint_s": float(mid),
        "seed": int(seed),
        "draws": int(draws),
        "measurement": cal.to_dict(),
        "raw_fluorescence": None if raw is None else raw.to_dict(),
        "first_half_ev": float(fit["ev"]),
    }
    return {"dff_draws": out, "dff_clean": clean, **extra}, params


def _plot(path, rec, arrays, params):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, mid = rec.t_frames, params["midpoint_s"]
    fig, axes = plt.subplots(2, 1, figsize=(11, 5.5), constrained_layout=True)
    for ax, (lo, hi) in zip(axes, ((t[0], t[-1]), (mid + 5.0, mid + 35.0))):
        sel = (t >= lo) & (t <= hi)
        ax.plot(t[sel], rec.dff[sel], lw=0.6, color="k", label="recorded")
        ax.plot(t[sel], arrays["dff_draws"][0][sel], lw=0.6, color="tab:orange", alpha=0.8, label="synthetic (draw 0)")
        ax.plot(t[sel], arrays["dff_clean"][sel], lw=0.8, color="tab:blue", label="noise-free prediction")
        ax.axvline(mid, color="0.5", ls="--", lw=0.8)
        ax.set_ylabel("ΔF/F")
    axes[0].set_title(f"{rec.name}: calibrated on t < {mid:.0f} s (dashed), second half held out", fontsize=9)
    axes[1].set_xlabel("time (s)")
    axes[0].legend(fontsize=7, loc="upper right")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def synthesize_files(params_path, files, save_dir, *, seed=0, draws=1, dt=1e-3, plot=True, log=None):
    """Run :func:`synthesize_recording` on every file and write its outputs; returns the
    per-file parameters."""
    import numpy as np

    import jaxgeci

    doc = jaxgeci.load_results(params_path)
    recs = [jaxgeci.load_recording(f) for f in files]  # every file checked before any work
    os.makedirs(save_dir, exist_ok=True)
    done = {}
    for rec in recs:
        arrays, params = synthesize_recording(doc, rec, seed=seed, draws=draws, dt=dt)
        stem = os.path.join(save_dir, rec.name)
        meta = {k: v for k, v in rec.metadata.items() if isinstance(v, (str, int, float))}
        meta.update(indicator=rec.indicator, dataset=rec.dataset, frame_rate_hz=rec.frame_rate_hz)
        meta["synthetic_of"] = rec.name
        np.savez(
            stem + ".npz",
            t_frames=rec.t_frames,
            dff=arrays["dff_draws"][0],
            spike_times=rec.spike_times,
            dff_draws=arrays["dff_draws"],
            dff_clean=arrays["dff_clean"],
            **{k: arrays[k] for k in ("f_raw", "f_neuropil") if k in arrays},
            **{k: np.asarray(v) for k, v in meta.items()},
        )
        with open(stem + ".json", "w") as f:
            json.dump(_nan_to_none(params), f, indent=1, allow_nan=False)  # nan (no neuropil) -> null
        if plot:
            _plot(stem + ".png", rec, arrays, params)
        done[rec.name] = params
        if log:
            m = params["measurement"]
            log(
                f"{rec.name}: {m['photons']:.0f} photons/frame, white {m['white_sigma']:.3g}, amplitude CV "
                f"{m['amplitude_cv']:.2f}, drift {m['drift_sigma']:.3g} (tau {m['drift_tau']:.1f} s); wrote {stem}.npz"
            )
    return done


def _nan_to_none(d):
    import math

    return {
        k: _nan_to_none(v) if isinstance(v, dict) else (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in d.items()
    }


def run(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    done = synthesize_files(
        args.params,
        args.files,
        args.save,
        seed=args.seed,
        draws=args.draws,
        dt=args.dt,
        plot=not args.no_plot,
        log=lambda s: print(s, file=sys.stderr),
    )
    print(f"synthesized {len(done)} recording(s) into {args.save}")
    return 0
