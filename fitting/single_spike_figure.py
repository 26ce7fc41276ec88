"""Figure of the single-spike fidelity: per indicator, the average ΔF/F around isolated spikes
(no other spike within 1 s) of the data, of the family chosen before the two-state family
existed ("before"), of the committed default ("now") and of the two-state family where it is
not the default, averaged over the cells with >= 3 isolated spikes.

    python -m fitting.single_spike_figure [--data DIR] [--results fitting/results]
                                          [--out docs/single_spike_fidelity.png]

Evaluates the committed parameter sets on the recordings (each recording with the set of its
dataset; :func:`fitting.fidelity.fidelity`), in float64.
"""

from __future__ import annotations

import os

from fitting.benchmark import INDICATORS


PREVIOUS = {
    "GCaMP6f": "s2f",
    "GCaMP6s": "s2f-adaptive",
    "jGCaMP7f": "s2f",
    "jGCaMP8f": "s2f-adaptive",
    "jGCaMP8m": "s2f-adaptive",
    "jGCaMP8s": "s2f-adaptive",
}
"""The family each indicator's results used before the two-state family (held-in mean EV rule)."""

TWO_STATE = "s2f-twostate"


def _mean_sta(rows: dict, key: str, grid):
    import numpy as np

    curves = [np.interp(grid, r["sta_t_s"], r[key]) for r in rows.values() if "sta_t_s" in r]
    return (np.mean(curves, axis=0) if curves else None), len(curves)


def curves(doc: dict, recs) -> dict:
    """``{label: (family, fidelity rows)}`` of the curves shown for one indicator: "now" (the
    default sets), "before" (:data:`PREVIOUS`'s family) and the two-state family if it is
    neither."""
    from fitting.fidelity import fidelity

    sets = doc["parameter_sets"]
    now = sets[doc["default"]]["model"]
    before = PREVIOUS.get(doc["indicator"], now)
    out = {"now": (now, fidelity(doc, recs))}
    if before != now:
        out["before"] = (before, fidelity(doc, recs, models=(before,)))
    if TWO_STATE not in (now, before) and any(s["model"] == TWO_STATE for s in sets.values()):
        out["not chosen"] = (TWO_STATE, fidelity(doc, recs, models=(TWO_STATE,)))
    return out


def panel_grid(n: int):
    """A figure with ``n`` panels, three per row (unused cells hidden): ``(fig, axes)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.7 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def save_figure(fig, out: str) -> str:
    """Lay out, write (creating the folder) and close ``fig``; returns ``out``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def make_figure(panels: dict, out: str) -> str:
    """One panel per indicator from ``{indicator: curves(...)}``; returns ``out``."""
    import numpy as np

    from fitting.fidelity import fidelity_summary

    fig, axes = panel_grid(len(panels))
    grid = np.linspace(-0.2, 1.0, 481)
    colors = {"before": "tab:blue", "now": "tab:red", "not chosen": "tab:green"}
    for ax, (ind, shown) in zip(axes, panels.items()):
        fam_now, rows_now = shown["now"]
        data, n_cells = _mean_sta(rows_now, "sta_data", grid)
        hd = fidelity_summary(rows_now)["half_decay_data_s"]
        ax.plot(grid, data, color="k", lw=1.0, label=f"data: {hd:.3f} s")
        for label in ("before", "now", "not chosen"):
            if label not in shown:
                continue
            fam, rows = shown[label]
            curve, _ = _mean_sta(rows, "sta_model", grid)
            tag = "before and now" if label == "now" and "before" not in shown else label
            hd_m = fidelity_summary(rows)["half_decay_model_s"]
            ax.plot(grid, curve, color=colors[label], lw=1.6, label=f"{fam} ({tag}): {hd_m:.3f} s")
        ax.axvline(0.0, color="0.7", lw=0.8, ls=":")
        ax.set_title(f"{ind}: mean of {n_cells} cells")
        ax.set_xlabel("time from isolated spike (s)")
        ax.set_ylabel("ΔF/F (fraction), pre-spike mean removed")
        ax.legend(fontsize=7, loc="upper right", title="median half-decay", title_fontsize=7)
    return save_figure(fig, out)


def main(data: str, results: str, out: str, indicators=INDICATORS) -> str:
    from fitting.fidelity_table import recordings_with_results

    panels = {ind: curves(doc, recs) for ind, doc, recs in recordings_with_results(data, results, indicators)}
    if not panels:
        raise SystemExit(f"single_spike_figure: no <indicator>_*.npz recordings with results found in {data!r}")
    return make_figure(panels, out)


if __name__ == "__main__":
    from fitting.fidelity_table import parse_args

    a = parse_args(__doc__, "docs/single_spike_fidelity.png", "figure file (PNG)")
    print(main(a.data, a.results, a.out, a.indicators))
