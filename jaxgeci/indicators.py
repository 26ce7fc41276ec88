"""Indicator presets (Cleo 0.20's ``cleo.imaging`` presets) with the source of each value.

Hill constants (``K_d``, ``n_H``, ``dFF_max``) and the double-exponential kernel (NAOMi's
``ca_amp``, ``t_on``, ``t_off``) come from NAOMi's ``calcium_dynamics.m`` (Song et al. 2021).
Noise and 1-AP ΔF/F are relative to GCaMP6s as in Zhang et al. 2023 (Supp. Table 1), scaled
by the absolute GCaMP6s values of Dana et al. 2019 (1-AP ΔF/F 0.133, SNR 4.4, so
``sigma_noise = rel * 0.133/4.4``); GCaMP3's come from Dana et al. 2019 directly. Shared
defaults: ``Ca_rest = 5e-8 M``, ``gamma = 292.3 1/s``, ``B_T = 2e-4 M``, ``kappa_S = 110``,
``dCa_T = 7.6e-6 M`` (Lütke et al. 2013, NAOMi).

Every preset is a function ``preset(light_dependent=False, doub_exp_conv=True,
pre_existing_cal=False, **overrides) -> GECI`` with keyword overrides in SI units (NAOMi's
``ca_amp``, ``t_on``, ``t_off`` are accepted and converted). Presets without kernel constants
(jGCaMP7b/c/f/s, OGB-1, GCaMP6-RS06/RS09) need ``doub_exp_conv=False`` or explicit constants.
"""

from __future__ import annotations

from typing import NamedTuple

from ._geci import GECI, geci


GCAMP6S_DFF_1AP = 0.133  # Dana et al. 2019, GCaMP6s 1-AP ΔF/F
GCAMP6S_SNR_1AP = 4.4  # Dana et al. 2019, GCaMP6s 1-AP SNR
GCAMP6S_SIGMA = GCAMP6S_DFF_1AP / GCAMP6S_SNR_1AP

SHARED_DEFAULTS = dict(Ca_rest=5e-8, gamma=292.3, B_T=2e-4, kappa_S=110.0, dCa_T=7.6e-6)
"""Constants shared by all presets (SI: M, 1/s, M, 1, M)."""


class PresetSpec(NamedTuple):
    name: str
    K_d: float  # M
    n_H: float
    dFF_max: float
    sigma_noise_rel: float  # relative to GCaMP6s
    dFF_1AP_rel: float | None  # relative to GCaMP6s
    ca_amp: float | None = None  # NAOMi, 1/s after /0.01 s
    t_on: float | None = None  # NAOMi, 1/s
    t_off: float | None = None  # NAOMi, 1/s
    source: str = "NAOMi (Song et al. 2021); noise/1AP: Zhang et al. 2023 Supp. Tab. 1 x Dana et al. 2019"


PRESETS: dict[str, PresetSpec] = {
    "gcamp6f": PresetSpec("GCaMP6f", 290e-9, 2.7, 25.2, 1.24, 0.735, 76.1251, 0.8535, 98.6173),
    "gcamp6s": PresetSpec("GCaMP6s", 147e-9, 2.45, 27.2, 1.0, 1.0, 54.6943, 0.4526, 68.5461),
    "gcamp3": PresetSpec(
        "GCaMP3",
        287e-9,
        2.52,
        12.0,
        (3.9 / 2.1) / (13.3 / 4.4),
        3.9 / 13.3,
        0.05,
        1.0,
        1.0,
        source="NAOMi; noise and 1-AP ΔF/F from Dana et al. 2019 (GCaMP3 is not in Zhang 2023)",
    ),
    "ogb1": PresetSpec("OGB-1", 250e-9, 1.0, 14.0, 1.0, None, source="NAOMi; sigma_noise unknown, GCaMP6s value"),
    "gcamp6rs09": PresetSpec(
        "GCaMP6-RS09", 520e-9, 3.2, 25.0, 1.0, None, source="NAOMi; sigma_noise unknown, GCaMP6s value"
    ),
    "gcamp6rs06": PresetSpec(
        "GCaMP6-RS06", 320e-9, 3.0, 15.0, 1.0, None, source="NAOMi; sigma_noise unknown, GCaMP6s value"
    ),
    "jgcamp7f": PresetSpec("jGCaMP7f", 174e-9, 2.3, 30.2, 0.72, 1.71),
    "jgcamp7s": PresetSpec("jGCaMP7s", 68e-9, 2.49, 40.4, 0.33, 4.96),
    "jgcamp7b": PresetSpec("jGCaMP7b", 82e-9, 3.06, 22.1, 0.25, 4.64),
    "jgcamp7c": PresetSpec("jGCaMP7c", 298e-9, 2.44, 145.6, 0.39, 1.85),
}
"""Preset constants, keyed by the seed's function names."""

