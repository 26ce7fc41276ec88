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
from jaxgeci._geci import KNOWN_KEYS


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
    # the constants geci() accepts (NAOMi originals appear as naomi_* and are skipped)
    keys = KNOWN_KEYS
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
        config["sensor_params"],
        doub_exp_conv=bool(config["doub_exp_conv"]),
        pre_existing_cal=bool(config["pre_existing_cal"]),
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


# ---------------------------------------------------------------------------- scope kinds


def _scope_cfg(scope: dict, key: str):
    """A scope setting: targeting entries end their length keys in ``_m``, others don't."""
    for k in (key + "_m", key):
        if k in scope:
            return scope[k]
    return None


def _scope_sensor(config: dict) -> jg.GECI:
    """The entry's sensor (its ``location`` included); double-exponential binding when its
    kernel constants are given (the order-check run uses them)."""
    sp = dict(config["sensor"])
    has_kernel = all(sp.get(k) is not None for k in ("A", "tau_on", "tau_off"))
    doub = bool(config.get("doub_exp_conv", has_kernel)) and has_kernel
    return sensor_from_config(sp, doub_exp_conv=doub, pre_existing_cal=bool(config.get("pre_existing_cal", False)))


def _build_scope(entry: dict, inputs: dict, *, warn_ok: bool = True):
    """Build the entry's Scope (cleo_compat=True) and inject every injection in order."""
    import warnings

    import jax

    config = entry["config"]
    sc = config["scope"]
    sensor = _scope_sensor(config)
    location = inputs.get("scope_location_m", _scope_cfg(sc, "location"))
    direction = inputs.get("scope_direction_input", sc.get("direction_input", sc.get("direction")))
    scope = jg.Scope(
        sensor,
        img_width=_scope_cfg(sc, "img_width"),
        focus_depth=_scope_cfg(sc, "focus_depth"),
        location=np.asarray(location, dtype=float),
        direction=np.asarray(direction, dtype=float),
        soma_radius=_scope_cfg(sc, "soma_radius"),
        snr_cutoff=sc.get("snr_cutoff", 1.0),
        cleo_compat=True,
    )
    for j, inj in enumerate(config.get("injections", [])):
        kw = dict(inj.get("kwargs", {k: v for k, v in inj.items() if k != "group"}))
        rho_desc = kw.pop("rho", None)  # a description of the generator
        call = {}
        if "focus_depth" in kw:
            call["focus_depth"] = kw["focus_depth"]
        for name in ("soma_radius", "base_sigma", "sigma_noise"):
            if kw.get(name) is not None:
                call[name] = kw[name]
        if kw.get("i_targets") is not None:
            call["i_targets"] = np.asarray(kw["i_targets"], dtype=np.int64)
        if kw.get("soma_radius") == 0:
            call.pop("soma_radius")  # Cleo quirk 5: a falsy radius falls back to the scope's
        fd = call.get("focus_depth", scope.focus_depth)
        if fd is not None and float(fd) != 0.0:
            # plane mode: Cleo ignores these keywords there (our API rejects them)
            call.pop("i_targets", None)
            call.pop("sigma_noise", None)
        else:
            call.pop("base_sigma", None)  # explicit mode: Cleo uses sigma_noise or the sensor's
        if f"inj{j}__rho_rel_generated" in inputs:
            # exactly what Cleo's generator returned (n = candidates before the SNR cut)
            call["rho_rel"] = np.asarray(inputs[f"inj{j}__rho_rel_generated"], dtype=float)
        elif rho_desc is not None:
            call["rho_rel"] = _rho_generator(rho_desc)
            call["key"] = jax.random.key(0)  # unused: the generator is NumPy-seeded, as in the reference
        group = inj["group"]
        with warnings.catch_warnings():
            if warn_ok:
                warnings.simplefilter("ignore")
            scope = scope.inject(group, np.asarray(inputs[f"coords_m__{group}"], dtype=float), **call)
    return scope


def _rho_generator(desc: dict):
    """A ``(key, n)`` rho_rel function from a manifest description (``kind`` ones, uniform or
    lognormal, NumPy ``default_rng(seed)``: this reproduces every ``inj*__rho_rel_generated``
    array of the public reference files exactly). Used only when that array is absent."""
    kind = desc.get("kind", "ones")
    if kind == "ones":
        return lambda key, n: np.ones(n)
    if kind == "uniform":
        return lambda key, n: np.random.default_rng(desc["seed"]).uniform(desc["lo"], desc["hi"], n)
    if kind == "lognormal":
        return lambda key, n: np.random.default_rng(desc["seed"]).lognormal(desc["mu"], desc["sigma"], n)
    raise NotImplementedError(f"unknown rho_rel generator description {desc!r}")


def _order_check(entry: dict, inputs: dict, scope) -> np.ndarray:
    """``order_check__dFF_at_end``: one spike per neuron at its given step, no noise, the
    ROI-ordered state after the last step."""
    oc = entry["config"]["order_check"]
    dt, n_steps = float(oc["dt_s"]), int(oc["n_steps"])
    spikes = {}
    for p in scope.population_names:
        step = np.asarray(inputs[f"order_check__spike_step__{p}"], dtype=np.int64)
        ok = (step >= 0) & (step < n_steps)
        spikes[p] = jg.SpikeTrains(steps=step[ok], neurons=np.flatnonzero(ok), n_steps=n_steps, n_neurons=step.size)
    res = scope.image(spikes, dt, noise=False, sample_times=[n_steps * dt])
    return np.asarray(res.dFF_clean[-1])


