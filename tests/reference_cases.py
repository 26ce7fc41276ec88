"""Run one case of the Cleo reference manifest (tests/data/cleo_reference/manifest.json).

``run_case(entry, inputs)`` is given ONE manifest entry and ONLY its arrays whose role is
``input`` and returns every ``output`` array of that entry (same names, shapes and layouts).
It is generic: sensors are built from the entry's constants, not from its name, so held-out
cases of the same kinds run through it unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import jaxgeci as jg


DATA = Path(__file__).parent / "data" / "cleo_reference"


def load_manifest() -> dict:
    return json.loads((DATA / "manifest.json").read_text())


def load_inputs(file: str, entry: dict) -> dict[str, np.ndarray]:
    with np.load(DATA / file) as d:
        return {k: d[k] for k, a in entry["arrays"].items() if a["role"] == "input"}


def load_outputs(file: str, entry: dict) -> dict[str, np.ndarray]:
    with np.load(DATA / file) as d:
        return {k: d[k] for k, a in entry["arrays"].items() if a["role"] == "output"}


def sensor_from_config(sp: dict, *, doub_exp_conv: bool, pre_existing_cal: bool) -> jg.GECI:
    """A GECI from a manifest ``sensor_params``/``sensor`` dict (SI floats)."""
    keys = {"K_d", "n_H", "dFF_max", "Ca_rest", "gamma", "B_T", "kappa_S", "dCa_T", "A", "tau_on",
            "tau_off", "sigma_noise", "dFF_1AP", "location", "name"}
    params = {k: v for k, v in sp.items() if k in keys and v is not None}
    return jg.geci(False, doub_exp_conv, pre_existing_cal, **params)


def _method(config: dict) -> str:
    brian = [str(m).lower() for m in config.get("integration_method_brian2", [])]
    if any(m.startswith("exact") for m in brian):
        return "exact"  # Brian2's zero-order-hold exact integrator
    if any(m.startswith("euler") for m in brian):
        return "euler"
    return "cleo"


def run_sensor_trace(entry: dict, inputs: dict) -> dict:
    config = entry["config"]
    sensor = sensor_from_config(
        config["sensor_params"], doub_exp_conv=bool(config["doub_exp_conv"]), pre_existing_cal=bool(config["pre_existing_cal"])
    )
    dt = float(inputs["dt_s"])
    n_steps = int(inputs["n_steps"])
    i_targets = np.asarray(inputs.get("i_targets", config.get("i_targets")), dtype=np.int64)
    rho = np.asarray(inputs.get("rho_rel", config.get("rho_rel")), dtype=float)
    n_rois = i_targets.size
    # ROI r sees the spikes of neuron i_targets[r]: re-index the events to ROIs.
    steps, neurons = np.asarray(inputs["spike_steps"]), np.asarray(inputs["spike_neurons"])
    roi_steps, roi_ids = [], []
    for r, i in enumerate(i_targets):
        sel = neurons == i
        roi_steps.append(steps[sel])
        roi_ids.append(np.full(int(sel.sum()), r))
    spikes = jg.SpikeTrains(
        steps=np.concatenate(roi_steps), neurons=np.concatenate(roi_ids), n_steps=n_steps, n_neurons=n_rois
    )
    ca_pre = None
    if config["pre_existing_cal"]:
        ca_pre = np.asarray(inputs["Ca_input"], dtype=float)[i_targets].T  # (time, rois)
        spikes = None  # spikes do not change a pre-existing-Ca sensor
    res = jg.simulate(sensor, spikes, dt, rho_rel=rho, ca_pre=ca_pre, method=_method(config))
    out = {}
    for name, spec in entry["arrays"].items():
        if spec["role"] != "output":
            continue
        out[name] = np.asarray(res.traces[name]).T  # (rois, steps)
    return out


RUNNERS = {"sensor_trace": run_sensor_trace}


def run_case(entry: dict, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every ``output`` array of ``entry`` computed from its ``input`` arrays."""
    kind = entry["kind"]
    if kind not in RUNNERS:
        raise NotImplementedError(f"no runner for manifest kind {kind!r}")
    return RUNNERS[kind](entry, inputs)
