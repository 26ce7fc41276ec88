"""Use-dependence of the decay: per indicator, the average ΔF/F after isolated events of 1, 2
and 3 or more spikes (spikes less than 0.1 s apart form one event; no other spike within 1 s
before its first or after its last spike), data against the committed default model, each
curve divided by its own peak so that the decays compare.

    python -m fitting.event_size_figure [--data DIR] [--results fitting/results]
                                        [--out docs/event_size_decay.png]

A model whose decay does not depend on the spikes before (one kernel) decays alike in all
three; the data decay faster after one spike than after a burst on GCaMP6f and jGCaMP7f.
Evaluates each recording with the set of its dataset, in float64; prints a Markdown table of
the half-decays (s) by event size, with rows for the family used before the two-state family
("before") and for the two-state alternative ("not chosen") where they are not the default.
"""

from __future__ import annotations

from fitting.benchmark import INDICATORS


SIZES = ((1, 1), (2, 2), (3, None))
"""Event-size classes: (fewest, most) spikes, ``None`` = no upper limit."""


def _label(lo, hi):
    return ("1 spike" if lo == 1 else f"{lo} spikes") if lo == hi else f">= {lo} spikes"


def events(spike_times, t_frames, *, gap=0.1, iso=1.0, pre=0.2, post=1.0):
    """``[(first spike time (s), number of spikes)]`` of the isolated events: runs of spikes
    less than ``gap`` s apart, with no other spike within ``iso`` s before the first or after
    the last, whose window ``[first - pre, first + post]`` lies at least 2 s after the first
    frame and inside the recording."""
    import numpy as np

    st = np.sort(np.asarray(spike_times, dtype=float))
    if st.size == 0:
        return []
    runs = np.split(st, np.flatnonzero(np.diff(st) >= gap) + 1)
    out = []
    for i, r in enumerate(runs):
        before = runs[i - 1][-1] if i else -np.inf
        after = runs[i + 1][0] if i + 1 < len(runs) else np.inf
        if r[0] - before < iso or after - r[-1] < iso:
            continue
        if r[0] - pre < t_frames[0] + 2.0 or r[0] + post > t_frames[-1]:
            continue
        out.append((float(r[0]), int(r.size)))
    return out


def averages(doc: dict, recs, *, pre=0.2, post=1.0, models=None) -> dict:
    """Per size class (:data:`SIZES`): the time axis (s), the mean over cells of each cell's
    average data and model window (each window minus its pre-event mean), the number of
    events and of cells. ``models``: evaluate the file's sets of these families (default: the
    set :func:`jaxgeci.select_parameter_set` picks)."""
    import numpy as np

    import jaxgeci
    from fitting.fidelity import _sta, _windows

    grid = np.linspace(-pre, post, 481)
    acc = {s: ([], [], 0) for s in SIZES}
    for rec in recs:
        name = jaxgeci.select_parameter_set(doc, rec.dataset, models=models)[0]
        model = jaxgeci.evaluate(jaxgeci.sensor_from_results(doc, set_name=name), [rec])[0]["model"]
        t, y = rec.t_frames, rec.dff
        fr = rec.frame_rate_hz
        ev = events(rec.spike_times, t, pre=pre, post=post)
        for lo, hi in SIZES:
            first = [t0 for t0, n in ev if n >= lo and (hi is None or n <= hi)]
            if not first:
                continue
            idx, lags = _windows(t, first, fr, pre, post)
            d, m = _sta(y[idx], lags < 0), _sta(model[idx], lags < 0)
            dl, ml, n = acc[(lo, hi)]
            dl.append(np.interp(grid, lags / fr, d))
            ml.append(np.interp(grid, lags / fr, m))
            acc[(lo, hi)] = (dl, ml, n + len(first))
    return {
        s: {"t_s": grid, "data": np.mean(dl, 0), "model": np.mean(ml, 0), "n_events": n, "n_cells": len(dl)}
        for s, (dl, ml, n) in acc.items()
        if dl
    }


