"""Recorded ΔF/F traces with simultaneously recorded spikes.

One recording = frame times ``t_frames`` (s), ``dff`` (ΔF/F, a fraction), spike times
``spike_times`` (s, same clock as the frames) and scalar metadata (``indicator``,
``frame_rate_hz``, ``dataset``, ...). :func:`load_recording` reads the ``.npz`` format (one
array per field) and validates it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import warnings

import numpy as np

from ._validation import check_recording_units


logger = logging.getLogger("jaxgeci")

DEFAULT_BURN_IN_S = 2.0
"""Frames in the first 2 s are excluded from the loss and the EV (unknown earlier spikes)."""

MIN_EVAL_FRAMES = 10
"""A recording needs at least this many frames after the burn-in."""


def _read_npz(path: str) -> dict:
    """Every array of the ``.npz`` at ``path``, read now, so that a truncated or corrupt archive
    fails here with the file's name (not later inside numpy or zipfile)."""
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ValueError(f"recording {path!r} {what} (expected a .npz file).")
    try:
        d = np.load(path, allow_pickle=False)
    except Exception as e:  # BadZipFile, EOFError, OSError, or not numpy data at all
        raise ValueError(
            f"could not read recording {path!r}: not a readable .npz archive ({type(e).__name__}: {e}); "
            "the file may be truncated or of another format."
        ) from None
    if not isinstance(d, np.lib.npyio.NpzFile):
        raise ValueError(f"recording {path!r} holds one array (.npy), not the named arrays of a .npz archive.")
    try:
        with d:
            return {k: d[k] for k in d.files}
    except Exception as e:  # a truncated member: BadZipFile, zlib.error, EOFError, ...
        raise ValueError(
            f"could not read recording {path!r}: not a readable .npz archive ({type(e).__name__}: {e}); "
            "the file may be truncated or of another format."
        ) from None


def _with_fluorescence(d: dict, rec):
    """``rec`` with the file's ``f_raw``/``f_neuropil`` (when present: 1-D, one per frame, finite)."""
    extra = {}
    for k in ("f_raw", "f_neuropil"):
        if k in d:
            a = np.asarray(d[k], dtype=np.float64)
            if a.shape != rec.t_frames.shape or not np.all(np.isfinite(a)):
                raise ValueError(f"{k} must be finite with one value per frame ({rec.t_frames.size},), got {a.shape}.")
            extra[k] = a
    return dataclasses.replace(rec, **extra) if extra else rec


