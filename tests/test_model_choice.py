"""fitting.benchmark's model-choice rule and its left-out floor, on made-up figures."""

from __future__ import annotations

import math
import os
import sys

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from fitting.benchmark import choose_model, EV_TOLERANCE, fidelity_error, keeps_floor  # noqa: E402


def _fid(hd, peak, n=3):
    return {"half_decay_ratio": hd, "peak_ratio": peak, "n_cells": n}


def test_fidelity_decides_among_families_near_the_best_ev():
    held = {"s2f": 0.919, "two": 0.916, "geci": 0.910}
    fid = {"s2f": _fid(2.31, 1.16), "two": _fid(1.15, 1.39), "geci": _fid(4.4, 0.71)}
    # "two" is within 0.005 of the best EV and has the smaller misfit (log 1.39 < log 2.31);
    # geci is 0.009 below the best, so its fidelity is not considered
    assert choose_model(held, fid) == "two"
    assert fidelity_error(fid["two"]) == pytest.approx(math.log(1.39))
    # 0.006 below the best: out of the tolerance, the best EV wins whatever its fidelity
    assert choose_model({**held, "two": 0.913}, fid) == "s2f"


def test_fidelity_ties_go_to_the_higher_ev_and_unmeasured_fidelity_falls_back_to_ev():
    held = {"a": 0.930, "b": 0.928}
    assert choose_model(held, {"a": _fid(1.21, 1.0), "b": _fid(1.19, 1.0)}) == "a"  # misfits 0.19, 0.17
    assert choose_model(held, {"a": _fid(1.3, 1.0), "b": _fid(1.1, 1.0)}) == "b"  # 0.26 vs 0.10
    assert choose_model(held, {"a": _fid(3.0, 1.0, n=1), "b": _fid(1.0, 1.0, n=1)}) == "a"


def test_left_out_floor():
    assert keeps_floor(0.8698, 0.8685)
    assert keeps_floor(0.9193 - EV_TOLERANCE, 0.9193)  # the edge is kept
    assert not keeps_floor(0.9063, 0.9193)


def test_apply_floor_falls_back_to_the_best_ev_family():
    from fitting.benchmark import apply_floor

    loo = {
        "s2f": {"a": {"ev": 0.835}, "b": {"ev": 0.936}, "c": {"ev": 0.903}, "d": {"ev": 0.939}},  # median 0.9195
        "two": {"a": {"ev": 0.832}, "b": {"ev": 0.917}, "c": {"ev": 0.896}, "d": {"ev": 0.934}},  # median 0.9065
    }
    ran = []

    def left_out(m):
        ran.append(m)
        return loo[m]

    best, rows, floor = apply_floor("two", "s2f", left_out)
    assert (best, rows, ran) == ("s2f", loo["s2f"], ["two", "s2f"])
    assert floor["kept"] is False and floor["chosen_left_out_median"] == pytest.approx(0.9065)
    assert floor["left_out_median"] == pytest.approx(0.9195)
    # within the tolerance the rule's choice is written; the best-EV choice needs no floor
    loo["two"]["b"]["ev"], loo["two"]["c"]["ev"] = 0.925, 0.905  # median 0.915 >= 0.9195 - 0.005
    assert apply_floor("two", "s2f", left_out)[0] == "two"
    assert apply_floor("s2f", "s2f", left_out)[2] is None


def test_benchmark_runs_end_to_end_in_test_mode(tmp_path, x64):
    """fitting.benchmark.main on two simulated jGCaMP8m recordings (test mode: 12 s windows,
    2 optimiser steps) with two families: the results file holds the chosen family's set and
    the other's as ``<set>/<family>``, every cell has a left-out EV, and the summary records
    the choice."""
    import json

    from fitting import benchmark
    from test_fidelity_table import _write

    data = tmp_path / "data"
    data.mkdir()
    _write(data, "jGCaMP8m", n=2)
    s = benchmark.main(
        data=str(data), work=str(tmp_path / "work"), results=str(tmp_path / "res"),
        models=("s2f", "s2f-twostate"), indicators=("jGCaMP8m",), test_mode=True,
    )["jGCaMP8m"]  # fmt: skip
    chosen = s["chosen_model"]
    other = ({"s2f", "s2f-twostate"} - {chosen}).pop()
    with open(tmp_path / "res" / "jGCaMP8m.json") as f:
        doc = json.load(f)
    assert doc["parameter_sets"][doc["default"]]["model"] == chosen
    assert doc["parameter_sets"][f"{doc['default']}/{other}"]["model"] == other
    assert set(s["left_out"]) == {"jGCaMP8m_c0", "jGCaMP8m_c1"}
    assert all(0.5 < ev <= 1.0 for ev in s["left_out"].values())  # nearly noise-free recordings
    assert (tmp_path / "work" / "benchmark_jGCaMP8m.json").exists()
