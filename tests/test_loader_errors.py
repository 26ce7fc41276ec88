"""Every loader names the file it could not read (truncated .npz, NWB, suite2p folders), and
degenerate recordings fail loudly: a flat ΔF/F is refused by fit and evaluate (its EV is -inf),
and scoring one indicator's constants on another's recording warns, naming both."""

import warnings

import numpy as np
import pytest

import jaxgeci


def _save_good(path, **extra):
    t = np.arange(300) / 30.0
    np.savez(path, t_frames=t, dff=np.sin(t), spike_times=np.array([1.0, 4.0]), frame_rate_hz=np.array(30.0), **extra)
    return path


def test_truncated_and_corrupt_npz_name_the_file(tmp_path):
    good = _save_good(tmp_path / "good.npz")
    whole = good.read_bytes()
    cases = {
        "half.npz": whole[: len(whole) // 2],  # zipfile.BadZipFile before
        "tail.npz": whole[:-10],
        "garbage.npz": b"\x93NUMPY but not really" * 3,  # numpy said "contains pickled data"
        "empty.npz": b"",
    }
    corrupt = bytearray(whole)
    corrupt[100:140] = b"\x01" * 40  # inside the first member: a CRC error when it is read
    cases["crc.npz"] = bytes(corrupt)
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=rf"could not read recording '.*{name}': not a readable \.npz"):
            jaxgeci.load_recording(tmp_path / name)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"one\.npy' holds one array \(\.npy\)"):
        jaxgeci.load_recording(tmp_path / "one.npy")
    with pytest.raises(ValueError, match=r"missing\.npz' does not exist"):
        jaxgeci.load_recording(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=r"is a directory"):
        jaxgeci.load_recording(tmp_path)
    assert jaxgeci.load_recording(good).n_frames == 300  # and the intact file still loads


def _flat():
    t = np.arange(600) / 30.0
    return jaxgeci.Recording.create(t, np.full(600, 0.3), np.array([2.5, 7.0]), name="flat")


def test_flat_dff_is_refused_by_evaluate_and_fit():
    """EV = 1 - mse/var(dff) is -inf (or NaN) for var(dff) = 0: evaluate wrote -Infinity into its
    JSON, and a fit's loss froze at ~2e19 without an error. Both refuse before compiling."""
    rec = _flat()
    s = jaxgeci.s2f("GCaMP6f")
    with pytest.raises(ValueError, match=r"'flat': dff is flat after the first 2 s .*undefined"):
        jaxgeci.evaluate(s, [rec])
    with pytest.raises(ValueError, match=r"'flat': dff is flat"):
        jaxgeci.fit([rec], s, ("tau_d1",), n_steps=1, progress=False)
    # flat only within float round-off of a large offset: still flat
    t = rec.t_frames
    near = jaxgeci.Recording.create(t, 5.0 + 1e-12 * np.sin(t), rec.spike_times, name="near")
    with pytest.raises(ValueError, match="dff is flat"):
        jaxgeci.evaluate(s, [near])
    # a quiet but real trace (noise 1e-4 ΔF/F, far below any recording) is scorable
    quiet = jaxgeci.Recording.create(t, 1e-4 * np.random.default_rng(0).normal(size=t.size), rec.spike_times)
    from jaxgeci._recording import check_scorable

    check_scorable(quiet)


def test_another_indicators_constants_warn_naming_both():
    t = np.arange(600) / 30.0
    rec = jaxgeci.Recording.create(t, np.sin(t), np.array([2.5]), indicator="GCaMP6f", name="cell1")
    with pytest.warns(UserWarning, match=r"sensor 'jGCaMP8m' is evaluated on recording 'cell1' of indicator 'GCaMP6f'"):
        jaxgeci.evaluate(jaxgeci.s2f("jGCaMP8m"), [rec], dt=2e-3)
    # spellings of the same indicator do not warn: jGCaMP8m / GCaMP8m, GCaMP6f / GCaMP6f-TG
    from jaxgeci._recording import warn_other_indicator

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for s_name, r_name in (("jGCaMP8m", "GCaMP8m"), ("GCaMP6f-TG", "GCaMP6f"), ("", "GCaMP6f"), ("x", "")):
            warn_other_indicator(
                jaxgeci.s2f("jGCaMP8m").replace(name=s_name) if s_name else object(),
                jaxgeci.Recording.create(t, np.sin(t), np.array([2.5]), indicator=r_name),
            )


def test_suite2p_files_that_disagree_are_named(tmp_path):
    from jaxgeci.io import read_suite2p

    plane = tmp_path / "plane0"
    plane.mkdir()
    rng = np.random.default_rng(0)
    F = 200.0 + rng.random((4, 600))
    np.save(plane / "F.npy", F)
    np.save(plane / "Fneu.npy", 0.5 * F)
    np.save(plane / "iscell.npy", np.ones((3, 2)))  # 3 rows for 4 ROIs: was numpy's reshape error
    with pytest.raises(ValueError, match=r"iscell\.npy' has shape \(3, 2\), but F\.npy has 4 ROIs"):
        read_suite2p(plane, frame_rate_hz=30.0)
    np.save(plane / "iscell.npy", np.ones((4, 2)))
    (plane / "Fneu.npy").write_bytes((plane / "Fneu.npy").read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match=r"could not read '.*Fneu\.npy'"):
        read_suite2p(plane, frame_rate_hz=30.0)
    np.save(plane / "Fneu.npy", 0.5 * F)
    np.save(plane / "ops.npy", np.zeros(3))  # not suite2p's ops dict
    with pytest.raises(ValueError, match=r"ops\.npy' is not a suite2p ops dict"):
        read_suite2p(plane)


def test_nwb_files_that_cannot_be_read_are_named(tmp_path):
    pytest.importorskip("pynwb")
    from jaxgeci.io import read_nwb, write_nwb

    p = tmp_path / "ok.nwb"
    write_nwb(p, np.random.default_rng(0).random((50, 2)), frame_rate_hz=30.0, indicator="GCaMP6f")
    whole = p.read_bytes()
    (tmp_path / "cut.nwb").write_bytes(whole[: len(whole) // 2])  # h5py's OSError had no path
    (tmp_path / "text.nwb").write_text("not hdf5\n")
    for name in ("cut.nwb", "text.nwb"):
        with pytest.raises(ValueError, match=rf"could not read NWB file '.*{name}'"):
            read_nwb(tmp_path / name)
    with pytest.raises(ValueError, match=r"NWB file '.*none\.nwb' does not exist"):
        read_nwb(tmp_path / "none.nwb")
    with pytest.raises(ValueError, match=r"NWB file '.*ok\.nwb': no RoiResponseSeries named 'x'"):
        read_nwb(p, series="x")
    assert len(read_nwb(p)) == 2
