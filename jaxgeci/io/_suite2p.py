"""suite2p output folders (``F.npy``, ``Fneu.npy``, ``iscell.npy``, ``ops.npy``) -> ΔF/F.

The conversion, exactly::

    Fc  = F - neuropil_factor * Fneu                      (neuropil subtraction)
    F0  = running percentile of Fc (see below)             (baseline)
    dFF = (Fc - F0) / F0                                   (relative to that baseline)

Baseline ``F0``: with ``baseline_window_s=None`` it is one number per ROI, the
``baseline_percentile``-th percentile of ``Fc`` over the whole recording. With a window of
``w = round(baseline_window_s * fs)`` frames (default 60 s), the percentile is taken over
``Fc[c - w//2 : c + w//2 + 1]`` (clipped at the ends) at the centre frames
``c = 0, h, 2h, ...`` and the last frame, with hop ``h = max(1, w // 10)``, and linearly
interpolated between centres. This tracks slow drift (bleaching) at a cost of
``O(frames * 10)`` percentile evaluations instead of one per frame.

Defaults: ``neuropil_factor = 0.7`` (suite2p's own ``neucoeff``), ``baseline_percentile = 8``,
``baseline_window_s = 60``. ΔF/F from a percentile baseline is relative to a low quantile of
the *recorded* fluorescence, i.e. roughly to the resting fluorescence, as in experiments; it
is **not** Cleo's apo-relative ΔF/F (use ``dff_baseline="rest"`` sensors to compare).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from pathlib import Path

import numpy as np


logger = logging.getLogger(__name__)

__all__ = ["Suite2pTraces", "read_suite2p", "suite2p_dff"]


@dataclasses.dataclass(frozen=True)
class Suite2pTraces:
    """ΔF/F of the selected ROIs of one suite2p plane folder (host NumPy arrays).

    Attributes:
        dff: ΔF/F (dimensionless), ``(frames, rois)``, time-major like :func:`jaxgeci.simulate`.
        t_frames: frame times (s), ``(frames,)``: ``t = k / frame_rate_hz``.
        frame_rate_hz: frame rate (Hz), from ``ops["fs"]`` unless overridden.
        roi_index: index of each kept ROI in suite2p's arrays, ``(rois,)``.
        iscell_prob: suite2p's classifier probability of each kept ROI, ``(rois,)``.
        f0: the baseline used (same units as ``F``), ``(frames, rois)``.
        neuropil_factor: the factor ``r`` in ``F - r Fneu``.
        baseline_percentile: percentile used for ``F0``.
        baseline_window_s: running-window length (s), or ``None`` for one value per ROI.
        roi_med_px: ``stat[i]["med"]`` (y, x) pixel centre of each kept ROI, ``(rois, 2)``,
            or ``None`` when ``stat.npy`` is absent.
        folder: the plane folder that was read.
    """

    dff: np.ndarray
    t_frames: np.ndarray
    frame_rate_hz: float
    roi_index: np.ndarray
    iscell_prob: np.ndarray
    f0: np.ndarray
    neuropil_factor: float
    baseline_percentile: float
    baseline_window_s: float | None
    roi_med_px: np.ndarray | None
    folder: str

    @property
    def n_rois(self) -> int:
        return int(self.dff.shape[1])

    def to_recordings(self, *, indicator: str = "", dataset: str = "", spike_times=None) -> list:
        """One :class:`jaxgeci.Recording` per ROI (suite2p has no spike times: pass
        ``spike_times``, a list with one array of times (s) per kept ROI, if you have them
        from electrophysiology; otherwise each recording has an empty spike train)."""
        from ._records import make_recording

        if spike_times is not None and len(spike_times) != self.n_rois:
            raise ValueError(f"spike_times must have one array per kept ROI ({self.n_rois}), got {len(spike_times)}.")
        out = []
        for j in range(self.n_rois):
            out.append(
                make_recording(
                    t_frames=self.t_frames,
                    dff=self.dff[:, j],
                    spike_times=np.zeros(0) if spike_times is None else np.asarray(spike_times[j], float),
                    frame_rate_hz=self.frame_rate_hz,
                    indicator=indicator,
                    dataset=dataset or f"suite2p:{self.folder}",
                    name=f"suite2p_roi{int(self.roi_index[j])}",
                    metadata={
                        "source": "suite2p",
                        "roi_index": int(self.roi_index[j]),
                        "iscell_prob": float(self.iscell_prob[j]),
                        "neuropil_factor": self.neuropil_factor,
                        "baseline_percentile": self.baseline_percentile,
                        "baseline_window_s": self.baseline_window_s,
                    },
                )
            )
        return out


def _running_percentile(x: np.ndarray, window: int | None, q: float) -> np.ndarray:
    """Baseline of ``x`` ``(frames, rois)``: see the module docstring."""
    T = x.shape[0]
    if window is None or window >= T:
        return np.broadcast_to(np.percentile(x, q, axis=0), x.shape).copy()
    hop = max(1, window // 10)
    centres = np.arange(0, T, hop)
    if centres[-1] != T - 1:
        centres = np.append(centres, T - 1)
    half = window // 2
    values = np.empty((centres.size, x.shape[1]))
    for m, c in enumerate(centres):
        values[m] = np.percentile(x[max(0, c - half) : min(T, c + half + 1)], q, axis=0)
    frames = np.arange(T)
    return np.stack([np.interp(frames, centres, values[:, j]) for j in range(x.shape[1])], axis=1)


def suite2p_dff(
    F,
    Fneu,
    frame_rate_hz: float,
    *,
    neuropil_factor: float = 0.7,
    baseline_percentile: float = 8.0,
    baseline_window_s: float | None = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """ΔF/F from raw and neuropil fluorescence (suite2p layout, ``(rois, frames)``).

    Args:
        F: ROI fluorescence (arbitrary units), ``(rois, frames)``.
        Fneu: neuropil fluorescence (same units), ``(rois, frames)``.
        frame_rate_hz: frame rate (Hz), used to turn ``baseline_window_s`` into frames.
        neuropil_factor: ``r`` in ``F - r Fneu`` (dimensionless, >= 0; suite2p's default 0.7).
        baseline_percentile: percentile in ``[0, 100]`` of the neuropil-corrected trace used
            as ``F0``.
        baseline_window_s: running-window length (s), or ``None`` for a constant ``F0``.

    Returns:
        ``(dff, f0)``, each ``(frames, rois)`` (time-major).

    Raises:
        ValueError: bad shapes or values; a non-positive or non-finite baseline (which would
            make ΔF/F meaningless) names the ROIs concerned.
    """
    F = np.asarray(F, dtype=float)
    Fneu = np.asarray(Fneu, dtype=float)
    if F.ndim != 2:
        raise ValueError(f"F must be (rois, frames), got shape {F.shape}.")
    if Fneu.shape != F.shape:
        raise ValueError(f"Fneu must have the shape of F {F.shape}, got {Fneu.shape}.")
    if not (np.all(np.isfinite(F)) and np.all(np.isfinite(Fneu))):
        raise ValueError("F and Fneu must be finite (got NaN/inf).")
    if not (isinstance(neuropil_factor, (int, float)) and math.isfinite(neuropil_factor) and neuropil_factor >= 0):
        raise ValueError(f"neuropil_factor must be a finite number >= 0, got {neuropil_factor!r}.")
    if not (isinstance(baseline_percentile, (int, float)) and 0 <= baseline_percentile <= 100):
        raise ValueError(f"baseline_percentile must be in [0, 100], got {baseline_percentile!r}.")
    if not (isinstance(frame_rate_hz, (int, float)) and math.isfinite(frame_rate_hz) and frame_rate_hz > 0):
        raise ValueError(f"frame_rate_hz must be a finite number > 0 (Hz), got {frame_rate_hz!r}.")
    window = None
    if baseline_window_s is not None:
        if not (
            isinstance(baseline_window_s, (int, float)) and math.isfinite(baseline_window_s) and baseline_window_s > 0
        ):
            raise ValueError(f"baseline_window_s must be > 0 (s) or None, got {baseline_window_s!r}.")
        window = max(1, int(round(baseline_window_s * frame_rate_hz)))
    Fc = (F - neuropil_factor * Fneu).T  # (frames, rois)
    f0 = _running_percentile(Fc, window, float(baseline_percentile))
    bad = ~np.all(np.isfinite(f0) & (f0 > 0), axis=0)
    if np.any(bad):
        raise ValueError(
            f"the baseline F0 = percentile({baseline_percentile}) of F - {neuropil_factor}*Fneu is <= 0 "
            f"for ROI(s) {np.flatnonzero(bad).tolist()[:20]}: ΔF/F is undefined there. Lower "
            "neuropil_factor, or drop these ROIs (read_suite2p(..., on_bad_baseline='drop'))."
        )
    return (Fc - f0) / f0, f0


def _plane_folder(path: Path) -> Path:
    if (path / "F.npy").exists():
        return path
    planes = sorted(p for p in path.glob("**/plane*") if (p / "F.npy").exists())
    hint = f" Found plane folders: {[str(p) for p in planes]}; pass one of them." if planes else ""
    raise FileNotFoundError(f"{str(path)!r} has no F.npy (expected a suite2p plane folder).{hint}")


def _load_npy(path: Path, *, allow_pickle: bool = False) -> np.ndarray:
    """``np.load`` of one suite2p file, failing with the file's name (truncated, corrupt or not
    ``.npy``)."""
    try:
        return np.asarray(np.load(path, allow_pickle=allow_pickle))
    except Exception as e:  # ValueError, OSError, EOFError, UnpicklingError, ...
        msg = f"could not read {str(path)!r} ({type(e).__name__}: {e}); truncated or not a .npy file?"
        raise ValueError(msg) from None


def read_suite2p(
    folder: str | os.PathLike,
    *,
    neuropil_factor: float = 0.7,
    baseline_percentile: float = 8.0,
    baseline_window_s: float | None = 60.0,
    frame_rate_hz: float | None = None,
    cells_only: bool = True,
    min_iscell_prob: float | None = None,
    on_bad_baseline: str = "raise",
) -> Suite2pTraces:
    """Read a suite2p plane folder and convert the selected ROIs to ΔF/F.

    Reads ``F.npy`` and ``Fneu.npy`` (``(rois, frames)``), ``iscell.npy`` (``(rois, 2)``:
    is-cell flag, probability), ``ops.npy`` (a pickled dict written by suite2p itself; only
    ``ops["fs"]``, the per-plane frame rate in Hz, is used) and, when present, ``stat.npy``
    (ROI centres ``med``). ``ops.npy``/``stat.npy`` are loaded with ``allow_pickle=True``:
    only read folders you trust. The ΔF/F conversion is :func:`suite2p_dff` (see the module
    docstring for the exact baseline).

    Args:
        folder: the plane folder (``.../suite2p/plane0``).
        neuropil_factor, baseline_percentile, baseline_window_s: see :func:`suite2p_dff`.
        frame_rate_hz: overrides ``ops["fs"]`` (Hz); required when ``ops.npy`` is absent.
        cells_only: keep only ROIs that suite2p classified as cells (``iscell[:, 0] == 1``).
        min_iscell_prob: instead keep ROIs whose probability ``iscell[:, 1]`` is >= this.
        on_bad_baseline: ``"raise"`` (default) or ``"drop"`` (drop ROIs whose baseline is
            <= 0, with a logged warning).

    Returns:
        :class:`Suite2pTraces` (``.to_recordings()`` gives :class:`jaxgeci.Recording` objects).
    """
    path = _plane_folder(Path(folder))
    F = _load_npy(path / "F.npy")
    Fneu = _load_npy(path / "Fneu.npy")
    if F.ndim != 2 or Fneu.shape != F.shape:
        raise ValueError(f"F.npy {F.shape} and Fneu.npy {Fneu.shape} in {str(path)!r} must both be (rois, frames).")
    n_rois = F.shape[0]
    if (path / "iscell.npy").exists():
        iscell = np.asarray(_load_npy(path / "iscell.npy"), dtype=float)
        if iscell.ndim not in (1, 2) or iscell.shape[0] != n_rois or (iscell.ndim == 2 and iscell.shape[1] > 2):
            raise ValueError(
                f"{str(path / 'iscell.npy')!r} has shape {iscell.shape}, but F.npy has {n_rois} ROIs: "
                f"expected ({n_rois}, 2) (is-cell flag, probability) or ({n_rois},); the files come "
                "from different suite2p runs?"
            )
        iscell = iscell.reshape(n_rois, -1)
        if iscell.shape[1] == 1:  # flags only: use them as the probability too
            iscell = np.concatenate([iscell, iscell], axis=1)
    else:
        logger.warning("%s has no iscell.npy: keeping every ROI.", path)
        iscell = np.ones((n_rois, 2))
    if frame_rate_hz is None:
        if not (path / "ops.npy").exists():
            raise ValueError(f"{str(path)!r} has no ops.npy: pass frame_rate_hz (Hz).")
        ops = _load_npy(path / "ops.npy", allow_pickle=True)
        ops = ops.item() if ops.ndim == 0 else None
        if not isinstance(ops, dict) or "fs" not in ops:
            raise ValueError(
                f"{str(path / 'ops.npy')!r} is not a suite2p ops dict with 'fs' (frame rate per plane): "
                "pass frame_rate_hz (Hz)."
            )
        frame_rate_hz = float(ops["fs"])
    med = None
    if (path / "stat.npy").exists():
        stat = _load_npy(path / "stat.npy", allow_pickle=True)
        if len(stat) == n_rois and all("med" in s for s in stat):
            med = np.asarray([s["med"] for s in stat], dtype=float)

    if min_iscell_prob is not None:
        keep = iscell[:, 1] >= float(min_iscell_prob)
    elif cells_only:
        keep = iscell[:, 0] > 0.5
    else:
        keep = np.ones(n_rois, bool)
    if on_bad_baseline not in ("raise", "drop"):
        raise ValueError(f"on_bad_baseline must be 'raise' or 'drop', got {on_bad_baseline!r}.")
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise ValueError(
            f"no ROI of {str(path)!r} passed the selection (cells_only={cells_only}, "
            f"min_iscell_prob={min_iscell_prob})."
        )
    kw = dict(
        neuropil_factor=neuropil_factor,
        baseline_percentile=baseline_percentile,
        baseline_window_s=baseline_window_s,
    )
    if on_bad_baseline == "drop":
        good = []
        for i in idx:
            try:
                suite2p_dff(F[i : i + 1], Fneu[i : i + 1], frame_rate_hz, **kw)
                good.append(i)
            except ValueError:
                pass
        if len(good) < idx.size:
            logger.warning(
                "read_suite2p: dropped %d ROI(s) with a non-positive baseline: %s",
                idx.size - len(good),
                sorted(set(idx.tolist()) - set(good))[:20],
            )
        idx = np.asarray(good, dtype=int)
        if idx.size == 0:
            raise ValueError("every selected ROI has a non-positive baseline; lower neuropil_factor.")
    dff, f0 = suite2p_dff(F[idx], Fneu[idx], frame_rate_hz, **kw)
    T = F.shape[1]
    return Suite2pTraces(
        dff=dff,
        t_frames=np.arange(T) / frame_rate_hz,
        frame_rate_hz=float(frame_rate_hz),
        roi_index=idx,
        iscell_prob=iscell[idx, 1],
        f0=f0,
        neuropil_factor=float(neuropil_factor),
        baseline_percentile=float(baseline_percentile),
        baseline_window_s=None if baseline_window_s is None else float(baseline_window_s),
        roi_med_px=None if med is None else med[idx],
        folder=str(path),
    )
