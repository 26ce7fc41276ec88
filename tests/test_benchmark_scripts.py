"""The prepared accelerator-session script runs end to end (``--smoke``: tiny sizes on CPU), so
that a short device lease is not lost to a typo; its figures are checked for sanity only."""

import json
import os
import subprocess
import sys

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_gpu_session_smoke(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "gpu_session.py"), "--smoke", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "gpu_session.json").read_text())
    assert res["errors"] == {}
    assert set(res["sections"]) == {"forward", "gradients", "sweep", "fit"}
    fwd = res["sections"]["forward"]["rows"]
    assert [r["method"] for r in fwd] == ["cleo", "accurate"]
    assert all(r["neuron_steps_per_s"] > 0 for r in fwd)
    (grad,) = res["sections"]["gradients"]["rows"]
    assert grad["all_finite"] and grad["n_constants_differentiated"] == 13
    for row in res["sections"]["sweep"]["rows"]:
        # vmapped sweep vs the same variants laid out flat: float32 rounding only
        assert row["flat_max_rel_diff_vs_vmap"] < 1e-5
    (fit,) = res["sections"]["fit"]["rows"]
    assert fit["n_cells"] == 2 and fit["s_per_optimiser_step"] > 0
    # the compiled step is reused: a warm 1-step call is far cheaper than the compiling call
    assert fit["one_step_call_s"] < 0.5 * fit["first_call_s"]
