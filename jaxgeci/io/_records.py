"""Build :class:`jaxgeci.Recording` objects from what a reader found."""

from __future__ import annotations

import numpy as np


def make_recording(*, t_frames, dff, spike_times, frame_rate_hz, indicator="", dataset="", name="", metadata=None):
    """A validated recording of one neuron: frame times (s), ΔF/F, spike times (s, sorted
    here), frame rate (Hz). Validation is :meth:`jaxgeci.Recording.create` with no burn-in
    (the fitting code applies its own); it raises ``ValueError`` for unusable data."""
    from .._recording import Recording

    return Recording.create(
        np.asarray(t_frames, dtype=float),
        np.asarray(dff),
        np.sort(np.asarray(spike_times, dtype=float).reshape(-1)),
        float(frame_rate_hz),
        indicator=str(indicator),
        dataset=str(dataset),
        name=str(name),
        metadata=dict(metadata or {}),
        burn_in_s=0.0,
    )
