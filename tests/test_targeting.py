"""Focal-plane targeting: fixed-shape mask form vs compacted form, projection modes,
boundaries, validation and gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci as jg


def _coords(n=400, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = np.array([-250e-6, -250e-6, 50e-6]), np.array([250e-6, 250e-6, 150e-6])
    return lo + (hi - lo) * rng.random((n, 3))


GEOM = dict(
    scope_focus_depth=100e-6,
    scope_img_width=400e-6,
    scope_location=(10e-6, -5e-6, 0.0),
    scope_direction=(0.1, -0.2, 1.0),
    soma_radius=10e-6,
)


@pytest.mark.parametrize("cleo_compat", [False, True])
@pytest.mark.parametrize("location", ["cytoplasm", "membrane"])
def test_mask_under_jit_equals_compacted(cleo_compat, location, x64):
    x = _coords()
    f = jax.jit(
        lambda x, fd: jg.plane_mask(
            x, fd, 400e-6, GEOM["scope_location"], GEOM["scope_direction"], 10e-6, location, cleo_compat=cleo_compat
        )
    )
    pm = f(x, 100e-6)
    it, nff, cop = jg.target_neurons_in_plane(x, sensor_location=location, cleo_compat=cleo_compat, **GEOM)
    assert it.size > 5  # the geometry selects something
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(pm.mask)), it)
    np.testing.assert_allclose(np.asarray(pm.noise_focus_factor)[it], nff, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(pm.coords_on_plane)[it], cop, rtol=1e-14)
    # unselected neurons hold finite values and a focus factor of exactly 1
    assert np.all(np.asarray(pm.noise_focus_factor)[~np.asarray(pm.mask)] == 1.0)
    for leaf in jax.tree_util.tree_leaves(pm):
        assert np.all(np.isfinite(np.asarray(leaf, dtype=float)))


def test_mask_vmap_over_depths_equals_loop(x64):
    x = _coords()
    depths = jnp.array([70e-6, 100e-6, 130e-6])
    batched = jax.vmap(lambda fd: jg.plane_mask(x, fd, 400e-6).mask)(depths)
    for k, fd in enumerate(depths):
        np.testing.assert_array_equal(batched[k], jg.plane_mask(x, float(fd), 400e-6).mask)
    assert batched.sum(axis=1).min() > 0


def test_orthogonal_vs_cleo_differ_only_objective_side(x64):
    x = _coords(2000, seed=3)
    geom = dict(GEOM, scope_img_width=300e-6)
    a = jg.plane_mask(x, **geom)
    b = jg.plane_mask(
        x,
        **dict(geom, scope_direction=np.asarray(geom["scope_direction"]) / np.linalg.norm(geom["scope_direction"])),
        cleo_compat=True,
    )
    s = np.asarray(a.signed_distance)
    far = s >= 0
    np.testing.assert_array_equal(np.asarray(a.mask)[far], np.asarray(b.mask)[far])
    np.testing.assert_allclose(np.asarray(a.coords_on_plane)[far], np.asarray(b.coords_on_plane)[far], rtol=1e-13)
    near = (s < 0) & np.asarray(a.visible_radius > 0)
    assert near.sum() > 0
    # the orthogonal projection lies on the plane; Cleo's |s| point is 2|s| off it
    n = np.asarray(jg._targeting.unit_vector(jnp.asarray(geom["scope_direction"])))
    c = np.asarray(geom["scope_location"]) + n * geom["scope_focus_depth"]
    np.testing.assert_allclose((np.asarray(a.coords_on_plane) - c) @ n, 0, atol=1e-18)
    off = (np.asarray(b.coords_on_plane)[near] - c) @ n
    np.testing.assert_allclose(off, 2 * s[near], rtol=1e-9)  # (q - c)·n = s - |s| = 2s
    # the focus factors do not depend on the projection
    np.testing.assert_allclose(a.noise_focus_factor[a.mask & b.mask], b.noise_focus_factor[a.mask & b.mask], rtol=1e-14)


def test_direction_normalised_by_default_not_in_cleo_compat(x64):
    x = _coords()
    unit = jg.target_neurons_in_plane(x, 100e-6, 400e-6, scope_direction=(0, 0, 1))
    twice = jg.target_neurons_in_plane(x, 100e-6, 400e-6, scope_direction=(0, 0, 2))
    for u, t in zip(unit, twice):
        np.testing.assert_allclose(u, t, rtol=1e-15)
    cleo = jg.target_neurons_in_plane(x, 100e-6, 400e-6, scope_direction=(0, 0, 2), cleo_compat=True)
    # Cleo's free function puts the plane at depth 2 f with a non-unit direction
    assert not np.array_equal(cleo[0], unit[0])


def test_strict_boundaries(x64):
    R, w, f = 2.0**-17, 2.0**-10, 2.0**-13  # binary-exact
    x = np.array(
        [
            [0, 0, f],  # on the plane: kept, factor 1
            [0, 0, f + R],  # |s| == R: excluded
            [0, 0, f - R],  # |s| == R on the objective side: excluded
            [w / 2, 0, f],  # radial distance == w/2: excluded
            [w / 4, 0, f + R / 2],  # inside
        ]
    )
    it, nff, _ = jg.target_neurons_in_plane(x, f, w, soma_radius=R)
    np.testing.assert_array_equal(it, [0, 4])
    assert nff[0] == 1.0
    np.testing.assert_allclose(nff[1], 1 / np.sqrt(1 - 0.25), rtol=1e-15)  # cytoplasm: p = 1 - (s/R)^2
    _, nff_m, _ = jg.target_neurons_in_plane(x, f, w, soma_radius=R, sensor_location="membrane")
    np.testing.assert_allclose(nff_m[1], 1 / np.sqrt(np.sqrt(0.75)), rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(coords=np.zeros((4, 2))), "coords"),
        (dict(coords=np.zeros(3)), "coords"),
        (dict(coords=np.array([[0, 0, np.nan]])), "coords"),
        (dict(scope_img_width=0.0), "scope_img_width"),
        (dict(scope_img_width=-1e-4), "scope_img_width"),
        (dict(soma_radius=0.0), "soma_radius"),
        (dict(soma_radius=np.inf), "soma_radius"),
        (dict(scope_direction=(0, 0, 0)), "scope_direction"),
        (dict(scope_direction=(0, np.nan, 1)), "scope_direction"),
        (dict(scope_direction=(0, 1)), "scope_direction"),
        (dict(scope_location=(0, 0, np.inf)), "scope_location"),
        (dict(scope_focus_depth=np.nan), "scope_focus_depth"),
        (dict(sensor_location="nucleus"), "sensor_location"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = dict(coords=_coords(10), scope_focus_depth=100e-6, scope_img_width=400e-6)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        jg.target_neurons_in_plane(**args)
    with pytest.raises(ValueError, match=match):
        jg.plane_mask(**args)


def test_compacted_form_refuses_tracing():
    with pytest.raises(TypeError, match="plane_mask"):
        jax.jit(lambda x: jg.target_neurons_in_plane(x, 100e-6, 400e-6)[0])(jnp.zeros((3, 3)))


@pytest.mark.parametrize("cleo_compat", [False, True])
def test_gradients_finite_including_degenerate_neurons(cleo_compat, x64):
    # On the axis (rho = 0), on the plane (s = 0), outside the soma, outside the view.
    x = jnp.array([[0, 0, 100e-6], [0, 0, 103e-6], [5e-6, 0, 100e-6], [0, 0, 200e-6], [1e-3, 0, 100e-6]])

    def loss(fd, w, R, x, d):
        pm = jg.plane_mask(x, fd, w, (0.0, 0.0, 0.0), d, R, cleo_compat=cleo_compat)
        return (
            jnp.sum(jnp.where(pm.mask, pm.noise_focus_factor * pm.radial_distance, 0.0))
            + jnp.sum(pm.pixel_fraction)
            + jnp.sum(pm.coords_on_plane)
        )

    grads = jax.grad(loss, argnums=(0, 1, 2, 3, 4))(100e-6, 400e-6, 10e-6, x, jnp.array([0.0, 0.0, 1.0]))
    for g in jax.tree_util.tree_leaves(grads):
        assert np.all(np.isfinite(np.asarray(g)))
    # the factor moves with the focus depth for the off-plane neuron: d nff/d f != 0
    g_fd = jax.grad(lambda fd: jg.plane_mask(x, fd, 400e-6).noise_focus_factor[1])(100e-6)
    assert np.isfinite(g_fd) and g_fd != 0


def test_gradient_matches_finite_difference(x64):
    x = jnp.asarray(_coords(50, seed=4))

    def nff_sum(fd):
        pm = jg.plane_mask(x, fd, 400e-6)
        return jnp.sum(jnp.where(pm.mask, pm.noise_focus_factor, 0.0))

    fd0 = 100e-6
    g = jax.grad(nff_sum)(fd0)
    h = 1e-10  # far smaller than every |R - |s|| of the selected neurons, so the mask is fixed
    fdiff = (nff_sum(fd0 + h) - nff_sum(fd0 - h)) / (2 * h)
    np.testing.assert_allclose(g, fdiff, rtol=1e-5)  # central difference error O(h^2 f''')


def test_float32_finite():
    pm = jg.plane_mask(jnp.asarray(_coords(), jnp.float32), 100e-6, 400e-6)
    assert pm.noise_focus_factor.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(pm.noise_focus_factor)))
    assert int(pm.mask.sum()) > 0


def test_filter_jit_no_retrace():
    f = jax.jit(eqx.debug.assert_max_traces(lambda x, fd: jg.plane_mask(x, fd, 400e-6).mask, max_traces=1))
    x = jnp.asarray(_coords(), jnp.float32)
    f(x, 100e-6)
    f(x, 110e-6)
