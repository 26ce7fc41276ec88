"""Each behaviour that Cleo's own imaging tests (``tests/imaging/test_sensors.py`` and
``tests/imaging/test_scope.py`` of siplab-gt/cleo) assert, checked in jaxgeci's API with our own
code. Lengths in m (Cleo used µm quantities), times in s.

Deviations on purpose (README "Cleo quirks"): jaxgeci has no Brian2 network, so Cleo's
``sim._remove(sensor)`` and ``scope.inject_sensor_for_targets()`` have no counterpart; the
nearest behaviour, that injecting never changes what was injected into, is checked instead.
"""

import types

import jax
import numpy as np
import pytest

import jaxgeci as jg


UM = 1e-6


# ---------------------------------------------------------------------------- sensors


def test_geci_rest_is_zero_and_spiking_neurons_are_brighter():
    # Cleo test_geci: 5 neurons, spikes only in neurons 0-2 during the first 40 ms; the state
    # at rest is exactly 0 and after 50 ms every spiking neuron is above every silent one
    rng = np.random.default_rng(7)
    dt, n = 1e-4, 5
    times = 40e-3 * rng.random(10)
    who = np.concatenate([[0, 1, 2], rng.integers(0, 3, 7)])  # each of 0-2 spikes at least once
    spk = jg.SpikeTrains.from_times(times, who, dt, int(round(50e-3 / dt)) + 1, n)
    r = jg.simulate(jg.gcamp6f(), spk, dt)
    dff = np.asarray(r.dFF)
    assert dff.shape[1] == n
    np.testing.assert_array_equal(dff[0], 0.0)  # resting state
    last = dff[-1]
    assert np.all(last[:3, None] > last[None, 3:])


def test_injecting_a_sensor_leaves_what_it_was_injected_into_unchanged():
    # Cleo test_remove_sensor: removing the sensor leaves the neuron group and monitors in the
    # network. jaxgeci is functional: inject returns a new scope and never changes the old one
    # or the coordinates
    coords = np.zeros((3, 3))
    coords[:, 2] = 200 * UM
    before = coords.copy()
    s0 = jg.Scope(jg.gcamp6f(), img_width=500 * UM, focus_depth=200 * UM)
    s1 = s0.inject("ng", coords)
    assert s0.n == 0 and s1.n == 3
    np.testing.assert_array_equal(coords, before)


# ---------------------------------------------------------------------------- scope


def _layers():
    # Cleo test_scope: 100 neurons on the axis, 40 at 200 µm, 35 at 300 µm, 25 at 400 µm
    c = np.zeros((100, 3))
    c[:40, 2], c[40:75, 2], c[75:, 2] = 200 * UM, 300 * UM, 400 * UM
    return c


def test_scope_defaults():
    s = jg.Scope(jg.gcamp6f(), img_width=500 * UM, focus_depth=200 * UM)
    np.testing.assert_array_equal(np.asarray(s.direction), [0, 0, 1])
    np.testing.assert_array_equal(np.asarray(s.location), [0, 0, 0])


def test_plane_injection_equals_targeting_the_plane_separately():
    c = _layers()
    s = jg.Scope(jg.gcamp6f(), img_width=500 * UM, focus_depth=200 * UM).inject("ng", c)
    for i_t, nff, fc in (
        s.target_neurons_in_plane(c),
        jg.target_neurons_in_plane(c, s.focus_depth, s.img_width, s.location, s.direction, s.soma_radius),
    ):
        np.testing.assert_array_equal(s.i_targets_per_injct[0], i_t)
        np.testing.assert_allclose(np.asarray(s.sigma_per_injct[0]), nff * float(s.sensor.sigma_noise), rtol=1e-6)
        assert fc.shape == (len(i_t), 3)
    # the whole first layer, in focus (noise focus factor 1)
    assert len(i_t) == 40
    np.testing.assert_array_equal(nff, 1.0)


def test_injection_at_another_depth_and_explicit_targets():
    c = _layers()
    s = jg.Scope(jg.gcamp6f(), img_width=500 * UM, focus_depth=200 * UM)
    s = s.inject("ng", c).inject("ng", c, focus_depth=300 * UM)
    assert len(s.i_targets_per_injct[1]) == 35
    s = s.inject("ng", c, focus_depth=None, i_targets=range(75, 80), sigma_noise=0.5)
    assert len(s.sigma_per_injct[2]) == 5
    np.testing.assert_array_equal(np.asarray(s.sigma_per_injct[2]), 0.5)
    custom = np.linspace(0.1, 0.5, 6)
    s = s.inject("ng", c, focus_depth=None, i_targets=range(80, 86), sigma_noise=custom)
    np.testing.assert_allclose(np.asarray(s.sigma_per_injct[3]), custom, rtol=1e-6)
    with pytest.raises(ValueError):  # both explicit targets and a focus depth
        s.inject("ng", c, focus_depth=200 * UM, i_targets=range(86, 90))


