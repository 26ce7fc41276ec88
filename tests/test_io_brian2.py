"""Brian2 and Cleo interop (jaxgeci.io): SpikeMonitor -> SpikeTrains, NeuronGroup
coordinates -> metres, a Cleo GECI's params -> the equivalent jaxgeci sensor."""

import importlib

import numpy as np
import pytest

import jaxgeci
from jaxgeci.io import coords_from_brian2, sensor_from_cleo, spikes_from_brian2


DT = 1e-4  # s, Cleo's usual step


def _import_or_skip(name):
    """Skip when the module is absent or fails to import (Brian2 2.9 breaks on NumPy >= 2.4)."""
    try:
        return importlib.import_module(name)
    except Exception as err:
        pytest.skip(f"{name} unavailable: {type(err).__name__}: {err}")


def _brian2():
    b2 = _import_or_skip("brian2")
    b2.prefs.codegen.target = "numpy"  # no Cython compile (~20 s) in unit tests
    b2.start_scope()
    b2.BrianLogger.suppress_name("unused_brian_object")  # groups we only read coordinates of
    return b2


def test_spikemonitor_round_trip():
    """SpikeTrains -> Brian2 SpikeGeneratorGroup -> SpikeMonitor -> SpikeTrains is the
    identity, and the sensor driven by it equals the one driven by the original."""
    b2 = _brian2()
    rng = np.random.default_rng(0)
    n_neurons, n_steps = 4, 300
    steps = np.sort(rng.choice(n_steps, size=25, replace=False))
    neurons = rng.integers(0, n_neurons, size=25)
    orig = jaxgeci.SpikeTrains(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=n_neurons)

    gen = b2.SpikeGeneratorGroup(n_neurons, neurons, steps * DT * b2.second, dt=DT * b2.second)
    mon = b2.SpikeMonitor(gen)
    net = b2.Network(gen, mon)
    net.run(n_steps * DT * b2.second)

    got = spikes_from_brian2(mon, DT)
    assert (got.n_steps, got.n_neurons) == (n_steps, n_neurons)  # from the clock and source
    np.testing.assert_array_equal(got.to_dense(), orig.to_dense())

    sensor = jaxgeci.gcamp6f()
    a = jaxgeci.simulate(sensor, got, DT, sample_every=10).dFF
    b = jaxgeci.simulate(sensor, orig.to_dense(), DT, sample_every=10).dFF
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # identical inputs


def test_spikemonitor_of_a_spiking_neurongroup_and_coarser_dt():
    b2 = _brian2()
    group = b2.NeuronGroup(
        6, "dv/dt = (1.2 - v) / (10*ms) : 1", threshold="v > 1", reset="v = 0", method="euler", dt=DT * b2.second
    )
    mon = b2.SpikeMonitor(group)
    net = b2.Network(group, mon)
    net.run(50 * b2.ms)
    t = np.asarray(mon.t / b2.second)
    assert t.size > 0  # the neurons fire regularly (~every 18 ms)
    fine = spikes_from_brian2(mon, DT)
    np.testing.assert_array_equal(np.asarray(fine.steps), np.rint(t / DT).astype(int))
    coarse = spikes_from_brian2(mon, 1e-3, t_start=5 * b2.ms)
    assert coarse.n_steps == 45  # (50 ms - 5 ms) / 1 ms
    np.testing.assert_array_equal(np.asarray(coarse.steps), np.floor((t - 5e-3) / 1e-3 + 1e-9).astype(int))


def test_spikes_from_plain_objects_and_errors():
    class Mon:  # anything with .t (s) and .i
        t = np.array([0.0, 0.00105, 0.002])
        i = np.array([0, 2, 1])

    st = spikes_from_brian2(Mon(), 1e-3, n_neurons=3)
    np.testing.assert_array_equal(np.asarray(st.steps), [0, 1, 2])
    assert st.n_steps == 3  # no clock: just past the last spike
    with pytest.raises(ValueError, match="outside the time grid"):
        spikes_from_brian2(Mon(), 1e-3, n_steps=2, n_neurons=3)
    with pytest.raises(ValueError, match="dt"):
        spikes_from_brian2(Mon(), -1.0)


def test_coords_from_neurongroup_in_metres():
    b2 = _brian2()
    g = b2.NeuronGroup(3, "x : meter\ny : meter\nz : meter\nq : volt\nu : 1")
    g.x = [1, 2, 3] * b2.umetre
    g.y = [0, -5, 5] * b2.mmetre
    g.z = 100 * b2.umetre
    xyz = coords_from_brian2(g)
    np.testing.assert_allclose(xyz, [[1e-6, 0, 1e-4], [2e-6, -5e-3, 1e-4], [3e-6, 5e-3, 1e-4]], rtol=1e-12)
    assert xyz.dtype == np.float64 and xyz.shape == (3, 3)
    with pytest.raises(TypeError, match="dimension of m"):
        coords_from_brian2(g, names=("x", "y", "q"))
    with pytest.raises(TypeError, match="no unit"):
        coords_from_brian2(g, names=("x", "y", "u"))
    g.u = 7.0
    np.testing.assert_allclose(coords_from_brian2(g, names=("x", "y", "u"), unit=1e-6)[:, 2], 7e-6, rtol=1e-12)
    with pytest.raises(ValueError, match="no variable 'w'"):
        coords_from_brian2(g, names=("x", "y", "w"))


