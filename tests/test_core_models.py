"""Presets, the geci factory, parameters and input validation of the core models."""

import jax.numpy as jnp
import numpy as np
import pytest
from reference_cases import load_manifest

import jaxgeci as jg


MANIFEST = load_manifest()
PRESET_NAMES = [
    "gcamp6f",
    "gcamp6s",
    "gcamp3",
    "ogb1",
    "gcamp6rs09",
    "gcamp6rs06",
    "jgcamp7f",
    "jgcamp7s",
    "jgcamp7b",
    "jgcamp7c",
]
NO_KERNEL = ["ogb1", "gcamp6rs09", "gcamp6rs06", "jgcamp7f", "jgcamp7s", "jgcamp7b", "jgcamp7c"]


def _reference_params():
    """(indicator function, sensor_params) pairs from the Cleo reference manifest."""
    out = {}
    for entry in MANIFEST["files"].values():
        cfg = entry["config"]
        name = cfg.get("indicator_function") or cfg.get("indicator")
        sp = cfg.get("sensor_params") or cfg.get("sensor")
        if name and sp and "gamma" in sp:
            out[name] = sp
    return out


@pytest.mark.parametrize("name,sp", sorted(_reference_params().items()))
def test_preset_constants_match_cleo(name, sp):
    """Every preset that Cleo's reference files used has exactly Cleo's constants."""
    fn = getattr(jg, name)
    has_kernel = sp.get("A") is not None
    sensor = fn(doub_exp_conv=has_kernel)
    params = sensor.params
    for key in (
        "K_d",
        "n_H",
        "dFF_max",
        "Ca_rest",
        "gamma",
        "B_T",
        "kappa_S",
        "dCa_T",
        "sigma_noise",
        "A",
        "tau_on",
        "tau_off",
    ):
        if sp.get(key) is None:
            continue
        # float32 storage by default: compare at float32 resolution
        np.testing.assert_allclose(float(params[key]), sp[key], rtol=1e-6, err_msg=key)
    if sp["dFF_1AP"] is None:
        assert sensor.dFF_1AP is None
    else:
        np.testing.assert_allclose(float(sensor.dFF_1AP), sp["dFF_1AP"], rtol=1e-6)
    assert sensor.name == sp["name"]


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_builds(name):
    sensor = getattr(jg, name)(doub_exp_conv=name not in NO_KERNEL)
    assert isinstance(sensor, jg.GECI)
    assert sensor.name
    assert float(sensor.sigma_noise) > 0


@pytest.mark.parametrize("name", NO_KERNEL)
def test_presets_without_kernel_raise_with_help(name):
    with pytest.raises(ValueError) as err:
        getattr(jg, name)()
    msg = str(err.value)
    for word in ("A", "tau_on", "tau_off", "ca_amp", "t_on", "t_off", "doub_exp_conv=False", "S2F"):
        assert word in msg


def test_aliases_and_get_preset():
    assert jg.gcamp6_rs09 is jg.gcamp6rs09 and jg.gcamp6_rs06 is jg.gcamp6rs06 and jg.ogb_1 is jg.ogb1
    assert jg.get_preset("OGB-1", doub_exp_conv=False).name == "OGB-1"
    assert jg.get_preset("GCaMP6-RS09", doub_exp_conv=False).name == "GCaMP6-RS09"
    with pytest.raises(ValueError, match="gcamp6f"):
        jg.get_preset("GCaMP99")


def test_naomi_keywords_convert():
    s = jg.gcamp6f(ca_amp=50.0, t_on=2.0, t_off=50.0)
    np.testing.assert_allclose(float(s.bind_act_model.A), 50.0 / 0.01, rtol=1e-6)
    np.testing.assert_allclose(float(s.bind_act_model.tau_on), 0.5, rtol=1e-6)
    np.testing.assert_allclose(float(s.bind_act_model.tau_off), 0.02, rtol=1e-6)
    s7 = jg.jgcamp7f(ca_amp=60.0, t_on=1.0, t_off=80.0)  # kernel supplied -> builds
    assert isinstance(s7.bind_act_model, jg.DoubExpCalBindingActivation)
    with pytest.raises(ValueError, match="both"):
        jg.geci(False, True, False, **{**jg.gcamp6f().params, "ca_amp": 1.0})


