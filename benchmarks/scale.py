"""Scale benchmark: image many ROIs for minutes with photon noise, neuropil and bleaching.

Each ROI is one neuron (Poisson spikes, a fitted-preset GECI) in a 2-D field of view; its
neuropil is the mean ΔF/F of the neurons in an annulus around it (computed on spatial tiles, so
the weights are never a dense ROIs x neurons matrix); raw ROI and neuropil fluorescence get
photobleaching and photon noise (Poisson photons, PMT gain, read noise: the moment-matched
Gaussian surrogate, or ``--exact`` for the exact sampler), and ΔF/F is made the way of the
jGCaMP7f/8 ground-truth recordings (``F - 0.8 F_neu``, F0 the 20th percentile of the whole trace;
``--running`` for suite2p's ``F - 0.7 F_neu`` with a running 8th percentile over 60 s). Every
stage is timed on its own (``jax.block_until_ready``; compile included, since each stage runs
once).

    python benchmarks/scale.py [--rois 1000 10000] [--minutes 10] [--exact] [--running] [--gpu]

``--gpu`` puts the arrays of the JAX stages on the first GPU (``jax.devices("gpu")[0]``); the
host stages (spike generation, tiling) stay on the CPU. Public ``jaxgeci`` API only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

FRAME_RATE = 30.0  # Hz
DT = 1.0 / (33 * FRAME_RATE)  # s, the sensor's step (method="accurate"): 33 steps per frame
RATE_HZ = 1.0  # mean firing rate (spikes/s)
DENSITY = 1e4  # neurons per mm² of the field of view (L2/3-like, one imaged plane)
INNER, OUTER = 10e-6, 30e-6  # neuropil annulus radii (m), around a ~6 µm soma
PHOTONS_ROI = 200.0  # resting detected photons per ROI per frame
PHOTONS_NEU = 400.0  # resting detected photons of the neuropil annulus per frame
CONTAMINATION = 0.8  # neuropil fluorescence under the ROI, relative to the annulus's mean
REST_RAW = PHOTONS_ROI + CONTAMINATION * PHOTONS_NEU  # resting photons of the raw ROI trace
BLEACH = 1.0 / 3000.0  # photobleaching rate (1/s)
ROI_CHUNK = 2000  # ROIs per chunk of the measurement stages (bounds host memory)


def run(n_rois: int, minutes: float, *, gpu=False, exact=False, running=False, seed=0):
    import jax
    from _common import block, peak_rss_gib, poisson_events

    import jaxgeci as jg

    device = jax.devices("gpu")[0] if gpu else jax.devices("cpu")[0]
    put = lambda x: jax.device_put(x, device)  # noqa: E731
    stages = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = block(fn())
        stages[name] = time.perf_counter() - t0
        return out

    duration = 60.0 * minutes
    n_steps = int(round(duration / DT))
    rng = np.random.default_rng(seed)
    sensor = jg.fitted("jGCaMP8m") if "jGCaMP8m" in jg.fitted_names() else jg.gcamp6f()

    def spikes():
        steps, neurons = poisson_events(rng, n_rois, n_steps, RATE_HZ, DT)
        return jg.SpikeTrains(steps=steps, neurons=neurons, n_steps=n_steps, n_neurons=n_rois)

    trains = timed("spikes", spikes)
    sim = timed(
        "sensor",
        lambda: jg.simulate_chunked(
            sensor,
            trains,
            DT,
            sample_rate=FRAME_RATE,
            method="accurate",
            record=("dFF",),
            progress=False,
            chunk_s=60.0,
        ),  # fmt: skip
    )
    dff = np.asarray(sim.dFF, dtype=np.float32)  # (frames, rois)
    n_frames = dff.shape[0]
    side = np.sqrt(n_rois / DENSITY) * 1e-3  # m, square field at the density
    xy = rng.uniform(0.0, side, (n_rois, 2))
    dff_neu = timed("neuropil", lambda: np.asarray(jg.annulus_neuropil(dff, xy, inner=INNER, outer=OUTER)))
    t = np.arange(n_frames) / FRAME_RATE
    key = jax.random.key(seed)
    out = np.empty_like(dff)
    for name in ("fluorescence", "photon_noise", "dff"):
        stages[name] = 0.0
    for c, lo in enumerate(range(0, n_rois, ROI_CHUNK)):
        sl = slice(lo, min(n_rois, lo + ROI_CHUNK))

        def fluor():
            bleach = put(jg.bleach_factor(t, BLEACH)[:, None])
            kw = dict(f0=PHOTONS_ROI, neuropil_level=PHOTONS_NEU, contamination=CONTAMINATION, bleach=bleach)
            return jg.raw_fluorescence(put(dff[:, sl]), put(dff_neu[:, sl]), **kw)

        t0 = time.perf_counter()
        f_raw, f_neu = block(fluor())
        stages["fluorescence"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        k = jax.random.fold_in(key, c)
        # exact photon noise on the expected photons (ROI: its own + the neuropil under it)
        noise = jg.PhotonNoise if exact else jg.PhotonGaussianNoise
        noisy_raw = noise(REST_RAW).sample_photons(jax.random.fold_in(k, 0), f_raw)
        noisy_neu = noise(PHOTONS_NEU).sample_photons(jax.random.fold_in(k, 1), f_neu)
        noisy_raw, noisy_neu = block((noisy_raw, noisy_neu))
        stages["photon_noise"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        if running:
            d = jg.dff_from_fluorescence(noisy_raw, noisy_neu, baseline="running", frame_rate=FRAME_RATE)
        else:
            d = jg.dff_from_fluorescence(noisy_raw, noisy_neu, neuropil_factor=0.8, baseline="global", percentile=20.0)
        out[:, sl] = np.asarray(block(d))
        stages["dff"] += time.perf_counter() - t0
    total = sum(stages.values())
    return {
        "rois": n_rois,
        "minutes": minutes,
        "frames": n_frames,
        "steps": n_steps,
        "spikes": int(trains.n_events),
        "device": str(device),
        "photon_noise": "exact" if exact else "gaussian surrogate",
        "dff_baseline": "running 8th percentile, 60 s, F - 0.7 F_neu"
        if running
        else "global 20th percentile, F - 0.8 F_neu",
        "stages_s": stages,
        "total_s": total,
        "roi_frames_per_s": n_rois * n_frames / total,
        "peak_rss_gib": peak_rss_gib(),
        "finite": bool(np.all(np.isfinite(out))),
        "dff_median": float(np.median(out[:, : min(n_rois, 100)])),
    }


def main(*, rois=(1000, 10_000), minutes=10.0, gpu=False, exact=False, running=False, out=None, test_mode=False):
    import jax
    from _common import machine, save

    if test_mode:
        rois, minutes = (200,), 0.5
    doc = {"machine": machine(), "runs": []}
    for n in rois:
        r = run(int(n), minutes, gpu=gpu, exact=exact, running=running)
        doc["runs"].append(r)
        s = ", ".join(f"{k} {v:.1f} s" for k, v in r["stages_s"].items())
        print(f"{n} ROIs x {minutes} min: {r['total_s']:.1f} s ({s}); peak RSS {r['peak_rss_gib']:.1f} GiB",
              file=sys.stderr)  # fmt: skip
    doc["load_at_end"] = __import__("_common").load()
    doc["jax_backend"] = jax.default_backend()
    if out:
        save(out, doc)
    return doc


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rois", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--gpu", action="store_true", help="place the JAX stages' arrays on the first GPU")
    ap.add_argument("--exact", action="store_true", help="exact photon sampler (slow on CPU)")
    ap.add_argument("--running", action="store_true", help="suite2p running-percentile baseline")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "scale.json"))
    a = ap.parse_args()
    main(rois=a.rois, minutes=a.minutes, gpu=a.gpu, exact=a.exact, running=a.running, out=a.out)
