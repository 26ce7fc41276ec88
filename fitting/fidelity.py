"""Single-spike fidelity of a fitted model on recordings: spike-triggered averages around
isolated spikes (no other spike within 1 s), their half-decays and peaks, the EV in the
windows around them against its noise ceiling, and what limits that EV (see :func:`fidelity`).
Used by the benchmark's model choice, the fidelity table and the figures; public ``jaxgeci``
API only.
"""

from __future__ import annotations


def _median(x):
    import numpy as np

    return float(np.median(np.asarray(x, dtype=float))) if len(x) else float("nan")


def noise_sigma(dff) -> float:
    """Single-frame noise std (ΔF/F) of a trace from the median absolute frame-to-frame
    difference: for white Gaussian noise of std ``sigma`` a difference has std ``sqrt(2) sigma``
    and median absolute value ``0.6745 sqrt(2) sigma``; slow signal barely moves the median."""
    import numpy as np

    d = np.diff(np.asarray(dff, dtype=float))
    return float(np.median(np.abs(d)) / (0.6745 * np.sqrt(2.0)))


def _half_decay(a, tt):
    """Time (s) from the maximum of ``a`` to its first sample at or below half of it (NaN if
    none)."""
    import numpy as np

    k = int(np.argmax(a))
    below = np.flatnonzero(a[k:] <= 0.5 * a[k])
    return float(tt[k + below[0]] - tt[k]) if below.size else float("nan")


def _sta(w, base):
    """Spike-triggered average of windows ``w`` (spikes, lags), each minus its pre-spike mean."""
    return (w - w[:, base].mean(1, keepdims=True)).mean(0)


def _windows(t_frames, times, frame_rate_hz, pre, post):
    """Frame indices ``(len(times), lags)`` of the windows ``[-pre, +post]`` s around ``times``
    (the first frame at or after each time; clipped to the recording), and the lags (frames)."""
    import numpy as np

    lags = np.arange(int(-pre * frame_rate_hz), int(post * frame_rate_hz) + 1)
    idx = np.searchsorted(t_frames, times)[:, None] + lags[None, :]
    return np.clip(idx, 0, t_frames.size - 1), lags


def _window_ev_limits(yd, ym):
    """Two diagnostics of the EV in the isolated-spike windows ``yd`` (data) and ``ym`` (model),
    both ``(spikes, lags)``, pooled like the window EV itself:

    - ``offset``: the model with each window's mean replaced by the data's (the model's shape,
      with a free level per window). The gain over the window EV is what the slow ΔF/F
      baseline (B-spline knots >= 30 s apart) and the tails of earlier spikes cost there.
    - ``oracle``: the best that any model answering every isolated spike of the cell with
      one shared response can reach with a free level per window: the least-squares two-way
      additive fit ``window mean + lag mean - grand mean`` (in sample, so slightly above what
      such a model could reach on new spikes).
    """
    import numpy as np

    var = np.var(yd)
    level = yd.mean(1, keepdims=True)
    offset = ym - ym.mean(1, keepdims=True) + level
    oracle = level + yd.mean(0, keepdims=True) - yd.mean()
    return (float(1.0 - np.mean((yd - offset) ** 2) / var), float(1.0 - np.mean((yd - oracle) ** 2) / var))


def _smooth3(a):
    import numpy as np

    # the data STA is smoothed lightly (3 frames) before its peak is read: single-frame noise
    return np.convolve(a, np.ones(3) / 3, "same")


