"""Fit checkpoints (jaxgeci._checkpoint): the state and its JSON sidecar are committed as a pair
(a kill between the two writes dropped loss history), a second fit on the same checkpoint is
refused while the first holds its lock, and corrupt checkpoints give a message naming the file
(an equinox TreePathError traceback before)."""

import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgeci
from jaxgeci import _checkpoint as ck


META = {"hash": "abc123"}


def _tree(step):
    return (jnp.arange(3.0) + step, {"m": jnp.full((2,), float(step))}, jnp.asarray(step))


LIKE = _tree(0)


def _save(path, step):
    ck.save_checkpoint(path, _tree(step), step, [float(i) for i in range(step)], META)


def _assert_consistent(path, step):
    tree, got_step, history = ck.load_checkpoint(path, LIKE, META)
    assert got_step == step and len(history) == step
    np.testing.assert_array_equal(tree[0], np.arange(3.0) + step)  # the state of that very step
    assert int(tree[2]) == step


def test_roundtrip_and_no_temporaries_left(tmp_path):
    p = str(tmp_path / "c.eqx")
    _save(p, 4)
    _assert_consistent(p, 4)
    assert sorted(os.listdir(tmp_path)) == ["c.eqx", "c.eqx.json"]
    assert json.loads(open(p + ".json").read())["format"] == ck.FORMAT


@pytest.mark.parametrize("killed_after_replaces", [0, 1])
def test_a_kill_during_the_commit_never_tears_the_pair(tmp_path, monkeypatch, killed_after_replaces):
    """Kill after 0 or 1 of the two os.replace calls: the next load completes the commit (both
    temporaries were fsync'ed), so step, state and loss history agree."""
    p = str(tmp_path / "c.eqx")
    _save(p, 10)
    real, calls = os.replace, []

    def dying_replace(a, b):
        if len(calls) == killed_after_replaces:
            raise KeyboardInterrupt  # stands for SIGKILL: nothing after this runs
        calls.append(a)
        real(a, b)

    monkeypatch.setattr(ck.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        _save(p, 20)
    monkeypatch.setattr(ck.os, "replace", real)
    assert ck.checkpoint_exists(p)
    _assert_consistent(p, 20)  # rolled forward; the old code resumed step 20 with 10 losses
    assert sorted(os.listdir(tmp_path)) == ["c.eqx", "c.eqx.json"]


def test_a_kill_while_writing_the_sidecar_keeps_the_previous_pair(tmp_path):
    p = str(tmp_path / "c.eqx")
    _save(p, 10)
    ck._write_synced(p + ".tmp", b"half a state")
    (tmp_path / "c.eqx.json.tmp").write_text('{"hash": "abc123", "step": 20, "loss_hi')  # cut short
    _assert_consistent(p, 10)
    assert sorted(os.listdir(tmp_path)) == ["c.eqx", "c.eqx.json"]


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda p: open(p, "r+b").write(b"\0\1\2\3"), r"c\.eqx' is corrupt: its state does not match"),
        (lambda p: open(p + ".json", "w").write("{not json"), r"sidecar '.*c\.eqx\.json' is corrupt"),
        (lambda p: open(p + ".json", "w").write("[1]"), r"sidecar .* is not a JSON object"),
        (lambda p: os.remove(p + ".json"), r"c\.eqx' has no '.*c\.eqx\.json' \(an incomplete checkpoint\)"),
        (lambda p: os.remove(p), r"c\.eqx\.json' has no '.*c\.eqx' \(an incomplete"),
        (lambda p: _edit_sidecar(p, loss_history=[1.0]), r"corrupt: step 4 with 1 loss values"),
        (lambda p: _edit_sidecar(p, hash="zzz"), r"belongs to a different fit"),
    ],
)
def test_damaged_checkpoints_are_refused_with_a_message(tmp_path, damage, match):
    p = str(tmp_path / "c.eqx")
    _save(p, 4)
    damage(p)
    with pytest.raises(ValueError, match=match):
        ck.load_checkpoint(p, LIKE, META)


def _edit_sidecar(p, **kw):
    info = json.loads(open(p + ".json").read())
    info.update(kw)
    open(p + ".json", "w").write(json.dumps(info))


def test_a_state_of_another_structure_or_a_legacy_truncated_one_is_explained(tmp_path):
    """No TreePathError / numpy traceback: a ValueError naming the checkpoint."""
    p = str(tmp_path / "c.eqx")
    _save(p, 4)
    with pytest.raises(ValueError, match=r"cannot be read into this fit's parameters"):
        ck.load_checkpoint(p, (jnp.zeros(3), jnp.zeros(5)), META)
    # a sidecar of the old format (no checksum) next to a truncated state
    _edit_sidecar(p, state_sha256=None)
    info = json.loads(open(p + ".json").read())
    del info["state_sha256"], info["format"]
    open(p + ".json", "w").write(json.dumps(info))
    data = open(p, "rb").read()
    open(p, "wb").write(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"c\.eqx' cannot be read .*corrupt or from another version"):
        ck.load_checkpoint(p, LIKE, META)


_HOLDER = """
import sys, time
from jaxgeci._checkpoint import CheckpointLock
lock = CheckpointLock.acquire(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def _rec():
    return jaxgeci.synthetic_recording(jaxgeci.s2f("GCaMP6f"), jax.random.key(0), duration_s=8.0, name="c0")


def test_a_second_process_on_the_same_checkpoint_gets_a_clear_error(tmp_path):
    p = str(tmp_path / "c.eqx")
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, p], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=rf"c\.eqx' is in use by another fit \(process {holder.pid} holds"):
            ck.CheckpointLock.acquire(p)
        with pytest.raises(ValueError, match="in use by another fit"):  # fit refuses before anything runs
            jaxgeci.fit([_rec()], jaxgeci.s2f("GCaMP6f"), ("tau_d1",), checkpoint=p, n_steps=1, progress=False)
    finally:
        holder.kill()
        holder.wait()
    deadline = time.time() + 10
    while True:  # the lock dies with its process: no stale lock after a kill
        try:
            lock = ck.CheckpointLock.acquire(p)
            break
        except ValueError:
            assert time.time() < deadline
            time.sleep(0.1)
    again = ck.CheckpointLock.acquire(p)  # the same process may take it over (a notebook rerun)
    again.release()
    lock.release()  # releasing a lock that was taken over is harmless


def test_fit_refuses_a_corrupt_checkpoint_and_resumes_an_interrupted_commit(tmp_path, monkeypatch):
    sensor, rec = jaxgeci.s2f("GCaMP6f"), _rec()
    kw = dict(n_steps=3, checkpoint_every=1, progress=False, config=jaxgeci.FitConfig(dt=2e-3, unroll=1))
    p = str(tmp_path / "fit.eqx")
    part = jaxgeci.fit([rec], sensor, ("tau_d1",), checkpoint=p, stop_after=2, **kw)
    assert len(part.loss_history) == 2
    state = open(p, "rb").read()
    open(p, "wb").write(state[:-8])
    with pytest.raises(ValueError, match=r"fit\.eqx' is corrupt: its state does not match"):
        jaxgeci.fit([rec], sensor, ("tau_d1",), checkpoint=p, **kw)
    open(p, "wb").write(state)
    done = jaxgeci.fit([rec], sensor, ("tau_d1",), checkpoint=p, **kw)
    assert done.n_steps == 3 and done.loss_history[:2] == part.loss_history  # history kept
    assert not os.path.exists(p + ".tmp")
