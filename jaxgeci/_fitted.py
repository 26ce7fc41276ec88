"""Indicators fitted to real recordings, shipped with the package: :func:`fitted` builds the
sensor, :func:`fitted_info` gives its provenance.

The constants come from fits to simultaneous imaging and electrophysiology of the Cascade
ground-truth database (Rupprecht et al. 2021; the original studies are Chen et al. 2013, Huang
et al. 2021 and Zhang et al. 2023) under the fixed evaluation protocol of ``fitting/README.md``.
The package file ``jaxgeci/data/fitted_indicators.json`` is generated from the repository's
``fitting/results/*.json`` (``python -m fitting export-package-data``) and a test checks that the
two agree. Only constants, scores and provenance are shipped, never recordings.
"""

from __future__ import annotations

import functools
import json
import os


DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fitted_indicators.json")

PREPARATIONS = ("AAV", "transgenic")
"""Expression methods with separate constants: virus-injected (AAV) or a transgenic mouse line."""

_PREP_ALIASES = {"aav": "AAV", "virus": "AAV", "viral": "AAV", "transgenic": "transgenic", "tg": "transgenic"}


@functools.lru_cache(maxsize=1)
def _data() -> dict:
    with open(DATA_FILE, encoding="utf-8") as f:
        return json.load(f)


def _key(name: str) -> str:
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    return key[1:] if key.startswith("j") else key


def fitted_names() -> tuple[str, ...]:
    """The indicators with fitted constants (e.g. ``"GCaMP6f"``, ``"jGCaMP8m"``)."""
    return tuple(sorted(_data()["indicators"]))


def _resolve(indicator: str, preparation: str | None, model: str | None):
    if not isinstance(indicator, str):
        raise TypeError(f"indicator must be a string such as 'jGCaMP8m', got {type(indicator).__name__}.")
    key = _key(indicator)
    if key.endswith("tg") and preparation is None:  # "GCaMP6f-TG", the S2F preset's spelling
        key, preparation = key[:-2], "transgenic"
    names = {_key(n): n for n in _data()["indicators"]}
    if key not in names:
        from .indicators import families

        fams = families(indicator)
        also = f" {indicator!r} is available as: {'; '.join(fams.values())}." if fams else ""
        raise ValueError(
            f"no fitted constants for {indicator!r}; fitted indicators: {', '.join(fitted_names())}.{also}"
        )
    name = names[key]
    entry = _data()["indicators"][name]
    if preparation is None:
        prep = entry["default"]
    else:
        prep = _PREP_ALIASES.get(str(preparation).lower()) if isinstance(preparation, str) else None
        if prep is None:
            raise ValueError(f"preparation must be None, 'AAV' or 'transgenic', got {preparation!r}.")
    if prep not in entry["preparations"]:
        raise ValueError(
            f"{name} was fitted only for preparation(s) {sorted(entry['preparations'])}, not {prep!r} "
            "(no ground-truth recordings of that kind)."
        )
    p = entry["preparations"][prep]
    fam = p["best_model"] if model is None else model
    if fam not in p["models"]:
        raise ValueError(f"model must be None (the best family) or one of {sorted(p['models'])}, got {model!r}.")
    return name, prep, p, fam


def fitted(indicator: str, preparation: str | None = None, *, model: str | None = None):
    """The sensor fitted to real recordings of ``indicator``.

    Args:
        indicator: ``"GCaMP6f"``, ``"GCaMP6s"``, ``"jGCaMP7f"``, ``"jGCaMP8f"``, ``"jGCaMP8m"``
            or ``"jGCaMP8s"`` (case-insensitive; the leading "j" is optional).
        preparation: ``None`` (the indicator's default, AAV), ``"AAV"`` (virus-expressed) or
            ``"transgenic"`` (GCaMP6f and GCaMP6s only: the Allen transgenic lines, whose
            traces decay faster and are neuropil-corrected).
        model: ``None`` (the family that explained the recordings best: S2F or adaptive S2F)
            or one of ``"s2f"``, ``"s2f-adaptive"``, ``"geci"`` (the Cleo/NAOMi GECI refitted).

    Returns:
        A :class:`jaxgeci.Sensor` named ``indicator``: ΔF/F in the recordings' units for a
        typical cell (the median cell's amplitude is 1), relative to the resting fluorescence
        as experiments report it: the S2F families use ``dff_baseline="rest"`` (ΔF/F exactly 0
        at rest; the fit's constant offset was absorbed by the protocol's free baseline, so
        removing it changes no score). ``model="geci"`` keeps the GECI's own convention (a
        constant offset at rest). Its provenance (datasets, studies to cite, per-cell EV,
        software) is :func:`fitted_info` with the same arguments.

    Example:
        >>> sensor = jaxgeci.fitted("jGCaMP8m")
        >>> jaxgeci.fitted_info("jGCaMP8m")["median_ev"]  # explained variance per cell, median
    """
    name, _, p, fam = _resolve(indicator, preparation, model)
    from ._models import get_model

    consts = p["models"][fam]["constants"]
    sensor = get_model(fam).build(consts, name)
    if fam.startswith("s2f"):  # rest-relative: a constant shift of the fitted trace
        sensor = sensor.replace(dff_baseline="rest")
    return sensor


def fitted_info(indicator: str, preparation: str | None = None, *, model: str | None = None) -> dict:
    """Provenance of :func:`fitted` with the same arguments: ``indicator``, ``preparation``,
    ``model``, ``best_model``, ``constants`` (SI) and ``units``, ``median_ev`` and ``cells``
    (EV per recorded cell under the fixed protocol), ``datasets`` (Cascade labels),
    ``description``, ``cite`` (full references of the database and the original studies),
    ``fitted_with`` (software versions, date) and ``source`` (the results file in the
    repository)."""
    name, prep, p, fam = _resolve(indicator, preparation, model)
    m = p["models"][fam]
    cites = _data()["citations"]
    return {
        "indicator": name,
        "preparation": prep,
        "model": fam,
        "best_model": p["best_model"],
        "constants": dict(m["constants"]),
        "units": dict(m["units"]),
        "median_ev": m["median_ev"],
        "cells": dict(m["cells"]),
        "datasets": list(p["datasets"]),
        "parameter_set": p["set"] if fam == p["best_model"] else f"{p['set']}/{fam}",
        "description": p["description"],
        "cite": [cites[c] for c in p["cite"]],
        "fitted_with": dict(m["fitted_with"]),
        "source": _data()["indicators"][name]["source"],
        "protocol": _data()["protocol"],
    }
