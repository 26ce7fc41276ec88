"""Spike inference on ground-truth cells: jaxgeci.infer_spikes vs OASIS AR(1)/AR(2), Cascade's score.

    python benchmarks/inference.py [--data DIR] [--results fitting/results] [--out benchmarks/results/inference.json]

Every cell is scored in two conditions: (a) its native frame rate and noise; (b) ΔF/F resampled to
30 Hz (``scipy.signal.resample``) plus Gaussian noise whose std scales per frame with
``sqrt(|ΔF/F + 1|)`` (normalised to median 1), raised until ``nu = 100 median|Δ ΔF/F| / sqrt(rate)``
reaches 8 (%·s^-1/2); one draw per cell, seeded by the file name. OASIS (``deconvolve(y,
penalty=1)``, ``g=(None,)`` and ``g=(None, None)``) runs on the same inputs in the same run.

Score (Cascade's): bins of 1/30 s from 2 s after the first frame to the last frame; predicted
counts per bin = the sum of ``rate * Δ`` over the frames in the bin; true counts = spikes per
bin; both smoothed by a Gaussian of sigma = 0.05 s; Pearson r, no shift search. Also the error
``sum|d| / sum(truth)`` and bias ``sum(d) / sum(truth)`` (``d`` = smoothed prediction - smoothed
truth; meaningful for jaxgeci's absolute rates only), single-spike detection and wall time.

The constants are the committed fits (``fitting/results``), selected per cell by its dataset;
the lag is the median fitted lag of the *other* cells of the set. The inference settings are the
library defaults, fixed before any scoring. Ground truth is read only to score.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import sys
import time
import warnings

import numpy as np


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, save  # noqa: E402


INDICATORS = ("GCaMP6f", "GCaMP6s", "jGCaMP7f", "jGCaMP8f", "jGCaMP8m", "jGCaMP8s")
METHODS = ("jaxgeci", "jaxgeci_sigmoid", "jaxgeci_linear", "oasis_ar1", "oasis_ar2")
"""``jaxgeci``: the default, ``readout="auto"``: the sigmoid read-out below the noise level
``jaxgeci.NU_LINEAR``, the linear one above (taken from the two explicit runs by the library's own
rule, :func:`auto_readout`); ``jaxgeci_sigmoid``: ``readout="sigmoid"`` (the S2F sensor's own
read-out); ``jaxgeci_linear``: ``readout="linear"`` (the single-spike response as a linear kernel)."""
OURS = ("jaxgeci", "jaxgeci_sigmoid", "jaxgeci_linear")
NU_TARGET = 8.0
SCORE_RATE_HZ = 30.0
SMOOTH_S = 0.05


def noise_level(dff, frame_rate_hz) -> float:
    """Cascade's noise level nu = 100 median|Δ ΔF/F| / sqrt(frame rate) (%·s^-1/2)."""
    import jaxgeci

    return float(jaxgeci.noise_level(dff, 1.0 / frame_rate_hz))


def high_noise(t, dff, name, *, rate_hz=SCORE_RATE_HZ, nu=NU_TARGET):
    """Condition (b): resample to ``rate_hz`` and add shaped Gaussian noise up to ``nu``."""
    from scipy.signal import resample

    n = int(round((t[-1] - t[0] + np.median(np.diff(t))) * rate_hz))
    y = resample(dff, n)
    t30 = t[0] + np.arange(n) / rate_hz
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    z = np.random.default_rng(seed).standard_normal(n)
    shape = np.sqrt(np.abs(y + 1.0))
    shape = shape / np.median(shape)
    if noise_level(y, rate_hz) >= nu:
        return t30, y
    lo, hi = 0.0, 1.0
    while noise_level(y + hi * shape * z, rate_hz) < nu:
        hi *= 2.0
    for _ in range(60):  # bisection on the noise amplitude (nu is monotone in it)
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if noise_level(y + mid * shape * z, rate_hz) < nu else (lo, mid)
    return t30, y + hi * shape * z


def auto_readout(nu) -> str:
    """The read-out ``infer_spikes(readout="auto")`` uses for an S2F-family sensor at noise
    level ``nu`` (%·s^-1/2)."""
    import jaxgeci

    return "sigmoid" if nu < jaxgeci.NU_LINEAR else "linear"


