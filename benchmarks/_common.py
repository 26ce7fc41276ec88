"""Shared helpers of the benchmark scripts: machine description, timing, Poisson events.

Only the public ``jaxgeci`` API is used. Every measurement records the machine load
(``uptime``), because the benchmark machine may be shared.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import subprocess
import time

import numpy as np


def cpu_model() -> str:
    """CPU model name from ``lscpu`` (falls back to ``platform.processor()``)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except Exception:
        pass
    return platform.processor() or "unknown"


def lscpu() -> dict:
    """``lscpu`` as a dict (empty when unavailable)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except Exception:
        return {}
    info = {}
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            info[k.strip()] = v.strip()
    return info


def load() -> str:
    """The machine load (``uptime``'s load averages)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except Exception:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> dict:
    """Where and with what the benchmark ran."""
    import jax
    import jaxlib

    info = lscpu()
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "cpu_flags_avx512": "avx512f" in info.get("Flags", ""),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "devices": [str(d) for d in jax.devices()],
        "python": platform.python_version(),
        "load_at_start": load(),
    }


def timeit(fn, repeats: int = 3):
    """Call ``fn()`` once (warm-up: compile) and then ``repeats`` times.

    Returns ``(first_s, [times_s])``; ``fn`` must block until its result is ready."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, times


def block(x):
    """Block until every array in ``x`` is computed."""
    import jax

    return jax.block_until_ready(x)


def poisson_events(rng: np.random.Generator, n_neurons: int, n_steps: int, rate_hz: float, dt: float):
    """Homogeneous Poisson spikes as event lists ``(steps, neurons)`` (host, no dense raster):
    a Poisson number of spikes per neuron, at uniform times, binned to steps of ``dt`` (s)."""
    counts = rng.poisson(rate_hz * n_steps * dt, size=n_neurons)
    neurons = np.repeat(np.arange(n_neurons, dtype=np.int32), counts)
    steps = rng.integers(0, n_steps, size=neurons.size, dtype=np.int32)
    return steps, neurons


def peak_rss_gib() -> float:
    """Peak resident set size of this process (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def save(path: str, obj: dict):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, default=float)
    print(f"wrote {path}")
