"""jaxgeci.infer_spikes and ``python -m fitting infer``: recovery of known spikes, a flat trace,
batched == single, bad input, the CLI contract (no spike_times read)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxgeci


ROOT = Path(__file__).parents[1]
RATE_HZ = 60.0


def _linear_sensor():
    """An S2F whose sigmoid read-out is linear to ~1e-4 over the test's latent range: with
    beta = 1e-4 and |c| <= 3 the second-order term beta*c/2 of the sigmoid's expansion is
    1.5e-4 of the first, so ΔF/F = (Fm beta / 4) c = 0.5 c (per spike peak ~0.3)."""
    return jaxgeci.S2F(
        tau_r=0.01, tau_d1=0.15, tau_d2=0.6, r=0.2, Fm=2e4, Ca0=0.0, beta=1e-4, F0=-1e4, dff_baseline="rest"
    )


def _record(sensor, spike_times, n_frames, noise, seed=0):
    """ΔF/F at frame times (i + 0.5)/60 s simulated by jaxgeci.simulate (not by the inference's
    kernel), plus an offset, a slow drift and Gaussian noise of std ``noise``."""
    dt = 1e-3
    t = (np.arange(n_frames) + 0.5) / RATE_HZ
    n_steps = int(np.ceil(t[-1] / dt)) + 2
    trains = jaxgeci.SpikeTrains.from_times(np.asarray(spike_times), 0, dt, n_steps, 1)
    res = jaxgeci.simulate(sensor, trains, dt, sample_times=t, method="accurate", record=("dFF",))
    rng = np.random.default_rng(seed)
    dff = np.asarray(res.dFF, dtype=np.float64)[:, 0] + 0.1 + 0.002 * t + noise * rng.standard_normal(n_frames)
    return t, dff


def _spikes(seed=1, n=20, duration=40.0):
    """Spikes >= 1 s apart (1 or 2 per event, 2 = 10 ms apart), from 3 s on."""
    rng = np.random.default_rng(seed)
    times = 3.0 + np.arange(n) * (duration - 5.0) / n + rng.uniform(0, 0.5, n)
    doubles = rng.uniform(size=n) < 0.3
    events = [(t, 2 if d else 1) for t, d in zip(times, doubles)]
    spikes = np.sort(np.concatenate([[t] if k == 1 else [t, t + 0.01] for t, k in events]))
    return events, spikes


def test_recovers_known_spikes_of_a_linear_sensor(x64):
    sensor = _linear_sensor()
    events, spikes = _spikes()
    t, dff = _record(sensor, spikes, int(40.0 * RATE_HZ), noise=0.005)
    res = jaxgeci.infer_spikes(sensor, dff, t, readout="linear")  # exact for this sensor
    assert res.converged
    counts = res.rate * res.frame_period_s
    # Each event's spikes, found within ±1 frame of their frame (the bin average spreads a
    # spike's sub-frame timing over its neighbours). Tolerance: the L1 shrinkage costs
    # penalty * sigma / ||K|| = 1 * 0.005 / ~1.1 ≈ 0.005 spikes per event, the noise
    # sigma/||K|| ≈ 0.005 spikes, the sub-frame timing mismatch a few percent: 0.12 spikes.
    near = np.zeros(t.size, bool)
    for tk, k in events:
        j = int(np.argmin(np.abs(t - tk)))
        near[j - 1 : j + 2] = True
        assert abs(counts[j - 1 : j + 2].sum() - k) < 0.12, (tk, k, counts[j - 2 : j + 3])
    # and almost nothing elsewhere (noise-driven mass above the z = 1 threshold)
    assert counts[~near].sum() < 0.05 * len(spikes)
    assert abs(res.n_spikes - len(spikes)) < 0.05 * len(spikes)
    # away from the spikes the fitted model (incl. the baseline) explains the data down to the
    # noise; within a frame or two of a spike it cannot resolve the sub-frame spike time (the
    # 10 ms rise is shorter than the 17 ms frame), so those frames are left out
    quiet = np.min(np.abs(t[:, None] - spikes[None, :]), axis=1) > 0.1
    assert np.std((dff - res.model)[quiet]) < 1.1 * 0.005


def test_flat_trace_gives_zero_spikes(x64):
    t = np.arange(1200) / 30.0
    dff = 0.3 - 0.001 * t  # offset and drift: the baseline's job, no transient
    res = jaxgeci.infer_spikes("jGCaMP8s", dff, t, noise_std=0.02)
    # the residual after the exact baseline is round-off (~1e-16), its matched-filter
    # z-score far below the penalty: the proximal step keeps every bin at exactly 0
    assert np.all(res.rate == 0.0)
    assert res.n_spikes == 0.0


def test_constant_trace_needs_a_noise_std():
    t = np.arange(600) / 30.0
    with pytest.raises(ValueError, match="noise_std"):
        jaxgeci.infer_spikes("jGCaMP8s", np.zeros(600), t)


def test_batched_equals_single(x64):
    sensor = jaxgeci.s2f("jGCaMP8s")
    _, spikes = _spikes(seed=3, n=8, duration=20.0)
    rows = []
    for seed in range(3):
        t, dff = _record(sensor, spikes + 0.2 * seed, int(20.0 * RATE_HZ), noise=0.02 + 0.01 * seed, seed=seed)
        rows.append(dff)
    Y = np.stack(rows)
    batched = jaxgeci.infer_spikes(sensor, Y, t)
    for i in range(3):
        single = jaxgeci.infer_spikes(sensor, Y[i], t)
        # vmap freezes a finished ROI's iterate, so each row runs the same iterations; only
        # the batched FFT's round-off (~1e-16 relative) may differ
        np.testing.assert_allclose(batched.rate[i], single.rate, rtol=0, atol=1e-9 * single.rate.max())
        assert batched.n_iter[i] == single.n_iter
        assert batched.noise_std[i] == single.noise_std


def test_real_indicator_recovers_rate_shape(x64):
    """A nonlinear sensor (jGCaMP8s preset, sigmoid read-out) through jaxgeci's own synthetic
    recording: the smoothed inferred rate follows the true one (Cascade-like score)."""
    sensor = jaxgeci.s2f("jGCaMP8s")
    rec = jaxgeci.synthetic_recording(sensor, jax.random.key(2), duration_s=40.0, rate_hz=1.0, noise_std=0.03)
    res = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames)
    from scipy.ndimage import gaussian_filter1d

    edges = np.concatenate([rec.t_frames - res.frame_period_s / 2, [rec.t_frames[-1] + res.frame_period_s / 2]])
    true = gaussian_filter1d(np.histogram(rec.spike_times, edges)[0].astype(float), 3.0)
    pred = gaussian_filter1d(res.rate * res.frame_period_s, 3.0)
    # measured 0.9+ at this noise (dFF_1AP 0.37 over sigma 0.03); 0.8 leaves room for seeds
    assert np.corrcoef(true, pred)[0, 1] > 0.8


@pytest.mark.parametrize(
    "dff, t, match",
    [
        (np.r_[np.zeros(50), np.nan, np.zeros(49)], np.arange(100) / 30.0, "NaN/inf.*frame 50"),
        (np.zeros(100), np.r_[np.arange(50), np.arange(49, 99)] / 30.0, "strictly increasing"),
        (np.zeros(100), np.r_[np.arange(50), 60 + np.arange(50)] / 30.0, "evenly spaced"),
        (np.zeros(99), np.arange(100) / 30.0, "dff must be"),
    ],
)
def test_bad_input_is_refused(dff, t, match):
    with pytest.raises(ValueError, match=match):
        jaxgeci.infer_spikes("jGCaMP8s", dff, t, noise_std=0.01)


def test_unknown_indicator_is_refused():
    with pytest.raises(ValueError, match="not a known indicator.*jgcamp8s"):
        jaxgeci.infer_spikes("GCaMP99", np.zeros(100), np.arange(100) / 30.0)
    with pytest.raises(TypeError, match="Sensor"):
        jaxgeci.infer_spikes(3, np.zeros(100), np.arange(100) / 30.0)


def test_history_dependent_sensor_is_refused_and_sets_fall_back():
    # the two-state S2F slows its decay after each spike for seconds: a single kernel would
    # read a burst's slow tail as extra spikes, so infer_spikes refuses it and says what to use
    two = jaxgeci.TwoStateS2F.from_s2f(jaxgeci.s2f("GCaMP6f"), u_half=0.4, tau_u=7.0, n_u=0.6)
    with pytest.raises(ValueError, match="TwoStateS2F.*u_half=0.4.*model='s2f'"):
        jaxgeci.infer_spikes(two, np.zeros(100), np.arange(100) / 30.0)
    # a results file whose default set is two-state: the inference takes the same dataset's
    # S2F-family alternative whose family has the higher held-in mean EV over the file's cells
    doc = jaxgeci.load_results(ROOT / "fitting" / "results" / "GCaMP6f.json")
    sets = {"DS09": dict(doc["parameter_sets"]["DS09/s2f"], model="s2f-twostate")}
    sets["DS09"]["constants"] = dict(sets["DS09"]["constants"], u_half=0.4, tau_u=7.0, n_u=0.6)
    cells = lambda ev: {
        "a": {"ev": ev, "rho_rel": 1.0, "lag_s": 0.0},
        "b": {"ev": ev + 0.02, "rho_rel": 1.0, "lag_s": 0.0},
    }
    sets["DS09/s2f"] = dict(doc["parameter_sets"]["DS09/s2f"], datasets=[], cells=cells(0.80))
    sets["DS09/s2f-adaptive"] = dict(doc["parameter_sets"]["DS09/s2f-adaptive"], datasets=[], cells=cells(0.85))
    fake = dict(doc, default="DS09", parameter_sets=sets)
    assert jaxgeci.select_parameter_set(fake)[0] == "DS09"  # unrestricted: the default
    name, pset = jaxgeci.select_parameter_set(fake, models=jaxgeci.INFERENCE_MODELS)
    assert name == "DS09/s2f-adaptive" and pset["model"] == "s2f-adaptive"
    assert jaxgeci.select_parameter_set(fake, models=("s2f",))[0] == "DS09/s2f"
    with pytest.raises(ValueError, match="no alternative of the families \\('geci',\\)"):
        jaxgeci.select_parameter_set(fake, models=("geci",))


def test_cli_contract_never_reads_spike_times(tmp_path):
    sensor = jaxgeci.sensor_from_results(ROOT / "fitting" / "results" / "jGCaMP8s.json")
    rec = jaxgeci.synthetic_recording(sensor, jax.random.key(0), duration_s=20.0, frame_rate_hz=30.0)
    meta = dict(indicator="jGCaMP8s", dataset="Cascade DS32-GCaMP8s-m-V1", frame_rate_hz=30.0)
    a = tmp_path / "no_spikes.npz"
    np.savez(a, t_frames=rec.t_frames, dff=rec.dff, **meta)  # no spike_times key at all
    b = tmp_path / "bad_spikes.npz"
    np.savez(b, t_frames=rec.t_frames, dff=rec.dff, spike_times=np.array([np.nan, -1.0]), **meta)
    out, save = tmp_path / "out.json", tmp_path / "rates"
    cmd = [sys.executable, "-m", "fitting", "infer", "--params", str(ROOT / "fitting" / "results" / "jGCaMP8s.json")]
    cmd += ["--json", str(out), "--save", str(save), str(a), str(b)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1 and proc.stdout.startswith("infer: 2 file(s)")
    doc = json.loads(out.read_text())
    for name in ("no_spikes.npz", "bad_spikes.npz"):
        s = doc["files"][name]
        for key in ("frame_rate_hz", "parameter_set", "model", "lag_s", "noise_std", "n_spikes", "converged", "wall_s"):
            assert key in s, key
        assert s["parameter_set"] == "DS32" and s["converged"]
        # synthetic_recording's default noise is far below NU_LINEAR: the sigmoid read-out
        assert s["readout"] == "sigmoid" and s["noise_level_nu"] < jaxgeci.NU_LINEAR and s["noise_model"] == "gaussian"
        assert abs(s["frame_rate_hz"] - 30.0) < 1e-6
        with np.load(save / name) as z:
            np.testing.assert_array_equal(z["t_frames"], rec.t_frames)
            assert z["rate"].shape == rec.t_frames.shape and np.all(z["rate"] >= 0)
    # the two files differ only in their spike_times: identical rates
    with np.load(save / "no_spikes.npz") as z1, np.load(save / "bad_spikes.npz") as z2:
        np.testing.assert_array_equal(z1["rate"], z2["rate"])
    # the read-out and the likelihood can be chosen; the summary says which ran
    cmd[cmd.index("--json") + 1] = str(tmp_path / "out2.json")
    proc = subprocess.run(cmd[:-1] + ["--readout", "linear", "--noise", "photon"], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "out2.json").read_text())["files"]["no_spikes.npz"]
    assert s["readout"] == "linear" and s["noise_model"] == "photon" and s["converged"]


def test_cli_one_line_errors(tmp_path):
    params = str(ROOT / "fitting" / "results" / "jGCaMP8s.json")
    a = tmp_path / "other.npz"
    np.savez(a, t_frames=np.arange(100) / 30.0, dff=np.zeros(100), indicator="GCaMP6f")
    cmd = [sys.executable, "-m", "fitting", "infer", "--params", params, "--json", str(tmp_path / "o.json")]
    cmd += ["--save", str(tmp_path / "d")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for files, match in (([str(a)], "'GCaMP6f' but --params"), ([str(tmp_path / "none.npz")], "does not exist")):
        proc = subprocess.run(cmd + files, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 2 and match in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_chunked_matches_whole_recording(x64):
    sensor = jaxgeci.s2f("jGCaMP8s")
    rec = jaxgeci.synthetic_recording(sensor, jax.random.key(4), duration_s=90.0, frame_rate_hz=30.0, noise_std=0.05)
    # rho_rel fixed: estimated, it may land on another grid point in each chunk
    whole = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames, rho_rel=1.0)
    chunked = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames, rho_rel=1.0, chunk_s=40.0, overlap_s=10.0)
    assert chunked.converged and chunked.rate.shape == whole.rate.shape
    # Not identical: each chunk has its own baseline and its edges see 5+ s of context (the
    # kernel decays by e^-10 within 5 s for tau_d2 = 0.47 s); the rates agree to within the
    # baseline's freedom
    assert np.corrcoef(whole.rate, chunked.rate)[0, 1] > 0.99
    assert abs(chunked.n_spikes - whole.n_spikes) < 0.03 * whole.n_spikes
    with pytest.raises(ValueError, match="twice overlap_s"):
        jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames, chunk_s=10.0, overlap_s=10.0)


def test_sigmoid_readout_counts_bursts_on_an_expansive_sensor(x64):
    """The fitted GCaMP6f S2F read-out is expansive (a burst of n spikes gives far more than n
    single-spike responses): the linear kernel over-counts, the sigmoid read-out does not."""
    # the S2F set: these tests are about the S2F sigmoid read-out (the default set is two-state)
    sensor = jaxgeci.sensor_from_results(ROOT / "fitting" / "results" / "GCaMP6f.json", set_name="DS09/s2f")
    rec = jaxgeci.synthetic_recording(sensor, jax.random.key(0), duration_s=40.0, frame_rate_hz=30.0, noise_std=0.03)
    n_true = rec.spike_times.size
    # readout="auto": sigmoid for S2F at this noise (nu ~0.5 < NU_LINEAR); the true amplitude (1)
    # given, as the counts scale with it
    sig = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames, rho_rel=1.0)
    lin = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames, readout="linear")
    assert sig.converged and lin.converged
    # measured: sigmoid within ~5 % of the truth, linear ~4.5x too many; 15 % leaves room for
    # the L1 shrinkage and the noise (0.03 vs a single-spike peak of ~0.1)
    assert abs(sig.n_spikes - n_true) < 0.15 * n_true
    assert lin.n_spikes > 2.0 * n_true


def test_auto_readout_follows_cascades_noise_level(x64):
    """``readout="auto"``: the sigmoid read-out below ``NU_LINEAR``, the linear one at or above
    it (and always for sensors without a static read-out); ``noise_level`` is Cascade's nu."""
    t = np.arange(600) / 30.0
    z = np.random.default_rng(1).standard_normal(600)
    want = 100.0 * np.median(np.abs(np.diff(0.3 * z))) / np.sqrt(30.0)
    # the same formula evaluated two ways: float64 rounding only
    assert jaxgeci.noise_level(0.3 * z, 1 / 30.0) == pytest.approx(want, rel=1e-12)
    assert jaxgeci.noise_level(np.stack([0.01 * z, 0.3 * z]), 1 / 30.0).shape == (2,)
    with pytest.raises(ValueError, match="frame_period_s"):
        jaxgeci.noise_level(z, -1.0)
    # white noise of std s: median|Δ| = 0.954 s, so nu = 0.954 s 100 / sqrt(30) = 17.4 s:
    # s = 0.01 gives nu 0.17 (quiet), s = 0.3 gives 5.2 (above NU_LINEAR = 4)
    sensor = jaxgeci.sensor_from_results(ROOT / "fitting" / "results" / "GCaMP6f.json", set_name="DS09/s2f")
    kw = dict(rho_rel=1.0, max_iter=5)
    assert jaxgeci.infer_spikes(sensor, 0.01 * z, t, **kw).readout == "sigmoid"
    noisy = jaxgeci.infer_spikes(sensor, 0.3 * z, t, **kw)
    assert noisy.readout == "linear"
    np.testing.assert_array_equal(noisy.rate, jaxgeci.infer_spikes(sensor, 0.3 * z, t, readout="linear", **kw).rate)
    assert jaxgeci.infer_spikes(jaxgeci.gcamp6f(), 0.01 * z, t, max_iter=5).readout == "linear"


