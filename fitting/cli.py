"""Command line of the fitting pipelines (public jaxgeci API only).

    python -m fitting fit --out PARAMS.json [--model MODEL] FILES...
    python -m fitting evaluate --params PARAMS.json --json OUT.json [--save-traces DIR] FILES...

``fit`` fits constants shared across the given recordings of one indicator (one parameter set
per ``dataset`` by default, e.g. virus-expressed vs transgenic GCaMP6) plus the per-recording
terms of the fixed protocol; ``evaluate`` freezes the constants and fits only the per-recording
terms (cubic B-spline baseline with knots >= 30 s apart, amplitude, one lag within ±50 ms).
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import math
import os
import re
import sys
import time
import warnings
import zipfile


SUBCOMMAND_MODULES: tuple[str, ...] = (
    # Subcommands defined in their own module of this package, one line each (e.g. "synthesize",).
    # Such a module defines ``add_parser(subparsers)``, which calls ``add_command(subparsers, ...)``
    # (or ``subparsers.add_parser``) and sets ``run=FUNC`` with ``FUNC(args) -> int | None``;
    # main() gives every subcommand the one-line error handling below.
    "infer",
    "package_data",
    "synthesize",
)

EXPECTED_ERRORS = (ValueError, TypeError, OSError, KeyError, ImportError, EOFError, zipfile.BadZipFile)
"""Failures a user can cause (bad files, bad arguments, a missing extra): one line, exit 2."""

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _set_name(dataset: str) -> str:
    m = re.search(r"DS\d+", dataset)
    return m.group(0) if m else (dataset or "default")


def _enable_x64(flag: bool):
    import jax

    jax.config.update("jax_enable_x64", bool(flag))


def _load(files, window=None):
    import jaxgeci

    recs = [jaxgeci.load_recording(f) for f in files]
    if window:
        recs = [r.window(window) for r in recs]
    return recs


def default_model(indicator: str) -> str:
    """The model family that won for ``indicator`` in the committed results
    (``fitting/results/<indicator>.json``, the family of its default set), else ``"s2f"``."""
    path = os.path.join(RESULTS_DIR, f"{indicator}.json")
    if not indicator or not os.path.isfile(path):
        return "s2f"
    import jaxgeci

    doc = jaxgeci.load_results(path)
    return doc["parameter_sets"][doc["default"]]["model"]


def fit_indicator(
    recs,
    model: str | None = None,
    *,
    free=None,
    per_cell=(),
    split_datasets: bool = True,
    n_steps: int = 150,
    learning_rate: float = 0.05,
    optimizer: str = "adam",
    n_starts: int = 4,
    dt: float = 1e-3,
    segment_s: float = 20.0,
    warmup_s: float = 5.0,
    gradient: str | None = None,
    isolated_weight: float = 0.0,
    loss: str = "mean",
    unroll: int | None = None,
    checkpoint_dir=None,
    progress: bool = True,
    log=print,
):
    """Fit one indicator's recordings; returns ``(indicator, sets, default)`` ready for
    :func:`jaxgeci.write_results`. ``model=None``: :func:`default_model` of the indicator."""
    import jax

    import jaxgeci

    indicators = sorted({r.indicator for r in recs})
    if len(indicators) != 1:
        raise ValueError(f"fit: all recordings must have one indicator, got {indicators}.")
    indicator = indicators[0]
    if model is None:
        model = default_model(indicator)
        log(f"{indicator}: model {model} (the family that won for it in fitting/results/, else s2f)")
    spec = jaxgeci.get_model(model)
    groups = collections.defaultdict(list)
    for r in recs:
        groups[_set_name(r.dataset) if split_datasets else "all"].append(r)
    sets = {}
    for name, group in sorted(groups.items()):
        sensor0 = spec.initial(indicator, group[0].dataset)
        cfg = jaxgeci.FitConfig(
            dt=dt,
            segment_s=segment_s,
            warmup_s=warmup_s,
            gradient=gradient or spec.gradient,
            isolated_weight=isolated_weight,
            loss=loss,
            unroll=unroll,
        )
        ckpt = None
        if checkpoint_dir:
            os.makedirs(checkpoint_dir, exist_ok=True)
            ckpt = os.path.join(checkpoint_dir, f"{indicator}_{name}_{model}.eqx")
        t0 = time.perf_counter()
        res = jaxgeci.fit(
            group,
            sensor0,
            tuple(free or spec.default_free),
            per_cell=per_cell,
            constraints=spec.constraints,
            n_steps=n_steps,
            learning_rate=learning_rate,
            optimizer=optimizer,
            n_starts=n_starts,
            key=jax.random.key(0),
            config=cfg,
            checkpoint=ckpt,
            progress=progress,
        )
        evs = [c["ev"] for c in res.cells.values()]
        log(
            f"{indicator} [{name}] {model}: {len(group)} cells, {time.perf_counter() - t0:.1f} s, "
            f"EV per cell {', '.join(f'{e:.3f}' for e in evs)}"
        )
        sets[name] = jaxgeci.parameter_set(res, group, model=model)
    default = max(sorted(sets), key=lambda k: len(sets[k]["cells"]))
    return indicator, sets, default


def evaluate_files(params_path, recs, *, dt=1e-3, save_traces=None, progress=True):
    """Evaluate a results file on recordings; returns the JSON document."""
    import jaxgeci

    doc = jaxgeci.load_results(params_path)
    files = {}
    it = recs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(recs, desc="evaluate", leave=False)
    for rec in it:
        set_name, pset = jaxgeci.select_parameter_set(doc, rec.dataset)
        sensor = jaxgeci.sensor_from_results(doc, set_name=set_name)
        r = jaxgeci.evaluate(sensor, [rec], dt=dt)[0]
        files[rec.name + ".npz"] = {
            "ev": r["ev"],
            "rho_rel": r["rho_rel"],
            "lag_s": r["lag_s"],
            "n_frames_scored": r["n_frames_scored"],
            "parameter_set": set_name,
            "model": pset["model"],
            "dataset": rec.dataset,
            "indicator": rec.indicator,
        }
        if save_traces:
            _save_trace(save_traces, rec, r)
    evs = sorted(v["ev"] for v in files.values())
    if not evs:
        raise ValueError("evaluate: no recordings given.")
    return {
        "params": params_path if isinstance(params_path, str) else "<in memory>",
        "protocol": "EV = 1 - mean((dff - model)^2)/var(dff) over frames after the first 2 s; per recording "
        "only a cubic B-spline baseline (knots >= 30 s apart), an amplitude scale and one lag in ±50 ms are fitted",
        "files": files,
        "median_ev": evs[len(evs) // 2] if len(evs) % 2 else 0.5 * (evs[len(evs) // 2 - 1] + evs[len(evs) // 2]),
        "mean_ev": sum(evs) / len(evs),
    }


def _save_trace(out_dir, rec, r):
    import numpy as np

    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, rec.name)
    np.savez(
        stem + ".npz",
        t_frames=rec.t_frames,
        dff=rec.dff,
        model=r["model"],
        baseline=r["baseline"],
        spike_times=rec.spike_times,
        ev=r["ev"],
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jaxgeci

    fig = jaxgeci.plot_evaluation(rec, r)
    fig.savefig(stem + ".png", dpi=90)
    plt.close(fig)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after every option's help, except for unset (None) and flag
    (False) defaults, where it says nothing useful."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2 (argparse prints the usage too)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_command(subparsers, name: str, *, help: str, run, description: str | None = None):
    """Add subcommand ``name`` whose ``run(args) -> int | None`` does the work; returns its parser
    (options shown with their defaults in ``--help``)."""
    parser = subparsers.add_parser(name, help=help, description=description or help, formatter_class=_Formatter)
    parser.set_defaults(run=run)
    return parser


def _add_fit(sub):
    import jaxgeci

    pf = add_command(sub, "fit", help="fit indicator constants shared across recordings", run=_run_fit)
    pf.add_argument(
        "--model",
        default=None,
        choices=sorted(jaxgeci.MODELS),
        help="model family (default: the family that won for the recordings' indicator in fitting/results/, else s2f)",
    )
    pf.add_argument("--out", required=True, help="results JSON to write")
    pf.add_argument("--free", default=None, help="comma-separated constants to fit (default: the model's)")
    pf.add_argument("--per-cell", default="", help="comma-separated free constants fitted per cell")
    pf.add_argument("--no-split", action="store_true", help="one parameter set for all datasets")
    pf.add_argument("--steps", type=int, default=150, help="optimiser steps")
    pf.add_argument("--lr", type=float, default=0.05, help="Adam step size in log space (0.05 = 5%% steps)")
    pf.add_argument("--optimizer", default="adam", choices=("adam", "lbfgs"), help="optimiser")
    pf.add_argument("--starts", type=int, default=4, help="random starts screened (best is optimised)")
    pf.add_argument("--dt", type=float, default=1e-3, help="fine simulation step (s)")
    pf.add_argument(
        "--gradient",
        default=None,
        choices=("forward", "reverse"),
        help="exact forward-mode or reverse-mode gradient (default: the model's faster one)",
    )
    pf.add_argument(
        "--isolated-weight",
        type=float,
        default=0.0,
        help="training only: frames around isolated spikes weigh 1 + W (reported EVs stay the protocol's)",
    )
    pf.add_argument(
        "--loss",
        default="mean",
        choices=jaxgeci.FIT_LOSSES,
        help="training loss over cells: mean of 1 - EV, or mean of log(1 - EV) (reported EVs stay the protocol's)",
    )
    pf.add_argument("--segment", type=float, default=20.0, help="segment length for reverse-mode gradients (s)")
    pf.add_argument("--warmup", type=float, default=5.0, help="segment warm-up (s)")
    pf.add_argument(
        "--unroll",
        type=int,
        default=None,
        help="scan unroll factor (default: 8, or 2 for segments); 1 compiles ~2x faster and runs gradients ~2x slower",
    )
    pf.add_argument("--window", type=float, default=None, help="use only the first WINDOW s (development)")
    pf.add_argument("--checkpoint-dir", default=None, help="resumable checkpoints here (locked while a fit runs)")
    pf.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    pf.add_argument("--no-progress", action="store_true", help="no progress bar (none is shown off a terminal)")
    pf.add_argument("files", nargs="+", help="recording .npz files of one indicator")


def _add_evaluate(sub):
    pe = add_command(sub, "evaluate", help="evaluate frozen constants on recordings", run=_run_evaluate)
    pe.add_argument("--params", required=True, help="results JSON (e.g. fitting/results/jGCaMP8m.json)")
    pe.add_argument("--json", required=True, help="evaluation JSON to write")
    pe.add_argument("--save-traces", default=None, help="write DIR/<stem>.npz and .png per file")
    pe.add_argument("--dt", type=float, default=1e-3, help="fine simulation step (s)")
    pe.add_argument("--float32", action="store_true", help="run in float32 (default float64)")
    pe.add_argument("--no-progress", action="store_true", help="no progress bar (none is shown off a terminal)")
    pe.add_argument("files", nargs="+", help="recording .npz files")


def _progress(args) -> bool:
    """A progress bar only on a terminal (a redirected log would get one line per update)."""
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def lock_output(path: str):
    """Hold an exclusive lock on ``PATH.lock`` while a fit that will write ``path`` runs (POSIX;
    a no-op elsewhere): a second fit aimed at the same results file fails at once instead of
    silently overwriting the first one's file when it ends. The lock dies with its process."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    f = open(path + ".lock", "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        msg = f"another fit is writing {path!r} (it holds {path + '.lock'!r}); choose another --out."
        raise ValueError(msg) from None
    return f


