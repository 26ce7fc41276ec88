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

from fitting.fidelity import _median, fidelity, fidelity_summary


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
    starts, then 30 L-BFGS steps (:data:`TWO_STATE_STEPS` for the two-state family). GECI
    (reverse mode on 20 s segments, ~5x dearer per gradient): 4 starts, 60 Adam steps."""
    if _TEST_MODE:
        return dict(dt=2e-3, n_steps=2, learning_rate=0.1, n_starts=1, segment_s=5.0, warmup_s=2.0, loss=LOSS)
    dt = 2e-3 if indicator.startswith("GCaMP6") else 1e-3
    if model.startswith("s2f"):
        return dict(
            dt=dt, n_steps=TWO_STATE_STEPS if model == "s2f-twostate" else 30, optimizer="lbfgs", n_starts=16, loss=LOSS
        )
    return dict(dt=dt, n_steps=60, learning_rate=0.1, n_starts=4, loss=LOSS)


TWO_STATE_STEPS = 100
"""L-BFGS steps of the two-state candidates: their optimum lies along a degenerate valley
(``tau_d1`` and ``u_half`` both towards 0 at a fixed ``tau_d1 u_half^-n_u``), and on jGCaMP7f 30
steps stopped part-way (training loss 0.0842; 100 steps: 0.0821, held-in mean EV 0.9162 ->
0.9179)."""

VARIANTS = {"s2f-twostate-iso10": ("s2f-twostate", {"isolated_weight": 10.0})}
"""Benchmark candidates that are a registered family fitted with other training settings:
``name: (family, extra fit settings)``. ``s2f-twostate-iso10`` weighs the frames within
[-0.2, +1] s of isolated spikes 11x in training (``FitConfig.isolated_weight``); its reported
EVs are the protocol's, like every family's."""


def _family(model: str):
    """``(registered family, extra settings)`` of a benchmark candidate."""
    return VARIANTS.get(model, (model, {}))


def _fit(recs, indicator, model, progress):
    from fitting.cli import fit_indicator

    family, extra = _family(model)
    return fit_indicator(recs, family, progress=progress, **settings(indicator, family), **extra)


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
    def make():
        t0, load0 = time.perf_counter(), _load_avg()
        ind, sets, default = _fit(recs, indicator, model, progress)
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
    from fitting.cli import _set_name, evaluate_files

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
                ind, sets, default = _fit(train, indicator, model, progress)
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


EV_TOLERANCE = 0.005
"""Model choice (see :func:`choose_model`): families within this held-in mean EV of the best."""


def fidelity_error(f: dict) -> float:
    """The single-spike misfit of a family: ``max(|log half-decay ratio|, |log peak ratio|)``
    (0 for a perfect isolated-spike average; NaN if either is unmeasured)."""
    import numpy as np

    return float(max(abs(np.log(f["half_decay_ratio"])), abs(np.log(f["peak_ratio"]))))


def choose_model(held_mean: dict, fid: dict) -> str:
    """The model-choice rule, fixed before any leave-out run: among the families whose held-in
    mean EV (the fit objective) is within :data:`EV_TOLERANCE` of the best family's, the one
    with the smallest :func:`fidelity_error` on the held-in fits (median isolated-spike
    half-decay and peak ratios over cells); families whose fidelity is unmeasured (fewer than
    2 cells with >= 3 isolated spikes) fall back to the highest held-in mean EV. Ties within
    0.02 in fidelity error go to the higher mean EV."""
    import numpy as np

    best_ev = max(held_mean.values())
    near = [m for m, ev in held_mean.items() if ev >= best_ev - EV_TOLERANCE]
    err = {m: fidelity_error(fid[m]) if fid[m]["n_cells"] >= 2 else float("nan") for m in near}
    measured = [m for m in near if np.isfinite(err[m])]
    if not measured:
        return max(near, key=lambda m: held_mean[m])
    lo = min(err[m] for m in measured)
    return max((m for m in measured if err[m] <= lo + 0.02), key=lambda m: held_mean[m])


def keeps_floor(chosen_left_out: float, reference_left_out: float) -> bool:
    """The left-out floor of the model choice: a family chosen by :func:`choose_model` over
    the one with the highest held-in mean EV is kept only if its left-out median EV is at
    least the reference's minus :data:`EV_TOLERANCE` (else the reference is the choice)."""
    return chosen_left_out >= reference_left_out - EV_TOLERANCE


