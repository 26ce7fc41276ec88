"""Compare two checkouts of jaxgeci on the same numbers (a refactor check, float64).

    python benchmarks/compare_commits.py --base /path/to/old/checkout [--head .] [--data DIR]

Each side runs in its own process with its own ``jaxgeci`` on ``PYTHONPATH`` and computes:

- every Cleo reference case of ``tests/data/cleo_reference`` (its own ``tests/reference_cases.py``);
- a short synthetic fit (GCaMP6f constants recovered from a jaxgeci-made recording);
- ``evaluate``'s EVs on the real recordings in ``--data`` with the committed constants
  (``fitting/results/<indicator>.json``, or ``--results DIR`` for both sides), when that folder
  exists.

The script prints, per group, the largest difference relative to each array's own scale (its
largest magnitude) and the array where it occurs, and writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


WORKER = r"""
import json, sys
from pathlib import Path
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np
root, out, data, results = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, str(root / "tests"))
import jaxgeci as jg
import reference_cases as rc

arrays = {}
man = rc.load_manifest()
for f, entry in sorted(man["files"].items()):
    res = rc.run_case(entry, rc.load_inputs(f, entry))
    for k, v in res.items():
        arrays[f"ref/{f}/{k}"] = np.asarray(v, dtype=float)

true = jg.gcamp6f().replace(tau_off=28.0, K_d=2.9e-7)
recs = [
    jg.synthetic_recording(true, jax.random.key(i), duration_s=40.0, noise_std=0.01, name=f"syn{i}") for i in range(2)
]
res = jg.fit(recs, jg.gcamp6f(), ("tau_off", "K_d"), n_steps=40, progress=False, key=jax.random.key(0))
for k, v in res.constants.items():
    arrays[f"fit/{k}"] = np.asarray(v, dtype=float)
arrays["fit/loss_history"] = np.asarray(res.loss_history, dtype=float)

d = Path(data)
if d.is_dir():
    files = sorted(d.glob("*.npz"))
    by_ind = {}
    for f in files:
        r = jg.load_recording(f)
        by_ind.setdefault(r.indicator, []).append(r)
    for ind, rs in sorted(by_ind.items()):
        params = (Path(results) if results else root / "fitting" / "results") / f"{ind}.json"
        for r in rs:
            sensor = jg.sensor_from_results(str(params), r.dataset)
            ev = jg.evaluate(sensor, [r])[0]
            arrays[f"ev/{r.name}"] = np.asarray(float(ev["ev"]))
np.savez(out, **arrays)
print("WORKER-OK", len(arrays))
"""


def _run(root: Path, out: Path, data: str, results: str = "") -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(root), str(out), data, results],
        env=env,
        capture_output=True,
        text=True,
        cwd=root,
    )
    if proc.returncode != 0 or "WORKER-OK" not in proc.stdout:
        raise SystemExit(f"compare_commits: the worker failed in {root}:\n{proc.stderr[-4000:]}")
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the older checkout (a folder with jaxgeci/ and tests/)")
    p.add_argument("--head", default=str(Path(__file__).resolve().parents[1]), help="the newer checkout")
    p.add_argument("--data", default="../shared/data/ground_truth", help="folder of real recordings (.npz)")
    p.add_argument("--json", default=None, help="write the differences here")
    p.add_argument(
        "--results",
        default="",
        help="constants folder both sides evaluate with (default: each side's own fitting/results, "
        "which differ when a commit changed the committed constants)",
    )
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        a = _run(Path(args.base).resolve(), Path(tmp) / "base.npz", str(Path(args.data).resolve()), args.results)
        b = _run(Path(args.head).resolve(), Path(tmp) / "head.npz", str(Path(args.data).resolve()), args.results)
    missing = sorted(set(a) ^ set(b))
    groups: dict[str, float] = {}
    worst: dict[str, tuple] = {}
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x.shape != y.shape:
            groups.setdefault("shape mismatch", []).append(k)  # type: ignore[arg-type]
            continue
        # the largest difference relative to the array's own scale (its largest magnitude):
        # elementwise ratios blow up at entries that are zero up to round-off
        rel = float(np.max(np.abs(x - y)) / (np.max(np.abs(x)) + 1e-300)) if x.size else 0.0
        g = k.split("/")[0]
        groups[g] = max(groups.get(g, 0.0), rel)
        if rel > worst.get(g, ("", -1.0))[1]:
            worst[g] = (k, rel)
    counts = {g: sum(1 for k in a if k.startswith(g + "/")) for g in ("ref", "fit", "ev")}

    def rel(x, y):
        return float(np.max(np.abs(x - y)) / (np.max(np.abs(x)) + 1e-300))

    # per array of the fit: the constants against the loss history
    fit_arrays = {k: rel(a[k], b[k]) for k in sorted(set(a) & set(b)) if k.startswith("fit/")}
    report = {
        "max_rel_diff": groups,
        "worst_array": worst,
        "arrays_compared": counts,
        "fit_arrays_base_vs_head": fit_arrays,
        "only_on_one_side": missing,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
