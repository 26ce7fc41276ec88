"""End-to-end: ``python -m fitting fit`` then ``evaluate`` on tiny synthetic .npz files."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxgeci


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write(tmp_path, name, sensor, key, dataset):
    r = jaxgeci.synthetic_recording(
        sensor, key, duration_s=6.0, frame_rate_hz=30.0, name=name, dataset=dataset, noise_std=0.02, rho_rel=1.2
    )
    p = tmp_path / f"{name}.npz"
    np.savez(
        p,
        t_frames=r.t_frames,
        dff=r.dff.astype(np.float32),
        spike_times=r.spike_times,
        frame_rate_hz=np.array(30.0),
        indicator=np.array("GCaMP6f"),
        dataset=np.array(dataset),
    )
    return str(p)


def _run(*args):
    out = subprocess.run(
        [sys.executable, "-m", "fitting", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_cli_fit_then_evaluate(tmp_path):
    s = jaxgeci.gcamp6f()
    files = [_write(tmp_path, f"GCaMP6f_DSA_c{i}", s, jax.random.key(i), "Cascade DS01-x") for i in range(2)]
    files.append(_write(tmp_path, "GCaMP6f_DSB_c9", s, jax.random.key(9), "Cascade DS02-y"))
    params = tmp_path / "GCaMP6f.json"
    _run(
        "fit",
        "--model",
        "geci",
        "--out",
        str(params),
        "--free",
        "gamma,tau_off",
        "--steps",
        "2",
        "--starts",
        "1",
        "--dt",
        "0.002",
        "--segment",
        "3",
        "--warmup",
        "1",
        "--no-progress",
        *files,
    )
    doc = json.loads(params.read_text())
    # one parameter set per dataset; the default is the larger one
    assert set(doc["parameter_sets"]) == {"DS01", "DS02"} and doc["default"] == "DS01"
    assert doc["parameter_sets"]["DS01"]["datasets"] == ["Cascade DS01-x"]
    assert set(doc["parameter_sets"]["DS01"]["cells"]) == {"GCaMP6f_DSA_c0", "GCaMP6f_DSA_c1"}

    out = tmp_path / "eval.json"
    traces = tmp_path / "traces"
    _run("evaluate", "--params", str(params), "--json", str(out), "--save-traces", str(traces), "--no-progress", *files)
    ev = json.loads(out.read_text())
    assert set(ev["files"]) == {os.path.basename(f) for f in files}
    assert ev["files"]["GCaMP6f_DSB_c9.npz"]["parameter_set"] == "DS02"
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        d = np.load(traces / f"{stem}.npz")
        assert (traces / f"{stem}.png").exists()
        # EV can be recomputed outside the project from the saved traces
        t, y, m = d["t_frames"], d["dff"], d["model"]
        keep = t >= t[0] + 2.0
        ev_out = 1 - np.mean((y[keep] - m[keep]) ** 2) / np.var(y[keep])
        assert ev_out == pytest.approx(ev["files"][stem + ".npz"]["ev"], abs=1e-6)
        assert ev_out > 0.9  # synthetic data from the same model family


def test_cli_bad_file_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(
        p,
        t_frames=np.arange(100) / 30.0,
        dff=np.full(100, np.nan),
        spike_times=np.array([1.0]),
        frame_rate_hz=np.array(30.0),
    )
    out = subprocess.run(
        [sys.executable, "-m", "fitting", "evaluate", "--params", "x.json", "--json", str(tmp_path / "o.json"), str(p)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and "NaN" in out.stderr and "bad.npz" in out.stderr