def _scope_outputs(scope, entry: dict, inputs: dict) -> dict:
    out = {
        "i_targets": np.asarray(scope.i_targets, dtype=np.int64),
        "roi_injection": scope.roi_injection,
        "sigma_noise": np.asarray(scope.sigma_noise),
        "rho_rel": np.asarray(scope.rho_rel),
        "focus_coords_m": np.asarray(scope.focus_coords),
        "scope_direction_normalized": np.asarray(scope.direction),
    }
    if scope.sensor.dFF_1AP is not None:
        out["dFF_1AP"] = np.asarray(scope.dFF_1AP)
    for j, inj in enumerate(scope.injections):
        out[f"inj{j}__i_targets"] = np.asarray(inj.i_targets, dtype=np.int64)
        out[f"inj{j}__sigma_noise"] = np.asarray(inj.sigma)
        out[f"inj{j}__rho_rel"] = np.asarray(inj.rho_rel)
        out[f"inj{j}__focus_coords_m"] = np.asarray(inj.focus_coords)
        if inj.focus_depth is not None:
            it, nff, cop = scope.target_neurons_in_plane(
                inputs[f"coords_m__{inj.population}"], focus_depth=inj.focus_depth, soma_radius=inj.soma_radius
            )
            out[f"inj{j}__plane__i_targets"] = it.astype(np.int64)
            out[f"inj{j}__plane__noise_focus_factor"] = nff
            out[f"inj{j}__plane__coords_on_plane_m"] = cop
    return out


def _wanted(entry: dict, roles=("output",)) -> list[str]:
    return [k for k, a in entry["arrays"].items() if a["role"] in roles]


def _select(entry: dict, out: dict, roles=("output",)) -> dict:
    names = _wanted(entry, roles)
    missing = [k for k in names if k not in out]
    if missing:
        raise KeyError(f"runner did not produce {missing}")
    return {k: out[k] for k in names}


def run_targeting(entry: dict, inputs: dict) -> dict:
    config = entry["config"]
    if entry.get("subkind") == "standalone_function":
        sc = config["scope"]
        d_in = np.asarray(inputs.get("scope_direction_input", _scope_cfg(sc, "direction")), dtype=float)
        d_unit = d_in / np.linalg.norm(d_in)
        out = {"scope_direction_normalized": d_unit}
        for label, call in config["standalone_calls"].items():
            direction = d_in if call["direction"] == "as_given" else d_unit
            setting = lambda key: _scope_cfg(call, key) if _scope_cfg(call, key) is not None else _scope_cfg(sc, key)
            location = _scope_cfg(call, "location")
            if location is None:
                location = inputs.get("scope_location_m", _scope_cfg(sc, "location"))
            it, nff, cop = jg.target_neurons_in_plane(
                np.asarray(inputs[f"coords_m__{call['group']}"], dtype=float),
                setting("focus_depth"),
                setting("img_width"),
                np.asarray(location, dtype=float),
                direction,
                setting("soma_radius"),
                call.get("sensor_location", "cytoplasm"),
                cleo_compat=True,  # Cleo's |s| projection, direction used as given
            )
            out[f"standalone_{label}__i_targets"] = it.astype(np.int64)
            out[f"standalone_{label}__noise_focus_factor"] = nff
            out[f"standalone_{label}__coords_on_plane_m"] = cop
        return _select(entry, out)
    scope = _build_scope(entry, inputs)
    out = _scope_outputs(scope, entry, inputs)
    if "order_check__dFF_at_end" in _wanted(entry):
        out["order_check__dFF_at_end"] = _order_check(entry, inputs, scope)
    return _select(entry, out)


def run_noisy_scope(entry: dict, inputs: dict, *, key=None) -> dict:
    """Outputs of a ``noisy_scope`` entry, plus its ``statistical`` ``dFF_noisy`` drawn with
    ``jax.random`` (``key``; default derived from the entry's seed)."""
    import jax

    config = entry["config"]
    scope = _build_scope(entry, inputs)
    dt, n_steps = float(config["dt_s"]), int(config["n_steps"])
    spikes = {}
    for p in scope.population_names:
        n_neurons = int(np.asarray(inputs[f"coords_m__{p}"]).shape[0])
        spikes[p] = jg.SpikeTrains(
            steps=np.asarray(inputs[f"spike_steps__{p}"], dtype=np.int64),
            neurons=np.asarray(inputs[f"spike_neurons__{p}"], dtype=np.int64),
            n_steps=n_steps,
            n_neurons=n_neurons,
        )
    if "t_samples_s" in inputs:
        sampling = {"sample_times": np.asarray(inputs["t_samples_s"], dtype=float)}
    else:
        sampling = {"sample_period": float(config["sample_period_s"])}
    if key is None:
        key = jax.random.key(int(config.get("rng_seed", 0)))
    res = scope.image(spikes, dt, key=key, method="euler", **sampling)
    out = _scope_outputs(scope, entry, inputs)
    out["dFF_clean"] = np.asarray(res.dFF_clean)
    out["dFF_noisy"] = np.asarray(res.dFF)
    return _select(entry, out, roles=("output", "statistical"))


RUNNERS["targeting"] = run_targeting
RUNNERS["noisy_scope"] = run_noisy_scope


def run_case(entry: dict, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every ``output`` array of ``entry`` computed from its ``input`` arrays."""
    kind = entry["kind"]
    if kind not in RUNNERS:
        raise NotImplementedError(f"no runner for manifest kind {kind!r}")
    return RUNNERS[kind](entry, inputs)