@dataclasses.dataclass(frozen=True)
class Recording:
    """One neuron's ΔF/F trace with its spike times.

    Attributes:
        t_frames: frame time stamps (s), ``(T,)``, strictly increasing, >= 0.
        dff: ΔF/F as a fraction (dimensionless), ``(T,)``, finite.
        spike_times: spike times (s), ``(S,)``, sorted, within ``[0, t_frames[-1]]``
            (spikes after the last frame are dropped by :meth:`validated`, with a log note).
        frame_rate_hz: nominal frame rate (Hz), > 0.
        indicator: indicator name, e.g. "jGCaMP8s".
        dataset: dataset label (e.g. "Cascade DS32-GCaMP8s-m-V1"); used to pick a parameter
            set from a results file.
        name: short name (the file stem for loaded files).
        metadata: every other scalar metadata entry (str/float/int).
        f_raw: raw ROI fluorescence (arbitrary units), ``(T,)``, or ``None`` (files without it).
        f_neuropil: neuropil fluorescence (same units), ``(T,)``, or ``None``.
    """

    t_frames: np.ndarray
    dff: np.ndarray
    spike_times: np.ndarray
    frame_rate_hz: float
    indicator: str = ""
    dataset: str = ""
    name: str = ""
    metadata: dict = dataclasses.field(default_factory=dict)
    f_raw: np.ndarray | None = None
    f_neuropil: np.ndarray | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        t_frames,
        dff,
        spike_times,
        frame_rate_hz=None,
        *,
        indicator="",
        dataset="",
        name="",
        metadata=None,
        burn_in_s: float = DEFAULT_BURN_IN_S,
    ) -> Recording:
        """Validated recording (see :meth:`validated`); ``frame_rate_hz`` defaults to
        ``1/median(diff(t_frames))`` (Hz)."""
        t = np.asarray(t_frames, dtype=np.float64)
        if frame_rate_hz is None and t.ndim == 1 and t.size > 1:
            step = float(np.median(np.diff(t)))
            # repeated or decreasing times: left to validated(), which names the first bad frame
            frame_rate_hz = 1.0 / step if step > 0 else None
        rec = cls(
            t_frames=t,
            dff=np.asarray(dff),
            spike_times=np.asarray(spike_times, dtype=np.float64),
            frame_rate_hz=frame_rate_hz,
            indicator=str(indicator),
            dataset=str(dataset),
            name=str(name),
            metadata=dict(metadata or {}),
        )
        return rec.validated(burn_in_s=burn_in_s)

    @classmethod
    def from_npz(cls, path, *, burn_in_s: float = DEFAULT_BURN_IN_S, read_spikes: bool = True) -> Recording:
        """Load a recording ``.npz`` file (``t_frames``, ``dff``, ``spike_times``, scalar
        metadata). Raises ``ValueError`` naming the file for missing keys or bad data.

        ``read_spikes=False`` never reads ``spike_times`` (it may be absent; the recording gets none),
        for spike inference on recordings without electrophysiology."""
        path = os.fspath(path)
        d = _read_npz(path)
        missing = [k for k in ("t_frames", "dff") + (("spike_times",) if read_spikes else ()) if k not in d]
        if missing:
            raise ValueError(
                f"recording {path!r} lacks {missing}; the format needs t_frames (s), dff (ΔF/F) and spike_times (s)."
            )
        meta = {k: v.item() for k, v in d.items() if k not in ("t_frames", "dff", "spike_times") and v.ndim == 0}
        fr = meta.pop("frame_rate_hz", None)
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            return _with_fluorescence(
                d,
                cls.create(
                    d["t_frames"],
                    d["dff"],
                    d["spike_times"] if read_spikes else np.zeros(0),
                    None if fr is None else float(fr),
                    indicator=str(meta.pop("indicator", "")),
                    dataset=str(meta.pop("dataset", "")),
                    name=name,
                    metadata=meta,
                    burn_in_s=burn_in_s,
                ),
            )
        except (ValueError, TypeError) as e:
            raise ValueError(f"recording {path!r}: {e}") from None

    # ------------------------------------------------------------------ checks
    def validated(self, *, burn_in_s: float = DEFAULT_BURN_IN_S) -> Recording:
        """Check the recording and return a cleaned copy.

        Raises ``ValueError`` for: non-1-D or mismatched ``t_frames``/``dff``; NaN/inf in
        ``t_frames``, ``dff`` or ``spike_times``; frame times not strictly increasing or
        negative; ``frame_rate_hz <= 0``; unsorted spike times or spikes before ``t = 0``;
        fewer than ``MIN_EVAL_FRAMES`` frames after ``burn_in_s`` (s). A flat ``dff`` loads, but
        :func:`jaxgeci.fit` and :func:`jaxgeci.evaluate` refuse it (:func:`check_scorable`).

        Handled (documented): spikes after the last frame are dropped (they cannot affect any
        frame); a log message at INFO level says how many.
        """
        t, y, s = self.t_frames, self.dff, self.spike_times
        for nm, a in (("t_frames", t), ("dff", y), ("spike_times", s)):
            if a.ndim != 1:
                raise ValueError(f"{nm} must be 1-D, got shape {a.shape}.")
        if t.shape != y.shape:
            raise ValueError(
                f"t_frames and dff must have the same length (one time per frame), got {t.size} and {y.size}."
            )
        if t.size < 2:
            raise ValueError(f"need at least 2 frames, got {t.size}.")
        if not np.all(np.isfinite(t)):
            raise ValueError("t_frames holds NaN/inf; frame times must be finite (s).")
        bad = ~np.isfinite(y)
        if np.any(bad):
            idx = np.flatnonzero(bad)
            raise ValueError(
                f"dff holds {idx.size} NaN/inf frame(s) (first at index {idx[0]}, t={t[idx[0]]:.4g} s); "
                "remove or interpolate them before fitting."
            )
        if np.any(np.diff(t) <= 0):
            i = int(np.flatnonzero(np.diff(t) <= 0)[0])
            raise ValueError(f"t_frames must be strictly increasing (s); t[{i}]={t[i]!r} >= t[{i + 1}]={t[i + 1]!r}.")
        if t[0] < 0:
            raise ValueError(f"t_frames must be >= 0 s (the spikes' clock starts at 0), got t[0]={t[0]!r}.")
        fr = self.frame_rate_hz
        if fr is None or not isinstance(fr, (int, float, np.floating, np.integer)) or not math.isfinite(fr) or fr <= 0:
            raise ValueError(f"frame_rate_hz must be a finite number > 0 (Hz), got {fr!r}.")
        if not np.all(np.isfinite(s)):
            raise ValueError("spike_times holds NaN/inf; spike times must be finite (s).")
        if np.any(np.diff(s) < 0):
            i = int(np.flatnonzero(np.diff(s) < 0)[0])
            raise ValueError(
                f"spike_times must be sorted (s); spike_times[{i}]={s[i]!r} > spike_times[{i + 1}]={s[i + 1]!r}."
            )
        if s.size and s[0] < 0:
            raise ValueError(f"spike_times must be >= 0 s (same clock as t_frames), got {s[0]!r}.")
        late = s > t[-1]
        if np.any(late):
            logger.info(
                "%s: dropping %d spike(s) after the last frame (t > %.4g s); they affect no frame.",
                self.name or "recording",
                int(late.sum()),
                t[-1],
            )
            s = s[~late]
        burn_in_s = float(burn_in_s)
        if not math.isfinite(burn_in_s) or burn_in_s < 0:
            raise ValueError(f"burn_in_s must be finite and >= 0 (s), got {burn_in_s!r}.")
        n_eval = int(np.sum(t >= t[0] + burn_in_s))
        if n_eval < MIN_EVAL_FRAMES:
            raise ValueError(
                f"recording is too short for the burn-in: {t.size} frames over {t[-1] - t[0]:.4g} s leave "
                f"{n_eval} frame(s) after the first {burn_in_s:g} s (need >= {MIN_EVAL_FRAMES})."
            )
        check_recording_units(t, self.spike_times, fr)  # ms for s, a frame rate that does not match
        return dataclasses.replace(
            self, t_frames=t, dff=np.asarray(y, dtype=np.float64), spike_times=s, frame_rate_hz=float(fr)
        )

    # ------------------------------------------------------------------ helpers
    @property
    def duration_s(self) -> float:
        """Time of the last frame (s) (the simulation starts at t = 0)."""
        return float(self.t_frames[-1])

    @property
    def n_frames(self) -> int:
        return int(self.t_frames.size)

    def eval_mask(self, burn_in_s: float = DEFAULT_BURN_IN_S) -> np.ndarray:
        """Frames that enter the loss and the EV: those after the first ``burn_in_s`` (s)."""
        return self.t_frames >= self.t_frames[0] + burn_in_s

    def isolated_spikes(self, *, before_s: float = 1.0, after_s: float = 1.0) -> np.ndarray:
        """Times (s) of the *isolated* spikes: no other spike within ``before_s`` (s) before or
        ``after_s`` (s) after."""
        s = self.spike_times
        prev = np.concatenate([[-np.inf], s[:-1]])
        nxt = np.concatenate([s[1:], [np.inf]])
        return s[(s - prev > before_s) & (nxt - s > after_s)]

    def isolated_spike_frames(self, *, isolation_s: float = 1.0, pre_s: float = 0.2, post_s: float = 1.0) -> np.ndarray:
        """Boolean ``(frames,)``: frames within ``[t - pre_s, t + post_s]`` (s) of an isolated
        spike ``t`` (:meth:`isolated_spikes` with ``isolation_s`` on both sides), the windows of
        the single-spike fidelity figures in ``fitting/README.md``."""
        out = np.zeros(self.n_frames, dtype=bool)
        for t in self.isolated_spikes(before_s=isolation_s, after_s=isolation_s):
            out |= (self.t_frames >= t - pre_s) & (self.t_frames <= t + post_s)
        return out

    def window(self, t_stop: float) -> Recording:
        """The frames and spikes with ``t <= t_stop`` (s) (for quick development fits)."""
        keep = self.t_frames <= t_stop
        return dataclasses.replace(
            self,
            t_frames=self.t_frames[keep],
            dff=self.dff[keep],
            f_raw=None if self.f_raw is None else self.f_raw[keep],
            f_neuropil=None if self.f_neuropil is None else self.f_neuropil[keep],
            spike_times=self.spike_times[self.spike_times <= t_stop],
        ).validated(burn_in_s=0.0)