def apply_floor(chosen: str, by_ev: str, left_out):
    """The leave-out of the model choice with its floor (:func:`keeps_floor`): ``left_out(m)``
    runs candidate ``m``'s leave-out (``{cell: {"ev": ...}}``). Returns ``(written candidate,
    its leave-out rows, floor record or None)``; the floor applies where ``chosen`` (the rule's
    choice) is not ``by_ev`` (the highest held-in mean EV)."""
    rows = left_out(chosen)
    if chosen == by_ev:
        return chosen, rows, None
    ref = left_out(by_ev)
    floor = {
        "model": by_ev,
        "left_out_median": _median([v["ev"] for v in ref.values()]),
        "chosen": chosen,
        "chosen_left_out_median": _median([v["ev"] for v in rows.values()]),
    }
    floor["kept"] = keeps_floor(floor["chosen_left_out_median"], floor["left_out_median"])
    return (chosen, rows, floor) if floor["kept"] else (by_ev, ref, floor)


def _write_choice(path, indicator, best, fits, valid, held_mean):
    """Write the results file: ``best``'s sets, and the other families' sets as named
    alternatives ``<set>/<family>`` (no datasets), one per registered family (the candidate
    with the higher held-in mean EV where two candidates fit the same family)."""
    import jaxgeci

    sets = dict(fits[best]["sets"])
    alt = {}
    for m in sorted(valid, key=lambda m: -held_mean[m]):
        if _family(m)[0] != _family(best)[0]:
            alt.setdefault(_family(m)[0], m)
    for fam, m in alt.items():
        for k, v in fits[m]["sets"].items():
            sets[f"{k}/{fam}"] = dict(v, datasets=[])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    jaxgeci.write_results(path, indicator, sets, fits[best]["default"])


def sets_from_results(path, model):
    """The parameter sets of ``model`` in a committed results file, named as a fit names them
    (``DS30``, not ``DS30/s2f``), with their datasets restored from their recordings; ``None``
    if the file holds no set of that family (``--reuse-results``)."""
    import jaxgeci

    if not os.path.exists(path):
        return None
    doc = jaxgeci.load_results(path)
    sets = {}
    for name, pset in doc["parameter_sets"].items():
        weighted = pset.get("fit", {}).get("config", {}).get("isolated_weight", 0.0)
        if pset["model"] == model and not weighted:
            sets[name.split("/")[0]] = dict(pset, datasets=sorted({r["dataset"] for r in pset["recordings"]}))
    if not sets:
        return None
    default = doc["default"].split("/")[0]
    return {
        "indicator": doc["indicator"],
        "sets": sets,
        "default": default if default in sets else sorted(sets)[0],
        "wall_s": sum(v["fit"]["time_s"] for v in sets.values()),
        "load_avg_start": None,
        "load_avg_end": None,
        "reused_from": os.fspath(path),
    }


MODELS = ("s2f", "s2f-adaptive", "geci", "s2f-twostate", "s2f-twostate-iso10")
N_BOOT = 1000
"""Bootstrap resamples of the isolated spikes for the fidelity intervals."""


