"""NWB interop (jaxgeci.io): simulated imaging -> NWB that nwbinspector accepts -> read back
equal; reading files written by plain pynwb."""

import dataclasses
import datetime
import logging

import jax
import numpy as np
import pytest

import jaxgeci
from jaxgeci.io import read_nwb, read_nwb_imaging, write_nwb


pynwb = pytest.importorskip("pynwb")
DT = 1e-4


def _inspect(path):
    """nwbinspector messages at importance CRITICAL or worse (incl. pynwb validation)."""
    nwbinspector = pytest.importorskip("nwbinspector")
    msgs = list(nwbinspector.inspect_nwbfile(nwbfile_path=str(path)))
    bad = [m for m in msgs if m.importance.value >= nwbinspector.Importance.CRITICAL.value]
    return bad, msgs


def _simulated(n_neurons=4, n_steps=3000):
    rng = np.random.default_rng(0)
    times = [np.sort(rng.uniform(0, n_steps * DT, size=rng.integers(2, 6))) for _ in range(n_neurons)]
    spikes = jaxgeci.SpikeTrains.from_times(
        np.concatenate(times), np.concatenate([[i] * len(t) for i, t in enumerate(times)]), DT, n_steps, n_neurons
    )
    sensor = jaxgeci.gcamp6f()
    res = jaxgeci.simulate(sensor, spikes, DT, sample_rate=30.0, record=("dFF",))
    coords = rng.uniform(-100e-6, 100e-6, size=(n_neurons, 3))
    return sensor, res, coords, times


def test_write_passes_nwbinspector_and_reads_back_equal(tmp_path):
    sensor, res, coords, times = _simulated()
    dff = np.asarray(res.dFF)
    t = np.asarray(res.steps) * DT  # float64 frame times (res.t is float32 by default)
    path = write_nwb(
        tmp_path / "sim.nwb",
        dff,
        t_frames=t,
        roi_coords=coords,
        spike_times=times,
        spike_resolution=DT,
        sensor=sensor,
        session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    )
    bad, msgs = _inspect(path)
    assert not bad, [(m.importance.name, m.check_function_name, m.message) for m in bad]
    assert pynwb.validate(path=path) == []  # also the schema validator itself

    back = read_nwb_imaging(path)
    np.testing.assert_array_equal(back.dff, dff)  # same dtype (float32) and values
    assert back.dff.dtype == dff.dtype
    # Regular frame times are stored as rate + start time: t = t0 + k / rate, which repeats
    # the simulation's t = k * (333 dt) up to a few float64 roundings.
    np.testing.assert_allclose(back.t_frames, t, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(back.frame_rate_hz, res.sample_rate_hz, rtol=1e-12)
    np.testing.assert_array_equal(back.roi_coords, coords)  # float64 columns, exact
    for got, want in zip(back.spike_times, times):
        np.testing.assert_array_equal(got, want)
    assert back.indicator == "GCaMP6f"
    assert "K_d" in back.metadata["comments"]  # the sensor constants travel as JSON

    recs = read_nwb(path)
    assert len(recs) == dff.shape[1]
    np.testing.assert_array_equal(np.asarray(recs[2].dff), dff[:, 2])
    np.testing.assert_array_equal(np.asarray(recs[2].spike_times), times[2])
    assert recs[2].indicator == "GCaMP6f" and recs[2].metadata["roi_coords_m"] == coords[2].tolist()


def test_irregular_timestamps_and_shared_neurons(tmp_path):
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.01, 0.03, size=50))
    dff = rng.normal(size=(50, 3))
    spikes = [np.array([0.1, 0.2]), np.array([0.3])]
    path = write_nwb(tmp_path / "irr.nwb", dff, t_frames=t, spike_times=spikes, roi_units=[1, 0, 1])
    assert not _inspect(path)[0]
    back = read_nwb_imaging(path)
    np.testing.assert_array_equal(back.t_frames, t)  # stored as timestamps, exact
    np.testing.assert_array_equal(back.dff, dff)
    np.testing.assert_array_equal(back.spike_times[0], spikes[1])
    np.testing.assert_array_equal(back.spike_times[1], spikes[0])
    np.testing.assert_array_equal(back.spike_times[2], spikes[1])
    np.testing.assert_allclose(back.frame_rate_hz, 1 / np.median(np.diff(t)), rtol=1e-12)


