"""Sharded runs (neurons split over 4 emulated CPU devices) equal unsharded ones.

JAX fixes the device count at start-up, so the checks run in a fresh Python process with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` and ``JAX_PLATFORMS=cpu``.
"""

import os
import subprocess
import sys
import textwrap


SCRIPT = textwrap.dedent(
    r"""
    import sys
    import equinox as eqx
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_numpy_rank_promotion", "raise")
    if sys.argv[1] == "x64":
        jax.config.update("jax_enable_x64", True)
    import jaxgeci
    from jax.sharding import NamedSharding

    assert len(jax.devices()) == 4, jax.devices()
    # Tolerance: sharding only splits the (independent) neuron axis, so every neuron sees the
    # same elementwise operations; XLA may still fuse/vectorise a shard differently (e.g. FMA
    # contraction), a few ulp per step. Over <= 2000 steps that stays below 1e-12 relative in
    # float64 (eps 2.2e-16). In float32 (eps 1.2e-7) the exact propagator of the pre-existing-Ca
    # case subtracts two nearly equal mode terms every step, which magnifies those ulp
    # differences: measured 2e-5 relative on beta, so 1e-4 (the float64 run checks the logic).
    rtol = 1e-12 if sys.argv[1] == "x64" else 1e-4

    def close(a, b, what):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        assert a.shape == b.shape, (what, a.shape, b.shape)
        scale = np.abs(b).max() + 1e-300
        err = np.abs(a - b).max() / scale
        assert err <= rtol, (what, err)

    def same_result(r, u, what):
        close(r.t, u.t, what + " t")
        assert np.array_equal(np.asarray(r.steps), np.asarray(u.steps)), what
        assert set(r.traces) == set(u.traces), what
        for k in u.traces:
            close(r.traces[k], u.traces[k], f"{what} {k}")
        for a, b in zip(jax.tree.leaves(r.final_state), jax.tree.leaves(u.final_state)):
            close(a, b, what + " final_state")

    rng = np.random.default_rng(0)
    T, dt = 1000, 1e-4
    mesh = jaxgeci.neuron_mesh()
    assert mesh.shape == {"batch": 1, "neurons": 4}

    # (N, spikes kind, read-out); N = 13 is padded to 16 and cut back
    cases = [
        (12, "dense", {"sample_every": 7}),
        (12, "trains", {"sample_times": np.sort(rng.uniform(0, T * dt, 9))}),
        (13, "dense", {"sample_times": np.sort(rng.uniform(0, T * dt, 9))}),
        (13, "trains", {"sample_every": 7}),
    ]
    for N, kind, reads in cases:
        dense = (rng.random((T, N)) < 0.01).astype(np.float32)
        dense[3, 1] = 2.0  # two spikes in one step
        spikes = dense if kind == "dense" else jaxgeci.SpikeTrains.from_dense(dense)
        sensor = jaxgeci.gcamp6f().replace(K_d=2.9e-7 * rng.uniform(0.8, 1.2, N))  # per-neuron constant
        rho = rng.uniform(0.5, 1.5, N)
        u = jaxgeci.simulate(sensor, spikes, dt, rho_rel=rho, **reads)
        r = jaxgeci.simulate_sharded(sensor, spikes, dt, rho_rel=rho, mesh=mesh, **reads)
        same_result(r, u, f"N={N} {kind} {list(reads)}")
        if N == 12:  # no padding: the result itself lives on all 4 devices, split by neuron
            sh = r.dFF.sharding
            assert isinstance(sh, NamedSharding) and sh.spec[-1] == "neurons", sh
            assert len(sh.device_set) == 4
    full = sys.argv[1] == "x64"  # float32 runs a subset (time); float64 covers everything
    if full:
        # accurate method, and a run continued from a final state
        u = jaxgeci.simulate(sensor, spikes, dt, method="accurate", sample_every=50)
        r = jaxgeci.simulate_sharded(sensor, spikes, dt, method="accurate", sample_every=50, mesh=mesh)
        same_result(r, u, "accurate")
        u2 = jaxgeci.simulate(sensor, spikes, dt, sample_every=7, state0=u.final_state, rho_rel=rho)
        r2 = jaxgeci.simulate_sharded(sensor, spikes, dt, sample_every=7, state0=u.final_state, rho_rel=rho, mesh=mesh)
        same_result(r2, u2, "continued")

    # pre-existing Ca input sharded over neurons
    pre = jaxgeci.geci(pre_existing_cal=True, **{k: v for k, v in jaxgeci.gcamp6f().params.items() if v is not None})
    ca = 5e-8 + 2e-7 * rng.random((T, 10))
    u = jaxgeci.simulate(pre, None, dt, ca_pre=ca, sample_every=20)
    r = jaxgeci.simulate_sharded(pre, None, dt, ca_pre=ca, sample_every=20, mesh=mesh)
    same_result(r, u, "ca_pre")

    if not full:
        print("SHARDING-OK")
        raise SystemExit(0)

    # parameter batches x neurons on a 2 x 2 mesh: filter_vmap over stacked sensors
    mesh2 = jaxgeci.neuron_mesh(batch=2)
    assert mesh2.shape == {"batch": 2, "neurons": 2}
    N, B = 8, 4
    dense = (rng.random((T, N)) < 0.01).astype(np.float32)
    taus = np.linspace(0.01, 0.03, B)
    sensors = [jaxgeci.gcamp6f().replace(tau_off=t) for t in taus]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *sensors)
    stacked = jaxgeci.shard_sensor(stacked, mesh2, batched=True)
    spikes = jaxgeci.shard_neurons(dense, mesh2)

    @eqx.filter_jit
    @eqx.filter_vmap
    def sweep(s):
        return jaxgeci.simulate(s, spikes, dt, sample_every=100, record=("dFF",)).dFF

    out = sweep(stacked)
    assert out.shape == (B, 10, N)
    for b, s in enumerate(sensors):
        close(out[b], jaxgeci.simulate(s, dense, dt, sample_every=100).dFF, f"sweep {b}")
    print("SHARDING-OK")
    """
)


def _run(mode):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "SHARDING-OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-5000:]


def test_sharded_equals_unsharded_float32():
    _run("f32")


def test_sharded_equals_unsharded_float64():
    _run("x64")


def test_neuron_mesh_names_a_device_count_passed_as_devices():
    import pytest

    import jaxgeci

    with pytest.raises(TypeError, match=r"devices must be a sequence of jax devices .*got 4"):
        jaxgeci.neuron_mesh(4)  # it failed with "'int' object is not iterable"
