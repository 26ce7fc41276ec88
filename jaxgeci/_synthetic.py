"""Synthetic ground-truth recordings made by jaxgeci itself (for tests and demos: known
constants, known nuisance terms, Gaussian noise)."""

from __future__ import annotations

import math

import jax
import numpy as np

from ._recording import Recording
from ._simulate import simulate
from ._spikes import SpikeTrains
from ._validation import check_number


def synthetic_recording(
    sensor,
    key,
    *,
    duration_s: float = 30.0,
    rate_hz: float = 2.0,
    burst_prob: float = 0.3,
    frame_rate_hz: float = 60.0,
    noise_std: float = 0.02,
    rho_rel: float = 1.0,
    lag_s: float = 0.0,
    offset: float = -0.05,
    drift_per_s: float = 0.0,
    dt: float = 1e-3,
    name: str = "synthetic",
    indicator: str = "",
    dataset: str = "synthetic",
) -> Recording:
    """A :class:`Recording` simulated with ``sensor``: Poisson spikes at ``rate_hz`` (Hz), each
    followed with probability ``burst_prob`` by 1-3 more spikes 10 ms apart; ΔF/F read (with
    :func:`jaxgeci.simulate`, ``method="accurate"``, step ``dt`` s) at frame times
    ``(i + 0.5)/frame_rate_hz - lag_s`` shifted by ``lag_s`` (s); scaled by ``rho_rel``; plus
    ``offset + drift_per_s * t`` and Gaussian noise of std ``noise_std``."""
    # spikes are drawn in [0.2, duration_s - 0.2] s
    check_number("duration_s", duration_s, unit="s", minimum=0.4, strict=True)
    check_number("rate_hz", rate_hz, unit="Hz")
    if not check_number("burst_prob", burst_prob, unit="1") <= 1.0:
        raise ValueError(f"burst_prob must lie in [0, 1] (a probability), got {burst_prob!r}.")
    check_number("frame_rate_hz", frame_rate_hz, unit="Hz", strict=True)
    check_number("noise_std", noise_std, unit="ΔF/F")
    check_number("rho_rel", rho_rel, unit="1")
    for nm, v, unit in (("lag_s", lag_s, "s"), ("offset", offset, "ΔF/F"), ("drift_per_s", drift_per_s, "1/s")):
        if not math.isfinite(float(v)):
            raise ValueError(f"{nm} must be finite (in {unit}), got {v!r}.")
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel()[-1].item())
    n = rng.poisson(rate_hz * duration_s)
    base = np.sort(rng.uniform(0.2, duration_s - 0.2, n))
    extra = []
    for t in base:
        if rng.uniform() < burst_prob:
            extra += [t + 0.01 * (j + 1) for j in range(rng.integers(1, 4))]
    spikes = np.sort(np.concatenate([base, np.asarray(extra)]))
    spikes = spikes[spikes < duration_s - 0.1]
    t_frames = (np.arange(int(duration_s * frame_rate_hz)) + 0.5) / frame_rate_hz
    n_steps = int(np.ceil(duration_s / dt)) + 2
    trains = SpikeTrains.from_times(spikes, 0, dt, n_steps, 1)
    read = np.clip(t_frames - lag_s, 0.0, None)
    res = simulate(sensor, trains, dt, sample_times=read, method="accurate", record=("dFF",))
    clean = np.asarray(res.dFF)[:, 0] * rho_rel
    dff = clean + offset + drift_per_s * t_frames + noise_std * rng.standard_normal(t_frames.size)
    return Recording.create(
        t_frames,
        dff,
        spikes,
        frame_rate_hz,
        indicator=indicator or sensor.name,
        dataset=dataset,
        name=name,
        metadata={"synthetic": True, "noise_std": noise_std, "rho_rel": rho_rel, "lag_s": lag_s},
    )
