"""The prepared accelerator-session script runs end to end (``--smoke``: tiny sizes on CPU), so
that a short device lease is not lost to a typo; its figures are checked for sanity only."""

import json
import os
import subprocess
import sys

import numpy as np
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


def _inference_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_inference", os.path.join(ROOT, "benchmarks", "inference.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_inference_readout_choice_never_sees_the_scored_indicator():
    """The cross-validated read-out of an indicator depends only on the other indicators' cells:
    changing its own cells' scores (even making the other read-out far better there) leaves its
    choice unchanged, while the other indicators' scores decide it."""
    bench = _inference_module()

    def rows(own_sig, own_lin):
        out = []
        for ind, (sig, lin) in {"A": (own_sig, own_lin), "B": (0.9, 0.5), "C": (0.8, 0.6)}.items():
            for k in range(3):
                out.append({"cell": f"{ind}{k}", "indicator": ind, "condition": "native",
                            "jaxgeci_sigmoid": {"r": sig}, "jaxgeci_linear": {"r": lin}})  # fmt: skip
        return out

    for own in ((0.9, 0.1), (0.1, 0.9)):
        r = rows(*own)
        choice = bench.cross_validated_readout(r)
        assert choice["native"]["A"] == "sigmoid"  # B and C favour the sigmoid read-out
        assert all(x["jaxgeci_cv"]["r"] == x["jaxgeci_sigmoid"]["r"] for x in r if x["indicator"] == "A")
    # B's choice comes from A and C: A's linear advantage (0.1 vs 0.9) outweighs C's
    assert bench.cross_validated_readout(rows(0.1, 0.9))["native"]["B"] == "linear"
    with pytest.raises(ValueError, match="two indicators"):
        bench.cross_validated_readout([x for x in rows(0.5, 0.5) if x["indicator"] == "A"])


def test_inference_auto_readout_matches_the_library_rule():
    import jaxgeci

    bench = _inference_module()
    assert bench.auto_readout(0.5 * jaxgeci.NU_LINEAR) == "sigmoid"
    assert bench.auto_readout(jaxgeci.NU_LINEAR) == "linear"
    assert bench.noise_level(np.array([0.0, 1.0, 0.0]), 4.0) == pytest.approx(50.0)  # 100 * 1 / sqrt(4)