def test_readout_option_is_checked():
    t = np.arange(300) / 30.0
    with pytest.raises(ValueError, match="readout must be"):
        jaxgeci.infer_spikes("jGCaMP8s", np.zeros(300), t, noise_std=0.01, readout="hill")
    with pytest.raises(ValueError, match="S2F-family sensor"):
        jaxgeci.infer_spikes(jaxgeci.gcamp6f(), np.zeros(300), t, noise_std=0.01, readout="sigmoid")


def test_amplitude_is_estimated_under_the_sigmoid_readout(x64):
    """A cell twice as bright as the sensor (rho_rel = 2 in the data): with rho_rel fixed at 1
    the sigmoid fit is pushed up its steep part; estimated, it lands on the grid near 2."""
    # the S2F set: these tests are about the S2F sigmoid read-out (the default set is two-state)
    sensor = jaxgeci.sensor_from_results(ROOT / "fitting" / "results" / "GCaMP6f.json", set_name="DS09/s2f")
    rec = jaxgeci.synthetic_recording(
        sensor, jax.random.key(0), duration_s=40.0, frame_rate_hz=30.0, noise_std=0.05, rho_rel=2.0
    )
    res = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames)  # rho_rel=None: estimated
    # the grid steps by sqrt(2): 2 or a neighbour (the amplitude trades off against the counts
    # along the sigmoid's nearly linear stretch; measured 2.0-2.8 over seeds at this noise)
    assert 1.4 <= res.rho_rel <= 2.9
    n_true = rec.spike_times.size
    assert abs(res.n_spikes - n_true) < 0.3 * n_true
    fixed = jaxgeci.infer_spikes(sensor, rec.dff, rec.t_frames, rho_rel=1.0)
    assert fixed.n_spikes > 1.5 * n_true  # the mismatch the estimate removes


