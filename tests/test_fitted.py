"""Fitted indicators one call away (jaxgeci.fitted / fitted_info), the package data they read,
and the preset lookup that knows every family (jaxgeci.get_preset, jaxgeci.indicators.available)."""

import json
import os

import numpy as np
import pytest
from fitting import package_data

import jaxgeci
from jaxgeci import _fitted


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "fitting", "results")


def test_package_copy_equals_what_the_generator_makes_from_fitting_results():
    """The shipped file cannot drift from fitting/results: regenerate it with
    `python -m fitting export-package-data` after a refit."""
    with open(_fitted.DATA_FILE, encoding="utf-8") as f:
        shipped = f.read()
    assert shipped == package_data.dumps(package_data.package_data(RESULTS))
    assert os.path.dirname(_fitted.DATA_FILE).startswith(os.path.dirname(jaxgeci.__file__))  # inside the package


def _results(indicator):
    with open(os.path.join(RESULTS, f"{indicator}.json")) as f:
        return json.load(f)


@pytest.mark.parametrize(
    "indicator, preparation, set_name",
    [
        ("GCaMP6f", None, "DS09"),
        ("GCaMP6f", "AAV", "DS09"),
        ("GCaMP6f", "transgenic", "DS10"),
        ("GCaMP6s", None, "DS14"),
        ("GCaMP6s", "transgenic", "DS12"),
        ("jGCaMP7f", None, "DS29"),
        ("jGCaMP8f", None, "DS30"),
        ("jGCaMP8m", None, "DS31"),
        ("jGCaMP8s", "AAV", "DS32"),
    ],
)
def test_fitted_sensor_is_the_results_files_set(indicator, preparation, set_name):
    doc = _results(indicator)
    pset = doc["parameter_sets"][set_name]
    sensor = jaxgeci.fitted(indicator, preparation)
    want = jaxgeci.sensor_from_results(doc, set_name=set_name)
    assert type(sensor) is type(want) and sensor.name == indicator
    got, ref = jaxgeci.sensor_constants(sensor), jaxgeci.sensor_constants(want)
    assert set(got) == set(ref)
    for k in ref:
        np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(ref[k]), err_msg=k)  # same numbers, no rounding
    # rest-relative ΔF/F: 0 at rest, and the same trace as the results file's sensor up to that
    # constant (which the protocol's free baseline absorbs); float32, so 1e-6 of a ΔF/F of ~1
    spikes = np.zeros((3000, 1), np.float32)
    spikes[1000, 0] = 1.0
    a = np.asarray(jaxgeci.simulate(sensor, spikes, dt=1e-3, sample_every=1).dFF)[:, 0]
    b = np.asarray(jaxgeci.simulate(want, spikes, dt=1e-3, sample_every=1).dFF)[:, 0]
    assert abs(a[0]) < 1e-6 and a.max() > 0.01  # flat at 0 before the spike, a transient after it
    np.testing.assert_allclose(a - a[0], b - b[0], atol=1e-6)
    info = jaxgeci.fitted_info(indicator, preparation)
    assert info["model"] == info["best_model"] == pset["model"]
    assert info["datasets"] == pset["datasets"] and info["parameter_set"] == set_name
    assert info["median_ev"] == pset["median_ev"]
    assert info["cells"] == {c: v["ev"] for c, v in pset["cells"].items()}
    assert info["constants"] == pset["constants"]
    study = {"DS09": "Chen", "DS14": "Chen", "DS10": "Huang", "DS12": "Huang"}.get(set_name, "Zhang")
    assert any(c.startswith(study) for c in info["cite"]) and any("Rupprecht" in c for c in info["cite"])
    assert all(u != "SI" for u in info["units"].values())  # a unit per constant, e.g. tau_r: s


