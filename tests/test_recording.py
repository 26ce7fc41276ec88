"""Recording loading/validation and the B-spline baseline (synthetic data only)."""

import logging

import numpy as np
import pytest

import jaxgeci


def _arrays(T=600, fr=30.0, n_spk=20, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fr + 0.01
    dff = 0.1 * rng.standard_normal(T)
    spikes = np.sort(rng.uniform(0.0, t[-1], n_spk))
    return t, dff, spikes


def _write(path, **over):
    t, dff, spikes = _arrays()
    d = dict(
        t_frames=t,
        dff=dff.astype(np.float32),
        spike_times=spikes,
        frame_rate_hz=np.array(30.0),
        indicator=np.array("GCaMP6f"),
        dataset=np.array("DSxx"),
        neuron_id=np.array("c1"),
    )
    d.update(over)
    np.savez(path, **d)
    return path


def test_load_roundtrip(tmp_path):
    p = _write(tmp_path / "GCaMP6f_cell.npz")
    r = jaxgeci.load_recording(p)
    t, dff, spikes = _arrays()
    assert r.name == "GCaMP6f_cell" and r.indicator == "GCaMP6f" and r.dataset == "DSxx"
    assert r.frame_rate_hz == 30.0 and r.metadata["neuron_id"] == "c1"
    np.testing.assert_array_equal(r.t_frames, t)
    np.testing.assert_array_equal(r.spike_times, spikes)
    assert r.dff.dtype == np.float64
    # first 2 s are burn-in
    assert r.eval_mask().sum() == np.sum(t >= t[0] + 2.0)


@pytest.mark.parametrize(
    "over, match",
    [
        (dict(dff=np.where(np.arange(600) == 7, np.nan, 0.0)), "NaN"),
        (dict(spike_times=np.array([3.0, 1.0, 2.0])), "sorted"),
        (dict(spike_times=np.array([-0.5, 1.0])), ">= 0"),
        (dict(dff=np.zeros(599)), "same length"),
        (dict(frame_rate_hz=np.array(0.0)), "frame_rate_hz"),
        (dict(frame_rate_hz=np.array(-30.0)), "frame_rate_hz"),
        (dict(t_frames=np.arange(600)[::-1] / 30.0), "strictly increasing"),
        (dict(t_frames=np.arange(600) / 400.0), "too short for the burn-in"),
        (dict(spike_times=np.array([1.0, np.nan])), "NaN"),
    ],
)
def test_bad_recordings_raise_clear_errors(tmp_path, over, match):
    p = _write(tmp_path / "bad.npz", **over)
    with pytest.raises(ValueError, match=match) as e:
        jaxgeci.load_recording(p)
    assert "bad.npz" in str(e.value)  # the file is named


@pytest.mark.parametrize("t", [np.repeat(np.arange(300) / 30.0, 2), np.zeros(600)])
def test_repeated_frame_times_raise_clear_error_without_a_frame_rate(t):
    """The frame rate is inferred from median(diff(t)): repeated times used to divide by zero."""
    with pytest.raises(ValueError, match=r"strictly increasing .*t\[0\]"):
        jaxgeci.Recording.create(t, np.zeros(600), np.array([1.0]))


def test_missing_key(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, t_frames=np.arange(100.0), dff=np.zeros(100))
    with pytest.raises(ValueError, match="lacks"):
        jaxgeci.load_recording(p)


def test_spikes_after_last_frame_dropped_with_note(tmp_path, caplog):
    t, dff, spikes = _arrays()
    late = np.concatenate([spikes, [t[-1] + 0.5, t[-1] + 1.0]])
    p = _write(tmp_path / "late.npz", spike_times=late)
    with caplog.at_level(logging.INFO, logger="jaxgeci"):
        r = jaxgeci.load_recording(p)
    assert r.spike_times.size == spikes.size
    assert "dropping 2 spike(s)" in caplog.text


def test_create_defaults_frame_rate():
    t, dff, spikes = _arrays(fr=50.0)
    r = jaxgeci.Recording.create(t, dff, spikes)
    assert r.frame_rate_hz == pytest.approx(50.0, rel=1e-9)


def test_bspline_basis_protocol():
    t = np.linspace(0.0, 239.75, 5000)
    B = jaxgeci.bspline_basis(t, 0.0, 239.75)
    # 239.75 s / 30 s -> 7 intervals of 34.25 s (>= 30 s), 10 cubic basis functions
    assert B.shape == (5000, 10)
    np.testing.assert_allclose(B.sum(1), 1.0, rtol=1e-12)  # partition of unity (offset)
    # offset + linear drift are exactly representable (cubic B-splines reproduce polynomials)
    y = 0.3 - 0.002 * t + 1e-5 * t**2
    coef, *_ = np.linalg.lstsq(B, y, rcond=None)
    np.testing.assert_allclose(B @ coef, y, atol=1e-10)
    # a 20 s wiggle is NOT representable (knots too far apart): the baseline stays slow
    w = np.sin(2 * np.pi * t / 20.0)
    coef, *_ = np.linalg.lstsq(B, w, rcond=None)
    assert np.std(w - B @ coef) > 0.6
    # short recordings: one interval, 4 basis functions
    assert jaxgeci.bspline_basis(t[:100], 0.0, 4.0).shape == (100, 4)


def test_isolated_spike_frames_and_loss_weight():
    """Isolated = no other spike within 1 s before or after; windows [-0.2, +1] s around them."""
    t = np.arange(0.0, 20.0, 0.01)
    spikes = np.array([3.0, 8.0, 8.5, 14.0])  # 8.0 and 8.5 are too close to each other
    r = jaxgeci.Recording.create(t, np.zeros_like(t), spikes)
    m = r.isolated_spike_frames()
    expect = ((t >= 2.8) & (t <= 4.0)) | ((t >= 13.8) & (t <= 15.0))
    np.testing.assert_array_equal(m, expect)
    b0 = jaxgeci.make_batch([r], 1e-3)
    b = jaxgeci.make_batch([r], 1e-3, isolated_weight=4.0)
    w0, w = np.asarray(b0.weight[0]), np.asarray(b.weight[0])
    np.testing.assert_array_equal(w, w0 * np.where(expect, 5.0, 1.0))
    assert set(np.unique(w0)) == {0.0, 1.0}  # burn-in frames stay at 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(duration_s=-1.0), r"duration_s must be finite and > 0.4 \(in s\), got -1.0"),  # was numpy's
        (dict(noise_std=-0.1), r"noise_std must be finite and >= 0"),  # ran with a flipped noise sign
        (dict(burst_prob=1.5), r"burst_prob must lie in \[0, 1\]"),
        (dict(frame_rate_hz=0.0), r"frame_rate_hz must be finite and > 0 \(in Hz\)"),
        (dict(lag_s=float("nan")), r"lag_s must be finite \(in s\), got nan"),
    ],
)
def test_synthetic_recording_rejects_bad_settings(kwargs, match):
    import jax

    with pytest.raises(ValueError, match=match):
        jaxgeci.synthetic_recording(jaxgeci.gcamp6f(), jax.random.key(0), **kwargs)
