"""Realism benchmark: a posterior predictive check of synthetic recordings on held-out halves.

For each ground-truth recording, ``python -m fitting synthesize``'s model is calibrated on the first
half (t < midpoint) and 20 noise draws of the whole recording are made. On the frames of the second
half only (no refit), four statistics of the residual ``trace - dff_clean`` are computed for the
real trace and for every draw:

- noise level ν = median|Δ ΔF/F| / √(frame rate);
- residual std;
- heteroscedasticity: residual variance where ``dff_clean`` is in its top 10 % over that where it
  is in its bottom 50 %;
- slow share: fraction of residual power below 0.5 Hz (Welch, 60 s segments, mean removed).

A statistic is covered when the real value lies within the min..max of the draws (a perfect model
covers 19/21 ≈ 90 %). Baseline: Cleo's white Gaussian noise with σ calibrated on the first half
(the residual std there), around the same ``dff_clean``. Cells need ≥ 20 spikes in each half.

    python benchmarks/realism.py [--data DIR] [--draws 20] [--out benchmarks/results/realism.json]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data", "ground_truth")
STATS = ("nu", "std", "hetero", "slow")
TARGET_COVERAGE = 0.75
RATIO_BOUNDS = {"nu": (0.8, 1.25), "std": (0.8, 1.25), "hetero": (0.5, 2.0), "slow": (0.5, 2.0)}


def welch_slow_share(x, fr, *, seg_s=60.0, f_cut=0.5):
    """Fraction of the power of ``x`` (mean removed) below ``f_cut`` Hz: Welch, Hann windows of
    ``seg_s`` s, 50 % overlap (one shorter segment if the trace is shorter)."""
    x = np.asarray(x, float) - np.mean(x)
    n = min(x.size, int(round(seg_s * fr)))
    step = max(1, n // 2)
    win = np.hanning(n)
    psd = np.zeros(n // 2 + 1)
    for s in range(0, x.size - n + 1, step):
        seg = x[s : s + n] - x[s : s + n].mean()
        psd += np.abs(np.fft.rfft(seg * win)) ** 2
    f = np.fft.rfftfreq(n, 1 / fr)
    return float(psd[(f < f_cut) & (f > 0)].sum() / psd[f > 0].sum())


def statistics(trace, clean, fr):
    """The four statistics of ``trace`` around ``clean`` (second-half frames)."""
    r = trace - clean
    nu = float(np.median(np.abs(np.diff(trace))) / np.sqrt(fr))
    hi = clean >= np.quantile(clean, 0.9)
    lo = clean <= np.quantile(clean, 0.5)
    return {
        "nu": nu,
        "std": float(np.std(r)),
        "hetero": float(np.var(r[hi]) / np.var(r[lo])),
        "slow": welch_slow_share(r, fr),
    }


def _score(real, draws):
    out = {}
    for s in STATS:
        vals = np.array([d[s] for d in draws])
        out[s] = {
            "real": real[s],
            "min": float(vals.min()),
            "max": float(vals.max()),
            "median": float(np.median(vals)),
            "covered": bool(vals.min() <= real[s] <= vals.max()),
            "ratio": float(np.median(vals) / real[s]),
        }
    return out


def _summary(cells):
    if not cells:
        return {}
    out = {}
    for model in ("measurement", "cleo_gaussian"):
        out[model] = {}
        for s in STATS:
            cov = np.mean([c[model][s]["covered"] for c in cells.values()])
            ratio = float(np.median([c[model][s]["ratio"] for c in cells.values()]))
            lo, hi = RATIO_BOUNDS[s]
            out[model][s] = {
                "coverage": float(cov),
                "median_ratio": ratio,
                "coverage_ok": bool(cov >= TARGET_COVERAGE),
                "ratio_ok": bool(lo <= ratio <= hi),
            }
    ev = [c["ev_second_half"] for c in cells.values()]
    out["ev_second_half_ge_0.6"] = float(np.mean(np.array(ev) >= 0.6))
    return out


def run_file(path, params_dir, draws, seed, dt):
    import jax
    from fitting.synthesize import synthesize_recording

    import jaxgeci

    rec = jaxgeci.load_recording(path)
    t = rec.t_frames
    mid = 0.5 * (t[0] + t[-1])
    n1, n2 = int(np.sum(rec.spike_times < mid)), int(np.sum(rec.spike_times >= mid))
    if min(n1, n2) < 20:
        return None, {"spikes_first_half": n1, "spikes_second_half": n2}
    doc = jaxgeci.load_results(os.path.join(params_dir, f"{rec.indicator}.json"))
    arrays, params = synthesize_recording(doc, rec, seed=seed, draws=draws, dt=dt)
    clean = arrays["dff_clean"]
    first, second = t < mid, t >= mid
    fr = rec.frame_rate_hz
    real = statistics(rec.dff[second], clean[second], fr)
    synth = [statistics(d[second], clean[second], fr) for d in arrays["dff_draws"]]
    # Cleo's Gaussian model: sigma = first-half residual std, white, around the same prediction
    sigma = float(np.std(rec.dff[first] - clean[first]))
    key = jax.random.fold_in(jax.random.key(seed + 1), len(rec.name))
    cleo = jaxgeci.CleoGaussianNoise(sigma)
    gauss = [
        statistics(np.asarray(cleo.sample(jax.random.fold_in(key, k), clean[second])), clean[second], fr)
        for k in range(draws)
    ]
    r = rec.dff[second] - clean[second]
    ev = float(1.0 - np.mean(r**2) / np.var(rec.dff[second]))
    cell = {
        "indicator": rec.indicator,
        "dataset": rec.dataset,
        "spikes_first_half": n1,
        "spikes_second_half": n2,
        "ev_second_half": ev,
        "calibration": params["measurement"],
        "cleo_sigma": sigma,
        "measurement": _score(real, synth),
        "cleo_gaussian": _score(real, gauss),
    }
    return cell, (rec, arrays, params)


def _figure(path, example):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec, arrays, params = example
    t, mid = rec.t_frames, params["midpoint_s"]
    sel = (t >= mid + 10) & (t <= mid + 40)
    fig, ax = plt.subplots(2, 1, figsize=(10, 4.8), sharex=True, constrained_layout=True)
    ax[0].plot(t[sel], rec.dff[sel], lw=0.6, color="k", label="recorded ΔF/F")
    ax[0].set_title(f"recorded ({rec.indicator}, {rec.dataset}; held-out second half)", fontsize=9)
    ax[1].plot(t[sel], arrays["dff_draws"][0][sel], lw=0.6, color="tab:orange", label="synthetic ΔF/F (one draw)")
    ax[1].set_title("synthetic twin (calibrated on the first half only)", fontsize=9)
    spikes = rec.spike_times[(rec.spike_times >= t[sel][0]) & (rec.spike_times <= t[sel][-1])]
    for a in ax:
        a.plot(
            t[sel],
            arrays["dff_clean"][sel],
            lw=0.8,
            color="tab:blue",
            alpha=0.8,
            label="noise-free model (fitted constants)",
        )
        lo = min(float(rec.dff[sel].min()), float(arrays["dff_draws"][0][sel].min()))
        hi = max(float(rec.dff[sel].max()), float(arrays["dff_draws"][0][sel].max()))
        a.plot(spikes, np.full(spikes.shape, lo - 0.03), "|", color="crimson", ms=6, label="recorded spikes")
        a.set_ylim(lo - 0.06, hi + 0.35 * (hi - lo))  # room for the legend above the traces
        a.set_ylabel("ΔF/F")
        a.legend(loc="upper right", fontsize=8, ncol=3, framealpha=0.9)
    ax[1].set_xlabel("time (s)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(*, data=DEFAULT_DATA, params_dir=None, out=None, draws=20, seed=0, dt=1e-3, files=None,
         figure=None, test_mode=False):  # fmt: skip
    import jax

    jax.config.update("jax_enable_x64", True)
    sys.path.insert(0, HERE)
    from _common import machine, save

    params_dir = params_dir or os.path.join(ROOT, "fitting", "results")
    paths = sorted(files or glob.glob(os.path.join(data, "*.npz")))
    if test_mode:
        paths, draws = paths[:1], 3
    if not paths:
        print(f"no recordings found in {data!r}", file=sys.stderr)
        return {}
    cells, excluded, example = {}, {}, None
    t0 = time.perf_counter()
    for p in paths:
        name = os.path.splitext(os.path.basename(p))[0]
        cell, extra = run_file(p, params_dir, draws, seed, dt)
        if cell is None:
            excluded[name] = extra
            continue
        cells[name] = cell
        if example is None:  # the figure shows the first included cell
            example = extra
        m = cell["measurement"]
        print(
            f"{name}: EV2 {cell['ev_second_half']:.2f} covered "
            + " ".join(f"{s}={'y' if m[s]['covered'] else 'n'}({m[s]['ratio']:.2f})" for s in STATS),
            file=sys.stderr,
        )
    doc = {
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
        "draws": draws,
        "seed": seed,
        "dt_s": dt,
        "wall_s": time.perf_counter() - t0,
        "machine": machine(),
        "summary": _summary(cells),
        "excluded": excluded,
        "cells": cells,
    }
    if out:
        save(out, doc)
    if figure and example is not None:
        _figure(figure, example)
    return doc


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--params-dir", default=None)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dt", type=float, default=1e-3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "realism.json"))
    ap.add_argument("--figure", default=os.path.join(ROOT, "docs", "realism_twin.png"))
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    main(data=a.data, params_dir=a.params_dir, out=a.out, draws=a.draws, seed=a.seed, dt=a.dt, files=a.files or None,
         figure=a.figure)  # fmt: skip