def test_dc_gain_documented_values():
    """README: the kernel's DC gain is ~0.66 (GCaMP6f), ~0.52 (GCaMP6s), 2.5 (GCaMP3)."""
    assert abs(float(jg.dc_gain(jg.gcamp6f().bind_act_model)) - 0.66) < 0.01
    assert abs(float(jg.dc_gain(jg.gcamp6s().bind_act_model)) - 0.52) < 0.01
    assert abs(float(jg.dc_gain(jg.gcamp3().bind_act_model)) - 2.5) < 0.01


def test_params_round_trip_and_ca_rest_single_source():
    s = jg.gcamp6s()
    again = jg.geci(False, True, False, name=s.name, **{k: v for k, v in s.params.items()})
    for k, v in s.params.items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(again.params[k]))
    moved = s.replace(Ca_rest=7e-8)
    assert float(moved.Ca_rest) == pytest.approx(7e-8, rel=1e-6)
    assert float(moved.cal_model.Ca_rest) == pytest.approx(7e-8, rel=1e-6)
    assert "Ca_rest" not in [f for f in type(moved.bind_act_model).__dataclass_fields__]
    # pre-existing Ca + null binding still has a baseline (Cleo quirk 2 fixed)
    pre = jg.gcamp6f(pre_existing_cal=True, doub_exp_conv=False)
    assert float(pre.Ca_rest) == pytest.approx(5e-8, rel=1e-6)
    with pytest.raises(ValueError, match="unknown constant"):
        jg.gcamp6f(doub_exp_conv=False).replace(tau_on=1.0)


def test_snr_and_missing_dff1ap():
    s = jg.gcamp6s()
    assert float(s.snr) == pytest.approx(4.4, rel=1e-5)
    with pytest.raises(TypeError, match="dFF_1AP"):
        _ = jg.ogb1(doub_exp_conv=False).snr


def test_light_dependent_is_not_implemented():
    with pytest.raises(NotImplementedError, match="light_dependent=False"):
        jg.gcamp6f(light_dependent=True)


@pytest.mark.parametrize(
    "key,value",
    [
        ("K_d", -1e-7),
        ("K_d", 0.0),
        ("n_H", float("nan")),
        ("dFF_max", -2.0),
        ("gamma", 0.0),
        ("Ca_rest", -5e-8),
        ("tau_on", 0.0),
        ("tau_off", -0.01),
        ("B_T", -1.0),
        ("kappa_S", float("inf")),
        ("sigma_noise", -0.1),
        ("dFF_1AP", 0.0),
    ],
)
def test_bad_constants_raise_naming_argument(key, value):
    with pytest.raises(ValueError) as err:
        jg.gcamp6f(**{key: value})
    assert key in str(err.value) and "got" in str(err.value)


def test_bad_structure_raises():
    with pytest.raises(TypeError, match="unknown keyword"):
        jg.gcamp6f(Kd=1e-7)
    with pytest.raises(ValueError, match="location"):
        jg.gcamp6f(location="nucleus")
    with pytest.raises(ValueError, match="dff_baseline"):
        jg.gcamp6f(dff_baseline="peak")
    with pytest.raises(ValueError, match="shape"):
        jg.gcamp6f(K_d=jnp.ones((2, 2)) * 1e-7)
    with pytest.raises(TypeError, match="cal_model"):
        jg.GECI(cal_model=None, bind_act_model=jg.NullBindingActivation(), K_d=1e-7, n_H=2.0, dFF_max=10.0)


def test_hill_zero_and_negative_are_safe():
    import jax

    h = jg.hill(jnp.array([-1e-7, 0.0, 1e-7]), 2e-7, 2.5)
    assert float(h[0]) == 0.0 and float(h[1]) == 0.0 and 0 < float(h[2]) < 1
    g = jax.grad(lambda c: jg.hill(c, 2e-7, 2.5).sum())(jnp.array([-1e-7, 0.0, 1e-7]))
    assert np.all(np.isfinite(np.asarray(g)))
    gk = jax.grad(lambda k: jg.hill(jnp.array([0.0, 1e-7]), k, 2.5).sum())(2e-7)
    assert np.isfinite(float(gk))