# ------------------------------------------------------------------------------- Cleo


def _cleo_like_params(b2, preset):
    """A Cleo-style params dict (Brian2 quantities) built from a jaxgeci preset's SI values."""
    units = dict(
        K_d=b2.molar,
        Ca_rest=b2.molar,
        B_T=b2.molar,
        dCa_T=b2.molar,
        gamma=b2.hertz,
        A=b2.hertz,
        tau_on=b2.second,
        tau_off=b2.second,
    )
    out = {}
    for k, v in preset.params.items():
        if v is None or k in ("sigma_noise", "dFF_1AP"):
            continue
        out[k] = float(v) * units[k] if k in units else float(v)
    out["on_pre"] = "Ca += dCa_T / (1 + kappa_S + kappa_B)"  # Brian2 strings are ignored
    return out


class _FakeCleoGECI:
    def __init__(self, params, name, sigma_noise, dFF_1AP, location="cytoplasm"):
        self.params, self.name = params, name
        self.sigma_noise, self.dFF_1AP, self.location = sigma_noise, dFF_1AP, location


def _assert_same_params(a, b):
    pa, pb = a.params, b.params
    assert sorted(pa) == sorted(pb)
    for k in pa:
        if pa[k] is None or pb[k] is None:
            assert pa[k] is None and pb[k] is None, k
        else:
            # Brian2 stores values in base units and we divide by `molar`: one or two
            # roundings of float64, hence rtol 1e-12 rather than equality.
            np.testing.assert_allclose(float(pa[k]), float(pb[k]), rtol=1e-12, err_msg=k)


@pytest.mark.parametrize(
    "preset, kw",
    [
        (jaxgeci.gcamp6f, {}),
        (jaxgeci.gcamp6s, {}),
        (jaxgeci.gcamp3, {}),
        (jaxgeci.ogb1, {"doub_exp_conv": False}),
        (jaxgeci.gcamp6f, {"pre_existing_cal": True}),
    ],
)
def test_sensor_from_cleo_params_with_brian2_units(preset, kw):
    b2 = _brian2()
    ref = preset(**kw)
    fake = _FakeCleoGECI(
        _cleo_like_params(b2, ref),
        ref.name,
        float(ref.sigma_noise),
        None if ref.dFF_1AP is None else float(ref.dFF_1AP),
    )
    got = sensor_from_cleo(fake)
    _assert_same_params(got, ref)
    assert got.name == ref.name
    assert type(got.cal_model) is type(ref.cal_model)
    assert type(got.bind_act_model) is type(ref.bind_act_model)


def test_sensor_from_cleo_plain_dict_and_structure_from_classes():
    ref = jaxgeci.gcamp6s(doub_exp_conv=False, pre_existing_cal=True)
    # pre-existing Ca + null binding: Cleo's params have no Ca_rest (quirk 2); we use 5e-8 M.
    got = sensor_from_cleo({"K_d": 147e-9, "n_H": 2.45, "dFF_max": 27.2})
    assert got.needs_ca_input and got.trace_names() == ("dFF", "Ca", "CaB_active")
    np.testing.assert_allclose(float(got.Ca_rest), 5e-8, rtol=1e-7)  # float32 storage

    class DynamicCalcium:  # structure read from the submodel class names, as in Cleo
        pass

    class NullBindingActivation:
        pass

    params = dict(jaxgeci.gcamp6s(doub_exp_conv=False).params)
    params.update(cal_model=DynamicCalcium(), bind_act_model=NullBindingActivation(), A=1.0)
    got = sensor_from_cleo(params)
    assert not got.needs_ca_input and "b" not in got.trace_names()  # A ignored: null binding
    assert ref.K_d == got.K_d
    rest = sensor_from_cleo(params, dff_baseline="rest")  # overrides go to jaxgeci.geci
    assert rest.dff_baseline == "rest"


def test_sensor_from_cleo_errors():
    with pytest.raises(TypeError, match="params"):
        sensor_from_cleo(42)
    b2 = _brian2()
    with pytest.raises(TypeError, match="K_d must have the dimension of M"):
        sensor_from_cleo({"K_d": 3 * b2.second, "n_H": 2.0, "dFF_max": 10.0})


def test_sensor_from_real_cleo_matches_presets():
    _import_or_skip("brian2")
    ci = _import_or_skip("cleo.imaging")
    for name in ("gcamp6f", "gcamp6s", "gcamp3"):
        cleo_sensor = getattr(ci, name)()
        _assert_same_params(sensor_from_cleo(cleo_sensor), getattr(jaxgeci, name)())
    for name in ("jgcamp7f", "ogb_1", "gcamp6_rs09"):
        cleo_sensor = getattr(ci, name)(doub_exp_conv=False)
        _assert_same_params(sensor_from_cleo(cleo_sensor), getattr(jaxgeci, name)(doub_exp_conv=False))
