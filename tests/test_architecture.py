"""Structural rules of the package: one time loop, small modules, one version."""

from __future__ import annotations

import re
from pathlib import Path

import jaxgeci
from jaxgeci import _plan


PKG = Path(jaxgeci.__file__).parent
ROOT = PKG.parent


def _sources():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_one_module_holds_the_time_scan():
    """Every ``lax.scan`` (and ``associative_scan``) over time lives in jaxgeci/_driver.py."""
    pattern = re.compile(r"\b(lax\.scan|lax\.associative_scan|associative_scan)\s*\(")
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in _sources()
        if p.name != "_driver.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, f"time loops outside jaxgeci/_driver.py: {offenders}"


def test_no_library_module_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in _sources() if (n := len(p.read_text().splitlines())) > 500}
    assert not long, f"modules over 500 lines: {long}"


def test_version_matches_pyproject():
    version = re.search(r'(?m)^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert jaxgeci.__version__ == version


def test_plan_is_a_pure_function_of_the_sizes():
    """Layout and unroll come from plan_run's arguments alone (no module state)."""
    kw = dict(spikes="events", n_neurons=4096, period_steps=333, method="euler", regular=True)
    assert _plan.plan_run(**kw) == _plan.plan_run(**kw) == _plan.Plan(layout="steps", unroll=2)
    # small populations read per-period dense blocks, not unrolled; irregular reads never unroll
    assert _plan.plan_run(**{**kw, "n_neurons": 100, "method": "accurate"}) == _plan.Plan("periods", 1)
    assert _plan.plan_run(**{**kw, "regular": False}).unroll == 1
    # a dense host array is run in pieces from PLAN_RULES["pieces_min_bytes"] on, regular reads only
    big = _plan.PLAN_RULES["pieces_min_bytes"]
    assert _plan.plan_run(**kw).pieces == _plan.plan_run(**kw, host_bytes=big - 1).pieces == 1
    assert _plan.plan_run(**kw, host_bytes=big).pieces == _plan.PLAN_RULES["pieces"] > 1
    assert _plan.plan_run(**{**kw, "regular": False}, host_bytes=big).pieces == 1