def _run_fit(a) -> int:
    import jaxgeci

    lock = lock_output(a.out)  # before any work: a clash is reported at once
    recs = _load(a.files, a.window)
    free = [s for s in a.free.split(",") if s] if a.free else None
    per_cell = tuple(s for s in a.per_cell.split(",") if s)
    indicator, sets, default = fit_indicator(
        recs,
        a.model,
        free=free,
        per_cell=per_cell,
        split_datasets=not a.no_split,
        n_steps=a.steps,
        learning_rate=a.lr,
        optimizer=a.optimizer,
        n_starts=a.starts,
        dt=a.dt,
        segment_s=a.segment,
        warmup_s=a.warmup,
        gradient=a.gradient,
        isolated_weight=a.isolated_weight,
        loss=a.loss,
        unroll=a.unroll,
        checkpoint_dir=a.checkpoint_dir,
        progress=_progress(a),
        log=_log,
    )
    jaxgeci.write_results(a.out, indicator, sets, default)
    if lock is not None:
        lock.close()
    evs = ", ".join(f"{k} {v['model']} median EV {v['median_ev']:.4f}" for k, v in sorted(sets.items()))
    print(f"{indicator}: {evs}; wrote {a.out}")
    return 0


def write_json(path, doc) -> None:
    """Write ``doc`` as strict JSON; a NaN/inf value raises ``ValueError`` naming its key (JSON
    has no such numbers: ``json.dump`` would write ``NaN``/``-Infinity``, which parsers refuse)."""

    def check(x, where):
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError(f"refusing to write {path!r}: {where} is {x} (not representable in JSON).")
        if isinstance(x, dict):
            for k, v in x.items():
                check(v, f"{where}.{k}" if where else str(k))
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                check(v, f"{where}[{i}]")

    check(doc, "")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")