def test_photon_variance_recovers_the_noise_model():
    from jaxgeci._infer_noise import photon_variance, photon_weights

    rng = np.random.default_rng(0)
    signal = (2.0 * np.abs(np.sin(np.linspace(0.0, 60.0, 40_000))))[None]  # ΔF/F 0..2
    a, b = 1e-3, 4e-3  # rest variance (ΔF/F^2) and shot-noise variance per unit ΔF/F
    resid = rng.standard_normal(signal.shape) * np.sqrt(a + b * signal)
    ah, bh = photon_variance(resid, signal)
    # least squares of 40 000 half squared differences (each ~chi^2_1-like, relative sd ~1.4):
    # standard errors ~1.5 % of a and ~2 % of b, so 8 % is > 4 standard errors
    assert ah[0] == pytest.approx(a, rel=0.08) and bh[0] == pytest.approx(b, rel=0.08)
    w = photon_weights(resid, signal)
    rest = signal[0] == signal[0].min()
    assert np.all(w <= 1.0) and np.allclose(w[0, rest], 1.0)
    # at the peak (ΔF/F 2) the variance is 9x the rest's: weight 1/3
    assert w[0, np.argmax(signal[0])] == pytest.approx(1.0 / 3.0, rel=0.1)
    # white noise: no slope, so uniform weights (the Gaussian likelihood)
    ah, bh = photon_variance(rng.standard_normal(signal.shape) * 0.03, signal)
    assert bh[0] < 0.05 * ah[0]