def cross_validated_readout(rows):
    """Add ``jaxgeci_cv`` to every row: the read-out chosen inside the leave-one-out loop, with
    no use of the left-out indicator at all. For a cell of indicator I in condition X it is the
    read-out (sigmoid or linear) with the higher mean r over the cells of the *other* indicators
    in condition X (each scored with its own constants), so neither the cell's truth nor any
    constants fitted on its indicator's cells enter the choice. Returns the choices
    ``{condition: {indicator: readout}}``."""
    choice = {}
    for r in rows:
        train = [o for o in rows if o["condition"] == r["condition"] and o["indicator"] != r["indicator"]]
        if not train:
            raise ValueError("cross-validated read-out needs cells of at least two indicators")
        means = {ro: np.mean([o[f"jaxgeci_{ro}"]["r"] for o in train]) for ro in ("sigmoid", "linear")}
        ro = max(means, key=means.get)
        r["jaxgeci_cv"] = dict(r[f"jaxgeci_{ro}"], readout=ro)
        choice.setdefault(r["condition"], {})[r["indicator"]] = ro
    return choice


def _smooth(x, bin_s):
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(x, dtype=float), SMOOTH_S / bin_s, mode="constant")


def cascade_score(t, rate, spike_times, period):
    """Cascade's r, error and bias (module docstring)."""
    edges = np.arange(t[0] + 2.0, t[-1] + 1e-12, 1.0 / SCORE_RATE_HZ)
    pred = np.histogram(t, bins=edges, weights=np.asarray(rate) * period)[0]
    true = np.histogram(spike_times, bins=edges)[0]
    ps, ts = _smooth(pred, 1 / SCORE_RATE_HZ), _smooth(true, 1 / SCORE_RATE_HZ)
    d = ps - ts
    r = float(np.corrcoef(ps, ts)[0, 1]) if ps.std() > 0 else float("nan")
    return {"r": r, "error": float(np.abs(d).sum() / ts.sum()), "bias": float(d.sum() / ts.sum())}


def single_spikes(t, counts, spike_times, *, isolation_s=1.0):
    """Isolated spikes (no other within ±isolation_s): 'found' when at least half of the
    predicted spike mass in the ±isolation_s window lies within ±1 frame of the spike;
    precision = the mass within ±1 frame over the mass in the windows (both scale-free)."""
    s = np.asarray(spike_times)
    prev = np.concatenate([[-np.inf], s[:-1]])
    nxt = np.concatenate([s[1:], [np.inf]])
    iso = s[(s - prev > isolation_s) & (nxt - s > isolation_s) & (s > t[0] + 2.0) & (s < t[-1] - isolation_s)]
    found, near_mass, win_mass = 0, 0.0, 0.0
    for ts in iso:
        j = int(np.argmin(np.abs(t - ts)))
        near = counts[max(j - 1, 0) : j + 2].sum()
        win = counts[(t >= ts - isolation_s) & (t <= ts + isolation_s)].sum()
        near_mass += near
        win_mass += win
        found += bool(win > 0 and near >= 0.5 * win)
    return {
        "n_isolated": int(iso.size),
        "recall": found / iso.size if iso.size else float("nan"),
        "precision": near_mass / win_mass if win_mass > 0 else float("nan"),
    }


def run_oasis(y, ar):
    from oasis.functions import deconvolve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = deconvolve(np.asarray(y, dtype=np.float64), g=(None,) * ar, penalty=1)
    return np.asarray(res.s, dtype=float)


def cell_params(results_dir, rec, loo_work=None):
    """``(sensor, set name, model, lag_s, constants)`` for one cell: the committed set for its
    dataset (``constants="in-sample"``), or, when ``loo_work`` holds the leave-one-out refit of
    that set's model without this cell (``python -m fitting.benchmark``'s cache format), its
    constants (``"leave-one-out"``). The lag is the median fitted lag of the set's other cells."""
    import json

    import jaxgeci

    path = os.path.join(results_dir, f"{rec.indicator}.json")
    set_name, pset = jaxgeci.select_parameter_set(path, rec.dataset, models=jaxgeci.INFERENCE_MODELS)
    sensor = jaxgeci.sensor_from_results(path, set_name=set_name)
    others = [c["lag_s"] for n, c in pset.get("cells", {}).items() if n != rec.name]
    lag = float(np.median(others)) if others else 0.0
    which = "in-sample"
    cache = loo_work and os.path.join(loo_work, f"loo_{rec.indicator}_{pset['model']}_{rec.name}.json")
    if cache and os.path.exists(cache):
        with open(cache) as f:
            consts = json.load(f)["constants"]
        sensor = jaxgeci.get_model(pset["model"]).build(consts, rec.indicator)
        which = "leave-one-out"
    return sensor, set_name, pset["model"], lag, which


