"""suite2p folders -> ΔF/F (jaxgeci.io.read_suite2p): round trip from a known ΔF/F."""

import logging

import numpy as np
import pytest

from jaxgeci.io import read_suite2p, suite2p_dff


FS = 30.0


def _true_dff(rng, n_rois, n_frames):
    """Sparse exponential transients on a zero baseline: > 60 % of frames are exactly 0."""
    dff = np.zeros((n_rois, n_frames))
    kernel = np.exp(-np.arange(60) / (0.3 * FS))  # 2 s long, tau = 0.3 s
    for r in range(n_rois):
        onsets = rng.choice(n_frames - 60, size=n_frames // 400, replace=False)
        for k in onsets:
            dff[r, k : k + 60] += rng.uniform(0.2, 2.0) * kernel
    return dff


def _make_folder(tmp_path, rng, *, n_rois=5, n_frames=3000, r=0.7, not_cell=(2,), f0=None):
    dff = _true_dff(rng, n_rois, n_frames)
    f0 = rng.uniform(100.0, 500.0, size=(n_rois, 1)) if f0 is None else f0
    fneu = 50.0 + 10.0 * rng.random((n_rois, n_frames))
    F = f0 * (1.0 + dff) + r * fneu
    iscell = np.stack([np.ones(n_rois), rng.uniform(0.5, 1.0, n_rois)], axis=1)
    for i in not_cell:
        iscell[i] = (0.0, 0.1)
    plane = tmp_path / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    np.save(plane / "F.npy", F.astype(np.float32 if False else np.float64))
    np.save(plane / "Fneu.npy", fneu)
    np.save(plane / "iscell.npy", iscell)
    np.save(plane / "ops.npy", {"fs": FS, "nframes": n_frames, "neucoeff": r}, allow_pickle=True)
    stat = np.array([{"med": [10 * i, 20 + i], "npix": 50} for i in range(n_rois)], dtype=object)
    np.save(plane / "stat.npy", stat, allow_pickle=True)
    return plane, dff, f0


@pytest.mark.parametrize("window", [None, 60.0, 20.0])
def test_suite2p_round_trip_recovers_known_dff(tmp_path, window):
    rng = np.random.default_rng(1)
    plane, dff, f0 = _make_folder(tmp_path, rng)
    out = read_suite2p(plane, baseline_window_s=window)
    np.testing.assert_array_equal(out.roi_index, [0, 1, 3, 4])  # ROI 2 is not a cell
    assert out.frame_rate_hz == FS
    assert out.dff.shape == (3000, 4)  # time-major
    np.testing.assert_allclose(out.t_frames[:3], [0.0, 1 / FS, 2 / FS], rtol=1e-15)
    # The 8th percentile of a trace that is exactly F0 on > 60 % of frames (in every window)
    # is F0 itself, so the only error is float64 rounding of F - r Fneu (~1e-16 relative to
    # F ~ 1e3, i.e. ~1e-13 in ΔF/F).
    np.testing.assert_allclose(out.dff, dff[out.roi_index].T, rtol=0, atol=1e-11)
    np.testing.assert_allclose(out.f0[0], f0[out.roi_index, 0], rtol=1e-12)
    np.testing.assert_array_equal(out.roi_med_px[:, 1], [20, 21, 23, 24])


def test_suite2p_neuropil_factor_matters(tmp_path):
    rng = np.random.default_rng(2)
    plane, dff, _ = _make_folder(tmp_path, rng, r=0.5)
    good = read_suite2p(plane, neuropil_factor=0.5, baseline_window_s=None)
    np.testing.assert_allclose(good.dff, dff[good.roi_index].T, atol=1e-11)  # as above
    wrong = read_suite2p(plane, neuropil_factor=0.7, baseline_window_s=None)  # the default
    assert np.max(np.abs(wrong.dff - dff[wrong.roi_index].T)) > 1e-3


def test_running_baseline_tracks_slow_drift(tmp_path):
    rng = np.random.default_rng(3)
    n_frames = 6000
    drift = np.linspace(300.0, 150.0, n_frames)[None, :]  # bleaching to half over 200 s
    plane, dff, _ = _make_folder(tmp_path, rng, n_rois=3, n_frames=n_frames, not_cell=(), f0=drift)
    const = read_suite2p(plane, baseline_window_s=None)
    run = read_suite2p(plane, baseline_window_s=30.0)
    err_const = np.max(np.abs(const.f0 / drift.T - 1.0))
    err_run = np.max(np.abs(run.f0 / drift.T - 1.0))
    # A 30 s window spans a drift of 7.5 % of F0 (less than 8 % at the clipped ends), which
    # bounds the running baseline's error; one constant F0 (a low percentile of the whole
    # trace) is off by ~40 % at the start.
    assert err_run < 0.08 and err_const > 0.3


def test_iscell_selection_options(tmp_path):
    plane, _, _ = _make_folder(tmp_path, np.random.default_rng(4))
    assert read_suite2p(plane, cells_only=False).n_rois == 5
    iscell = np.load(plane / "iscell.npy")
    keep = np.flatnonzero(iscell[:, 1] >= 0.8)
    np.testing.assert_array_equal(read_suite2p(plane, min_iscell_prob=0.8).roi_index, keep)


def test_bad_baseline_raises_or_drops(tmp_path, caplog):
    rng = np.random.default_rng(5)
    plane, _, _ = _make_folder(tmp_path, rng, not_cell=())
    F = np.load(plane / "F.npy")
    Fneu = np.load(plane / "Fneu.npy")
    F[1] = 0.5 * Fneu[1]  # F - 0.7 Fneu < 0: no meaningful ΔF/F
    np.save(plane / "F.npy", F)
    with pytest.raises(ValueError, match=r"ROI\(s\) \[1\]"):
        read_suite2p(plane)
    with caplog.at_level(logging.WARNING, logger="jaxgeci.io._suite2p"):
        out = read_suite2p(plane, on_bad_baseline="drop")
    np.testing.assert_array_equal(out.roi_index, [0, 2, 3, 4])
    assert "dropped 1 ROI" in caplog.text


def test_errors_name_the_problem(tmp_path):
    plane, _, _ = _make_folder(tmp_path, np.random.default_rng(6))
    with pytest.raises(FileNotFoundError, match="plane0"):
        read_suite2p(tmp_path / "suite2p")  # the root, not the plane folder
    with pytest.raises(ValueError, match="neuropil_factor"):
        read_suite2p(plane, neuropil_factor=-1.0)
    with pytest.raises(ValueError, match="Fneu"):
        suite2p_dff(np.ones((2, 10)), np.ones((3, 10)), FS)
    (plane / "ops.npy").unlink()
    with pytest.raises(ValueError, match="frame_rate_hz"):
        read_suite2p(plane)
    assert read_suite2p(plane, frame_rate_hz=FS).frame_rate_hz == FS


def test_to_recordings(tmp_path):
    plane, dff, _ = _make_folder(tmp_path, np.random.default_rng(7))
    out = read_suite2p(plane)
    recs = out.to_recordings(indicator="GCaMP6f", spike_times=[np.array([0.5, 1.0])] * out.n_rois)
    assert len(recs) == 4
    r = recs[1]
    np.testing.assert_array_equal(np.asarray(r.dff), out.dff[:, 1])
    np.testing.assert_array_equal(np.asarray(r.t_frames), out.t_frames)
    np.testing.assert_array_equal(np.asarray(r.spike_times), [0.5, 1.0])
    assert r.indicator == "GCaMP6f" and float(r.frame_rate_hz) == FS
    assert r.metadata["roi_index"] == 1 and r.metadata["neuropil_factor"] == 0.7
