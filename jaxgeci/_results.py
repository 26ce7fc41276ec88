"""Fit results as JSON (constants in SI, provenance, per-cell EV), the model registry used by
the fitting pipelines, and building a sensor back from a results file.

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
from collections.abc import Callable

import numpy as np


FORMAT = "jaxgeci.fit_results/1"

UNITS = {
    "K_d": "M",
    "Ca_rest": "M",
    "B_T": "M",
    "dCa_T": "M",
    "gamma": "1/s",
    "A": "1/s",
    "tau_on": "s",
    "tau_off": "s",
    "n_H": "1",
    "dFF_max": "1",
    "kappa_S": "1",
    "sigma_noise": "1",
    "c_half": "1",
    "dFF_1AP": "1",
}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A fittable model family.

    Attributes:
        name: registry key (``--model``).
        build: ``(constants: dict (SI), name: str) -> Sensor``.
        initial: ``(indicator: str) -> Sensor``, the first start of a fit.
        default_free: constants fitted by default.
        description: one line for ``--help``.
        constraints: ``{name: "positive" | "real" | (lower, upper) | ("positive", upper)}``
            for :func:`jaxgeci.fit`.
        gradient: the faster exact gradient path for this family (``FitConfig.gradient``):
            S2F ``"forward"`` (6 tangents through the scan cost ~2 primal passes); GECI
            ``"reverse"`` (measured: one GECI jvp through the scan costs ~12 primal passes on
            CPU, so 8 tangents are ~10x slower than reverse mode).
    """

    name: str
    build: Callable
    initial: Callable
    default_free: tuple
    description: str = ""
    constraints: dict = dataclasses.field(default_factory=dict)
    gradient: str = "forward"


_SLOW = ("gcamp6s", "jgcamp8s", "jgcamp7s")


def _geci_initial(indicator: str, dataset: str = ""):
    from .indicators import gcamp6f, gcamp6s

    base = gcamp6s if indicator.lower() in _SLOW else gcamp6f
    return base(name=indicator) if indicator else base()


def _given(constants: dict) -> dict:
    """The constants that are set (a results file stores unused ones as ``None``)."""
    return {k: v for k, v in constants.items() if v is not None}


def _geci_build(constants: dict, name: str = ""):
    from ._geci import geci

    return geci(**_given(constants), name=name)


MODELS: dict[str, ModelSpec] = {
    "geci": ModelSpec(
        name="geci",
        build=_geci_build,
        initial=_geci_initial,
        default_free=("K_d", "n_H", "gamma", "dCa_T", "kappa_S", "tau_off", "tau_on", "A"),
        description="Cleo/NAOMi GECI: dynamic Ca (buffered, Lütke 2013) + double-exponential binding + Hill",
        gradient="reverse",
    ),
}
"""The model families known to :func:`fit` pipelines and results files, by name: ``"geci"``,
``"s2f"``, ``"s2f-adaptive"`` (add more with :func:`register_model`)."""


def _is_transgenic(dataset: str) -> bool:
    return "allen" in dataset.lower() or "neuropil-corrected" in dataset.lower() or "-tg" in dataset.lower()


def _s2f_initial(indicator: str, dataset: str = ""):
    from ._s2f import s2f

    name = indicator
    if _is_transgenic(dataset) and indicator.lower() in ("gcamp6f", "gcamp6s"):
        name = indicator + "-TG"
    return s2f(name).replace(name=indicator)


# Time constants stay below 10 s (S2F refuses > 20 s; the slowest published decay is 1.7 s):
# unbounded, the GCaMP6f fits drifted tau_d2 to 39-53 s, a decay that only mimics baseline drift.
_TAU_CEILING_S = 10.0
_S2F_CONSTRAINTS = {
    "r": (0.0, 1.0),
    "Ca0": "real",
    "F0": "real",
    **{tau: ("positive", _TAU_CEILING_S) for tau in ("tau_r", "tau_d1", "tau_d2")},
}


def _s2f_build(constants: dict, name: str = ""):
    from ._s2f import S2F

    return S2F(**_given(constants), name=name)


MODELS["s2f"] = ModelSpec(
    name="s2f",
    build=_s2f_build,
    initial=_s2f_initial,
    default_free=("tau_r", "tau_d1", "tau_d2", "r", "Ca0", "beta"),
    description="S2F (Zhang et al. 2023): double-exponential kernel with rise, sigmoid read-out",
    constraints=_S2F_CONSTRAINTS,
)


def _adaptive_initial(indicator: str, dataset: str = ""):
    from ._s2f_adaptive import AdaptiveS2F

    # c_half = 10 (latent units; one spike peaks at c ~ 1): the start is close to plain S2F
    return AdaptiveS2F.from_s2f(_s2f_initial(indicator, dataset), c_half=10.0)


def _adaptive_build(constants: dict, name: str = ""):
    from ._s2f_adaptive import AdaptiveS2F

    return AdaptiveS2F(**_given(constants), name=name)


# S2F's free constants and constraints plus c_half
MODELS["s2f-adaptive"] = dataclasses.replace(
    MODELS["s2f"],
    name="s2f-adaptive",
    build=_adaptive_build,
    initial=_adaptive_initial,
    default_free=MODELS["s2f"].default_free + ("c_half",),
    description="S2F whose decay rates slow down by 1 + c/c_half at high latent c (burst tails)",
)


def register_model(spec: ModelSpec) -> None:
    """Add a model family to :data:`MODELS` (e.g. S2F)."""
    MODELS[spec.name] = spec


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}.") from None


def provenance() -> dict:
    """Software versions and time of a fit (for the results file)."""
    import equinox
    import jax
    import optax

    from . import __version__

    return {
        "jaxgeci": __version__,
        "jax": jax.__version__,
        "equinox": equinox.__version__,
        "optax": optax.__version__,
        "python": platform.python_version(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "x64": bool(jax.config.jax_enable_x64),
    }


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
            "final_loss": fit_result.loss_history[-1] if fit_result.loss_history else None,
            "start_losses": fit_result.start_losses,
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
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return doc


def load_results(path_or_doc) -> dict:
    """Read (and check) a results file; a dict passes through."""
    if isinstance(path_or_doc, dict):
        doc, where = path_or_doc, "results document"
    else:
        path = os.fspath(path_or_doc)
        where = f"results file {path!r}"
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:  # missing/unreadable, or not JSON
            raise ValueError(f"could not read {where}: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "parameter_sets" not in doc:
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise ValueError(f"{where} is not a jaxgeci results file (format {fmt!r}, expected {FORMAT!r}).")
    return doc


def select_parameter_set(path_or_doc, dataset: str | None = None) -> tuple[str, dict]:
    """``(name, set)``: the set whose ``datasets`` contain ``dataset``, else the default."""
    doc = load_results(path_or_doc)
    if dataset:
        for name, s in doc["parameter_sets"].items():
            if dataset in s.get("datasets", ()):
                return name, s
    name = doc["default"]
    return name, doc["parameter_sets"][name]


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
    return get_model(s["model"]).build(s["constants"], doc.get("indicator", ""))