FLAT_DFF_STD = 1e-6
"""A ``dff`` whose standard deviation after the burn-in is below this (ΔF/F, a fraction) is
flat: shot noise alone puts every real recording orders of magnitude above it."""


def check_scorable(rec: Recording, burn_in_s: float = DEFAULT_BURN_IN_S) -> None:
    """Raise ``ValueError`` naming the recording if its ``dff`` is flat after the first
    ``burn_in_s`` (s): the explained variance ``1 - mse/var(dff)`` is then undefined (``-inf``
    or NaN), so such a recording can be neither fitted nor scored."""
    y = np.asarray(rec.dff, dtype=np.float64)[rec.eval_mask(burn_in_s)]
    sd = float(np.std(y)) if y.size else 0.0
    if not sd >= FLAT_DFF_STD * max(1.0, float(np.max(np.abs(y), initial=0.0))):
        raise ValueError(
            f"recording {rec.name or '(unnamed)'!r}: dff is flat after the first {burn_in_s:g} s "
            f"(standard deviation {sd:.3g} over {y.size} frames); the explained variance is undefined "
            "(var(dff) = 0), so it can be neither fitted nor scored."
        )


def _indicator_key(name: str) -> str:
    """``"jGCaMP8m"``, ``"GCaMP8m"``, ``"gcamp8m-TG"`` -> ``"gcamp8m"`` (for comparing names)."""
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    key = key[:-2] if key.endswith("tg") else key
    return key[1:] if key.startswith("j") else key


def warn_other_indicator(sensor, rec: Recording) -> None:
    """Warn (``UserWarning``) when a sensor named for one indicator is scored on a recording of
    another (e.g. jGCaMP8m constants on a GCaMP6f cell): the score is then no test of either."""
    s_name, r_name = str(getattr(sensor, "name", "") or ""), str(rec.indicator or "")
    if s_name and r_name and _indicator_key(s_name) != _indicator_key(r_name):
        warnings.warn(
            f"sensor {s_name!r} is evaluated on recording {rec.name or '(unnamed)'!r} of indicator {r_name!r}: "
            f"the constants are another indicator's; use the {r_name} constants (or rename the sensor).",
            UserWarning,
            stacklevel=3,
        )


def load_recording(path, *, burn_in_s: float = DEFAULT_BURN_IN_S, read_spikes: bool = True) -> Recording:
    """Load and validate one recording ``.npz``; see :meth:`Recording.from_npz`."""
    return Recording.from_npz(path, burn_in_s=burn_in_s, read_spikes=read_spikes)
