"""python -m fitting synthesize: the CLI contract (first-half calibration, keyed draws, outputs)."""

import json
import os

import jax
import numpy as np
import pytest
from fitting import cli

import jaxgeci as jg


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMS = os.path.join(ROOT, "fitting", "results", "jGCaMP8s.json")
DATASET = "Cascade DS32-GCaMP8s-m-V1"


def _write(path, rec, **extra):
    np.savez(
        path,
        t_frames=rec.t_frames,
        dff=rec.dff,
        spike_times=rec.spike_times,
        indicator="jGCaMP8s",
        dataset=DATASET,
        frame_rate_hz=rec.frame_rate_hz,
        **extra,
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    sensor = jg.sensor_from_results(jg.load_results(PARAMS))
    rec = jg.synthetic_recording(sensor, jax.random.key(0), duration_s=24.0, frame_rate_hz=30.0, noise_std=0.05)
    d = tmp_path_factory.mktemp("rec")
    n = rec.n_frames
    f_raw = 100.0 * (1 + rec.dff) + 300.0
    path = str(d / "cellA.npz")
    _write(path, rec, f_raw=f_raw, f_neuropil=np.full(n, 350.0))
    # the same recording with its second half's fluorescence replaced
    second = rec.t_frames >= 0.5 * (rec.t_frames[0] + rec.t_frames[-1])
    rng = np.random.default_rng(9)
    dff2 = rec.dff.copy()
    dff2[second] = rng.normal(3.0, 1.0, second.sum())
    f2 = f_raw.copy()
    f2[second] *= 2
    (d / "other").mkdir()
    path2 = str(d / "other" / "cellA.npz")
    _write(path2, rec.__class__(**{**rec.__dict__, "dff": dff2}), f_raw=f2, f_neuropil=np.full(n, 350.0))
    return path, path2, rec


def _run(tmp_path, files, *extra):
    rc = cli.main(["synthesize", "--params", PARAMS, "--save", str(tmp_path), "--no-plot", *extra, *files])
    assert rc == 0
    name = os.path.splitext(os.path.basename(files[0]))[0]
    return np.load(tmp_path / f"{name}.npz"), json.load(open(tmp_path / f"{name}.json"))


def test_outputs_keyed_draws_and_second_half_independence(tmp_path, recording):
    path, path2, rec = recording
    a, pa = _run(tmp_path / "a", [path], "--draws", "2", "--seed", "3")
    # a full recording: readable by load_recording, draw 0 is dff
    assert a["dff_draws"].shape == (2, rec.n_frames) and a["dff_clean"].shape == (rec.n_frames,)
    np.testing.assert_array_equal(a["dff"], a["dff_draws"][0])
    back = jg.load_recording(tmp_path / "a" / "cellA.npz")
    assert back.n_frames == rec.n_frames and back.dataset == DATASET
    assert not np.allclose(a["dff_draws"][0], a["dff_draws"][1])
    assert pa["measurement"]["photons"] > 0 and pa["seed"] == 3
    first = rec.t_frames < 0.5 * (rec.t_frames[0] + rec.t_frames[-1])  # calibrated on these only
    ratio = np.median(350.0 / (100 * (1 + rec.dff[first]) + 300))
    assert pa["measurement"]["neuropil_ratio"] == pytest.approx(ratio, rel=1e-9)
    # same seed and stem: the same draws
    b, _ = _run(tmp_path / "b", [path], "--draws", "2", "--seed", "3")
    np.testing.assert_array_equal(a["dff_draws"], b["dff_draws"])
    # another seed: other draws, same noise-free prediction
    c, _ = _run(tmp_path / "c", [path], "--draws", "2", "--seed", "4")
    assert not np.allclose(a["dff_draws"], c["dff_draws"])
    np.testing.assert_array_equal(a["dff_clean"], c["dff_clean"])
    # the second half's fluorescence (dff, f_raw) does not enter the output
    d, pd = _run(tmp_path / "d", [path2], "--draws", "2", "--seed", "3")
    np.testing.assert_array_equal(a["dff_draws"], d["dff_draws"])
    np.testing.assert_array_equal(a["dff_clean"], d["dff_clean"])
    assert pa == pd


def test_missing_file_is_one_line(tmp_path, capsys):
    rc = cli.main(["synthesize", "--params", PARAMS, "--save", str(tmp_path), str(tmp_path / "nope.npz")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.npz" in err[0]
