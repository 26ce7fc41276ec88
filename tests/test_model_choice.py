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
