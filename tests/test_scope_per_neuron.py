"""Per-neuron sensor constants under the Scope: each ROI is simulated with its own neuron's
constants, whatever the order or number of the targets (offline and closed loop)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


def _setup():
    n = 6
    taus = np.linspace(0.008, 0.03, n)  # tau_off differs per neuron (s)
    sensor = jg.gcamp6f().replace(tau_off=taus)
    rng = np.random.default_rng(3)
    spikes = (rng.random((600, n)) < 0.02).astype(float)
    coords = np.zeros((n, 3))
    return sensor, spikes, coords


def test_reordered_and_fewer_targets_use_their_own_neurons_constants(x64):
    sensor, spikes, coords = _setup()
    targets = [4, 1, 1, 5]  # another order, a repeat, and fewer targets than neurons
    scope = jg.Scope(sensor, img_width=500e-6).inject("exc", coords, focus_depth=None, i_targets=targets)
    res = scope.image({"exc": spikes}, 1e-4, noise=False, sample_every=10)
    ref = jg.simulate(sensor, spikes, 1e-4, sample_every=10).dFF[:, np.asarray(targets)]
    # the same float64 arithmetic per ROI: round-off only
    np.testing.assert_allclose(np.asarray(res.dFF_clean), np.asarray(ref), rtol=1e-12, atol=1e-15)
    # closed loop: after n steps the read equals row n of the offline result
    reader = scope.closed_loop(1e-4)
    for k in range(50):
        reader.step({"exc": spikes[k]})
    np.testing.assert_allclose(np.asarray(reader.get_state()), np.asarray(res.dFF_clean[5]), rtol=1e-12, atol=1e-15)


def test_per_neuron_constants_of_another_length_are_refused_at_inject():
    sensor, _, _ = _setup()
    with pytest.raises(ValueError, match=r"has shape \(6,\).*4 neurons"):
        jg.Scope(sensor, img_width=500e-6).inject("exc", np.zeros((4, 3)), focus_depth=None)


def test_closed_loop_spikes_are_validated():
    """A NaN or negative spike in one closed-loop step is refused (it would otherwise give
    finite numbers forever after)."""
    s = jg.gcamp6f()
    scope = jg.Scope(s, img_width=500e-6).inject("exc", np.zeros((3, 3)), focus_depth=None)
    reader = scope.closed_loop(1e-4, key=jax.random.key(0))
    for bad in ([0.0, np.nan, 0.0], [0.0, -1.0, 0.0]):
        with pytest.raises(ValueError, match="finite counts >= 0"):
            reader.step({"exc": np.asarray(bad)})
    with pytest.raises(ValueError, match=r"must be \(3,\)"):
        reader.step({"exc": jnp.zeros(4)})
    reader.step({"exc": np.array([True, False, True])})  # bool counts stay valid
    assert reader.n_steps == 1


def test_off_axis_population_warns_and_place_under_objective_centres_it():
    """Neurons drawn in [0, 500 µm]^3 with the objective at the origin fill one quadrant of the
    field of view: inject says so; place_under_objective moves them onto the axis (depths
    kept) and the same plane then holds several times more ROIs."""
    rng = np.random.default_rng(0)
    coords = rng.uniform(0, 500e-6, (2000, 3))
    scope = jg.Scope(jg.gcamp6f(), img_width=500e-6, focus_depth=250e-6)
    with pytest.warns(UserWarning, match="off the scope's optical axis"):
        quadrant = scope.inject("a", coords)
    centred = jg.place_under_objective(coords, scope)
    np.testing.assert_allclose(centred[:, 2], coords[:, 2])  # depth along the axis is kept
    np.testing.assert_allclose(centred[:, :2].mean(axis=0), 0.0, atol=1e-18)
    assert scope.inject("a", centred).n > 3 * quadrant.n
