"""NWB (Neurodata Without Borders) interop through ``pynwb``.

Reading: a ``RoiResponseSeries`` (ΔF/F, from an ophys ``DfOverF`` container) with its
timestamps or rate, the ROI centres when the ``PlaneSegmentation`` has them, and spike times
from the ``Units`` table -> :class:`NWBImaging` -> one :class:`jaxgeci.Recording` per ROI.

Writing: simulated imaging -> an NWB file with a ``Device``, an ``OpticalChannel``, an
``ImagingPlane``, a ``PlaneSegmentation`` (one voxel per ROI on the plane's grid, plus the
exact centres in metres as columns ``x, y, z``), a ``DfOverF``/``RoiResponseSeries`` and,
optionally, a ``Units`` table. Files written here pass ``nwbinspector`` without errors
(``tests/test_io_nwb.py``).

``pynwb`` is imported lazily: install it with ``pip install 'jaxgeci[io]'``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import uuid
import warnings
from collections.abc import Sequence

import numpy as np

from ._optional import require


logger = logging.getLogger(__name__)

__all__ = ["NWBImaging", "read_nwb", "read_nwb_imaging", "write_nwb"]

_COORD_COLS = ("x", "y", "z")
_NEURON_COL = "unit_index"


@dataclasses.dataclass(frozen=True)
class NWBImaging:
    """Imaging data read from (or to be written to) an NWB file (host NumPy arrays).

    Attributes:
        dff: ΔF/F (dimensionless), ``(frames, rois)``.
        t_frames: frame times (s), ``(frames,)``.
        frame_rate_hz: imaging rate (Hz): the series' rate, or ``1/median(diff(t))``.
        roi_coords: ROI centres (m), ``(rois, 3)``, from the PlaneSegmentation columns
            ``x, y, z`` (written by :func:`write_nwb`), or ``None``; files from other tools
            get their mask centroids in pixels as ``metadata["roi_centroid_px"]`` instead.
        spike_times: spike times (s) of each ROI's neuron, a list of ``rois`` arrays (an
            entry is ``None`` when the ROI has no matched unit), or ``None`` (no Units table).
        indicator: the imaging plane's indicator (e.g. ``"GCaMP6f"``).
        metadata: other information (series name, description, session id, ...).
    """

    dff: np.ndarray
    t_frames: np.ndarray
    frame_rate_hz: float
    roi_coords: np.ndarray | None
    spike_times: list | None
    indicator: str
    metadata: dict

    @property
    def n_rois(self) -> int:
        return int(self.dff.shape[1])

    def to_recordings(self, *, dataset: str | None = None) -> list:
        """One :class:`jaxgeci.Recording` per ROI (ROIs without a matched unit get an empty
        spike train; their ``metadata["has_spikes"]`` is False)."""
        from ._records import make_recording

        out = []
        for j in range(self.n_rois):
            st = None if self.spike_times is None else self.spike_times[j]
            meta = dict(self.metadata, roi_index=j, has_spikes=st is not None)
            if self.roi_coords is not None:
                meta["roi_coords_m"] = self.roi_coords[j].tolist()
            out.append(
                make_recording(
                    t_frames=self.t_frames,
                    dff=self.dff[:, j],
                    spike_times=np.zeros(0) if st is None else st,
                    frame_rate_hz=self.frame_rate_hz,
                    indicator=self.indicator,
                    dataset=dataset or self.metadata.get("source", "nwb"),
                    name=f"{self.metadata.get('series', 'roi')}_{j}",
                    metadata=meta,
                )
            )
        return out


# ----------------------------------------------------------------------------- writing


def _regular_rate(t: np.ndarray) -> float | None:
    if t.size < 2:
        return None
    d = np.diff(t)
    if np.all(d > 0) and np.ptp(d) <= 1e-9 * np.mean(d):
        return float(1.0 / np.mean(d))
    return None


def write_nwb(
    path: str | os.PathLike,
    dff,
    *,
    t_frames=None,
    frame_rate_hz: float | None = None,
    roi_coords=None,
    spike_times: Sequence | None = None,
    roi_units: Sequence[int] | None = None,
    indicator: str | None = None,
    sensor=None,
    session_description: str = "Two-photon imaging simulated with jaxgeci.",
    identifier: str | None = None,
    session_start_time: datetime.datetime | None = None,
    location: str = "unknown (simulated)",
    excitation_lambda: float = 920e-9,
    emission_lambda: float = 510e-9,
    grid_spacing: float = 1e-6,
    spike_resolution: float | None = None,
    subject: dict | None = None,
    overwrite: bool = False,
) -> str:
    """Write simulated imaging to an NWB file that ``nwbinspector`` accepts without errors.

    Args:
        path: the ``.nwb`` file to create.
        dff: ΔF/F (dimensionless), ``(frames, rois)``, written as given (its dtype is kept);
            or a :class:`jaxgeci.SimulationResult` / :class:`jaxgeci.ImagingResult`, whose
            ``dFF`` is written with frame times ``steps * dt`` (s).
        t_frames: frame times (s), ``(frames,)``; regular times are stored as a rate and a
            start time, irregular ones as timestamps. Give this or ``frame_rate_hz``.
        frame_rate_hz: imaging rate (Hz) when ``t_frames`` is not given (start at 0 s).
        roi_coords: ROI centres (m), ``(rois, 3)``. Stored exactly as columns ``x, y, z`` (m)
            and as one voxel per ROI on a grid of ``grid_spacing`` (m) starting at the
            smallest coordinate. Default: ROIs on a line 10 µm apart.
        spike_times: optional spike times (s), one array per neuron (NWB unit).
        roi_units: the unit (index into ``spike_times``) each ROI images, ``(rois,)``;
            default ``range(rois)`` when there are as many neurons as ROIs.
        indicator: indicator name (default: ``sensor.name`` or ``"unknown"``).
        sensor: optional jaxgeci sensor; its constants (SI) are stored in the series'
            ``comments`` as JSON.
        session_description, identifier, session_start_time: NWB session fields (defaults:
            a generic description, a random UUID, now in UTC).
        location: brain region of the imaging plane.
        excitation_lambda, emission_lambda: wavelengths (m); NWB stores nm.
        grid_spacing: voxel size of the plane's grid (m).
        spike_resolution: smallest possible difference between spike times (s), e.g. the
            simulation's ``dt`` (stored as the Units table's ``resolution``).
        subject: fields of the NWB ``Subject`` (default: ``subject_id="simulated"``,
            ``species="Mus musculus"``, ``sex="U"``, ``age="P90D"``, a description saying the
            neurons are simulated); nwbinspector treats a missing subject as critical.
        overwrite: replace an existing file.

    Returns:
        The path written, as a string.

    Raises:
        ValueError: bad shapes or values, or an existing file without ``overwrite``.
    """
    pynwb = require("pynwb", "io", "Writing NWB files")
    from pynwb.ophys import DfOverF, OpticalChannel

    if all(hasattr(dff, a) for a in ("dFF", "steps", "dt")):  # SimulationResult / ImagingResult
        if t_frames is None and frame_rate_hz is None:
            t_frames = np.asarray(dff.steps, dtype=np.int64) * float(dff.dt)
        dff = dff.dFF
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{path!r} exists; pass overwrite=True to replace it.")
    data = np.asarray(dff)
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] < 1:
        raise ValueError(f"dff must be (frames, rois) with at least one of each, got shape {data.shape}.")
    if not np.all(np.isfinite(data)):
        raise ValueError("dff must be finite (got NaN/inf).")
    T, R = data.shape
    if (t_frames is None) == (frame_rate_hz is None):
        raise ValueError("give exactly one of t_frames (s) and frame_rate_hz (Hz).")
    if t_frames is not None:
        t = np.asarray(t_frames, dtype=float).reshape(-1)
        if t.shape != (T,) or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise ValueError(f"t_frames must be ({T},) finite, increasing times (s), got shape {t.shape}.")
        rate = _regular_rate(t)
        timing = dict(rate=rate, starting_time=float(t[0])) if rate is not None else dict(timestamps=t)
        imaging_rate = rate if rate is not None else float(1.0 / np.median(np.diff(t))) if T > 1 else 1.0
    else:
        if not (np.isfinite(frame_rate_hz) and frame_rate_hz > 0):
            raise ValueError(f"frame_rate_hz must be finite and > 0 (Hz), got {frame_rate_hz!r}.")
        timing = dict(rate=float(frame_rate_hz), starting_time=0.0)
        imaging_rate = float(frame_rate_hz)
    if roi_coords is None:
        coords = np.stack([np.arange(R) * 10e-6, np.zeros(R), np.zeros(R)], axis=1)
    else:
        coords = np.asarray(roi_coords, dtype=float)
        if coords.shape != (R, 3) or not np.all(np.isfinite(coords)):
            raise ValueError(f"roi_coords must be finite ({R}, 3) positions (m), got shape {coords.shape}.")
    if not (np.isfinite(grid_spacing) and grid_spacing > 0):
        raise ValueError(f"grid_spacing must be > 0 (m), got {grid_spacing!r}.")
    units = None
    if spike_times is not None:
        units = [np.sort(np.asarray(s, dtype=float).reshape(-1)) for s in spike_times]
        for u, s in enumerate(units):
            if not np.all(np.isfinite(s)):
                raise ValueError(f"spike_times[{u}] must be finite times (s).")
        if roi_units is None:
            if len(units) != R:
                raise ValueError(
                    f"spike_times has {len(units)} neurons for {R} ROIs: pass roi_units (the unit of each ROI)."
                )
            roi_units = np.arange(R)
        roi_units = np.asarray(roi_units, dtype=np.int64).reshape(-1)
        if roi_units.shape != (R,) or roi_units.min() < 0 or roi_units.max() >= len(units):
            raise ValueError(f"roi_units must be ({R},) indices into spike_times (0..{len(units) - 1}).")
    elif roi_units is not None:
        raise ValueError("roi_units needs spike_times.")

    if indicator is None:
        indicator = getattr(sensor, "name", "") or "unknown"
    if session_start_time is None:
        session_start_time = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    nwbfile = pynwb.NWBFile(
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=session_start_time,
        source_script="jaxgeci.io.write_nwb",
        source_script_file_name="jaxgeci/io/_nwb.py",
        experiment_description="Simulated calcium imaging (jaxgeci GECI and two-photon scope models).",
        keywords=["calcium imaging", "simulation", "jaxgeci", str(indicator)],
    )
    subject_fields = dict(
        subject_id="simulated",
        species="Mus musculus",
        sex="U",
        age="P90D",
        description="simulated neurons (no animal was used); species is the modelled one",
    )
    subject_fields.update(subject or {})
    nwbfile.subject = pynwb.file.Subject(**subject_fields)
    device = nwbfile.create_device(name="Microscope", description="simulated two-photon microscope (jaxgeci)")
    channel = OpticalChannel(
        name="OpticalChannel", description="green channel", emission_lambda=float(emission_lambda) * 1e9
    )
    origin = coords.min(axis=0)
    plane = nwbfile.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        description="simulated focal plane; ROI centres in PlaneSegmentation columns x, y, z (m)",
        device=device,
        excitation_lambda=float(excitation_lambda) * 1e9,
        imaging_rate=float(imaging_rate),
        indicator=str(indicator),
        location=location,
        origin_coords=origin.tolist(),
        origin_coords_unit="meters",
        grid_spacing=[float(grid_spacing)] * 3,
        grid_spacing_unit="meters",
    )
    ophys = nwbfile.create_processing_module(name="ophys", description="simulated optical physiology")
    seg_module = pynwb.ophys.ImageSegmentation()
    ophys.add(seg_module)
    seg = seg_module.create_plane_segmentation(
        name="PlaneSegmentation",
        description="one ROI per imaged neuron (voxel at the ROI centre)",
        imaging_plane=plane,
    )
    seg.add_column(name="x", description="ROI centre x coordinate (m)")
    seg.add_column(name="y", description="ROI centre y coordinate (m)")
    seg.add_column(name="z", description="ROI centre z coordinate (m)")
    if units is not None:
        seg.add_column(name=_NEURON_COL, description="row of the Units table holding this ROI's neuron")
    vox = np.rint((coords - origin) / grid_spacing).astype(np.int64)
    for r in range(R):
        row = dict(voxel_mask=[(int(vox[r, 0]), int(vox[r, 1]), int(vox[r, 2]), 1.0)])
        row.update(x=float(coords[r, 0]), y=float(coords[r, 1]), z=float(coords[r, 2]))
        if units is not None:
            row[_NEURON_COL] = int(roi_units[r])
        seg.add_roi(**row)
    region = seg.create_roi_table_region(region=list(range(R)), description="all ROIs")
    comments = "no comments"
    if sensor is not None:
        params = {k: (None if v is None else np.asarray(v).tolist()) for k, v in getattr(sensor, "params", {}).items()}
        comments = json.dumps(
            {"jaxgeci_sensor": type(sensor).__name__, "name": getattr(sensor, "name", ""), "params_SI": params}
        )
    series = pynwb.ophys.RoiResponseSeries(
        name="RoiResponseSeries",
        data=data,
        rois=region,
        unit="n.a.",
        description="ΔF/F (dimensionless) simulated by jaxgeci",
        comments=comments,
        **timing,
    )
    dfof = DfOverF(name="DfOverF")
    with warnings.catch_warnings():
        # hdmf warns that the ROI region's table has no common ancestor until the file is
        # assembled; it does once the container is added to the module below.
        warnings.filterwarnings("ignore", message="The linked table for DynamicTableRegion")
        dfof.add_roi_response_series(series)
        ophys.add(dfof)
    if units is not None:
        table = pynwb.misc.Units(
            name="units",
            description="spike times of the simulated neurons (s)",
            resolution=-1.0 if spike_resolution is None else float(spike_resolution),
        )
        for s in units:
            table.add_unit(spike_times=s)
        nwbfile.units = table
    with pynwb.NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    logger.info("wrote %s: %d frames x %d ROIs%s", path, T, R, "" if units is None else f", {len(units)} units")
    return path


# ----------------------------------------------------------------------------- reading


def _find_series(nwbfile, name):
    from pynwb.ophys import DfOverF, Fluorescence, RoiResponseSeries

    found = []  # (container kind, series)
    for module in nwbfile.processing.values():
        for container in module.data_interfaces.values():
            if isinstance(container, (DfOverF, Fluorescence)):
                for s in container.roi_response_series.values():
                    found.append((type(container).__name__, s))
            elif isinstance(container, RoiResponseSeries):
                found.append(("RoiResponseSeries", container))
    if not found:
        raise ValueError("the NWB file has no RoiResponseSeries (looked in every processing module).")
    if name is not None:
        hits = [f for f in found if f[1].name == name]
        if not hits:
            raise ValueError(f"no RoiResponseSeries named {name!r}; found {[f[1].name for f in found]}.")
        return hits[0]
    dfof = [f for f in found if f[0] == "DfOverF"]
    if len(dfof) == 1:
        return dfof[0]
    if len(dfof) > 1:
        raise ValueError(f"several DfOverF series {[f[1].name for f in dfof]}: choose one with series=.")
    raise ValueError(
        f"no DfOverF series (found {[(f[0], f[1].name) for f in found]}); these hold raw "
        "fluorescence, not ΔF/F: pass series= to read one anyway, or convert it first."
    )


def _mask_centroids(table, rows) -> np.ndarray | None:
    """Weighted centre of each ROI's mask in pixel (voxel) units, ``(rois, 2 or 3)``, from
    ``image_mask``, ``pixel_mask`` or ``voxel_mask``; ``None`` if the table has none."""
    cols = set(table.colnames)
    out = []
    try:
        for r in rows:
            if "image_mask" in cols:
                m = np.asarray(table["image_mask"][int(r)], dtype=float)
                idx = np.indices(m.shape).reshape(m.ndim, -1).T
                w = m.reshape(-1)
            elif "pixel_mask" in cols or "voxel_mask" in cols:
                entries = table["pixel_mask" if "pixel_mask" in cols else "voxel_mask"][int(r)]
                arr = np.asarray([tuple(e) for e in entries], dtype=float)
                idx, w = arr[:, :-1], arr[:, -1]
            else:
                return None
            total = float(np.sum(w))
            out.append(idx.T @ w / total if total > 0 else np.full(idx.shape[1], np.nan))
    except (KeyError, IndexError, TypeError, ValueError) as err:  # unusual layouts: skip, say so
        logger.info("read_nwb_imaging: ROI centroids not computed (%s).", err)
        return None
    return np.asarray(out)


def read_nwb_imaging(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    roi_units: Sequence[int | None] | None = None,
) -> NWBImaging:
    """Read ΔF/F, frame times, ROI centres and matched spike times from an NWB file.

    Args:
        path: the ``.nwb`` file.
        series: name of the ``RoiResponseSeries`` (default: the only one in a ``DfOverF``).
        roi_units: Units-table row of each ROI (``None`` for no match). Default: the
            PlaneSegmentation column ``unit_index`` (written by :func:`write_nwb`); else, if
            the Units table has exactly one unit per ROI, pairs them in order; else no spikes
            (logged).

    Returns:
        :class:`NWBImaging` with ``dff`` as ``(frames, rois)``.
    """
    pynwb = require("pynwb", "io", "Reading NWB files")
    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ValueError(f"NWB file {path!r} {what}.")
    try:
        return _read_imaging(pynwb, path, series, roi_units)
    except ValueError as e:
        raise ValueError(f"NWB file {path!r}: {e}") from None
    except Exception as e:  # h5py's OSError for a truncated file, KeyError/TypeError from a malformed one
        raise ValueError(
            f"could not read NWB file {path!r} ({type(e).__name__}: {e}); it may be truncated or not NWB/HDF5."
        ) from None


def _read_imaging(pynwb, path: str, series, roi_units) -> NWBImaging:
    with pynwb.NWBHDF5IO(path, "r") as io:
        nwbfile = io.read()
        kind, s = _find_series(nwbfile, series)
        data = np.asarray(s.data[:])
        if data.ndim == 1:
            data = data[:, None]
        n_region = len(s.rois.data[:])
        n_times = None if s.timestamps is None else len(s.timestamps)
        if data.shape[1] != n_region and data.shape[0] == n_region and (n_times is None or data.shape[1] == n_times):
            # NWB stores time first; some writers store (rois, time). nwbinspector flags this.
            logger.warning("read_nwb_imaging: %s is stored (rois, time); transposing.", s.name)
            data = data.T
        T, R = data.shape
        if s.timestamps is not None:
            t = np.asarray(s.timestamps[:], dtype=float)
            rate = float(1.0 / np.median(np.diff(t))) if T > 1 else float("nan")
        else:
            rate = float(s.rate)
            t = float(s.starting_time or 0.0) + np.arange(T) / rate
        table = s.rois.table
        rows = np.asarray(s.rois.data[:], dtype=np.int64)
        colnames = set(table.colnames)
        coords = None
        centroid_px = None
        if all(c in colnames for c in _COORD_COLS):
            coords = np.stack([np.asarray(table[c][:], dtype=float)[rows] for c in _COORD_COLS], axis=1)
        else:
            centroid_px = _mask_centroids(table, rows)
        plane = getattr(table, "imaging_plane", None)
        indicator = str(getattr(plane, "indicator", "") or "")
        spikes = None
        units = nwbfile.units
        if units is not None and len(units) > 0:
            n_units = len(units)
            if roi_units is None and _NEURON_COL in colnames:
                roi_units = np.asarray(table[_NEURON_COL][:], dtype=np.int64)[rows].tolist()
            if roi_units is None and n_units == R:
                roi_units = list(range(R))
            if roi_units is None:
                logger.warning(
                    "read_nwb_imaging: %d units for %d ROIs and no mapping; pass roi_units to attach spikes.",
                    n_units,
                    R,
                )
            else:
                if len(roi_units) != R:
                    raise ValueError(f"roi_units must have one entry per ROI ({R}), got {len(roi_units)}.")
                spikes = [
                    None if u is None else np.asarray(units.get_unit_spike_times(int(u)), dtype=float)
                    for u in roi_units
                ]
        metadata = {
            "source": f"nwb:{os.path.basename(os.fspath(path))}",
            "series": s.name,
            "container": kind,
            "series_description": s.description,
            "comments": s.comments,
            "unit": s.unit,
            "session_id": nwbfile.identifier,
            "session_description": nwbfile.session_description,
        }
        if centroid_px is not None:
            metadata["roi_centroid_px"] = centroid_px.tolist()
    return NWBImaging(
        dff=data,
        t_frames=t,
        frame_rate_hz=rate,
        roi_coords=coords,
        spike_times=spikes,
        indicator=indicator,
        metadata=metadata,
    )


def read_nwb(path: str | os.PathLike, *, series: str | None = None, roi_units=None, dataset: str | None = None) -> list:
    """Recordings from an NWB file: one :class:`jaxgeci.Recording` per ROI, with frame times
    (s), ΔF/F, the matched unit's spike times (s), frame rate (Hz) and the imaging plane's
    indicator. See :func:`read_nwb_imaging` for the arguments."""
    return read_nwb_imaging(path, series=series, roi_units=roi_units).to_recordings(dataset=dataset)