ALIASES = {"gcamp6_rs06": "gcamp6rs06", "gcamp6_rs09": "gcamp6rs09", "ogb_1": "ogb1"}
"""Cleo 0.20's spellings."""


def preset_defaults(key: str) -> dict:
    """The keyword defaults of preset ``key`` in SI units (including NAOMi's kernel keywords
    converted to ``A`` (1/s), ``tau_on``, ``tau_off`` (s) when the preset has them)."""
    spec = PRESETS[ALIASES.get(key, key)]
    out = dict(
        K_d=spec.K_d,
        n_H=spec.n_H,
        dFF_max=spec.dFF_max,
        sigma_noise=spec.sigma_noise_rel * GCAMP6S_SIGMA,
        dFF_1AP=None if spec.dFF_1AP_rel is None else spec.dFF_1AP_rel * GCAMP6S_DFF_1AP,
        name=spec.name,
        **SHARED_DEFAULTS,
    )
    if spec.ca_amp is not None:
        out.update(A=spec.ca_amp / 0.01, tau_on=1.0 / spec.t_on, tau_off=1.0 / spec.t_off)
    return out


def _make(key: str):
    spec = PRESETS[key]

    def preset(
        light_dependent: bool = False, doub_exp_conv: bool = True, pre_existing_cal: bool = False, **overrides
    ) -> GECI:
        params = preset_defaults(key)
        if any(k in overrides for k in ("ca_amp", "t_on", "t_off")):
            for k in ("A", "tau_on", "tau_off"):
                params.pop(k, None)
        params.update(overrides)
        return geci(light_dependent, doub_exp_conv, pre_existing_cal, **params)

    preset.__name__ = key
    preset.__qualname__ = key
    has_kernel = spec.ca_amp is not None
    dff1ap = "None (unknown)" if spec.dFF_1AP_rel is None else f"{spec.dFF_1AP_rel * GCAMP6S_DFF_1AP:.6g}"
    if has_kernel:
        kernel = (
            f"Kernel: ca_amp={spec.ca_amp:g}, t_on={spec.t_on:g}, t_off={spec.t_off:g} (NAOMi), i.e. "
            f"A={spec.ca_amp / 0.01:g} 1/s, tau_on={1 / spec.t_on:.6g} s, tau_off={1 / spec.t_off:.6g} s."
        )
    else:
        kernel = "No double-exponential kernel constants: use doub_exp_conv=False or pass A, tau_on, tau_off."
    preset.__doc__ = f"""{spec.name} preset (Cleo 0.20 defaults).

    ``K_d = {spec.K_d:g} M``, ``n_H = {spec.n_H}``, ``dFF_max = {spec.dFF_max}``,
    ``sigma_noise = {spec.sigma_noise_rel * GCAMP6S_SIGMA:.6g}``, ``dFF_1AP = {dff1ap}``.
    {kernel}
    Source: {spec.source}.

    Args:
        light_dependent: not implemented (raises NotImplementedError).
        doub_exp_conv: double-exponential binding kinetics.
        pre_existing_cal: read Ca from the neuron model.
        **overrides: any constant of :func:`jaxgeci.geci`, in SI units.
    """
    return preset


gcamp6f = _make("gcamp6f")
gcamp6s = _make("gcamp6s")
gcamp3 = _make("gcamp3")
ogb1 = _make("ogb1")
gcamp6rs09 = _make("gcamp6rs09")
gcamp6rs06 = _make("gcamp6rs06")
jgcamp7f = _make("jgcamp7f")
jgcamp7s = _make("jgcamp7s")
jgcamp7b = _make("jgcamp7b")
jgcamp7c = _make("jgcamp7c")
gcamp6_rs06 = gcamp6rs06
gcamp6_rs09 = gcamp6rs09
ogb_1 = ogb1


FAMILIES = {
    "cleo": "Cleo/NAOMi GECI preset (Cleo 0.20 constants)",
    "s2f": "S2F preset (Zhang et al. 2023's published fit)",
    "fitted": "fitted to real recordings (shipped with jaxgeci)",
}
"""The indicator families :func:`get_preset` knows, with one line each."""


