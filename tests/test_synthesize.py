"""python -m fitting synthesize: the CLI contract (first-half calibration, keyed draws, outputs)."""

import dataclasses
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


PROVENANCE = (
    "dF/F = (F_raw - 0.8*F_neuropil - F0)/F0 with F0 the 20th percentile of (F_raw - 0.8*F_neuropil) over the "
    "segment (checked numerically here). f_raw and f_neuropil are included."
)


def _raw_recording(seed=0, fr=30.0, n=6000, f0_cell=100.0, level=250.0, bleach=1e-3):
    """Raw traces whose ΔF/F is made the ground-truth files' way (F - 0.8 F_neu, global 20th pct)."""
    t = np.arange(n) / fr
    rng = np.random.default_rng(seed)
    m = np.zeros(n)
    k = np.exp(-np.arange(int(2 * fr)) / (0.4 * fr))
    for t0 in rng.choice(n - k.size, 60, replace=False):
        m[t0 : t0 + k.size] += rng.uniform(0.5, 2.0) * k
    b = np.exp(-bleach * t)
    u = np.zeros(n)  # AR(1) neuropil fluctuation, correlation time 5 s, std 0.03
    a = np.exp(-1 / (5.0 * fr))
    for i, e in enumerate(rng.normal(0, 0.03 * np.sqrt(1 - a * a), n - 1)):
        u[i + 1] = a * u[i] + e
    neu = level * b * (1 + u)
    f_neu = neu + rng.normal(0, 5.0, n)
    f_raw = f0_cell * b * (1 + m) + 0.8 * neu + rng.normal(0, 8.0, n)
    fc = f_raw - 0.8 * f_neu
    f0 = np.percentile(fc, 20)
    return t, m, f_raw, f_neu, (fc - f0) / f0, f0


def test_raw_twin_calibration_and_dff_definition(x64):
    assert jg.parse_dff_provenance(PROVENANCE) == (0.8, 20.0)
    assert jg.parse_dff_provenance("dF/F as provided by Cascade (fluo_mean)") is None
    t, m, f_raw, f_neu, dff, f0 = _raw_recording()
    model = 100.0 * np.exp(-1e-3 * t) * (1 + m) / f0 - 1.0  # the noise-free ΔF/F (neuropil cancels)
    cal = jg.calibrate_measurement(dff, model, t, f_raw=f_raw, f_neuropil=f_neu)
    raw = jg.calibrate_raw(f_raw, f_neu, dff, t, cal, neuropil_factor=0.8, percentile=20.0)
    # F0 is recovered exactly: every frame gives (F - 0.8 F_neu)/(1 + dff) = F0 (float rounding only)
    assert raw.f0 == pytest.approx(f0, rel=1e-9)
    assert raw.neuropil_level == pytest.approx(250.0 * np.exp(-1e-3 * 185.0), rel=0.03)  # last 30 s's median
    # noise std 5 a.u. at level ~210: photons = 1.23 level²/25 (robust variance: ~3 % error at 6000 frames)
    assert raw.neuropil_photons == pytest.approx(1.23 * raw.neuropil_level**2 / 25.0, rel=0.1)
    f_r, f_n, d = jg.synthesize_raw(jax.random.key(1), cal, raw, m, t_frames=t, baseline=0.0)
    # the draw's ΔF/F has the recording's definition, computed from its own raw traces
    np.testing.assert_allclose(d, jg.dff_from_fluorescence(f_r, f_n, neuropil_factor=0.8, baseline="global",
                                                            percentile=20.0), rtol=1e-12, atol=1e-12)  # fmt: skip
    assert abs(np.percentile(np.asarray(d), 20)) < 1e-12
    # its frame-to-frame noise at rest matches the calibrated budget f0² (white² + ENF/photons)
    # (this draw without bleaching or per-draw noise level, which scale that budget on purpose)
    fixed = dataclasses.replace(cal, noise_level_sd=0.0)
    f_r, f_n, _ = jg.synthesize_raw(jax.random.key(2), fixed, dataclasses.replace(raw, bleach_rate=0.0), m,
                                    t_frames=t)  # fmt: skip
    rest = m < 1e-3
    fc = np.asarray(f_r - 0.8 * f_n)
    got = (np.median(np.abs(np.diff(fc)[rest[1:] & rest[:-1]])) / 0.6745) ** 2 / 2
    want = raw.f0**2 * (cal.white_sigma**2 + 1.23 / cal.photons)
    assert got == pytest.approx(want, rel=0.15)  # robust variance of ~4000 frame differences: ~5 % error
    with pytest.raises(ValueError, match="neuropil_factor"):
        jg.calibrate_raw(f_raw, f_neu, dff, t, cal, neuropil_factor=-1.0)


def test_cli_draws_raw_fluorescence_when_the_definition_is_known(tmp_path, recording):
    _, _, rec = recording  # the module's recording (compiled programs reused), now with its ΔF/F definition
    f_raw = 100.0 * (1 + rec.dff) + 300.0
    path = str(tmp_path / "rawcell.npz")
    _write(path, rec, f_raw=f_raw, f_neuropil=np.full(rec.n_frames, 350.0), dff_provenance=PROVENANCE)
    a, pa = _run(tmp_path / "out", [path], "--draws", "2")
    assert pa["raw_fluorescence"] is not None and pa["raw_fluorescence"]["neuropil_factor"] == 0.8
    assert a["f_raw"].shape == a["f_neuropil"].shape == (rec.n_frames,)
    fc = a["f_raw"] - 0.8 * a["f_neuropil"]
    f0 = np.percentile(fc, 20)
    np.testing.assert_allclose(a["dff"], (fc - f0) / f0, rtol=1e-9, atol=1e-9)  # draw 0 from its own raw traces