def main(data, results_dir, out, indicators=INDICATORS, limit=None, figure=None, loo_work=None):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jaxgeci

    files = sorted(f for ind in indicators for f in glob.glob(os.path.join(data, f"{ind}_*.npz")))[:limit]
    if not files:
        raise SystemExit(f"no recordings found in {data!r}")
    rows = []
    for f in files:
        rec = jaxgeci.load_recording(f)
        sensor, set_name, model, lag, which = cell_params(results_dir, rec, loo_work)
        for cond in ("native", "30Hz_nu8"):
            if cond == "native":
                t, y = rec.t_frames, rec.dff
            else:
                t, y = high_noise(rec.t_frames, rec.dff, rec.name)
            period = float(np.median(np.diff(t)))
            minutes = (t[-1] - t[0]) / 60.0
            row = {"cell": rec.name, "indicator": rec.indicator, "condition": cond, "set": set_name, "model": model}
            row["constants"] = which
            row["frame_rate_hz"] = 1.0 / period
            row["nu"] = noise_level(y, 1.0 / period)
            row["lag_s"] = lag
            rates, walls = {}, {}
            for m, ro in (("jaxgeci_linear", "linear"), ("jaxgeci_sigmoid", "sigmoid")):
                jaxgeci.infer_spikes(sensor, y, t, lag_s=lag, readout=ro, max_iter=1)  # warm-up: compiles
                t0 = time.perf_counter()
                res = jaxgeci.infer_spikes(sensor, y, t, lag_s=lag, readout=ro)
                walls[m] = (time.perf_counter() - t0) / minutes
                rates[m] = res.rate
                row[f"{m}_converged"] = bool(res.converged)
                row[f"{m}_rho_rel"] = float(res.rho_rel)
            row["converged"] = bool(res.converged)
            row["n_iter"] = int(res.n_iter)
            row["n_spikes_inferred"] = float(res.n_spikes)
            for ar in (1, 2):
                t0 = time.perf_counter()
                s = run_oasis(y, ar)
                walls[f"oasis_ar{ar}"] = (time.perf_counter() - t0) / minutes
                rates[f"oasis_ar{ar}"] = s / period
            st = rec.spike_times
            row["n_spikes_true"] = int(np.sum((st >= t[0]) & (st <= t[-1])))
            row["readout_auto"] = auto_readout(row["nu"])
            rates["jaxgeci"], walls["jaxgeci"] = (
                rates[f"jaxgeci_{row['readout_auto']}"],
                walls[f"jaxgeci_{row['readout_auto']}"],
            )
            for m in METHODS:
                row[m] = {
                    **cascade_score(t, rates[m], st, period),
                    **single_spikes(t, rates[m] * period, st),
                    "wall_s_per_roi_min": walls[m],
                }
            rows.append(row)
            print(
                f"{rec.name:44s} {cond:9s} nu={row['nu']:5.2f} "
                + " ".join(f"{m}={row[m]['r']:.3f}" for m in METHODS)
                + f" it={row['n_iter']} conv={row['converged']}",
                file=sys.stderr,
                flush=True,
            )
    extra = {
        "batched_timing": batched_timing(data, results_dir),
        "settings": {"penalty": jaxgeci.infer_spikes.__kwdefaults__["penalty"], "dt": 1e-3},
    }
    if len({r["indicator"] for r in rows}) > 1:
        extra["readout_cv_choice"] = cross_validated_readout(rows)
    return _finish(rows, out, figure, extra)


def _finish(rows, out, figure, extra):
    """Summarise ``rows``, save them with ``extra`` and the machine, print the table, plot."""
    summary = summarise(rows)
    kinds = sorted({r["constants"] for r in rows})
    doc = {
        "machine": machine(),  # at the end of the run (the load average covers the run)
        "constants": " + ".join(kinds) + " (per cell in cells[].constants; lag: median of the other cells of the set)",
        **extra,
        "summary": summary,
        "cells": rows,
    }
    save(out, doc)
    print(render_table(summary))
    if figure:
        plot(summary, rows, figure, label=doc["constants"].split(" (")[0])
    return doc