def main(
    *,
    data="../shared/data/ground_truth",
    work="out/bench",
    results="fitting/results",
    models=MODELS,
    indicators=INDICATORS,
    loo=True,
    progress=False,
    test_mode=False,
    reuse_results=False,
    loo_models=None,
    refit=(),
):
    """Run the benchmark (see the module docstring). ``reuse_results``: a family whose
    held-in fit is not cached in ``work`` takes its sets from the committed ``results`` file
    when that file holds them (no refit; :func:`sets_from_results`), except the candidates in
    ``refit``, which are fitted again. ``loo_models``: run the
    leave-out only where the chosen family is one of these (default: always)."""
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
        if reuse_results:
            for m in (m for m in models if m not in refit):
                cache = os.path.join(work, f"heldin_{ind}_{m}.json")
                old = sets_from_results(os.path.join(results, f"{ind}.json"), m)
                if old is not None and not os.path.exists(cache):
                    os.makedirs(work, exist_ok=True)
                    with open(cache, "w") as f:
                        json.dump(old, f, indent=1)
        fits = {m: held_in(recs, ind, m, work, progress) for m in models}
        held, invalid, docs = {}, {}, {}
        for m, fdoc in fits.items():
            docs[m] = {
                "format": "jaxgeci.fit_results/1",
                "indicator": ind,
                "default": fdoc["default"],
                "parameter_sets": fdoc["sets"],
            }
            try:
                ev = evaluate_files(docs[m], recs, progress=False)
            except ValueError as e:  # fitted constants outside the model's valid range
                invalid[m], held[m] = str(e), {}
                print(ind, m, "excluded:", e, flush=True)
                continue
            held[m] = {k: v["ev"] for k, v in ev["files"].items()}
        valid = [m for m in models if m not in invalid]
        # single-spike fidelity of every family's held-in fit (the model choice uses it)
        nb = 0 if test_mode else N_BOOT
        fid = {m: fidelity(docs[m], recs, n_boot=nb, n_noise=nb // 5) for m in valid}
        fid_sum = {m: fidelity_summary(fid[m]) for m in valid}
        held_mean = {m: _mean(list(held[m].values())) for m in valid}
        # the rule of choose_model, applied to the held-in fits before any leave-out run
        best = choose_model(held_mean, fid_sum)
        run_loo = loo and (loo_models is None or best in loo_models)
        loo_rows, floor = {}, None
        if run_loo:
            best, loo_rows, floor = apply_floor(
                best, max(valid, key=lambda m: held_mean[m]), lambda m: leave_one_out(recs, ind, m, work, progress)
            )
        _write_choice(os.path.join(results, f"{ind}.json"), ind, best, fits, valid, held_mean)
        for v in fid.values():  # the bootstrap samples stay out of benchmark.json
            for row in v.values():
                row.pop("boot", None)
        summary[ind] = {
            "chosen_model": best,
            "held_in_median": {m: _median(list(held[m].values())) for m in valid},
            "held_in_mean": held_mean,
            "held_in": held,
            "invalid_models": invalid,
            # constants at an edge of their constraint's range, per chosen set
            "at_bound": {k: v.get("at_bound", []) for k, v in fits[best]["sets"].items()},
            "left_out_median": _median([v["ev"] for v in loo_rows.values()]),
            "left_out_floor": floor,
            "left_out": {k: v["ev"] for k, v in loo_rows.items()},
            "target": TARGETS.get(ind),
            "zhang2023_mean": ZHANG.get(ind),
            "fit_time_s": {m: {k: v["fit"]["time_s"] for k, v in fits[m]["sets"].items()} for m in valid},
            "fit_load_avg": {m: [fits[m]["load_avg_start"], fits[m]["load_avg_end"]] for m in valid},
            "fidelity": fid[best],
            "fidelity_median": fid_sum[best],
            "fidelity_by_model": fid_sum,
            "sta_by_model": fid,
        }
        print(
            ind,
            json.dumps(
                {k: summary[ind][k] for k in ("chosen_model", "held_in_median", "held_in_mean", "left_out_median")}
            ),
            flush=True,
        )
    os.makedirs(work, exist_ok=True)
    name = "benchmark.json" if set(indicators) == set(INDICATORS) else f"benchmark_{'_'.join(indicators)}.json"
    with open(os.path.join(work, name), "w") as f:
        json.dump(summary, f, indent=1)
    table = render_table(summary, models)
    with open(os.path.join(work, name.replace(".json", ".md").replace("benchmark", "table")), "w") as f:
        f.write(table)
    print(table)
    _ = np
    return summary


def _fmt(x, spec):
    return "n/a" if x is None or x != x else format(x, spec)


def render_table(summary, models=MODELS) -> str:
    lines = [
        "| indicator | model | held-in mean EV ("
        + " / ".join(models)
        + ") | held-in median EV | left-out median EV | target | Zhang 2023 (per-cell fits, mean) "
        "| fit time per set (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ind, s in summary.items():
        held = " / ".join(_fmt(s["held_in_mean"].get(m), ".3f") for m in models)
        med = " / ".join(_fmt(s["held_in_median"].get(m), ".3f") for m in models)
        times = ", ".join(f"{k}: {v:.0f}" for k, v in s["fit_time_s"][s["chosen_model"]].items())
        lines.append(
            f"| {ind} | {s['chosen_model']} | {held} | {med} | {_fmt(s['left_out_median'], '.4f')} | {s['target']} | "
            f"{s['zhang2023_mean']} | {times} |"
        )
    bound = [f"{ind} {k}: {', '.join(v)}" for ind, s in summary.items() for k, v in s.get("at_bound", {}).items() if v]
    if bound:
        lines += ["", "Fitted constants at an edge of their range (`jaxgeci.constants_at_bounds`): " + "; ".join(bound)]
    floors = [
        f"{ind}: {f['chosen']} {f['chosen_left_out_median']:.4f} vs {f['model']} {f['left_out_median']:.4f} "
        f"({'kept' if f['kept'] else 'not kept'})"
        for ind, s in summary.items()
        if (f := s.get("left_out_floor")) and "chosen_left_out_median" in f
    ]
    if floors:
        lines += ["", "Left-out floor (the rule's choice against the best held-in EV, medians): " + "; ".join(floors)]
    lines += [
        "",
        "Single-spike fidelity of every family's held-in fit (isolated spikes: none within 1 s "
        "before/after; medians over the cells with >= 3 of them; 95 % bootstrap intervals over "
        "the isolated spikes):",
        "",
        "| indicator | model | cells | EV in [-0.2, 1] s windows | noise ceiling | model/data peak "
        "| half-decay data (s) [95 % CI] | half-decay model (s) | model/data half-decay [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ind, s in summary.items():
        for m, f in s.get("fidelity_by_model", {"": s["fidelity_median"]}).items():
            ci_d = f.get("half_decay_data_ci95", [float("nan")] * 2)
            ci_r = f.get("half_decay_ratio_ci95", [float("nan")] * 2)
            chosen = " (chosen)" if m == s["chosen_model"] else ""
            lines.append(
                f"| {ind} | {m}{chosen} | {f.get('n_cells', '')}/{len(s['fidelity'])} | "
                f"{_fmt(f['ev_windows'], '.3f')} | "
                f"{_fmt(f.get('ev_ceiling'), '.3f')} | {_fmt(f['peak_ratio'], '.2f')} | "
                f"{_fmt(f['half_decay_data_s'], '.3f')} [{_fmt(ci_d[0], '.3f')}, {_fmt(ci_d[1], '.3f')}] | "
                f"{_fmt(f['half_decay_model_s'], '.3f')} | {_fmt(f.get('half_decay_ratio'), '.2f')} "
                f"[{_fmt(ci_r[0], '.2f')}, {_fmt(ci_r[1], '.2f')}] |"
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
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument(
        "--reuse-results",
        action="store_true",
        help="families without a cached held-in fit take their sets from the committed results (no refit)",
    )
    ap.add_argument("--refit", default="", help="comma-separated candidates fitted again even with --reuse-results")
    ap.add_argument("--indicators", default=",".join(INDICATORS))
    ap.add_argument("--no-loo", action="store_true")
    ap.add_argument("--loo-models", default=None, help="run the leave-out only where one of these families is chosen")
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
        reuse_results=a.reuse_results,
        refit=tuple(m for m in a.refit.split(",") if m),
        loo_models=None if a.loo_models is None else tuple(a.loo_models.split(",")),
    )