def half_decays(avg: dict) -> dict:
    """Half-decay (s) of the data (3-frame-smoothed on the 481-point grid: 7 points) and
    model curves of each size class, by the fidelity table's estimator (the first sample at
    or below half of the maximum)."""
    import numpy as np

    from fitting.fidelity import _half_decay

    out = {}
    for s, a in avg.items():
        d = np.convolve(a["data"], np.ones(7) / 7, "same")
        out[s] = (_half_decay(d, a["t_s"]), _half_decay(a["model"], a["t_s"]))
    return out


def make_figure(panels: dict, out: str) -> str:
    """One panel per indicator from ``{indicator: (model family, averages(...))}``."""
    from fitting.single_spike_figure import panel_grid, save_figure

    fig, axes = panel_grid(len(panels))
    colors = {SIZES[0]: "tab:blue", SIZES[1]: "tab:orange", SIZES[2]: "tab:red"}
    for ax, (ind, (family, avg)) in zip(axes, panels.items()):
        hd = half_decays(avg)
        for s, a in avg.items():
            c = colors[s]
            ax.plot(a["t_s"], a["data"] / a["data"].max(), color=c, lw=0.8, alpha=0.6)
            lab = f"{_label(*s)} ({a['n_events']} events): data {hd[s][0]:.2f} s, model {hd[s][1]:.2f} s"
            ax.plot(a["t_s"], a["model"] / a["model"].max(), color=c, lw=1.8, label=lab)
        ax.axhline(0.5, color="0.7", lw=0.8, ls=":")
        ax.set_title(f"{ind} ({family}): thin data, thick model", fontsize=9.5)
        ax.set_xlabel("time from the event's first spike (s)")
        ax.set_ylabel("ΔF/F / its peak (pre-event mean removed)")
        ax.set_ylim(-0.5, 1.9)  # the legend sits above the curves (each at most 1)
        ax.legend(fontsize=6.5, loc="upper right", title="half-decay", title_fontsize=6.5)
    return save_figure(fig, out)


def table(panels: dict, extra: dict = ()) -> str:
    """Markdown half-decays by event size, a row per panel plus the ``extra`` rows
    ``{(indicator, family): (tag, averages(...))}``."""
    lines = [
        "| indicator | model | " + " | ".join(f"{_label(*s)}: data / model (s) [events]" for s in SIZES) + " |",
        "|---|---|" + "---|" * len(SIZES),
    ]
    rows = [(ind, fam, avg) for ind, (fam, avg) in panels.items()]
    rows += [(ind, f"{fam} ({tag})", avg) for (ind, fam), (tag, avg) in dict(extra).items()]
    for ind, family, avg in sorted(rows, key=lambda r: INDICATORS.index(r[0]) if r[0] in INDICATORS else 99):
        hd = half_decays(avg)
        cells = [f"{hd[s][0]:.3f} / {hd[s][1]:.3f} [{avg[s]['n_events']}]" if s in avg else "n/a" for s in SIZES]
        lines.append(f"| {ind} | {family} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(data: str, results: str, out: str, indicators=INDICATORS):
    from fitting.fidelity_table import recordings_with_results
    from fitting.single_spike_figure import PREVIOUS, TWO_STATE

    panels, extra = {}, {}
    for ind, doc, recs in recordings_with_results(data, results, indicators):
        sets = doc["parameter_sets"]
        family = sets[doc["default"]]["model"]
        panels[ind] = (family, averages(doc, recs))
        held = {s["model"] for s in sets.values()}
        for other, tag in ((PREVIOUS.get(ind), "before"), (TWO_STATE, "not chosen")):
            if other not in (None, family) and other in held and (ind, other) not in extra:
                extra[(ind, other)] = (tag, averages(doc, recs, models=(other,)))
    if not panels:
        raise SystemExit(f"event_size_figure: no <indicator>_*.npz recordings with results found in {data!r}")
    return make_figure(panels, out), table(panels, extra)


if __name__ == "__main__":
    from fitting.fidelity_table import parse_args

    a = parse_args(__doc__, "docs/event_size_decay.png", "figure file (PNG)")
    path, md = main(a.data, a.results, a.out, a.indicators)
    print(md)
    print(path)