def resummarise(paths, out, figure=None):
    """Merge earlier runs' JSON files (e.g. the per-indicator leave-one-out runs) into one
    document, re-deriving ``jaxgeci`` (the library's current ``readout="auto"`` rule) and
    ``jaxgeci_cv`` from the stored per-cell scores of both read-outs; no inference is re-run.
    Rows of runs made before the ``jaxgeci_sigmoid`` column existed stored the sigmoid read-out
    under ``jaxgeci`` (the then default for these S2F-family sensors) and are renamed."""
    import json

    import jaxgeci

    rows, sources = [], []
    for p in paths:
        with open(p) as fh:
            doc = json.load(fh)
        sources.append({"file": os.path.basename(p), "machine": doc["machine"], "constants": doc["constants"]})
        for r in doc["cells"]:
            if "jaxgeci_sigmoid" not in r:
                if r["model"] not in jaxgeci.INFERENCE_MODELS:
                    raise ValueError(f"{p}: row {r['cell']} has model {r['model']!r}; cannot tell its read-out")
                r["jaxgeci_sigmoid"] = r.pop("jaxgeci")
                for k in ("converged", "rho_rel"):
                    r[f"jaxgeci_sigmoid_{k}"] = r.pop(f"jaxgeci_{k}")
            r["readout_auto"] = auto_readout(r["nu"])
            r["jaxgeci"] = dict(r[f"jaxgeci_{r['readout_auto']}"])
            rows.append(r)
    extra = {
        "merged_from": sources,
        "readout_auto": f"sigmoid below nu = {jaxgeci.NU_LINEAR} %/sqrt(s), linear above",
        "readout_cv_choice": cross_validated_readout(rows),
    }
    return _finish(rows, out, figure, extra)


def batched_timing(data, results_dir, n_rois=16, name="jGCaMP8m_DS31_jGCaMP8m_472179_5"):
    """Wall time per ROI-minute with ``n_rois`` ROIs in one call (one cell plus independent
    noise of its own level per ROI) vs OASIS AR(1)/AR(2) looping over the same ROIs."""
    import jaxgeci

    path = os.path.join(data, name + ".npz")
    if not os.path.exists(path):
        return None
    rec = jaxgeci.load_recording(path)
    sensor = jaxgeci.sensor_from_results(os.path.join(results_dir, "jGCaMP8m.json"), rec.dataset)
    sig = float(jaxgeci.estimate_noise_std(rec.dff))
    Y = rec.dff + sig * np.random.default_rng(0).standard_normal((n_rois, rec.n_frames))
    minutes = n_rois * (rec.t_frames[-1] - rec.t_frames[0]) / 60.0
    jaxgeci.infer_spikes(sensor, Y, rec.t_frames, max_iter=1)  # compile
    t0 = time.perf_counter()
    res = jaxgeci.infer_spikes(sensor, Y, rec.t_frames)
    out = {"cell": name, "n_rois": n_rois, "jaxgeci": (time.perf_counter() - t0) / minutes}
    out["converged"] = bool(np.all(res.converged))
    for ar in (1, 2):
        t0 = time.perf_counter()
        for y in Y:
            run_oasis(y, ar)
        out[f"oasis_ar{ar}"] = (time.perf_counter() - t0) / minutes
    return out


def _methods(rows):
    return [m for m in (*METHODS, "jaxgeci_cv") if rows and m in rows[0]]


def summarise(rows):
    out = {}
    methods = _methods(rows)
    ours_all = [m for m in methods if m.startswith("jaxgeci")]
    for cond in ("native", "30Hz_nu8"):
        out[cond] = {}
        for ind in INDICATORS:
            sel = [r for r in rows if r["condition"] == cond and r["indicator"] == ind]
            if not sel:
                continue
            e = {"n_cells": len(sel)}
            for m in methods:
                e[m] = {
                    k: float(np.nanmedian([r[m][k] for r in sel]))  # nan: no mass near isolated spikes
                    for k in ("r", "error", "bias", "precision", "recall", "wall_s_per_roi_min")
                }
            out[cond][ind] = e
        targets = {}
        for ours in ours_all:
            gains, wins, ok = [], [], []
            for ind, e in out[cond].items():
                best = max(e["oasis_ar1"]["r"], e["oasis_ar2"]["r"])
                g = e[ours]["r"] - best
                e[ours]["gain_vs_best_oasis"] = g
                e[ours]["clear_win"] = g >= min(0.03, (1 - best) / 3)
                gains.append(g)
                ok.append(g >= -0.01)
                if e[ours]["clear_win"]:
                    wins.append(ind)
            targets[ours] = {
                "mean_gain": float(np.mean(gains)) if gains else float("nan"),
                "no_regression_everywhere": all(ok),
                "clear_wins": wins,
                "met": bool(
                    all(ok) and np.mean(gains) >= 0.03 and len(wins) >= 4 and {"GCaMP6f", "GCaMP6s"} <= set(wins)
                ),
            }
        out[cond]["_targets"] = targets
    return out


