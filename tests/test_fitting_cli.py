"""End-to-end: ``python -m fitting fit`` then ``evaluate`` on tiny synthetic .npz files."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxgeci


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write(tmp_path, name, sensor, key, dataset):
    r = jaxgeci.synthetic_recording(
        sensor, key, duration_s=6.0, frame_rate_hz=30.0, name=name, dataset=dataset, noise_std=0.02, rho_rel=1.2
    )
    p = tmp_path / f"{name}.npz"
    np.savez(
        p,
        t_frames=r.t_frames,
        dff=r.dff.astype(np.float32),
        spike_times=r.spike_times,
        frame_rate_hz=np.array(30.0),
        indicator=np.array("GCaMP6f"),
        dataset=np.array(dataset),
    )
    return str(p)


def _run(*args):
    out = subprocess.run(
        [sys.executable, "-m", "fitting", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_cli_fit_then_evaluate(tmp_path):
    s = jaxgeci.gcamp6f()
    files = [_write(tmp_path, f"GCaMP6f_DSA_c{i}", s, jax.random.key(i), "Cascade DS01-x") for i in range(2)]
    files.append(_write(tmp_path, "GCaMP6f_DSB_c9", s, jax.random.key(9), "Cascade DS02-y"))
    params = tmp_path / "GCaMP6f.json"
    fit_out = _run(
        "fit",
        "--model",
        "geci",
        "--out",
        str(params),
        "--free",
        "gamma,tau_off",
        "--steps",
        "2",
        "--starts",
        "1",
        "--dt",
        "0.002",
        "--segment",
        "3",
        "--warmup",
        "1",
        "--unroll",
        "1",  # compiles ~2x faster than the default 8; the same fit up to round-off
        *files,
    )
    assert fit_out.stdout.startswith("GCaMP6f: DS01 geci median EV") and "wrote" in fit_out.stdout  # summary
    assert "\r" not in fit_out.stderr  # no progress bar off a terminal, even without --no-progress
    doc = json.loads(params.read_text())
    # one parameter set per dataset; the default is the larger one
    assert set(doc["parameter_sets"]) == {"DS01", "DS02"} and doc["default"] == "DS01"
    assert doc["parameter_sets"]["DS01"]["datasets"] == ["Cascade DS01-x"]
    assert set(doc["parameter_sets"]["DS01"]["cells"]) == {"GCaMP6f_DSA_c0", "GCaMP6f_DSA_c1"}

    out = tmp_path / "eval.json"
    traces = tmp_path / "traces"
    _run("evaluate", "--params", str(params), "--json", str(out), "--save-traces", str(traces), "--no-progress", *files)
    ev = json.loads(out.read_text())
    assert set(ev["files"]) == {os.path.basename(f) for f in files}
    assert ev["files"]["GCaMP6f_DSB_c9.npz"]["parameter_set"] == "DS02"
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        d = np.load(traces / f"{stem}.npz")
        assert (traces / f"{stem}.png").exists()
        # EV can be recomputed outside the project from the saved traces
        t, y, m = d["t_frames"], d["dff"], d["model"]
        keep = t >= t[0] + 2.0
        ev_out = 1 - np.mean((y[keep] - m[keep]) ** 2) / np.var(y[keep])
        assert ev_out == pytest.approx(ev["files"][stem + ".npz"]["ev"], abs=1e-6)
        assert ev_out > 0.9  # synthetic data from the same model family


def test_cli_bad_file_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(
        p,
        t_frames=np.arange(100) / 30.0,
        dff=np.full(100, np.nan),
        spike_times=np.array([1.0]),
        frame_rate_hz=np.array(30.0),
    )
    out = subprocess.run(
        [sys.executable, "-m", "fitting", "evaluate", "--params", "x.json", "--json", str(tmp_path / "o.json"), str(p)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and "NaN" in out.stderr and "bad.npz" in out.stderr


# ---------------------------------------------------------------------------- one-line errors
# In-process (``fitting.cli.main``), with the global x64 switch disabled so the test session's
# float settings are untouched.

import types  # noqa: E402

from fitting import cli  # noqa: E402


@pytest.fixture
def run_cli(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_enable_x64", lambda flag: None)

    def run(*argv):
        try:
            rc = cli.main(list(argv))
        except SystemExit as e:  # argparse
            rc = e.code
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _good_npz(path, dff=None, indicator="GCaMP6f"):
    t = np.arange(300) / 30.0
    dff = np.sin(t) if dff is None else dff
    return _npz(
        path,
        t_frames=t,
        dff=dff,
        spike_times=np.array([1.0, 4.0]),
        frame_rate_hz=np.array(30.0),
        indicator=np.array(indicator),
    )


RESULTS = os.path.join(ROOT, "fitting", "results")


def _bad_inputs(tmp_path):
    """(argv, text the one line must contain) for each kind of expected failure."""
    good = _good_npz(tmp_path / "good.npz")
    whole = open(good, "rb").read()
    (tmp_path / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "garbage.npz").write_bytes(b"not a zip archive at all\n" * 4)
    np.save(tmp_path / "one.npy", np.zeros(3))
    flat = _good_npz(tmp_path / "flat.npz", dff=np.full(300, 0.25))
    nokey = _npz(tmp_path / "nokey.npz", t_frames=np.arange(300) / 30.0, dff=np.zeros(300))
    params = os.path.join(RESULTS, "GCaMP6f.json")
    doc = json.load(open(params))
    broken = {}
    d = json.loads(json.dumps(doc))
    del d["parameter_sets"]["DS09"]["constants"]
    broken["noconst"] = (d, "constants")
    d = json.loads(json.dumps(doc))
    d["parameter_sets"]["DS09"]["model"] = None
    broken["nullmodel"] = (d, "model")
    d = json.loads(json.dumps(doc))
    d["parameter_sets"] = [1, 2]
    broken["listsets"] = (d, "parameter_sets")
    d = json.loads(json.dumps(doc))
    d["parameter_sets"]["DS09"]["datasets"] = "Cascade DS09-GCaMP6f-m-V1"
    broken["strdatasets"] = (d, "datasets")
    cases = []
    for name, (d, key) in broken.items():
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(d))
        cases.append(
            (("evaluate", "--params", str(p), "--json", str(tmp_path / "o.json"), good), [f"{name}.json", key])
        )
    ev = ("evaluate", "--params", params, "--json", str(tmp_path / "o.json"))
    cases += [
        ((*ev, str(tmp_path / "missing.npz")), ["missing.npz", "does not exist"]),
        ((*ev, str(tmp_path / "truncated.npz")), ["truncated.npz", "not a readable .npz"]),
        ((*ev, str(tmp_path / "garbage.npz")), ["garbage.npz", "not a readable .npz"]),
        ((*ev, str(tmp_path / "one.npy")), ["one.npy", ".npy"]),
        ((*ev, nokey), ["nokey.npz", "spike_times"]),
        ((*ev, str(tmp_path)), ["is a directory"]),
        ((*ev, flat), ["flat", "dff is flat"]),  # EV would be -inf (was written as -Infinity)
        (("evaluate", "--params", str(tmp_path / "none.json"), "--json", "o.json", good), ["none.json"]),
        (("evaluate", "--params", good, "--json", "o.json", good), ["good.npz", "could not read results"]),
        (("fit", "--out", str(tmp_path / "f.json"), "--steps", "x", good), ["--steps", "invalid int"]),
        (("fit", "--out", str(tmp_path / "f.json"), "--model", "nope", good), ["--model", "nope"]),
        (("fit", "--out", str(tmp_path / "f.json"), "--steps", "-3", good), ["n_steps"]),
        (("fit", "--out", str(tmp_path / "f.json"), "--free", "K_x", "--model", "s2f", good), ["K_x"]),
        (("fit", "--out", str(tmp_path / "f.json"), "--model", "s2f", "--steps", "1", flat), ["dff is flat"]),
        (("frobnicate",), ["invalid choice"]),
        ((), ["required"]),
    ]
    return cases


def test_every_expected_failure_is_one_line_and_exit_2(tmp_path, run_cli):
    for argv, expect in _bad_inputs(tmp_path):
        rc, out, err = run_cli(*argv)
        lines = [l for l in err.strip().splitlines() if "error" in l]  # log lines may come before it
        assert rc == 2, (argv, rc, err)
        assert len(lines) == 1 and "Traceback" not in err and err.strip().endswith(lines[0]), (argv, err)
        assert all(e in lines[0] for e in expect), (argv, lines[0])
        assert out == "", (argv, out)  # nothing half-written to stdout


class _Boom(Exception):
    pass


@pytest.mark.parametrize(
    "exc", [KeyError("frame_rate"), OSError(28, "No space left on device"), TypeError("bad type"), ValueError("x\ny")]
)
def test_a_future_subcommand_gets_the_one_line_handling(monkeypatch, run_cli, exc):
    """Subcommands registered through SUBCOMMAND_MODULES are wrapped by main(), not by themselves."""
    mod = types.ModuleType("fitting._fake_cmd")

    def run(args):
        raise exc

    mod.add_parser = lambda sub: cli.add_command(sub, "fake", help="a test command", run=run)
    monkeypatch.setitem(sys.modules, "fitting._fake_cmd", mod)
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("_fake_cmd",))
    rc, out, err = run_cli("fake")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    # an unexpected exception is a bug: it keeps its traceback
    mod2 = types.ModuleType("fitting._fake_cmd")
    mod2.add_parser = lambda sub: cli.add_command(sub, "fake", help="x", run=lambda a: (_ for _ in ()).throw(_Boom()))
    monkeypatch.setitem(sys.modules, "fitting._fake_cmd", mod2)
    with pytest.raises(_Boom):
        cli.main(["fake"])


def test_traceback_flag_reraises(tmp_path, run_cli):
    with pytest.raises(ValueError, match="does not exist"):
        cli.main(["--traceback", "evaluate", "--params", "x.json", "--json", "o.json", str(tmp_path / "no.npz")])


def test_help_has_text_and_defaults_for_every_option(run_cli):
    """Every subcommand, including those registered by other modules (SUBCOMMAND_MODULES)."""
    parser = cli.build_parser()
    choices = next(a for a in parser._actions if isinstance(a, cli.argparse._SubParsersAction)).choices
    assert {"fit", "evaluate", "export-package-data"} <= set(choices)
    for cmd, sub in choices.items():
        rc, out, err = run_cli(cmd, "--help")
        assert rc == 0
        for action in sub._actions:
            assert action.help, (cmd, action.dest)  # every option explains itself
            if action.default not in (None, False, "", cli.argparse.SUPPRESS):
                assert f"(default: {action.default})" in " ".join(out.split()), (cmd, action.dest)


def test_default_model_is_the_committed_winner():
    for name in ("GCaMP6f", "GCaMP6s", "jGCaMP8m"):
        doc = json.load(open(os.path.join(RESULTS, f"{name}.json")))
        assert cli.default_model(name) == doc["parameter_sets"][doc["default"]]["model"]
    # the family differs between indicators (two-state, S2F and adaptive S2F in the committed files)
    assert len({cli.default_model(n) for n in ("GCaMP6f", "jGCaMP7f", "jGCaMP8m")}) == 3
    assert cli.default_model("NoSuchIndicator") == "s2f"


def test_progress_bar_only_on_a_terminal(monkeypatch):
    a = types.SimpleNamespace(no_progress=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert cli._progress(a) is False
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli._progress(a) is True and cli._progress(types.SimpleNamespace(no_progress=True)) is False


def test_write_json_refuses_non_finite_numbers(tmp_path):
    with pytest.raises(ValueError, match=r"files\.a\.ev is -inf"):
        cli.write_json(str(tmp_path / "o.json"), {"files": {"a": {"ev": float("-inf")}}})
    assert not (tmp_path / "o.json").exists()


def test_evaluate_with_another_indicators_constants_warns(tmp_path, run_cli):
    """jGCaMP8m constants on a GCaMP6f recording: still scored, with a one-line warning naming both."""
    p = _write(tmp_path, "GCaMP6f_cell", jaxgeci.gcamp6f(), jax.random.key(3), "Cascade DS09-GCaMP6f-m-V1")
    rc, out, err = run_cli(
        "evaluate", "--params", os.path.join(RESULTS, "jGCaMP8m.json"), "--json", str(tmp_path / "o.json"), p
    )
    assert rc == 0, err
    warn = [l for l in err.splitlines() if l.startswith("warning:")]
    assert len(warn) == 1 and "jGCaMP8m" in warn[0] and "GCaMP6f" in warn[0], err
    assert out.startswith("median EV") and "wrote" in out  # the summary goes to stdout


def test_real_vs_simulated_figure_on_stand_in_recordings(tmp_path):
    """The README's figure script, on synthetic stand-ins named like the real cells it picks
    (the recordings themselves are not in the repository)."""
    from fitting import real_vs_simulated as rvs

    for name, _ in rvs.SHOWN:
        cell = rvs._median_cell(jaxgeci.fitted_info(name))
        r = jaxgeci.synthetic_recording(
            jaxgeci.fitted(name), jax.random.key(1), duration_s=25.0, frame_rate_hz=30.0, noise_std=0.02
        )
        np.savez(
            tmp_path / f"{cell}.npz",
            t_frames=r.t_frames,
            dff=r.dff,
            spike_times=r.spike_times,
            frame_rate_hz=np.array(30.0),
            indicator=np.array(name),
        )
    out = rvs.make_figure(str(tmp_path), str(tmp_path / "fig" / "rvs.png"))
    assert os.path.getsize(out) > 20_000


_OUT_HOLDER = """
import sys, time
from fitting.cli import lock_output
lock = lock_output(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_fit_on_the_same_out_path_fails_at_once(tmp_path, run_cli):
    out = str(tmp_path / "GCaMP6f.json")
    holder = subprocess.Popen([sys.executable, "-c", _OUT_HOLDER, out], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc, _, err = run_cli("fit", "--out", out, "--steps", "1", _good_npz(tmp_path / "g.npz"))
        assert rc == 2 and "another fit is writing" in err and "GCaMP6f.json" in err, err
    finally:
        holder.kill()
        holder.wait()
    cli.lock_output(out).close()  # free again once the holder is gone
