"""Results files are checked against a schema when read: every failure names the file and the
key (it was a KeyError/AttributeError/TypeError from deep inside), and ``datasets`` match
exactly (a bare string matched by substring: "DS3" picked DS31)."""

import copy
import json
import os

import pytest

import jaxgeci


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "fitting", "results")


def _doc():
    return {
        "format": "jaxgeci.fit_results/1",
        "indicator": "jGCaMP8m",
        "default": "DS31",
        "parameter_sets": {
            "DS31": {
                "model": "s2f",
                "datasets": ["Cascade DS31-GCaMP8m-m-V1"],
                "constants": {k: v for k, v in jaxgeci.s2f_preset_defaults("jGCaMP8m").items() if k != "name"},
                "median_ev": 0.9,
                "cells": {"c1": {"ev": 0.9, "rho_rel": 1.0, "lag_s": 0.0}},
            },
            "DS3": {"model": "s2f", "datasets": ["DS3"], "constants": {"tau_r": 0.01}},
        },
    }


def _edit(path, value):
    """Set (or delete, for value=KeyError) the key at ``path`` in a copy of the document."""
    d = copy.deepcopy(_doc())
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


@pytest.mark.parametrize(
    "path, value, match",
    [
        (("indicator",), None, r"indicator must be a string, got null"),
        (("default",), KeyError, r"default must be a string"),
        (("default",), "nope", r"default 'nope' is not one of parameter_sets"),
        (("parameter_sets",), [1, 2], r"parameter_sets must be a non-empty object.*got list"),
        (("parameter_sets",), {}, r"parameter_sets must be a non-empty object"),
        (("parameter_sets", "DS31"), None, r"parameter_sets\['DS31'\] must be an object, got null"),
        (("parameter_sets", "DS31", "model"), KeyError, r"parameter_sets\['DS31'\]\.model must be a model"),
        (("parameter_sets", "DS31", "model"), "lstm", r"\.model: unknown model 'lstm'"),
        (("parameter_sets", "DS31", "constants"), KeyError, r"\['DS31'\]\.constants must be a non-empty object"),
        (("parameter_sets", "DS31", "constants"), [0.1], r"\.constants must be .*got list"),
        (("parameter_sets", "DS31", "constants", "tau_r"), "0.01", r"constants\.tau_r must be a finite number"),
        (("parameter_sets", "DS31", "constants", "tau_r"), True, r"constants\.tau_r must be a finite number"),
        (("parameter_sets", "DS31", "datasets"), "DS31", r"\.datasets must be a list of dataset names"),
        (("parameter_sets", "DS31", "datasets"), [31], r"\.datasets must be a list"),
        (("parameter_sets", "DS31", "median_ev"), "high", r"\.median_ev must be a finite number or null"),
        (("parameter_sets", "DS31", "cells"), ["c1"], r"\.cells must be an object"),
        (("parameter_sets", "DS31", "cells", "c1", "ev"), [0.9], r"cells\['c1'\]\.ev must be a finite number"),
    ],
)
def test_schema_errors_name_the_file_and_the_key(tmp_path, path, value, match):
    p = tmp_path / "broken.json"
    p.write_text(json.dumps(_edit(path, value)))
    for call in (jaxgeci.load_results, jaxgeci.sensor_from_results, jaxgeci.select_parameter_set):
        with pytest.raises(ValueError, match=r"results file '.*broken\.json': "):
            call(p)
        with pytest.raises(ValueError, match=match):
            call(p)


def test_non_finite_numbers_in_the_file_are_refused(tmp_path):
    """Python's json reads NaN/-Infinity (invalid JSON) as floats: the schema refuses them."""
    p = tmp_path / "nan.json"
    p.write_text(json.dumps(_doc()).replace('"median_ev": 0.9', '"median_ev": -Infinity'))
    with pytest.raises(ValueError, match=r"nan\.json.*median_ev must be a finite number or null, got -inf"):
        jaxgeci.load_results(p)


def test_datasets_match_exactly_not_by_substring():
    doc = _doc()
    assert jaxgeci.select_parameter_set(doc, "DS3")[0] == "DS3"
    assert jaxgeci.select_parameter_set(doc, "Cascade DS31-GCaMP8m-m-V1")[0] == "DS31"
    # a prefix or a part of a name is no match: the default set
    assert jaxgeci.select_parameter_set(doc, "Cascade DS31")[0] == "DS31"  # default, by fallback
    d = _edit(("default",), "DS3")
    assert jaxgeci.select_parameter_set(d, "Cascade DS31")[0] == "DS3"
    assert jaxgeci.select_parameter_set(d, "DS31-GCaMP8m")[0] == "DS3"
    with pytest.raises(TypeError, match="dataset must be a string"):
        jaxgeci.select_parameter_set(doc, ["DS3"])


def test_a_constant_the_model_does_not_take_is_named():
    d = _edit(("parameter_sets", "DS31", "constants", "K_x"), 1.0)
    with pytest.raises(ValueError, match=r"'s2f' constants of the results do not build a sensor.*K_x"):
        jaxgeci.sensor_from_results(d)


@pytest.mark.parametrize("name", sorted(os.listdir(RESULTS)))
def test_committed_results_pass_the_schema(name):
    doc = jaxgeci.load_results(os.path.join(RESULTS, name))
    for set_name in doc["parameter_sets"]:
        jaxgeci.sensor_from_results(doc, set_name=set_name)


def test_write_results_refuses_what_it_could_not_read_back(tmp_path):
    d = _doc()
    d["parameter_sets"]["DS31"]["median_ev"] = float("nan")
    with pytest.raises(ValueError, match=r"results for '.*out\.json': parameter_sets\['DS31'\]\.median_ev must be"):
        jaxgeci.write_results(tmp_path / "out.json", "jGCaMP8m", d["parameter_sets"], "DS31")
    d = _doc()
    d["parameter_sets"]["DS31"]["fit"] = {"start_losses": [float("inf")]}
    with pytest.raises(ValueError, match=r"out\.json' hold a value JSON cannot represent"):
        jaxgeci.write_results(tmp_path / "out.json", "jGCaMP8m", d["parameter_sets"], "DS31")
    assert os.listdir(tmp_path) == []  # nothing half-written
    jaxgeci.write_results(tmp_path / "out.json", "jGCaMP8m", _doc()["parameter_sets"], "DS31")
    assert os.listdir(tmp_path) == ["out.json"]
    json.loads((tmp_path / "out.json").read_text())  # strict JSON