def render_table(summary) -> str:
    lines = []
    for cond, label in (("native", "native rate and noise"), ("30Hz_nu8", "30 Hz, ν = 8")):
        s = summary.get(cond, {})
        inds = [i for i in INDICATORS if i in s]
        lines.append(f"\n{label}: median Pearson r (Cascade's score)\n")
        lines.append("| method | " + " | ".join(inds) + " |")
        lines.append("|---|" + "---|" * len(inds))
        methods = [m for m in (*METHODS, "jaxgeci_cv") if inds and m in s[inds[0]]]
        for m in methods:
            lines.append(f"| {m} | " + " | ".join(f"{s[i][m]['r']:.3f}" for i in inds) + " |")
        for ours in (m for m in methods if m.startswith("jaxgeci")):
            cells = " | ".join(f"{s[i][ours]['gain_vs_best_oasis']:+.3f}" for i in inds)
            lines.append(f"| {ours} − best OASIS | " + cells + " |")
        for ours, tg in s.get("_targets", {}).items():
            lines.append(
                f"\n{ours}: mean gain {tg['mean_gain']:+.3f}; no regression: {tg['no_regression_everywhere']}; "
                f"clear wins: {', '.join(tg['clear_wins']) or 'none'}; all targets met: {tg['met']}"
            )
    return "\n".join(lines)


def plot(summary, rows, path, label=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    colors = {"jaxgeci": "C3", "jaxgeci_sigmoid": "C4", "jaxgeci_linear": "C1", "oasis_ar1": "C0", "oasis_ar2": "C2"}
    names = {
        "jaxgeci": "jaxgeci (default: auto read-out)",
        "jaxgeci_sigmoid": "jaxgeci, sigmoid read-out",
        "jaxgeci_linear": "jaxgeci, linear read-out",
        "oasis_ar1": "OASIS AR(1)",
        "oasis_ar2": "OASIS AR(2)",
    }
    methods = [m for m in METHODS if rows and m in rows[0]]
    w = 0.8 / len(methods)
    for ax, (cond, title) in zip(axes, (("native", "native rate and noise"), ("30Hz_nu8", "30 Hz, ν = 8"))):
        inds = [i for i in INDICATORS if i in summary.get(cond, {})]
        for k, m in enumerate(methods):
            x = np.arange(len(inds)) + (k - (len(methods) - 1) / 2) * w
            for xi, ind in zip(x, inds):
                cells = [r[m]["r"] for r in rows if r["condition"] == cond and r["indicator"] == ind]
                ax.plot([xi] * len(cells), cells, ".", color=colors[m], alpha=0.5, ms=5)
            ax.bar(x, [summary[cond][i][m]["r"] for i in inds], w, color=colors[m], alpha=0.35, label=names[m])
        ax.set_xticks(np.arange(len(inds)), inds, rotation=30)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("Cascade score: Pearson r\n(bars: median; dots: cells)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(methods), fontsize=8, frameon=False)
    if label:
        fig.suptitle(f"Spike inference on ground-truth cells, constants: {label}", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "ground_truth"))
    ap.add_argument("--results", default=os.path.join(here, "..", "fitting", "results"))
    ap.add_argument("--out", default=os.path.join(here, "results", "inference.json"))
    ap.add_argument("--figure", default=os.path.join(here, "results", "inference.png"))
    ap.add_argument("--indicators", default=",".join(INDICATORS))
    ap.add_argument("--limit", type=int, default=None, help="only the first N files (development)")
    ap.add_argument("--loo-work", default=None, help="leave-one-out refits cached here (fitting.benchmark format)")
    ap.add_argument("--resummarise", nargs="+", default=None, metavar="JSON", help="merge earlier runs (no inference)")
    a = ap.parse_args()
    if a.resummarise:
        resummarise(a.resummarise, a.out, a.figure)
        raise SystemExit(0)
    main(
        a.data,
        a.results,
        a.out,
        indicators=a.indicators.split(","),
        limit=a.limit,
        figure=a.figure,
        loo_work=a.loo_work,
    )
