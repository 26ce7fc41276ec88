"""The GECI sensor: calcium model -> binding/activation -> excitation -> Hill read-out."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._binding import CalBindingActivationModel, DoubExpCalBindingActivation, NullBindingActivation
from ._calcium import CalciumModel, DynamicCalcium, PreexistingCalcium
from ._constants import (
    check_constants,
    constant,
    constant_fields,
    constant_values,
    ConstantSpec,
    describe,
    replace_constants,
    required_constants,
    sensor_repr,
    SIGMA_NOISE,
)
from ._excitation import ExcitationModel, LightExcitation, NullExcitation
from ._fluorescence import hill, hill_rise
from ._sensor import LOCATIONS, Method, METHODS, Sensor
from ._validation import is_concrete


DFF_BASELINES = ("apo", "rest")


class GECIState(eqx.Module):
    """State of a GECI population at the start of a step.

    Attributes:
        dCa: free Ca2+ above rest, ``Ca - Ca_rest`` (M), ``(neurons,)``; for pre-existing Ca:
            the input of the last step minus ``Ca_rest``. (Stored as the deviation so that
            float32 does not round the ~1e-7 M absolute level every step.)
        bind: the binding model's state: ``()`` (null) or ``(b, beta)`` in (M, M/s).
    """

    dCa: Float[Array, " neurons"]
    bind: tuple = ()

    @property
    def b(self):
        """Double-exponential state ``b = CaB_active - Ca_rest`` (M), or ``None``."""
        return self.bind[0] if self.bind else None

    @property
    def beta(self):
        """Double-exponential state ``beta = db/dt`` (M/s), or ``None``."""
        return self.bind[1] if self.bind else None


class GECI(Sensor):
    """Genetically encoded calcium indicator (Cleo's ``GECI``; Song et al. 2021), built from
    interchangeable submodels::

        dFF = exc * rho_rel * dFF_max * (H(CaB_active) - H(Ca_rest)),
        H(x) = 1 / (1 + (K_d / x)**n_H)

    Every constant is an array leaf (scalar or ``(neurons,)``), so ``jax.grad`` reaches it and
    ``eqx.filter_vmap`` batches over stacked parameter sets. ``Ca_rest`` lives in
    ``cal_model`` only (the single source of truth) and is exposed as :attr:`Ca_rest`.

    By default ΔF/F is relative to the apo (Ca-free) brightness, as in Cleo. With
    ``dff_baseline="rest"`` it is relative to the resting fluorescence, which is what
    experiments report: the Cleo value is divided by ``1 + dFF_max H(Ca_rest)`` (for GCaMP6s
    the 1-AP peak 0.384 becomes 0.137, close to the 0.133 measured by Dana et al. 2019).
    """

    cal_model: CalciumModel = eqx.field(kw_only=True)
    """How free Ca2+ is obtained (:class:`DynamicCalcium` or :class:`PreexistingCalcium`)."""
    bind_act_model: CalBindingActivationModel = eqx.field(kw_only=True)
    """Binding/activation kinetics (:class:`DoubExpCalBindingActivation` or null)."""
    exc_model: ExcitationModel = eqx.field(kw_only=True, default=NullExcitation())
    """Excitation factor model (:class:`NullExcitation`)."""
    K_d: Float[Array, "*neurons"] = constant(
        ConstantSpec(unit="M", upper=1.0, plausible=(1e-9, 1e-3)),
    )
    """Indicator dissociation constant (M)."""
    n_H: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1", plausible=(0.1, 10.0)))
    """Hill coefficient (dimensionless)."""
    dFF_max: Float[Array, "*neurons"] = constant(ConstantSpec(unit="1", plausible=(1e-3, 1e4)))
    """Maximal ΔF/F, ``F_max/F_apo - 1``-like amplitude of the Hill term (dimensionless)."""
    sigma_noise: Float[Array, "*neurons"] = constant(SIGMA_NOISE, default=0.0)
    """Std of the Gaussian ΔF/F noise of one in-focus ROI (dimensionless)."""
    dFF_1AP: Float[Array, "*neurons"] | None = constant(
        ConstantSpec(unit="1", plausible=(1e-5, 1e3), observation=True, optional=True), default=None
    )
    """ΔF/F of one action potential, used for the Scope's SNR cut (dimensionless), or None."""
    location: str = eqx.field(static=True, kw_only=True, default="cytoplasm")
    """Where the indicator sits: "cytoplasm" or "membrane" (sets the focus noise factor)."""
    name: str = eqx.field(static=True, kw_only=True, default="")
    """Display name, e.g. "GCaMP6f"."""
    dff_baseline: str = eqx.field(static=True, kw_only=True, default="apo")
    """ΔF/F reference: "apo" (Cleo's, relative to Ca-free brightness) or "rest"."""

    def __check_init__(self):
        for attr, typ in (
            ("cal_model", CalciumModel),
            ("bind_act_model", CalBindingActivationModel),
            ("exc_model", ExcitationModel),
        ):
            if not isinstance(getattr(self, attr), typ):
                raise TypeError(f"GECI.{attr} must be a {typ.__name__}, got {getattr(self, attr)!r}.")
        check_constants(self)
        if self.location not in LOCATIONS:
            raise ValueError(f"GECI.location must be one of {LOCATIONS}, got {self.location!r}.")
        if self.dff_baseline not in DFF_BASELINES:
            raise ValueError(f"GECI.dff_baseline must be one of {DFF_BASELINES}, got {self.dff_baseline!r}.")

    # ------------------------------------------------------------------ parameters
    @property
    def Ca_rest(self):
        """Resting free Ca2+ (M); stored once, in ``cal_model``."""
        return self.cal_model.Ca_rest

    @property
    def params(self) -> dict:
        """Every constant in a flat dict keyed as the reference manifest's ``sensor_params``
        (SI: M, s, 1/s; dimensionless otherwise). Only the constants of the chosen
        submodels appear. ``geci(..., **sensor.params)`` rebuilds the same sensor."""
        return constant_values(self)

    def replace(self, **params) -> GECI:
        """A copy with some constants replaced, named as in :attr:`params` (SI units);
        each value is checked as the constructor checks it."""
        return replace_constants(self, "GECI", **params)

    def __repr__(self) -> str:
        return sensor_repr(self, name=self.name, dff_baseline=self.dff_baseline)

    def describe(self) -> str:
        """The constants with their units, one per line (see :attr:`params`)."""
        return describe(self)

    # ------------------------------------------------------------------ stepping
    @property
    def needs_ca_input(self) -> bool:
        return isinstance(self.cal_model, PreexistingCalcium)

    def trace_names(self):
        names = ("dFF", "Ca", "CaB_active")
        if isinstance(self.bind_act_model, DoubExpCalBindingActivation):
            names += ("b", "beta")
        return names

    def _resolve_method(self, method: str) -> str:
        if isinstance(method, Method):  # resolved at the public entry: taken as given
            return method
        if method not in METHODS:  # at trace time: advance() called directly never guesses
            raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
        if method == "cleo":
            # What Brian2 chose for this combination: forward Euler for dynamic Ca (the ODE is
            # nonlinear), its 'exact' (zero-order hold) integrator for pre-existing Ca + the
            # linear double-exponential system.
            if isinstance(self.cal_model, PreexistingCalcium) and isinstance(
                self.bind_act_model, DoubExpCalBindingActivation
            ):
                return Method.ACCURATE
            return Method.EULER
        return Method.ACCURATE if method in ("accurate", "exact") else Method.EULER

    def check_run(self, dt, method="cleo") -> str:
        super().check_run(dt, method)
        resolved = self._resolve_method(method)
        if resolved == "euler":
            dt = float(dt)
            for model, label in ((self.cal_model, "calcium"), (self.bind_act_model, "binding")):
                if not hasattr(model, "euler_rate_bound"):
                    continue
                if not all(is_concrete(x) for x in jax.tree_util.tree_leaves(model)):
                    continue  # traced constants (grad/vmap): no value check
                # on host copies of the constants: numpy arithmetic, nothing compiled or run
                rate = jax.tree_util.tree_map(np.asarray, model).euler_rate_bound()
                if rate is None:
                    continue
                worst = float(np.max(np.asarray(rate)))
                if dt * worst >= 2.0:
                    raise ValueError(
                        f"dt={dt!r} s is too large for a stable forward-Euler step of the {label} "
                        f"model (largest rate {worst:.4g} 1/s needs dt < {2.0 / worst:.4g} s). "
                        f"Use a smaller dt or method='accurate'."
                    )
        return resolved

    def init(self, n_neurons: int) -> GECIState:
        """Resting state for ``n_neurons`` neurons: ``Ca = Ca_rest`` (``dCa = 0``), ``b = beta = 0``."""
        dCa = self.cal_model.init(n_neurons)
        return GECIState(dCa=dCa, bind=self.bind_act_model.init(n_neurons, dCa.dtype))

    def advance(self, state: GECIState, spikes_k, dt, ca_k=None, *, method="cleo") -> GECIState:
        """One step ``k -> k+1`` (DESIGN §3): the ODEs advance over ``dt`` (s), then the
        ``spikes_k`` (counts, ``(neurons,)``) of step ``k`` are applied (with
        ``method="accurate"`` the spikes are applied at the start of the step, their true
        time). ``ca_k`` (M) is the neuron's Ca during step ``k`` for pre-existing Ca."""
        m = self._resolve_method(method)
        n = jnp.asarray(spikes_k, dtype=state.dCa.dtype)
        x_next, x0, x1 = self.cal_model.step(state.dCa, n, dt, K_d=self.K_d, ca_in=ca_k, method=m)
        bind = self.bind_act_model.step(state.bind, x0, x1, dt, method=m)
        return GECIState(dCa=x_next, bind=bind)

    def observe(self, state: GECIState, rho_rel=1.0, ca=None) -> dict:
        """ΔF/F and the Ca traces of ``state`` (``(neurons,)`` each): ``dFF`` (1), ``Ca`` (M),
        ``CaB_active`` (M) and, with double-exponential binding, ``b`` (M), ``beta`` (M/s)."""
        if ca is None:
            if isinstance(self.cal_model, PreexistingCalcium) and isinstance(
                self.bind_act_model, NullBindingActivation
            ):
                raise ValueError(
                    "readout of a pre-existing-Ca GECI without binding kinetics needs the "
                    "neuron's current Ca: pass ca=(neurons,) in M."
                )
            dCa = state.dCa
        else:
            dCa = jnp.asarray(ca, dtype=state.dCa.dtype) - self.Ca_rest
        Ca = self.Ca_rest + dCa
        rise = self.bind_act_model.active_above_rest(state.bind, dCa)
        CaB = self.Ca_rest + rise
        H_rest = hill(self.Ca_rest, self.K_d, self.n_H)
        dH = hill_rise(self.Ca_rest, rise, self.K_d, self.n_H)
        dFF = self.exc_model.factor(Ca.shape[0]) * rho_rel * self.dFF_max * dH
        if self.dff_baseline == "rest":
            dFF = dFF / (1.0 + self.dFF_max * H_rest)
        out = {"dFF": dFF, "Ca": Ca, "CaB_active": CaB}
        if state.bind:
            out["b"], out["beta"] = state.bind
        return out


# ---------------------------------------------------------------------------- factory

_CAL_KEYS = set(constant_fields(DynamicCalcium))
_BIND_KEYS = set(constant_fields(DoubExpCalBindingActivation))
_NAOMI_KEYS = {"ca_amp", "t_on", "t_off"}
_STATIC_KEYS = {"location", "name", "dff_baseline"}
_GECI_KEYS = set(constant_fields(GECI)) | _STATIC_KEYS
KNOWN_KEYS = _CAL_KEYS | _BIND_KEYS | _NAOMI_KEYS | _GECI_KEYS


def geci_constant_specs() -> dict:
    """``{name: ConstantSpec}`` of every constant a GECI can have (its own and those of
    dynamic calcium and double-exponential binding), in :attr:`GECI.params` order."""
    own = constant_fields(GECI)
    out = {k: s for k, s in own.items() if not s.observation}
    out.update(constant_fields(DynamicCalcium))
    out.update(constant_fields(DoubExpCalBindingActivation))
    out.update({k: s for k, s in own.items() if s.observation})
    return out


def naomi_to_si(ca_amp=None, t_on=None, t_off=None) -> dict:
    """Convert NAOMi's kernel keywords to SI: ``A = ca_amp/(0.01 s)`` (1/s),
    ``tau_on = 1 s/t_on`` (s), ``tau_off = 1 s/t_off`` (s). ``None`` stays ``None``."""
    out = {}
    if ca_amp is not None:
        out["A"] = ca_amp / 0.01
    if t_on is not None:
        out["tau_on"] = 1.0 / t_on
    if t_off is not None:
        out["tau_off"] = 1.0 / t_off
    return out


def geci(light_dependent: bool = False, doub_exp_conv: bool = True, pre_existing_cal: bool = False, **params) -> GECI:
    """Build a :class:`GECI` from submodel choices and constants (Cleo's ``geci``).

    Args:
        light_dependent: use :class:`LightExcitation` (not implemented yet; raises).
        doub_exp_conv: double-exponential binding kinetics (needs ``A, tau_on, tau_off`` or
            NAOMi's ``ca_amp, t_on, t_off``); otherwise ``CaB_active = Ca``.
        pre_existing_cal: read Ca from the neuron model (``ca_pre``) instead of simulating it.
        **params: constants in SI units, keyed as :attr:`GECI.params`: ``K_d`` (M), ``n_H``,
            ``dFF_max``, ``Ca_rest`` (M), ``gamma`` (1/s), ``B_T`` (M), ``kappa_S``,
            ``dCa_T`` (M), ``A`` (1/s), ``tau_on``/``tau_off`` (s), ``sigma_noise``,
            ``dFF_1AP``; plus ``location``, ``name``, ``dff_baseline``. Constants that the
            chosen submodels do not use are ignored, as in Cleo.

    Raises:
        TypeError: unknown keyword.
        ValueError: a required constant is missing or invalid.
        NotImplementedError: ``light_dependent=True``.
    """
    unknown = set(params) - KNOWN_KEYS
    if unknown:
        raise TypeError(f"geci() got unknown keyword(s) {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}.")
    params = dict(params)
    naomi = {k: params.pop(k) for k in _NAOMI_KEYS if k in params}
    for k, v in naomi_to_si(**naomi).items():
        if params.get(k) is not None:
            raise ValueError(f"geci() got both {k} and its NAOMi keyword; give one of them.")
        params[k] = v

    if light_dependent:
        exc = LightExcitation()  # raises NotImplementedError with an explanation
    else:
        exc = NullExcitation()

    def need(keys, what):
        missing = [k for k in keys if params.get(k) is None]
        if missing:
            raise ValueError(f"geci(): {what} needs {', '.join(missing)} (missing).")

    if pre_existing_cal:
        Ca_rest = params.get("Ca_rest")
        cal = PreexistingCalcium(Ca_rest=5e-8 if Ca_rest is None else Ca_rest)
    else:
        need(required_constants(DynamicCalcium), "DynamicCalcium")
        cal = DynamicCalcium(**{k: params[k] for k in constant_fields(DynamicCalcium)})

    if doub_exp_conv:
        missing = [k for k in required_constants(DoubExpCalBindingActivation) if params.get(k) is None]
        if missing:
            label = params.get("name") or "this indicator"
            raise ValueError(
                f"{label} has no double-exponential kernel constants: {', '.join(missing)} "
                "missing (A in 1/s, tau_on and tau_off in s; NAOMi keywords ca_amp, t_on, t_off "
                "supply them). Pass them, or use doub_exp_conv=False (CaB_active = Ca), fitted "
                "constants (jaxgeci.fitting results), or an S2F preset (jaxgeci.s2f) for "
                "data-fitted kinetics."
            )
        bind = DoubExpCalBindingActivation(**{k: params[k] for k in constant_fields(DoubExpCalBindingActivation)})
    else:
        bind = NullBindingActivation()

    need(required_constants(GECI), "GECI")
    own = {k: params[k] for k in constant_fields(GECI) if params.get(k) is not None}
    return GECI(
        cal_model=cal,
        bind_act_model=bind,
        exc_model=exc,
        **own,
        location=params.get("location") or "cytoplasm",
        name=params.get("name") or "",
        dff_baseline=params.get("dff_baseline") or "apo",
    )


def dc_gain(bind: DoubExpCalBindingActivation):
    """DC gain of the double-exponential kernel, ``A tau_off**2 / (tau_on + tau_off)``
    (dimensionless)."""
    return bind.A * bind.tau_off**2 / (bind.tau_on + bind.tau_off)