def fidelity(
    sensor_doc,
    recs,
    *,
    iso_before=1.0,
    iso_after=1.0,
    pre=0.2,
    post=1.0,
    n_boot=0,
    n_noise=0,
    seed=0,
    set_name=None,
    models=None,
):
    """Single-spike fidelity on isolated spikes (no other spike within ``iso_before`` s before
    and ``iso_after`` s after): EV in the windows ``[-pre, +post]`` s around them (pooled), its
    noise ceiling ``1 - sigma^2/var(windows)`` (``sigma``: :func:`noise_sigma` of the whole
    trace; the EV a noise-free perfect model would reach), and from spike-triggered averages
    of data and model (each minus its pre-spike mean) the model/data peak ratio and half-decay
    times (s). ``n_boot > 0`` adds, per cell, ``n_boot`` bootstrap resamplings of its isolated
    spikes (``"boot"``: the data and model half-decays and peak ratio of each resample, for
    :func:`fidelity_summary`). ``n_noise > 0`` adds ``half_decay_model_noisy_s``: the median,
    over ``n_noise`` draws, of the data's half-decay estimator applied to the model plus the
    cell's own residual ``dff - model`` shifted circularly by a random offset (at least 200
    frames), i.e. what the data's estimate would be if the model were right. The estimator
    reads the maximum and the first half-crossing of a noisy average, so noise biases it
    towards short half-decays; this figure carries the same bias. ``set_name``: evaluate that
    parameter set on every recording (default: the set :func:`jaxgeci.select_parameter_set`
    picks, of one of the families ``models`` if given: e.g. ``("s2f",)`` reads a file's S2F
    alternatives)."""
    import numpy as np

    import jaxgeci

    rng = np.random.default_rng(seed)
    rows = {}
    for rec in recs:
        name = set_name or jaxgeci.select_parameter_set(sensor_doc, rec.dataset, models=models)[0]
        sensor = jaxgeci.sensor_from_results(sensor_doc, set_name=name)
        r = jaxgeci.evaluate(sensor, [rec])[0]
        t, y, m = rec.t_frames, rec.dff, r["model"]
        iso = rec.isolated_spikes(before_s=iso_before, after_s=iso_after)
        iso = iso[(iso - pre > t[0] + 2.0) & (iso + post < t[-1])]
        if iso.size < 3:
            rows[rec.name] = {"n_isolated": int(iso.size)}
            continue
        fr = rec.frame_rate_hz
        idx, lags = _windows(t, iso, fr, pre, post)
        yd, ym = y[idx], m[idx]
        ev_win = 1.0 - np.mean((yd - ym) ** 2) / np.var(yd)
        ev_offset, ev_oracle = _window_ev_limits(yd, ym)
        sigma = noise_sigma(y[rec.eval_mask()])
        base = lags < 0
        tt = lags / fr

        def stats(sel):
            sd_s = _smooth3(_sta(yd[sel], base))
            sm = _sta(ym[sel], base)
            return _half_decay(sd_s, tt), _half_decay(sm, tt), float(sm.max() / sd_s.max())

        hd_d, hd_m, peak = stats(slice(None))
        row = {
            "n_isolated": int(iso.size),
            "ev_windows": float(ev_win),
            "noise_sigma": sigma,
            "ev_ceiling": float(1.0 - sigma**2 / np.var(yd)),
            "ev_windows_offset": ev_offset,
            "ev_windows_oracle": ev_oracle,
            "peak_ratio": peak,
            "half_decay_data_s": hd_d,
            "half_decay_model_s": hd_m,
            "sta_t_s": tt.tolist(),
            "sta_data": _sta(yd, base).tolist(),
            "sta_model": _sta(ym, base).tolist(),
        }
        if n_noise:
            res = y - m
            shifts = rng.integers(200, t.size - 200, n_noise)
            noisy = [_half_decay(_smooth3(_sta(ym + res[(idx + k) % t.size], base)), tt) for k in shifts]
            row["half_decay_model_noisy_s"] = float(np.nanmedian(noisy))
        if n_boot:
            row["boot"] = [stats(rng.integers(0, iso.size, iso.size)) for _ in range(n_boot)]
        rows[rec.name] = row
    return rows


FIDELITY_KEYS = (
    "ev_windows",
    "ev_ceiling",
    "ev_windows_offset",
    "ev_windows_oracle",
    "peak_ratio",
    "half_decay_data_s",
    "half_decay_model_s",
    "half_decay_model_noisy_s",
)


def fidelity_summary(rows: dict) -> dict:
    """Medians over the cells with >= 3 isolated spikes of :func:`fidelity`'s figures, the
    half-decay ratio ``median(model)/median(data)`` and, where the rows carry bootstrap
    resamples, 95 % percentile intervals of the data's median half-decay and of that ratio
    (each resample draws every cell's isolated spikes with replacement; cells whose resampled
    data STA never falls to half are skipped in that resample)."""
    import numpy as np

    ok = [v for v in rows.values() if "peak_ratio" in v]
    out = {k: _median([v[k] for v in ok if k in v]) for k in FIDELITY_KEYS}
    out["n_cells"] = len(ok)
    out["half_decay_ratio"] = out["half_decay_model_s"] / out["half_decay_data_s"]
    out["half_decay_ratio_noise_matched"] = out["half_decay_model_noisy_s"] / out["half_decay_data_s"]
    if ok and all("boot" in v for v in ok):
        b = np.array([v["boot"] for v in ok], dtype=float)  # (cells, n_boot, 3)
        hd_d = np.nanmedian(b[:, :, 0], axis=0)
        ratio = np.nanmedian(b[:, :, 1], axis=0) / hd_d
        out["half_decay_data_ci95"] = [float(x) for x in np.nanpercentile(hd_d, [2.5, 97.5])]
        out["half_decay_ratio_ci95"] = [float(x) for x in np.nanpercentile(ratio, [2.5, 97.5])]
    return out
