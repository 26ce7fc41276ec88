"""Fit-quality benchmark: held-in and leave-cells-out EV per indicator, model choice
(GECI vs S2F), single-spike fidelity and fit times. Uses only the public jaxgeci API and the
``fitting`` pipelines.

    python -m fitting.benchmark [--data DIR] [--work out/bench] [--results fitting/results]

Every fit is cached as JSON in ``--work`` so an interrupted run resumes where it stopped.
Writes ``fitting/results/<indicator>.json`` (the chosen model's constants, one set per
dataset, plus the other model's sets under ``<set>/<model>`` with no datasets) and
``<work>/benchmark.json`` + ``<work>/table.md``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time


INDICATORS = ("GCaMP6f", "GCaMP6s", "jGCaMP7f", "jGCaMP8f", "jGCaMP8m", "jGCaMP8s")
TARGETS = {"GCaMP6f": 0.85, "GCaMP6s": 0.87, "jGCaMP7f": 0.89, "jGCaMP8f": 0.88, "jGCaMP8m": 0.92, "jGCaMP8s": 0.94}
ZHANG = {"GCaMP6f": 0.85, "GCaMP6s": 0.92, "jGCaMP7f": 0.83, "jGCaMP8f": 0.79, "jGCaMP8m": 0.87, "jGCaMP8s": 0.80}
"""Zhang et al. 2023: mean EV with constants fitted to each cell separately."""


_TEST_MODE = False
LOSS = "mean"
"""Training loss of every fit (``--loss``): ``"mean"`` of 1 - EV or ``"log"`` (see ``FitConfig.loss``)."""


def settings(indicator: str, model: str = "s2f") -> dict:
    """Fit settings: 2 ms steps for the slow GCaMP6 (60/158 Hz frames), 1 ms otherwise.

    S2F families (exact forward-mode gradients, ~0.2 s per gradient of 4 cells): 16 screened
    starts, then 30 L-BFGS steps. GECI (reverse mode on 20 s segments, ~5x dearer per
    gradient): 4 starts, 60 Adam steps."""
    if _TEST_MODE:
        return dict(dt=2e-3, n_steps=2, learning_rate=0.1, n_starts=1, segment_s=5.0, warmup_s=2.0, loss=LOSS)
    dt = 2e-3 if indicator.startswith("GCaMP6") else 1e-3
    if model.startswith("s2f"):
        return dict(dt=dt, n_steps=30, optimizer="lbfgs", n_starts=16, loss=LOSS)
    return dict(dt=dt, n_steps=60, learning_rate=0.1, n_starts=4, loss=LOSS)


def _median(x):
    import numpy as np

    return float(np.median(np.asarray(x, dtype=float))) if len(x) else float("nan")


def _mean(x):
    import numpy as np

    return float(np.mean(np.asarray(x, dtype=float))) if len(x) else float("nan")


def _cached(path, make):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    out = make()
    # every fit compiles new executables; a full run (~60 fits) in one process once ran the
    # 24 GiB machine out of memory in LLVM, so drop them once a fit is done and cached
    import jax

    jax.clear_caches()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(path + ".tmp", path)
    return out


def _load_avg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def held_in(recs, indicator, model, work, progress):
    from fitting.cli import fit_indicator

    def make():
        t0, load0 = time.perf_counter(), _load_avg()
        ind, sets, default = fit_indicator(recs, model, progress=progress, **settings(indicator, model))
        return {
            "indicator": ind,
            "sets": sets,
            "default": default,
            "wall_s": time.perf_counter() - t0,
            "load_avg_start": load0,
            "load_avg_end": _load_avg(),
        }

    return _cached(os.path.join(work, f"heldin_{indicator}_{model}.json"), make)


def leave_one_out(recs, indicator, model, work, progress):
    """For every dataset group with >= 2 cells: fit on the others, evaluate the left-out cell."""
    import jaxgeci
    from fitting.cli import _set_name, evaluate_files, fit_indicator

    out = {}
    groups = {}
    for r in recs:
        groups.setdefault(_set_name(r.dataset), []).append(r)
    for gname, group in groups.items():
        if len(group) < 2:
            continue
        for left in group:
            train = [r for r in group if r is not left]

            def make():
                t0 = time.perf_counter()
                ind, sets, default = fit_indicator(train, model, progress=progress, **settings(indicator, model))
                doc = {"format": "jaxgeci.fit_results/1", "indicator": ind, "default": default, "parameter_sets": sets}
                ev = evaluate_files(doc, [left], dt=1e-3, progress=False)
                return {
                    "ev": ev["files"][left.name + ".npz"]["ev"],
                    "fit_wall_s": time.perf_counter() - t0,
                    "train": [r.name for r in train],
                    "constants": sets[default]["constants"],
                }

            out[left.name] = _cached(os.path.join(work, f"loo_{indicator}_{model}_{left.name}.json"), make)
    _ = jaxgeci
    return out


def fidelity(sensor_doc, recs, *, iso_before=1.0, iso_after=1.0, pre=0.2, post=1.0):
    """Single-spike fidelity on isolated spikes (no other spike within ``iso_before`` s before
    and ``iso_after`` s after): EV in the windows ``[-pre, +post]`` s around them (pooled),
    and from spike-triggered averages of data and model (each minus its pre-spike mean) the
    model/data peak ratio and half-decay times (s)."""
    import numpy as np

    import jaxgeci

    rows = {}
    for rec in recs:
        name, pset = jaxgeci.select_parameter_set(sensor_doc, rec.dataset)
        sensor = jaxgeci.sensor_from_results(sensor_doc, set_name=name)
        r = jaxgeci.evaluate(sensor, [rec])[0]
        t, y, m = rec.t_frames, rec.dff, r["model"]
        iso = rec.isolated_spikes(before_s=iso_before, after_s=iso_after)
        iso = iso[(iso - pre > t[0] + 2.0) & (iso + post < t[-1])]
        if iso.size < 3:
            rows[rec.name] = {"n_isolated": int(iso.size)}
            continue
        fr = rec.frame_rate_hz
        lags = np.arange(int(-pre * fr), int(post * fr) + 1)
        idx = np.searchsorted(t, iso)[:, None] + lags[None, :]
        idx = np.clip(idx, 0, t.size - 1)
        yd, ym = y[idx], m[idx]
        ev_win = 1.0 - np.mean((yd - ym) ** 2) / np.var(yd)
        base = lags < 0
        sd = (yd - yd[:, base].mean(1, keepdims=True)).mean(0)
        sm = (ym - ym[:, base].mean(1, keepdims=True)).mean(0)
        tt = lags / fr

        def half_decay(a):
            k = int(np.argmax(a))
            below = np.flatnonzero(a[k:] <= 0.5 * a[k])
            return float(tt[k + below[0]] - tt[k]) if below.size else float("nan")

        # smooth the data STA lightly (3 frames) before reading its peak: single-frame noise
        sd_s = np.convolve(sd, np.ones(3) / 3, "same")
        rows[rec.name] = {
            "n_isolated": int(iso.size),
            "ev_windows": float(ev_win),
            "peak_ratio": float(sm.max() / sd_s.max()),
            "half_decay_data_s": half_decay(sd_s),
            "half_decay_model_s": half_decay(sm),
        }
    return rows


def main(
    *,
    data="../shared/data/ground_truth",
    work="out/bench",
    results="fitting/results",
    models=("s2f", "s2f-adaptive", "geci"),
    indicators=INDICATORS,
    loo=True,
    progress=False,
    test_mode=False,
):
    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    global _TEST_MODE
    _TEST_MODE = test_mode

    import jaxgeci
    from fitting.cli import evaluate_files

    summary = {}
    for ind in indicators:
        files = sorted(glob.glob(os.path.join(data, f"{ind}_*.npz")))
        if not files:
            continue
        recs = [jaxgeci.load_recording(f) for f in files]
        if test_mode:
            recs = [r.window(12.0) for r in recs[:2]]
        fits = {m: held_in(recs, ind, m, work, progress) for m in models}
        held, invalid = {}, {}
        for m, fdoc in fits.items():
            doc = {
                "format": "jaxgeci.fit_results/1",
                "indicator": ind,
                "default": fdoc["default"],
                "parameter_sets": fdoc["sets"],
            }
            try:
                ev = evaluate_files(doc, recs, progress=False)
            except ValueError as e:  # fitted constants outside the model's valid range
                invalid[m], held[m] = str(e), {}
                print(ind, m, "excluded:", e, flush=True)
                continue
            held[m] = {k: v["ev"] for k, v in ev["files"].items()}
        # the family with the better fit objective (mean over cells of 1 - EV) on all cells;
        # chosen before the leave-out runs
        valid = [m for m in models if m not in invalid]
        best = max(valid, key=lambda m: _mean(list(held[m].values())))
        sets = dict(fits[best]["sets"])
        for m in valid:
            if m != best:
                for k, v in fits[m]["sets"].items():
                    sets[f"{k}/{m}"] = dict(v, datasets=[])
        os.makedirs(results, exist_ok=True)
        jaxgeci.write_results(os.path.join(results, f"{ind}.json"), ind, sets, fits[best]["default"])
        doc = jaxgeci.load_results(os.path.join(results, f"{ind}.json"))
        loo_rows = leave_one_out(recs, ind, best, work, progress) if loo else {}
        fid = fidelity(doc, recs)
        fid_ok = [v for v in fid.values() if "peak_ratio" in v]
        summary[ind] = {
            "chosen_model": best,
            "held_in_median": {m: _median(list(held[m].values())) for m in models},
            "held_in_mean": {m: _mean(list(held[m].values())) for m in models},
            "held_in": held,
            "invalid_models": invalid,
            # constants at an edge of their constraint's range, per chosen set
            "at_bound": {k: v.get("at_bound", []) for k, v in fits[best]["sets"].items()},
            "left_out_median": _median([v["ev"] for v in loo_rows.values()]),
            "left_out": {k: v["ev"] for k, v in loo_rows.items()},
            "target": TARGETS.get(ind),
            "zhang2023_mean": ZHANG.get(ind),
            "fit_time_s": {m: {k: v["fit"]["time_s"] for k, v in fits[m]["sets"].items()} for m in models},
            "fit_load_avg": {m: [fits[m]["load_avg_start"], fits[m]["load_avg_end"]] for m in models},
            "fidelity": fid,
            "fidelity_median": {
                k: _median([v[k] for v in fid_ok])
                for k in ("ev_windows", "peak_ratio", "half_decay_data_s", "half_decay_model_s")
            },
        }
        print(
            ind,
            json.dumps(
                {k: summary[ind][k] for k in ("chosen_model", "held_in_median", "held_in_mean", "left_out_median")}
            ),
            flush=True,
        )
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "benchmark.json"), "w") as f:
        json.dump(summary, f, indent=1)
    table = render_table(summary, models)
    with open(os.path.join(work, "table.md"), "w") as f:
        f.write(table)
    print(table)
    _ = np
    return summary


def render_table(summary, models=("s2f", "s2f-adaptive", "geci")) -> str:
    lines = [
        "| indicator | model | held-in mean EV ("
        + " / ".join(models)
        + ") | held-in median EV | left-out median EV | target | Zhang 2023 (per-cell fits, mean) "
        "| fit time per set (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ind, s in summary.items():
        held = " / ".join(f"{s['held_in_mean'][m]:.3f}" for m in models)
        med = " / ".join(f"{s['held_in_median'][m]:.3f}" for m in models)
        times = ", ".join(f"{k}: {v:.0f}" for k, v in s["fit_time_s"][s["chosen_model"]].items())
        lines.append(
            f"| {ind} | {s['chosen_model']} | {held} | {med} | {s['left_out_median']:.4f} | {s['target']} | "
            f"{s['zhang2023_mean']} | {times} |"
        )
    bound = [f"{ind} {k}: {', '.join(v)}" for ind, s in summary.items() for k, v in s.get("at_bound", {}).items() if v]
    if bound:
        lines += ["", "Fitted constants at an edge of their range (`jaxgeci.constants_at_bounds`): " + "; ".join(bound)]
    lines += [
        "",
        "Single-spike fidelity (isolated spikes: none within 1 s before/after; medians over cells):",
        "",
        "| indicator | cells with >= 3 isolated spikes | EV in [-0.2, 1] s windows | model/data peak "
        "| half-decay data (s) | half-decay model (s) |",
        "|---|---|---|---|---|---|",
    ]
    for ind, s in summary.items():
        f = s["fidelity_median"]
        n = sum(1 for v in s["fidelity"].values() if "peak_ratio" in v)
        lines.append(
            f"| {ind} | {n}/{len(s['fidelity'])} | {f['ev_windows']:.3f} | {f['peak_ratio']:.2f} | "
            f"{f['half_decay_data_s']:.3f} | {f['half_decay_model_s']:.3f} |"
        )
    lines += ["", "Per cell (chosen model; EV held-in / left-out):", "", "| indicator | cell | held-in | left-out |"]
    lines.append("|---|---|---|---|")
    for ind, s in summary.items():
        for f, ev in sorted(s["held_in"][s["chosen_model"]].items()):
            name = f[: -len(".npz")] if f.endswith(".npz") else f
            lo = s["left_out"].get(name)
            short = name.split("_", 1)[1] if "_" in name else name
            lines.append(f"| {ind} | {short} | {ev:.3f} | {'' if lo is None else f'{lo:.3f}'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import jaxgeci

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data",
        default="../shared/data/ground_truth",
        help="folder of ground-truth .npz recordings (relative to the cwd)",
    )
    ap.add_argument("--work", default="out/bench")
    ap.add_argument("--results", default="fitting/results")
    ap.add_argument("--models", default="s2f,s2f-adaptive,geci")
    ap.add_argument("--indicators", default=",".join(INDICATORS))
    ap.add_argument("--no-loo", action="store_true")
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--loss", default=LOSS, choices=jaxgeci.FIT_LOSSES, help="training loss of every fit")
    a = ap.parse_args()
    LOSS = a.loss
    main(
        data=a.data,
        work=a.work,
        results=a.results,
        models=tuple(a.models.split(",")),
        indicators=tuple(a.indicators.split(",")),
        loo=not a.no_loo,
        progress=a.progress,
    )
