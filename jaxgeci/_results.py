"""Fit results as JSON (constants in SI, provenance, per-cell EV), checked against a schema
when read, and building a sensor back from a results file (the model families live in
:mod:`jaxgeci._models`).

A results file may hold several parameter sets (e.g. virus-expressed vs transgenic GCaMP6),
each listing the ``dataset`` values it applies to; :func:`select_parameter_set` picks by a
recording's ``dataset`` and falls back to the file's default set.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform

import numpy as np

from ._models import get_model


FORMAT = "jaxgeci.fit_results/1"

from ._constants import units_table as _units_table


UNITS = _units_table()
"""Unit of each sensor constant in a results file, from the constants' declarations."""


def provenance() -> dict:
    """Software versions and time of a fit (for the results file)."""
    import equinox
    import jax
    import optax

    from ._version import __version__

    return {
        "jaxgeci": __version__,
        "jax": jax.__version__,
        "equinox": equinox.__version__,
        "optax": optax.__version__,
        "python": platform.python_version(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "x64": bool(jax.config.jax_enable_x64),
    }


def _finite_or_none(x):
    x = float(x)
    return x if np.isfinite(x) else None


def parameter_set(fit_result, recordings, *, model: str, note: str = "") -> dict:
    """One parameter set (JSON-ready) from a :class:`jaxgeci.FitResult`.

    The amplitude constant (``dFF_max``; ``Fm`` and ``F0`` for S2F) is rescaled so that the
    median fitted amplitude ``rho_rel`` of the fitted cells is 1 (amplitude and these
    constants are interchangeable under the protocol), so the sensor predicts ΔF/F in the
    data's units for a typical cell.
    """
    consts = dict(fit_result.constants)
    rhos = np.array([c["rho_rel"] for c in fit_result.cells.values()])
    med = float(np.median(rhos)) if rhos.size else 1.0
    cells = {k: dict(v) for k, v in fit_result.cells.items()}
    # the amplitude constants of each model family (GECI: dFF_max; S2F: Fm and its offset F0)
    scale_keys = [k for k in ("dFF_max", "Fm", "F0") if k in consts and k not in fit_result.free]
    if scale_keys and med > 0:
        for k in scale_keys:
            consts[k] = consts[k] * med
        for c in cells.values():
            c["rho_rel"] = c["rho_rel"] / med
    cfg = fit_result.config
    return {
        "model": model,
        "datasets": sorted({r.dataset for r in recordings}),
        "constants": consts,
        "units": {k: UNITS.get(k, "SI") for k in consts},
        "free": list(fit_result.free),
        "per_cell": list(fit_result.per_cell),
        "at_bound": list(fit_result.at_bound),
        "cells": cells,
        "median_ev": float(np.median([c["ev"] for c in cells.values()])),
        "fit": {
            "n_steps": fit_result.n_steps,
            "time_s": fit_result.time_s,
            # a start whose loss was NaN/inf is null (JSON has no NaN), never a number
            "final_loss": _finite_or_none(fit_result.loss_history[-1]) if fit_result.loss_history else None,
            "start_losses": [_finite_or_none(v) for v in fit_result.start_losses],
            "config": dataclasses.asdict(cfg),
        },
        "recordings": [
            {"name": r.name, "dataset": r.dataset, "source_sha256": str(r.metadata.get("source_sha256", ""))}
            for r in recordings
        ],
        "provenance": provenance(),
        "note": note,
    }


def write_results(path, indicator: str, sets: dict, default: str) -> dict:
    """Write a results file holding ``sets`` (name -> parameter set) with ``default``."""
    if default not in sets:
        raise ValueError(f"default parameter set {default!r} is not among {sorted(sets)}.")
    doc = {"format": FORMAT, "indicator": indicator, "default": default, "parameter_sets": sets}
    check_results(doc, f"results for {os.fspath(path)!r}")  # never write a file that cannot be read back
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        text = json.dumps(doc, indent=1, allow_nan=False)
    except ValueError as e:  # a NaN/inf outside the checked keys
        raise ValueError(f"results for {path!r} hold a value JSON cannot represent: {e}") from None
    with open(tmp, "w", encoding="utf-8") as f:  # a reader or a second writer never sees half a file
        f.write(text + "\n")
    os.replace(tmp, path)
    return doc


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _kind(x) -> str:
    return "null" if x is None else type(x).__name__


def check_results(doc, where: str = "results document") -> dict:
    """Check a results document against the schema; returns it unchanged.

    Raises ``ValueError`` naming ``where`` (the file) and the offending key for: a format
    other than ``FORMAT``; ``indicator`` or ``default`` not a string; ``parameter_sets`` not a
    non-empty object; ``default`` not one of its sets; a set without ``model`` (a known family
    name), ``constants`` (an object of finite numbers or null) or ``datasets`` (a list of
    strings, matched exactly: a bare string would match by substring); ``median_ev`` or a
    cell's ``ev`` not a finite number or null.
    """

    def bad(key, expected, got):
        shown = repr(got) if isinstance(got, (str, int, float)) and len(repr(got)) < 60 else _kind(got)
        raise ValueError(f"{where}: {key} must be {expected}, got {shown}.")

    if not isinstance(doc, dict):
        raise ValueError(
            f"{where} is not a jaxgeci results file (a JSON {_kind(doc)}, expected an object of format {FORMAT!r})."
        )
    if doc.get("format") != FORMAT:
        raise ValueError(f"{where} is not a jaxgeci results file (format {doc.get('format')!r}, expected {FORMAT!r}).")
    for key in ("indicator", "default"):
        if not isinstance(doc.get(key), str):
            bad(key, "a string", doc.get(key))
    sets = doc.get("parameter_sets")
    if not isinstance(sets, dict) or not sets:
        bad("parameter_sets", "a non-empty object of parameter sets", sets)
    if doc["default"] not in sets:
        raise ValueError(f"{where}: default {doc['default']!r} is not one of parameter_sets {sorted(sets)}.")
    for name, ps in sets.items():
        key = f"parameter_sets[{name!r}]"
        if not isinstance(ps, dict):
            bad(key, "an object", ps)
        model = ps.get("model")
        if not isinstance(model, str):
            bad(f"{key}.model", "a model family name", model)
        try:
            get_model(model)
        except ValueError as e:
            raise ValueError(f"{where}: {key}.model: {e}") from None
        consts = ps.get("constants")
        if not isinstance(consts, dict) or not consts:
            bad(f"{key}.constants", "a non-empty object of constants (SI numbers)", consts)
        for c, v in consts.items():
            if v is not None and not (_is_number(v) and np.isfinite(v)):
                bad(f"{key}.constants.{c}", "a finite number (SI) or null", v)
        ds = ps.get("datasets", [])
        if not isinstance(ds, list) or not all(isinstance(d, str) for d in ds):
            bad(f"{key}.datasets", "a list of dataset names (matched exactly)", ds)
        ev = ps.get("median_ev")
        if ev is not None and not (_is_number(ev) and np.isfinite(ev)):
            bad(f"{key}.median_ev", "a finite number or null", ev)
        cells = ps.get("cells", {})
        if not isinstance(cells, dict):
            bad(f"{key}.cells", "an object (cell name -> scores)", cells)
        for cell, score in cells.items():
            if not isinstance(score, dict):
                bad(f"{key}.cells[{cell!r}]", "an object with ev, rho_rel, lag_s", score)
            for k in ("ev", "rho_rel", "lag_s"):
                v = score.get(k)
                if v is not None and not (_is_number(v) and np.isfinite(v)):
                    bad(f"{key}.cells[{cell!r}].{k}", "a finite number or null", v)
    return doc


def load_results(path_or_doc) -> dict:
    """Read a results file (or pass a dict through) and check it with :func:`check_results`;
    every failure is a ``ValueError`` naming the file and the key."""
    if isinstance(path_or_doc, dict):
        doc, where = path_or_doc, "results document"
    else:
        path = os.fspath(path_or_doc)
        where = f"results file {path!r}"
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:  # missing/unreadable, not UTF-8, or not JSON
            raise ValueError(f"could not read {where}: {e}") from None
    return check_results(doc, where)


def select_parameter_set(path_or_doc, dataset: str | None = None, *, models=None) -> tuple[str, dict]:
    """``(name, set)``: the set whose ``datasets`` list holds exactly ``dataset``, else the
    default set.

    ``models``: model families to accept (e.g. ``jaxgeci.INFERENCE_MODELS``). Where the
    selected set's family is not among them, its alternative of an accepted family is taken
    (``"<set>/<family>"``): of the accepted families the file holds for that set, the one with
    the highest held-in mean EV over all the file's cells (the fits' objective, the rule by
    which the files' families were chosen); a ``ValueError`` names the families the file holds
    when there is none."""
    doc = load_results(path_or_doc)
    if dataset is not None and not isinstance(dataset, str):
        raise TypeError(f"dataset must be a string (a recording's dataset label), got {type(dataset).__name__}.")
    sets = doc["parameter_sets"]
    name = doc["default"]
    if dataset:
        for n, s in sets.items():
            if dataset in s.get("datasets", []):  # a list (checked): exact match, never a substring
                name = n
                break
    if models is None or sets[name]["model"] in models:
        return name, sets[name]
    alts = [f"{name}/{m}" for m in models if f"{name}/{m}" in sets]
    if not alts:
        have = sorted({s["model"] for s in sets.values()})
        raise ValueError(
            f"parameter set {name!r} is a {sets[name]['model']!r} fit and the results hold no alternative of "
            f"the families {tuple(models)!r} for it (families in the file: {have})."
        )
    evs = {}
    for s in sets.values():
        evs.setdefault(s["model"], []).extend(c["ev"] for c in s.get("cells", {}).values() if "ev" in c)
    mean_ev = {m: sum(v) / len(v) if v else float("-inf") for m, v in evs.items()}
    best = max(alts, key=lambda n: mean_ev[sets[n]["model"]])
    return best, sets[best]


def sensor_from_results(path_or_doc, dataset: str | None = None, *, set_name: str | None = None):
    """Build the fitted sensor from a results file (the set for ``dataset``, or ``set_name``,
    or the default set)."""
    doc = load_results(path_or_doc)
    if set_name is not None:
        if set_name not in doc["parameter_sets"]:
            raise ValueError(f"no parameter set {set_name!r}; available: {sorted(doc['parameter_sets'])}.")
        s = doc["parameter_sets"][set_name]
    else:
        _, s = select_parameter_set(doc, dataset)
    try:
        return get_model(s["model"]).build(s["constants"], doc.get("indicator", ""))
    except TypeError as e:  # a constant the model does not take
        raise ValueError(f"the {s['model']!r} constants of the results do not build a sensor: {e}") from None