def test_other_families_and_spellings():
    doc = _results("GCaMP6f")
    geci = jaxgeci.fitted("gcamp6f", model="geci")  # case-insensitive; the GECI refit
    assert isinstance(geci, jaxgeci.GECI)
    assert float(geci.K_d) == pytest.approx(doc["parameter_sets"]["DS09/geci"]["constants"]["K_d"])
    assert jaxgeci.fitted_info("GCaMP6f", model="geci")["parameter_set"] == "DS09/geci"
    # "GCaMP6f-TG" (the S2F preset's spelling) means the transgenic set; "GCaMP8m" = "jGCaMP8m"
    assert jaxgeci.fitted_info("GCaMP6f-TG")["parameter_set"] == "DS10"
    assert jaxgeci.fitted_info("GCaMP8m")["indicator"] == "jGCaMP8m"
    assert jaxgeci.fitted_info("GCaMP6s", "tg")["preparation"] == "transgenic"
    assert set(jaxgeci.fitted_names()) == {"GCaMP6f", "GCaMP6s", "jGCaMP7f", "jGCaMP8f", "jGCaMP8m", "jGCaMP8s"}


@pytest.mark.parametrize(
    "args, kwargs, err, match",
    [
        (("OGB-1",), {}, ValueError, r"no fitted constants for 'OGB-1'.*jaxgeci\.ogb1\(\)"),
        (("jGCaMP9x",), {}, ValueError, r"fitted indicators: GCaMP6f, GCaMP6s"),
        (("jGCaMP8m", "transgenic"), {}, ValueError, r"fitted only for preparation\(s\) \['AAV'\]"),
        (("GCaMP6f", "in vitro"), {}, ValueError, r"preparation must be None, 'AAV' or 'transgenic'"),
        (
            ("GCaMP6f",),
            {"model": "lstm"},
            ValueError,
            r"model must be None .* \['geci', 's2f', 's2f-adaptive', 's2f-twostate'\]",
        ),
        ((42,), {}, TypeError, r"indicator must be a string"),
    ],
)
def test_fitted_errors_say_what_exists(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        jaxgeci.fitted(*args, **kwargs)


def test_get_preset_knows_every_family_and_says_which():
    table = jaxgeci.indicators.available()
    assert table["GCaMP6f"] == ("cleo", "s2f", "fitted")
    assert table["jGCaMP8m"] == ("s2f", "fitted") and table["OGB-1"] == ("cleo",) and table["XCaMP-Gf"] == ("s2f",)
    for name, fams in table.items():  # every listed (name, family) pair is reachable
        for fam in fams:
            key = name.lower().replace("-", "")
            kw = {"doub_exp_conv": False} if fam == "cleo" and jaxgeci.indicators.PRESETS[key].ca_amp is None else {}
            assert isinstance(jaxgeci.get_preset(name, fam, **kw), jaxgeci.Sensor), (name, fam)
    # the default family stays Cleo's preset, exactly Cleo's constants
    g = jaxgeci.get_preset("GCaMP6f")
    assert isinstance(g, jaxgeci.GECI) and float(g.K_d) == pytest.approx(290e-9, rel=1e-6)
    with pytest.raises(
        ValueError, match=r"'jGCaMP8m' for family 'cleo'.*jaxgeci\.s2f\('jGCaMP8m'\).*fitted\('jGCaMP8m'\)"
    ):
        jaxgeci.get_preset("jGCaMP8m")
    with pytest.raises(ValueError, match=r"Known names: GCaMP3, .*XCaMP-Gf"):
        jaxgeci.get_preset("nope")
    with pytest.raises(ValueError, match=r"family must be one of \['cleo', 'fitted', 's2f'\]"):
        jaxgeci.get_preset("GCaMP6f", "naomi")


def test_a_missing_preset_function_points_to_the_right_call():
    with pytest.raises(AttributeError, match=r"no attribute 'jgcamp8m'.*jaxgeci\.s2f\('jGCaMP8m'\).*jaxgeci\.fitted"):
        jaxgeci.jgcamp8m()
    with pytest.raises(AttributeError, match=r"'jaxgeci\.indicators' has no attribute 'jgcamp8s'.*fitted"):
        jaxgeci.indicators.jgcamp8s  # noqa: B018
    assert not hasattr(jaxgeci, "no_such_thing") and not hasattr(jaxgeci, "_private_thing")
    with pytest.raises(ImportError):
        from jaxgeci import jgcamp8f  # noqa: F401