def _prism(n=500, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = np.array([-0.2e-3, -0.2e-3, 0.1e-3]), np.array([0.2e-3, 0.2e-3, 0.3e-3])
    return lo + (hi - lo) * rng.random((n, 3))


def test_noise_focus_factor_grows_with_distance_from_the_plane():
    fd, w = 200 * UM, 200 * UM
    c = _prism()
    i_t, nff, fc = jg.target_neurons_in_plane(c, fd, w)
    order = np.argsort(np.abs(c[i_t, 2] - fd))
    assert np.all(np.diff(nff[order]) >= 0)
    assert 0 < len(i_t) < len(c)
    assert np.all(np.isfinite(nff))
    assert fc.shape == (len(i_t), 3)


def test_in_plane_neurons_all_in_focus_and_only_inside_the_image():
    fd, w = 200 * UM, 200 * UM
    c = _prism()
    c[:, 2] = fd
    i_t, nff, _ = jg.target_neurons_in_plane(c, fd, w)
    assert np.all(np.diff(nff) == 0)
    assert np.sum(np.hypot(c[:, 0], c[:, 1]) < w / 2) == len(i_t)


def test_bigger_soma_and_membrane_indicator_change_the_focus_factor():
    fd, w = 200 * UM, 200 * UM
    rng = np.random.default_rng(1)
    c = _prism()
    c[:, 2] = rng.uniform(fd - 30 * UM, fd + 30 * UM, len(c))
    i_t, nff, _ = jg.target_neurons_in_plane(c, fd, w)
    i_big, nff_big, _ = jg.target_neurons_in_plane(c, fd, w, soma_radius=20 * UM)
    assert len(i_big) > len(i_t)
    assert np.all(nff_big[np.isin(i_big, i_t)] < nff)
    # membrane: the pixel count falls as r/R, slower than (r/R)^2, so its factor is smaller
    i_mem, nff_mem, _ = jg.target_neurons_in_plane(c, fd, w, sensor_location="membrane")
    assert np.all(nff_mem[np.isin(i_mem, i_t)] < nff)
    assert len(i_mem) == len(i_t)  # the cutoff is 0 for both


@pytest.mark.parametrize("regular", [True, False])
def test_scope_to_neo_times_values_and_annotations(regular):
    pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    c = np.array([[1, 2, 200], [4, 5, 200], [7, 8, 200]], dtype=float) * UM
    s = jg.Scope(jg.gcamp6f(), img_width=500 * UM, focus_depth=200 * UM).inject("a", c[:2]).inject("b", c[2:])
    t = np.array([1, 2, 3, 4 + 0.1 * regular]) * 1e-3
    dff = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6], [9, 8, 7]], dtype=float)
    block = jg.scope_to_neo(s, types.SimpleNamespace(t=t, dFF=dff))
    sig = block.segments[0].irregularlysampledsignals[0]
    np.testing.assert_allclose(sig.times.rescale(pq.s).magnitude, t)
    np.testing.assert_array_equal(np.asarray(sig.magnitude), dff)
    a = sig.annotations
    assert a["sensor"] == s.sensor.name
    np.testing.assert_array_equal(a["scope_direction"], np.asarray(s.direction))
    np.testing.assert_allclose(np.asarray(a["scope_location"], dtype=float), 0.0)
    assert float(a["focus_depth"]) == pytest.approx(200.0)  # µm, as Cleo
    assert float(a["img_width"]) == pytest.approx(500.0)
    aa = sig.array_annotations
    np.testing.assert_allclose(aa["dFF_1AP"], float(s.sensor.dFF_1AP))
    for k, axis in zip("xyz", range(3)):
        np.testing.assert_allclose(aa[k], np.asarray(s.focus_coords)[:, axis] / UM, rtol=1e-6)
    np.testing.assert_array_equal(aa["i_roi"], np.arange(s.n))


def test_scope_imaging_runs_for_the_injected_rois():
    # Cleo's inject_sensor_for_targets(): here image() simulates the sensor for each ROI
    c = _layers()
    s = jg.Scope(jg.gcamp6f(), img_width=500 * UM, focus_depth=200 * UM).inject("ng", c)
    spikes = np.zeros((300, 100), dtype=np.float32)
    spikes[10, :] = 1
    res = s.image({"ng": spikes}, 1e-4, sample_every=10, key=jax.random.PRNGKey(0))
    assert np.asarray(res.dFF).shape[1] == s.n == 40