def _plain_pynwb_file(path, *, n_units, container="DfOverF"):
    """An NWB file written with pynwb alone (image masks, no coordinate columns)."""
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, RoiResponseSeries

    f = pynwb.NWBFile("lab file", "id-1", datetime.datetime(2025, 5, 1, tzinfo=datetime.timezone.utc))
    dev = f.create_device(name="scope")
    plane = f.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="ch", description="g", emission_lambda=510.0),
        description="p",
        device=dev,
        excitation_lambda=920.0,
        imaging_rate=10.0,
        indicator="jGCaMP8s",
        location="VISp",
    )
    mod = f.create_processing_module(name="ophys", description="o")
    seg = ImageSegmentation()
    mod.add(seg)
    ps = seg.create_plane_segmentation(name="ps", description="d", imaging_plane=plane)
    for r in range(2):
        mask = np.zeros((8, 8))
        mask[r, r] = 1.0
        ps.add_roi(image_mask=mask)
    region = ps.create_roi_table_region(region=[0, 1], description="both")
    data = np.arange(40, dtype=float).reshape(20, 2) / 10
    series = RoiResponseSeries(name="dff", data=data, rois=region, unit="n.a.", rate=10.0, starting_time=2.0)
    box = DfOverF(name="DfOverF") if container == "DfOverF" else Fluorescence(name="Fluorescence")
    box.add_roi_response_series(series)
    mod.add(box)
    for u in range(n_units):
        f.add_unit(spike_times=[2.5 + u, 3.0 + u])
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    return data


