"""Single-spike fidelity of the committed parameter sets, per indicator, against the targets.

    python -m fitting.fidelity_table [--data DIR] [--results fitting/results] [--out FILE.json]

For every indicator with recordings in ``--data`` (files ``<indicator>_*.npz``), the set that
:func:`jaxgeci.select_parameter_set` picks for each recording is evaluated on it, and
:func:`fitting.fidelity.fidelity` measures the isolated spikes (no other spike within 1 s):
the data's and the model's half-decay of the spike-triggered average (s, with a 95 %
bootstrap interval over the isolated spikes), the model's half-decay read by the data's
estimator after adding the cell's own residual ("noise-matched"), the model/data peak ratio
and the EV in the [-0.2, 1] s windows against its noise ceiling. Medians over the cells with
at least 3 isolated spikes. The targets apply where at least 3 such cells exist:

- half-decay model/data in [0.77, 1.3];
- peak model/data in [0.8, 1.25];
- window EV >= 0.8 x the noise ceiling (medians over cells).

Two more columns say what limits the window EV (not targets): the EV of the model with a free
level per window (its shape with each window's mean set to the data's), and of the best model
that answers every isolated spike of a cell alike, also with a free level per window (in
sample), both divided by the ceiling (:func:`fitting.fidelity.fidelity`).

Prints a Markdown table; ``--out`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os

from fitting.benchmark import INDICATORS


HALF_DECAY_RANGE = (0.77, 1.3)
PEAK_RANGE = (0.8, 1.25)
EV_FRACTION = 0.8
MIN_CELLS = 3


def targets(s: dict) -> dict | None:
    """Which targets a :func:`fitting.fidelity.fidelity_summary` meets (``None`` where fewer
    than :data:`MIN_CELLS` cells have >= 3 isolated spikes: no target)."""
    if s["n_cells"] < MIN_CELLS:
        return None
    return {
        "half_decay": HALF_DECAY_RANGE[0] <= s["half_decay_ratio"] <= HALF_DECAY_RANGE[1],
        "peak": PEAK_RANGE[0] <= s["peak_ratio"] <= PEAK_RANGE[1],
        "window_ev": s["ev_windows"] >= EV_FRACTION * s["ev_ceiling"],
    }


def render(summary: dict) -> str:
    def ci(x):
        return f"[{x[0]:.2f}, {x[1]:.2f}]" if x else ""

    lines = [
        "| indicator | cells (>= 3 isolated spikes) | half-decay data (s) [95 % CI] | model (s) "
        "| model/data [95 % CI] | noise-matched | peak model/data | window EV / ceiling "
        "| free level per window: model / oracle (÷ ceiling) | targets met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ind, s in summary.items():
        t = targets(s)
        met = "no target" if t is None else ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in t.items())
        lines.append(
            f"| {ind} | {s['n_cells']}/{s['n_recordings']} | {s['half_decay_data_s']:.3f} "
            f"{ci(s.get('half_decay_data_ci95'))} | {s['half_decay_model_s']:.3f} | {s['half_decay_ratio']:.2f} "
            f"{ci(s.get('half_decay_ratio_ci95'))} | {s['half_decay_ratio_noise_matched']:.2f} | "
            f"{s['peak_ratio']:.2f} | {s['ev_windows']:.3f} / {s['ev_ceiling']:.3f} "
            f"({s['ev_windows'] / s['ev_ceiling']:.2f}) | {s['ev_windows_offset'] / s['ev_ceiling']:.2f} / "
            f"{s['ev_windows_oracle'] / s['ev_ceiling']:.2f} | {met} |"
        )
    return "\n".join(lines)


def recordings_with_results(data: str, results: str, indicators=INDICATORS):
    """``(indicator, results document, recordings)`` for every indicator with ``<indicator>_*.npz``
    recordings in ``data`` and a ``<indicator>.json`` in ``results``."""
    import jaxgeci

    for ind in indicators:
        files = sorted(glob.glob(os.path.join(data, f"{ind}_*.npz")))
        path = os.path.join(results, f"{ind}.json")
        if not files or not os.path.exists(path):
            continue
        with open(path) as f:
            doc = json.load(f)
        yield ind, doc, [jaxgeci.load_recording(p) for p in files]


def parse_args(doc: str, out_default, out_help: str):
    """The command line shared by the fidelity scripts (``--data``, ``--results``,
    ``--indicators``, ``--out``; the fidelity table adds ``--n-boot``), parsed, with JAX set to
    float64."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/ground_truth", help="folder of <indicator>_*.npz recordings")
    ap.add_argument("--results", default="fitting/results", help="folder of the committed <indicator>.json files")
    ap.add_argument("--indicators", default=",".join(INDICATORS), help="comma-separated")
    ap.add_argument("--out", default=out_default, help=out_help)
    if out_default is None:
        ap.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples of the isolated spikes")
    a = ap.parse_args()
    a.indicators = tuple(a.indicators.split(","))
    import jax

    jax.config.update("jax_enable_x64", True)
    return a


def main(data: str, results: str, n_boot: int = 200, indicators=INDICATORS) -> dict:
    """The fidelity summaries (:func:`fitting.fidelity.fidelity_summary`, plus
    ``n_recordings``) of the indicators with recordings in ``data`` and a results file in
    ``results``, in the precision JAX is set to (the command line runs in float64)."""
    from fitting.fidelity import fidelity, fidelity_summary

    summary = {}
    for ind, doc, recs in recordings_with_results(data, results, indicators):
        s = fidelity_summary(fidelity(doc, recs, n_boot=n_boot, n_noise=max(1, n_boot // 5)))
        summary[ind] = {**s, "n_recordings": len(recs)}
    return summary


if __name__ == "__main__":
    a = parse_args(__doc__, None, "also write the figures to this JSON file")
    summary = main(a.data, a.results, a.n_boot, a.indicators)
    if not summary:
        raise SystemExit(f"fidelity_table: no <indicator>_*.npz recordings with results found in {a.data!r}")
    print(render(summary))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(summary, f, indent=1)
