"""The S2F presets of Zhang et al. 2023 (the authors' ``parameter_fits.csv``, times published in
ms) and the :func:`s2f` factory; the model itself is :class:`jaxgeci.S2F`."""

from __future__ import annotations

from typing import NamedTuple

from ._s2f import CONSTANTS, S2F


# ---------------------------------------------------------------------------- presets


class S2FPresetSpec(NamedTuple):
    """One row of the authors' ``parameter_fits.csv`` (times in ms, as published), plus the
    ROI noise and where it comes from."""

    name: str
    rise_ms: float
    decay1_ms: float
    decay2_ms: float | None  # None: single decay (r = 0)
    r: float
    Fm: float
    Ca0: float
    beta: float
    F0: float
    sigma_noise: float
    sigma_source: str


def _sigma(geci_key: str) -> float:
    from .indicators import preset_defaults

    return float(preset_defaults(geci_key)["sigma_noise"])


_S6F, _S6S, _S7F = _sigma("gcamp6f"), _sigma("gcamp6s"), _sigma("jgcamp7f")

# Constants: parameter_fits.csv of zqwei/Spike2Fluorescence_jGCaMP8 (Zhang et al. 2023, the
# paper's S2F parameter table), full precision as distributed; "decay2 = 0, r = 0" there means
# a single decay (stored here as decay2 = None -> tau_d2 = tau_d1, r = 0).
S2F_PRESETS: dict[str, S2FPresetSpec] = {
    spec.name.lower(): spec
    for spec in (
        S2FPresetSpec(
            "jGCaMP8f",
            1.85,
            34.07,
            263.70,
            0.48,
            6.1043797,
            4.17057528,
            0.39053296,
            -1.001,
            _S7F,
            "placeholder: the jGCaMP7f GECI preset's value (not measured for jGCaMP8f)",
        ),
        S2FPresetSpec(
            "jGCaMP8m",
            2.46,
            41.64,
            245.80,
            0.28,
            7.45464483,
            2.69111721,
            0.36000789,
            -2.05088,
            _S7F,
            "placeholder: the jGCaMP7f GECI preset's value (not measured for jGCaMP8m)",
        ),
        S2FPresetSpec(
            "jGCaMP8s",
            5.65,
            86.26,
            465.45,
            0.19,
            7.45579182,
            1.28241713,
            0.34372099,
            -2.91932,
            _S7F,
            "placeholder: the jGCaMP7f GECI preset's value (not measured for jGCaMP8s)",
        ),
        S2FPresetSpec(
            "jGCaMP7f",
            16.21,
            95.27,
            398.22,
            0.24,
            6.84124734,
            5.5621592,
            0.42321225,
            -0.59348,
            _S7F,
            "jgcamp7f GECI preset (Zhang 2023 Supp. Tab. 1 x Dana 2019)",
        ),
        S2FPresetSpec(
            "XCaMP-Gf",
            13.93,
            99.38,
            312.85,
            0.20,
            2.36379296,
            3.93607549,
            0.47166752,
            -0.31937,
            _S6S,
            "placeholder: the GCaMP6s GECI preset's value (not measured for XCaMP-Gf)",
        ),
        S2FPresetSpec(
            "GCaMP6s",
            50.81,
            1702.21,
            None,
            0.0,
            3.334,
            3.142,
            1.332,
            -0.049982,
            _S6S,
            "gcamp6s GECI preset (Dana et al. 2019)",
        ),
        S2FPresetSpec(
            "GCaMP6s-TG",
            133.01,
            1262.78,
            None,
            0.0,
            3.596,
            3.303,
            2.897,
            -0.000251,
            _S6S,
            "gcamp6s GECI preset (same protein; transgenic expression not accounted for)",
        ),
        S2FPresetSpec(
            "GCaMP6f",
            9.98,
            682.58,
            None,
            0.0,
            1.905,
            3.197,
            1.410,
            -0.020769,
            _S6F,
            "gcamp6f GECI preset (Zhang 2023 Supp. Tab. 1 x Dana 2019)",
        ),
        S2FPresetSpec(
            "GCaMP6f-TG",
            20.82,
            629.74,
            None,
            0.0,
            2.818,
            5.821,
            1.046,
            -0.006377,
            _S6F,
            "gcamp6f GECI preset (same protein; transgenic expression not accounted for)",
        ),
    )
}
"""S2F presets keyed by lower-case name (times in ms as published)."""

_OVERRIDES = set(CONSTANTS) | {"sigma_noise", "location", "name", "dff_baseline"}


def s2f_preset_defaults(name: str) -> dict:
    """The constants of preset ``name`` in SI units (s), as keyword arguments of :class:`S2F`."""
    spec = _spec(name)
    d2 = spec.decay1_ms if spec.decay2_ms is None else spec.decay2_ms
    return dict(
        tau_r=spec.rise_ms * 1e-3,
        tau_d1=spec.decay1_ms * 1e-3,
        tau_d2=d2 * 1e-3,
        r=spec.r,
        Fm=spec.Fm,
        Ca0=spec.Ca0,
        beta=spec.beta,
        F0=spec.F0,
        sigma_noise=spec.sigma_noise,
        name=spec.name,
    )


def _spec(name) -> S2FPresetSpec:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string such as 'jGCaMP8m', got {name!r}.")
    key = name.strip().lower()
    if key not in S2F_PRESETS:
        known = ", ".join(s.name for s in S2F_PRESETS.values())
        raise ValueError(f"Unknown S2F preset {name!r}; known (case-insensitive): {known}.")
    return S2F_PRESETS[key]


def s2f(name: str, **overrides) -> S2F:
    """The S2F sensor of Zhang et al. 2023 for indicator ``name`` (case-insensitive):
    jGCaMP8f, jGCaMP8m, jGCaMP8s, jGCaMP7f, XCaMP-Gf, GCaMP6s, GCaMP6s-TG, GCaMP6f, GCaMP6f-TG
    ("-TG": transgenic mouse lines).

    Constants are the authors' fits (``parameter_fits.csv``), with time constants converted
    from ms to s; single-decay rows get ``r = 0`` and ``tau_d2 = tau_d1``. ``sigma_noise``
    reuses the GECI presets' values for GCaMP6f/6s (and their TG lines) and jGCaMP7f; for
    jGCaMP8f/m/s it is a placeholder (the jGCaMP7f value) and for XCaMP-Gf the GCaMP6s value
    (see ``S2F_PRESETS[...].sigma_source``). ``dFF_1AP`` is derived from the model.

    Args:
        name: preset name.
        **overrides: ``tau_r``, ``tau_d1``, ``tau_d2`` (s), ``r``, ``Fm``, ``Ca0``, ``beta``,
            ``F0``, ``sigma_noise`` (dimensionless), ``location``, ``name``, ``dff_baseline``.

    Raises:
        ValueError: unknown preset name (lists the known ones) or invalid constant.
        TypeError: unknown keyword.
    """
    unknown = set(overrides) - _OVERRIDES
    if unknown:
        raise TypeError(f"s2f() got unknown keyword(s) {sorted(unknown)}; known: {sorted(_OVERRIDES)}.")
    params = s2f_preset_defaults(name)
    params.update(overrides)
    return S2F(**params)