def test_read_plain_pynwb_file(tmp_path, caplog):
    data = _plain_pynwb_file(tmp_path / "a.nwb", n_units=2)
    im = read_nwb_imaging(tmp_path / "a.nwb")
    np.testing.assert_array_equal(im.dff, data)
    np.testing.assert_allclose(im.t_frames, 2.0 + np.arange(20) / 10.0, rtol=1e-15)
    assert im.roi_coords is None and im.indicator == "jGCaMP8s"
    # image masks with one pixel at (r, r): centroid (r, r) in pixels
    np.testing.assert_array_equal(im.metadata["roi_centroid_px"], [[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(im.spike_times[1], [3.5, 4.0])  # one unit per ROI: in order

    _plain_pynwb_file(tmp_path / "b.nwb", n_units=3)
    with caplog.at_level(logging.WARNING, logger="jaxgeci.io._nwb"):
        im = read_nwb_imaging(tmp_path / "b.nwb")
    assert im.spike_times is None and "pass roi_units" in caplog.text
    im = read_nwb_imaging(tmp_path / "b.nwb", roi_units=[2, None])
    np.testing.assert_array_equal(im.spike_times[0], [4.5, 5.0])
    assert im.spike_times[1] is None
    recs = im.to_recordings()
    assert recs[1].metadata["has_spikes"] is False and np.asarray(recs[1].spike_times).size == 0

    _plain_pynwb_file(tmp_path / "c.nwb", n_units=0, container="Fluorescence")
    with pytest.raises(ValueError, match="raw fluorescence"):
        read_nwb_imaging(tmp_path / "c.nwb")
    assert read_nwb_imaging(tmp_path / "c.nwb", series="dff").dff.shape == (20, 2)


def test_write_errors(tmp_path):
    ok = np.zeros((10, 2))
    with pytest.raises(ValueError, match="exactly one of t_frames"):
        write_nwb(tmp_path / "x.nwb", ok)
    with pytest.raises(ValueError, match=r"\(frames, rois\)"):
        write_nwb(tmp_path / "x.nwb", np.zeros(10), frame_rate_hz=10.0)
    with pytest.raises(ValueError, match="roi_coords"):
        write_nwb(tmp_path / "x.nwb", ok, frame_rate_hz=10.0, roi_coords=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="roi_units"):
        write_nwb(tmp_path / "x.nwb", ok, frame_rate_hz=10.0, spike_times=[[0.1]])
    with pytest.raises(ValueError, match="finite"):
        write_nwb(tmp_path / "x.nwb", ok * np.nan, frame_rate_hz=10.0)
    write_nwb(tmp_path / "x.nwb", ok, frame_rate_hz=10.0)
    with pytest.raises(ValueError, match="overwrite=True"):
        write_nwb(tmp_path / "x.nwb", ok, frame_rate_hz=10.0)
    write_nwb(tmp_path / "x.nwb", ok + 1, frame_rate_hz=10.0, overwrite=True)
    np.testing.assert_array_equal(read_nwb_imaging(tmp_path / "x.nwb").dff, ok + 1)


def test_read_transposed_series(tmp_path, caplog):
    """Some writers store (rois, time); the reader detects it from the ROI count."""
    from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel, RoiResponseSeries

    f = pynwb.NWBFile("t", "id-2", datetime.datetime(2025, 5, 1, tzinfo=datetime.timezone.utc))
    dev = f.create_device(name="scope")
    plane = f.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="ch", description="g", emission_lambda=510.0),
        description="p",
        device=dev,
        excitation_lambda=920.0,
        imaging_rate=10.0,
        indicator="GCaMP6s",
        location="VISp",
    )
    mod = f.create_processing_module(name="ophys", description="o")
    seg = ImageSegmentation()
    mod.add(seg)
    ps = seg.create_plane_segmentation(name="ps", description="d", imaging_plane=plane)
    for r in range(3):
        ps.add_roi(pixel_mask=[(r, 2 * r, 1.0), (r + 1, 2 * r, 3.0)])  # (x, y, weight)
    region = ps.create_roi_table_region(region=[0, 1, 2], description="all")
    data = np.arange(60, dtype=float).reshape(3, 20)  # (rois, time)
    box = DfOverF(name="DfOverF")
    box.add_roi_response_series(RoiResponseSeries(name="dff", data=data, rois=region, unit="n.a.", rate=10.0))
    mod.add(box)
    with pynwb.NWBHDF5IO(str(tmp_path / "t.nwb"), "w") as io:
        io.write(f)
    with caplog.at_level(logging.WARNING, logger="jaxgeci.io._nwb"):
        im = read_nwb_imaging(tmp_path / "t.nwb")
    np.testing.assert_array_equal(im.dff, data.T)
    assert im.t_frames.shape == (20,) and "transposing" in caplog.text
    # weighted pixel-mask centroids: x = r + 3/4, y = 2r
    np.testing.assert_allclose(im.metadata["roi_centroid_px"], [[r + 0.75, 2.0 * r] for r in range(3)], rtol=1e-15)


def test_write_a_simulation_result_directly(tmp_path):
    sensor, res, coords, _ = _simulated(n_neurons=2, n_steps=2000)
    write_nwb(tmp_path / "r.nwb", res, roi_coords=coords[:2], sensor=sensor)
    back = read_nwb_imaging(tmp_path / "r.nwb")
    np.testing.assert_array_equal(back.dff, np.asarray(res.dFF))
    # frame times steps * dt (float64), as a rate: ~1e-15 relative rounding
    np.testing.assert_allclose(back.t_frames, np.asarray(res.steps) * DT, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("source", ["synthetic", "jittered"])
def test_recording_round_trips_through_nwb(tmp_path, source):
    """A Recording (ΔF/F + spikes of one neuron) -> NWB -> an equal Recording.

    "jittered" mimics the ground-truth files (float32 ΔF/F, frame times with ~0.02 ms
    rounding jitter) without reading them: tests never read ../shared."""
    rec = jaxgeci.synthetic_recording(jaxgeci.gcamp6s(), jax.random.key(0), duration_s=6.0)
    if source == "jittered":
        rng = np.random.default_rng(0)
        t = rec.t_frames + rng.uniform(-2e-5, 2e-5, rec.t_frames.size)
        t[0] = max(t[0], 0.0)
        rec = dataclasses.replace(rec, t_frames=t, dff=rec.dff.astype(np.float32))
    write_nwb(
        tmp_path / "rec.nwb",
        rec.dff[:, None],
        t_frames=rec.t_frames,
        spike_times=[rec.spike_times],
        indicator=rec.indicator,
    )
    assert not _inspect(tmp_path / "rec.nwb")[0]
    (back,) = read_nwb(tmp_path / "rec.nwb")
    np.testing.assert_array_equal(back.dff, rec.dff)
    np.testing.assert_array_equal(back.spike_times, rec.spike_times)
    assert back.indicator == rec.indicator
    # Jittered frame times are stored as timestamps (exact); regular ones as a rate (~1e-15).
    np.testing.assert_allclose(back.t_frames, rec.t_frames, rtol=1e-12, atol=1e-12)
    assert back.frame_rate_hz == pytest.approx(rec.frame_rate_hz, rel=1e-3)  # median vs nominal rate
