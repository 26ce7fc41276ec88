"""Export a scope's imaged traces to Neo (extra ``[io]``: ``neo``, ``quantities``), with the
annotations of Cleo's ``Scope.to_neo``."""

from __future__ import annotations

import datetime

import numpy as np


def scope_to_neo(scope, result=None, *, name: str | None = None):
    """A ``neo.Block`` holding the ROI traces of ``result`` as one
    ``neo.IrregularlySampledSignal`` (times in s, ΔF/F dimensionless, one channel per ROI).

    Annotations (as Cleo): ``sensor`` (name), ``scope_direction`` (unit vector),
    ``scope_location`` (µm), ``focus_depth`` (µm, ``None`` in explicit mode), ``img_width``
    (µm), ``export_datetime``; per-ROI array annotations ``dFF_1AP`` (NaN when the sensor has
    none), ``x``, ``y``, ``z`` (µm, focus coordinates), ``i_roi``, plus ``i_target``,
    ``population`` and ``sigma_noise``.

    Args:
        scope: a :class:`jaxgeci.Scope`.
        result: an :class:`jaxgeci.ImagingResult`, or a closed-loop reader with history
            (anything with ``t`` in s and ``dFF`` ``(n_samples, n_rois)``).
        name: name of the block and signal (default: the scope's sensor name).

    Raises:
        ImportError: ``neo``/``quantities`` are not installed (``pip install jaxgeci[io]``).
        ValueError: no result, or one without samples.
    """
    try:
        import neo
        import quantities as pq
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("to_neo needs the [io] extra: pip install neo quantities") from err
    if result is None:
        raise ValueError(
            "to_neo needs a result: scope.to_neo(scope.image(...)) or a closed-loop reader with save_history."
        )
    t = np.asarray(result.t, dtype=float)
    dff = np.asarray(result.dFF, dtype=float)
    if t.size == 0:
        raise ValueError("the result holds no samples (did the closed-loop reader save its history?).")
    label = name or scope.sensor.name or "scope"
    um = 1e6
    fc = np.asarray(scope.focus_coords, dtype=float)
    try:
        d1 = np.asarray(scope.dFF_1AP, dtype=float)
    except TypeError:
        d1 = np.full(scope.n, np.nan)
    sig = neo.IrregularlySampledSignal(
        times=t * pq.s,
        signal=dff * pq.dimensionless,
        name=f"{label} dFF",
        description="ROI ΔF/F (noisy samples) from jaxgeci.Scope.image",
    )
    sig.array_annotate(
        dFF_1AP=d1,
        x=fc[:, 0] * um,
        y=fc[:, 1] * um,
        z=fc[:, 2] * um,
        i_roi=np.arange(scope.n),
        i_target=np.asarray(scope.i_targets),
        population=np.asarray(scope.roi_population, dtype=str),
        sigma_noise=np.asarray(scope.sigma_noise, dtype=float),
    )
    depth = None if scope.focus_depth is None else float(scope.focus_depth) * um
    ann = dict(
        sensor=scope.sensor.name,
        scope_direction=np.asarray(scope.direction, dtype=float).tolist(),
        scope_location=(np.asarray(scope.location, dtype=float) * um).tolist(),
        focus_depth=depth,
        img_width=float(scope.img_width) * um,
        export_datetime=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    sig.annotate(**ann)
    seg = neo.Segment(name=label)
    seg.irregularlysampledsignals.append(sig)
    block = neo.Block(name=label)
    block.annotate(**ann)
    block.segments.append(seg)
    return block
