"""The model families that fitting pipelines and results files know by name (``"geci"``,
``"s2f"``, ``"s2f-adaptive"``, ``"s2f-twostate"``): how to build each from constants, where a fit starts, which
constants are free by default and how they are constrained. Extend with :func:`register_model`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


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
``"s2f"``, ``"s2f-adaptive"``, ``"s2f-twostate"`` (add more with :func:`register_model`)."""


def _is_transgenic(dataset: str) -> bool:
    return "allen" in dataset.lower() or "neuropil-corrected" in dataset.lower() or "-tg" in dataset.lower()


def _s2f_initial(indicator: str, dataset: str = ""):
    from ._s2f_presets import s2f

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


def _twostate_initial(indicator: str, dataset: str = ""):
    from ._s2f_twostate import TwoStateS2F

    # The start sits in the use-dependent regime: u_half = 0.1 spikes, n_u = 1, tau_u = 1 s, so
    # one spike (u = 1) slows the decays s(1) = 11x and a 10-spike burst (u ~ 10) 101x; the
    # decay times start at the preset's / (2 s(1)) (tau_d1) and / s(1) (tau_d2), so one spike
    # decays with half the preset's tau_d1 and a burst ~4.6x slower than the preset. (A start
    # near plain S2F, u_half = 3 and n_u = 2, stayed there: on GCaMP6f DS10 and jGCaMP7f the
    # fits ended at u_half = 29-91, plain S2F, with lower held-in EV than from this start.)
    s2f = _s2f_initial(indicator, dataset)
    u_half, n_u = 0.1, 1.0
    s1 = 1.0 + (1.0 / u_half) ** n_u
    s2f = s2f.replace(tau_d1=float(s2f.params["tau_d1"]) / (2.0 * s1), tau_d2=float(s2f.params["tau_d2"]) / s1)
    return TwoStateS2F.from_s2f(s2f, u_half=u_half, tau_u=1.0, n_u=n_u)


def _twostate_build(constants: dict, name: str = ""):
    from ._s2f_twostate import TwoStateS2F

    return TwoStateS2F(**_given(constants), name=name)


# S2F's free constants and constraints plus the use variable's u_half, tau_u, n_u
MODELS["s2f-twostate"] = dataclasses.replace(
    MODELS["s2f"],
    name="s2f-twostate",
    build=_twostate_build,
    initial=_twostate_initial,
    default_free=MODELS["s2f"].default_free + ("u_half", "tau_u", "n_u"),
    description="S2F whose decays slow by 1 + (u/u_half)^n_u, u a slow count of recent spikes "
    "(fast single spikes, slow burst tails)",
    constraints={**_S2F_CONSTRAINTS, "tau_u": ("positive", _TAU_CEILING_S), "n_u": (0.5, 8.0)},
)


def register_model(spec: ModelSpec) -> None:
    """Add a model family to :data:`MODELS` (e.g. S2F)."""
    MODELS[spec.name] = spec


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}.") from None