def _cleo_key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def families(name: str) -> dict[str, str]:
    """Where indicator ``name`` is available: ``{family: how to get it}`` for the families of
    :data:`FAMILIES` that know it (case-insensitive); empty if none does.

    >>> families("jGCaMP8m")  # {'s2f': "S2F preset ...: jaxgeci.s2f('jGCaMP8m')", 'fitted': ...}
    """
    from ._fitted import _key, fitted_names
    from ._s2f_presets import S2F_PRESETS

    out = {}
    key = _cleo_key(str(name))
    if key in PRESETS or key in ALIASES:
        spec = PRESETS[ALIASES.get(key, key)]
        out["cleo"] = f"{FAMILIES['cleo']}: jaxgeci.{ALIASES.get(key, key)}() or jaxgeci.get_preset({spec.name!r})"
    s2f_names = {k.replace("-", ""): v.name for k, v in S2F_PRESETS.items()}
    if key in s2f_names:
        out["s2f"] = f"{FAMILIES['s2f']}: jaxgeci.s2f({s2f_names[key]!r})"
    fitted = {_key(n): n for n in fitted_names()}
    fkey = _key(str(name))
    prep = ""
    if fkey.endswith("tg") and fkey[:-2] in fitted:
        fkey, prep = fkey[:-2], ', preparation="transgenic"'
    if fkey in fitted:
        out["fitted"] = f"{FAMILIES['fitted']}: jaxgeci.fitted({fitted[fkey]!r}{prep})"
    return out


def available() -> dict[str, tuple[str, ...]]:
    """Every indicator name :func:`get_preset` knows, with its families (see :data:`FAMILIES`),
    e.g. ``{"GCaMP6f": ("cleo", "s2f", "fitted"), "jGCaMP8m": ("s2f", "fitted"), ...}``."""
    from ._fitted import fitted_names
    from ._s2f_presets import S2F_PRESETS

    names = [p.name for p in PRESETS.values()] + [p.name for p in S2F_PRESETS.values()] + list(fitted_names())
    return {n: tuple(families(n)) for n in sorted(set(names), key=str.lower)}


def get_preset(name: str, family: str = "cleo", **kwargs):
    """Indicator by name (case-insensitive; Cleo's display names like "GCaMP6f" or "OGB-1" and
    the function names both work) from one family:

    - ``"cleo"`` (default): Cleo 0.20's GECI preset, exactly Cleo's constants (a :class:`GECI`);
      ``kwargs`` go to the preset function.
    - ``"s2f"``: Zhang et al. 2023's S2F preset (``jaxgeci.s2f(name, **kwargs)``).
    - ``"fitted"``: the constants fitted to real recordings (``jaxgeci.fitted(name, **kwargs)``,
      e.g. ``preparation="transgenic"``).

    :func:`available` lists every name with its families.

    Raises:
        ValueError: a name the family does not know; the message says which families have it
            and the call that gets it (e.g. ``get_preset("jGCaMP8m")`` points to
            ``jaxgeci.s2f("jGCaMP8m")`` and ``jaxgeci.fitted("jGCaMP8m")``).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string such as 'GCaMP6f', got {type(name).__name__}.")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}.")
    fams = families(name)
    if family not in fams:
        if fams:
            where = f" It is available as: {'; '.join(fams.values())}."
        else:
            where = f" Known names: {', '.join(available())} (Cleo preset functions: {', '.join(sorted(PRESETS))})."
        raise ValueError(f"Unknown indicator {name!r} for family {family!r} ({FAMILIES[family]}).{where}")
    if family == "s2f":
        from ._s2f_presets import s2f

        return s2f(name, **kwargs)
    if family == "fitted":
        from ._fitted import fitted

        return fitted(name, **kwargs)
    key = _cleo_key(name)
    return globals()[ALIASES.get(key, key)](**kwargs)


def missing_attribute(module: str, attr: str) -> AttributeError:
    """The ``AttributeError`` for ``module.attr``, pointing to the right call when ``attr``
    names an indicator of another family (``jaxgeci.jgcamp8m`` -> ``jaxgeci.fitted``)."""
    fams = families(attr) if not attr.startswith("_") else {}
    if fams:
        return AttributeError(
            f"module {module!r} has no attribute {attr!r}: there is no Cleo preset of that name. "
            f"It is available as: {'; '.join(fams.values())}."
        )
    return AttributeError(f"module {module!r} has no attribute {attr!r}")


def __getattr__(attr: str):
    raise missing_attribute(__name__, attr)
