"""Generate the fitted-indicator package data (``jaxgeci/data/fitted_indicators.json``, read by
``jaxgeci.fitted``) from the committed results ``fitting/results/*.json``.

    python -m fitting export-package-data [--results fitting/results] [--out jaxgeci/data/fitted_indicators.json]

The package copy holds only fitted constants, their scores and their provenance (datasets,
studies, software versions), never the recordings. ``tests/test_fitted.py`` checks that the
copy equals what this generator makes from ``fitting/results/``, so the two cannot drift: rerun
this command after refitting.
"""

from __future__ import annotations

import glob
import json
import os


FORMAT = "jaxgeci.fitted_indicators/1"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(ROOT, "fitting", "results")
PACKAGE_FILE = os.path.join(ROOT, "jaxgeci", "data", "fitted_indicators.json")

CITATIONS = {
    "Rupprecht2021": "Rupprecht P, Carta S, Hoffmann A, et al. A database and deep learning toolbox for "
    "noise-optimized, generalized spike inference from calcium imaging. Nat Neurosci 24, 1324-1337 (2021). "
    "doi:10.1038/s41593-021-00895-5",
    "Rupprecht2025": "Rupprecht P, Rozsa M, Fang X, Svoboda K, Helmchen F. Spike inference from calcium imaging "
    "data acquired with GCaMP8 indicators. bioRxiv (2025). doi:10.1101/2025.03.03.641129",
    "Chen2013": "Chen TW, Wardill TJ, Sun Y, et al. Ultrasensitive fluorescent proteins for imaging neuronal "
    "activity. Nature 499, 295-300 (2013). doi:10.1038/nature12354",
    "Zhang2023": "Zhang Y, Rozsa M, Liang Y, et al. Fast and sensitive GCaMP calcium indicators for imaging neural "
    "populations. Nature 615, 884-891 (2023). doi:10.1038/s41586-023-05828-9",
    "Huang2021": "Huang L, Ledochowitsch P, Knoblich U, et al. Relationship between simultaneously recorded spiking "
    "activity and fluorescence signal in GCaMP6 transgenic mice. eLife 10, e51675 (2021). doi:10.7554/eLife.51675",
}
"""What to cite for the fitted constants: the ground-truth database and the original studies."""

DATASETS = {
    # Cascade set: (preparation, description, the studies to cite)
    "DS09": ("AAV", "AAV, anaesthetised mouse, L2/3 V1 (Chen et al. 2013)", ("Chen2013", "Rupprecht2021")),
    "DS14": ("AAV", "AAV, anaesthetised mouse, L2/3 V1 (Chen et al. 2013)", ("Chen2013", "Rupprecht2021")),
    "DS10": (
        "transgenic",
        "transgenic Emx1-Cre line, L2/3 V1, neuropil-corrected (Huang et al. 2021)",
        ("Huang2021", "Rupprecht2021"),
    ),
    "DS12": (
        "transgenic",
        "transgenic tetO-GCaMP6s line, L2/3 V1, neuropil-corrected (Huang et al. 2021)",
        ("Huang2021", "Rupprecht2021"),
    ),
    **{
        ds: (
            "AAV",
            "AAV, anaesthetised mouse, L2/3 V1 pyramidal cells (Zhang et al. 2023)",
            ("Zhang2023", "Rupprecht2021", "Rupprecht2025"),
        )
        for ds in ("DS29", "DS30", "DS31", "DS32")
    },
}

_S2F_UNITS = {"tau_r": "s", "tau_d1": "s", "tau_d2": "s", "r": "1", "Fm": "1", "Ca0": "1", "beta": "1", "F0": "1"}


def _units(pset: dict) -> dict:
    """Units of each constant (the results files spell S2F's as "SI")."""
    return {k: (_S2F_UNITS.get(k, u) if u == "SI" else u) for k, u in pset.get("units", {}).items()}


def package_data(results_dir: str = RESULTS_DIR) -> dict:
    """The package data document made from every ``<indicator>.json`` in ``results_dir``.

    Per indicator and preparation (``"AAV"`` or ``"transgenic"``): the Cascade set, its
    datasets, the studies to cite, the family that won (``best_model``, the results file's
    assignment) and every fitted family's constants (SI), units, median EV, per-cell EV and the
    software that fitted them. Deterministic: the same results give the same bytes.
    """
    import jaxgeci

    paths = sorted(glob.glob(os.path.join(results_dir, "*.json")))
    if not paths:
        raise ValueError(f"no results files (*.json) in {results_dir!r}.")
    indicators = {}
    for path in paths:
        doc = jaxgeci.load_results(path)
        name = doc["indicator"]
        preps = {}
        for set_name, pset in sorted(doc["parameter_sets"].items()):
            base = set_name.split("/")[0]
            if base not in DATASETS:
                raise ValueError(f"{path!r}: parameter set {set_name!r} is of no known dataset {sorted(DATASETS)}.")
            prep, description, cite = DATASETS[base]
            entry = preps.setdefault(
                prep, {"set": base, "description": description, "cite": list(cite), "datasets": [], "models": {}}
            )
            if entry["set"] != base:
                raise ValueError(f"{path!r}: two {prep} datasets ({entry['set']}, {base}); one per preparation.")
            if pset["datasets"]:  # the set the results file assigns to these datasets: the winner
                entry["datasets"] = list(pset["datasets"])
                entry["best_model"] = pset["model"]
            prov = pset.get("provenance", {})
            entry["models"][pset["model"]] = {
                "constants": pset["constants"],
                "units": _units(pset),
                "free": pset.get("free", []),
                "at_bound": pset.get("at_bound", []),
                "median_ev": pset.get("median_ev"),
                "cells": {c: v.get("ev") for c, v in sorted(pset.get("cells", {}).items())},
                "fitted_with": {k: prov[k] for k in ("jaxgeci", "jax", "date_utc", "x64") if k in prov},
            }
        default_set = doc["default"].split("/")[0]
        for prep, entry in preps.items():
            if "best_model" not in entry:
                raise ValueError(f"{path!r}: no parameter set lists the {prep} datasets ({entry['set']}).")
        indicators[name] = {
            "default": DATASETS[default_set][0],
            "source": f"fitting/results/{os.path.basename(path)}",
            "preparations": preps,
        }
    return {
        "format": FORMAT,
        "note": "Generated by `python -m fitting export-package-data` from fitting/results/*.json; do not edit.",
        "protocol": "EV = 1 - mean((dff - model)^2)/var(dff) over frames after the first 2 s; per recording only a "
        "cubic B-spline baseline (knots >= 30 s apart), an amplitude scale and one lag in +-50 ms are fitted",
        "citations": CITATIONS,
        "indicators": indicators,
    }


def dumps(doc: dict) -> str:
    """The exact text of the package file."""
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"


def _run(args) -> int:
    text = dumps(package_data(args.results))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    n = len(json.loads(text)["indicators"])
    print(f"wrote {args.out}: {n} fitted indicators from {args.results}")
    return 0


def add_parser(subparsers) -> None:
    from .cli import add_command

    p = add_command(
        subparsers,
        "export-package-data",
        help="regenerate jaxgeci's fitted-indicator package data from fitting/results/",
        run=_run,
    )
    p.add_argument("--results", default=RESULTS_DIR, help="folder of <indicator>.json results files")
    p.add_argument("--out", default=PACKAGE_FILE, help="package data file to write")
