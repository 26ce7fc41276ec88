"""Figure of the single-spike fidelity: per indicator, the average ΔF/F around isolated spikes
(no other spike within 1 s) of the data, of the family chosen before the two-state family
existed and of the family chosen now, averaged over the cells with >= 3 isolated spikes.

    python -m fitting.single_spike_figure [--work out/bench] [--out docs/single_spike_fidelity.png]

Reads the ``benchmark*.json`` summaries that ``python -m fitting.benchmark`` writes to
``--work`` (their ``sta_by_model`` entries: every family's held-in spike-triggered averages).
"""

from __future__ import annotations

import argparse
import glob
import json
import os


PREVIOUS = {
    "GCaMP6f": "s2f",
    "GCaMP6s": "s2f-adaptive",
    "jGCaMP7f": "s2f",
    "jGCaMP8f": "s2f-adaptive",
    "jGCaMP8m": "s2f-adaptive",
    "jGCaMP8s": "s2f-adaptive",
}
"""The family each indicator's results used before the two-state family (held-in mean EV rule)."""


def _mean_sta(rows: dict, key: str, grid):
    import numpy as np

    curves = [np.interp(grid, r["sta_t_s"], r[key]) for r in rows.values() if "sta_t_s" in r]
    return np.mean(curves, axis=0) if curves else None, len(curves)


def make_figure(summary: dict, out: str, models_shown=None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    inds = [i for i in summary if summary[i].get("sta_by_model")]
    n = len(inds)
    cols = min(3, n)
    rows_ = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows_, cols, figsize=(4.6 * cols, 3.6 * rows_), squeeze=False)
    grid = np.linspace(-0.2, 1.0, 481)
    for ax, ind in zip(axes.ravel(), inds):
        s = summary[ind]
        sta = s["sta_by_model"]
        old, new = PREVIOUS.get(ind, s["chosen_model"]), s["chosen_model"]
        fid = s["fidelity_by_model"]
        data, n_cells = _mean_sta(sta[new], "sta_data", grid)
        hd = fid[new]["half_decay_data_s"]
        ax.plot(grid, data, color="k", lw=1.2, label=f"data (half-decay {hd:.3f} s)")
        shown = [old] + ([new] if new != old else []) + [m for m in (models_shown or ()) if m not in (old, new)]
        colors = {old: "tab:blue", new: "tab:red"}
        for m in shown:
            if m not in sta:
                continue
            curve, _ = _mean_sta(sta[m], "sta_model", grid)
            tag = "before" if m == old else ("now" if m == new else "")
            if m == old == new:
                tag = "before and now"
            label = f"{m}{f' ({tag})' if tag else ''}: {fid[m]['half_decay_model_s']:.3f} s"
            ax.plot(grid, curve, color=colors.get(m, "tab:green"), lw=1.6, label=label)
        ax.axvline(0.0, color="0.7", lw=0.8, ls=":")
        ax.set_title(f"{ind}: mean of {n_cells} cells")
        ax.set_xlabel("time from isolated spike (s)")
        ax.set_ylabel("ΔF/F (fraction), pre-spike mean removed")
        ax.legend(fontsize=7.5, loc="upper right", title="median half-decay", title_fontsize=7.5)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def load_summaries(work: str) -> dict:
    """Every indicator's summary in ``work``'s ``benchmark*.json`` (the newest file wins)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(work, "benchmark*.json")), key=os.path.getmtime):
        with open(path) as f:
            out.update(json.load(f))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="out/bench")
    ap.add_argument("--out", default="docs/single_spike_fidelity.png")
    ap.add_argument("--indicators", default=None, help="comma-separated (default: every one in --work)")
    a = ap.parse_args()
    summ = load_summaries(a.work)
    if a.indicators:
        summ = {k: v for k, v in summ.items() if k in a.indicators.split(",")}
    print(make_figure(summ, a.out))
