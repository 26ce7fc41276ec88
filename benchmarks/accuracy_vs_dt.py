"""Integration error vs dt for method="euler" (Cleo/Brian2) and method="accurate".

Work: one GECI neuron (dynamic Ca + double-exponential binding), 1 s, six spikes placed on the
2 ms grid (so every dt resolves them exactly), ΔF/F read every 2 ms. Reference: float64
`method="accurate"` at dt = 10 us (agrees with Euler at 1 us to Euler's own 1.9e-5).
Error = max |dFF - ref| / max ref.

    python benchmarks/accuracy_vs_dt.py [--indicators gcamp6f gcamp6s gcamp3]
"""

from __future__ import annotations

import argparse
import time

import jax


jax.config.update("jax_enable_x64", True)

import numpy as np

import jaxgeci as jg


SPIKE_TIMES = np.array([0.05, 0.2, 0.22, 0.24, 0.5, 0.502])
READ_TIMES = np.arange(0.0, 1.0, 0.002)


def run(sensor, dt, method):
    n = int(round(1.0 / dt))
    spikes = jg.SpikeTrains.from_times(SPIKE_TIMES, np.zeros(SPIKE_TIMES.size, int), dt, n, 1)
    res = jg.simulate(sensor, spikes, dt, method=method, sample_times=READ_TIMES, record=("dFF",))
    return np.asarray(res.dFF[:, 0])


def main(indicators=("gcamp6f", "gcamp6s", "gcamp3"), dts=(2e-3, 1e-3, 5e-4, 2.5e-4, 1e-4)):
    rows = []
    for name in indicators:
        sensor = getattr(jg, name)()
        ref = run(sensor, 1e-5, "accurate")
        scale = np.max(np.abs(ref))
        for dt in dts:
            row = {"indicator": name, "dt_s": dt}
            for method in ("euler", "accurate"):
                t0 = time.perf_counter()
                out = run(sensor, dt, method)
                row[f"{method}_err"] = float(np.max(np.abs(out - ref)) / scale)
                row[f"{method}_wall_s"] = time.perf_counter() - t0
            rows.append(row)
    print(f"{'indicator':10s} {'dt (ms)':>8s} {'euler err':>10s} {'accurate err':>13s}")
    for r in rows:
        print(f"{r['indicator']:10s} {r['dt_s'] * 1e3:8.3g} {r['euler_err']:10.2e} {r['accurate_err']:13.2e}")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--indicators", nargs="+", default=["gcamp6f", "gcamp6s", "gcamp3"])
    main(tuple(p.parse_args().indicators))