def test_photon_likelihood_weighs_bright_frames_less(x64):
    """Shot noise that grows with the signal (std 0.004 at rest, 0.02 at a 2-spike peak): the
    photon likelihood finds the same spikes with fewer noise-driven ones at the bright
    frames, and on white noise it is the Gaussian solution (weights ~1)."""
    sensor = _linear_sensor()
    events, spikes = _spikes(seed=5)
    t, clean = _record(sensor, spikes, int(40.0 * RATE_HZ), noise=0.0)
    rng = np.random.default_rng(2)
    sig = 0.004 * np.sqrt(1.0 + 40.0 * np.maximum(clean - 0.1 - 0.002 * t, 0.0))
    dff = clean + sig * rng.standard_normal(t.size)
    kw = dict(readout="linear", noise_std=0.004)
    gauss = jaxgeci.infer_spikes(sensor, dff, t, **kw)
    photon = jaxgeci.infer_spikes(sensor, dff, t, noise="photon", **kw)
    assert photon.converged and gauss.converged
    err = {}
    for name, res in (("gauss", gauss), ("photon", photon)):
        counts = res.rate * res.frame_period_s
        near = np.zeros(t.size, bool)
        for tk, _ in events:
            j = int(np.argmin(np.abs(t - tk)))
            near[j - 1 : j + 3] = True
        err[name] = counts[~near].sum()  # spikes put where there are none
        assert abs(res.n_spikes - len(spikes)) < 0.15 * len(spikes)
    # the Gaussian likelihood under-weights the rest noise relative to the bright frames'
    # and fits the bright frames' noise with spikes; the photon one does not
    assert err["photon"] < 0.5 * err["gauss"], err
    white = jaxgeci.infer_spikes(sensor, clean + 0.01 * rng.standard_normal(t.size), t, **dict(kw, noise_std=0.01))
    white_ph = jaxgeci.infer_spikes(
        sensor, clean + 0.01 * rng.standard_normal(t.size), t, noise="photon", **dict(kw, noise_std=0.01)
    )
    assert abs(white_ph.n_spikes - white.n_spikes) < 0.1 * len(spikes)


def test_noise_option_is_checked():
    with pytest.raises(ValueError, match=r"noise must be one of \('gaussian', 'photon'\), got 'poisson'"):
        jaxgeci.infer_spikes("jGCaMP8s", np.zeros(100) + 0.01 * np.arange(100), np.arange(100) / 30.0, noise="poisson")