def _run_evaluate(a) -> int:
    recs = _load(a.files)
    doc = evaluate_files(a.params, recs, dt=a.dt, save_traces=a.save_traces, progress=_progress(a))
    write_json(a.json, doc)
    print(f"median EV {doc['median_ev']:.4f} over {len(doc['files'])} file(s); wrote {a.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m fitting`` parser: fit, evaluate and every module in ``SUBCOMMAND_MODULES``."""
    p = _Parser(prog="python -m fitting", description=__doc__.split("\n\n")[0], formatter_class=_Formatter)
    p.add_argument("--traceback", action="store_true", help="show the full traceback of an error (for bug reports)")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    _add_fit(sub)
    _add_evaluate(sub)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__package__ or 'fitting'}.{name}").add_parser(sub)
    return p


def _one_line(e: BaseException) -> str:
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    msg = " ".join(msg.split()) or type(e).__name__
    if isinstance(e, KeyError):
        msg = f"missing key {msg!r}"
    elif isinstance(e, (OSError, EOFError, zipfile.BadZipFile, ImportError, TypeError)) and type(e).__name__ not in msg:
        msg = f"{type(e).__name__}: {msg}"
    return msg


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv=None) -> int:
    """Run ``python -m fitting``; expected failures (see ``EXPECTED_ERRORS``) print one line on
    stderr and return 2 instead of a traceback (``--traceback`` shows it)."""
    p = build_parser()
    a = p.parse_args(argv)
    _enable_x64(not getattr(a, "float32", False))
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one line per warning, no source line
        try:
            rc = a.run(a)
        except EXPECTED_ERRORS as e:
            if a.traceback:
                raise
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return int(rc or 0)
