"""Interop with the formats users already have (optional extras).

- NWB (``pip install 'jaxgeci[io]'``): :func:`read_nwb`, :func:`read_nwb_imaging`,
  :func:`write_nwb`.
- suite2p folders (NumPy only): :func:`read_suite2p`, :func:`suite2p_dff`.
- Brian2 (``pip install 'jaxgeci[brian2]'``): :func:`spikes_from_brian2`,
  :func:`coords_from_brian2`.
- Cleo (no import of cleosim needed): :func:`sensor_from_cleo`.

Optional dependencies are imported only when a function needs them; a missing one raises an
``ImportError`` that names the extra to install.
"""

from ._brian2 import coords_from_brian2 as coords_from_brian2, spikes_from_brian2 as spikes_from_brian2
from ._cleo import sensor_from_cleo as sensor_from_cleo
from ._nwb import (
    NWBImaging as NWBImaging,
    read_nwb as read_nwb,
    read_nwb_imaging as read_nwb_imaging,
    write_nwb as write_nwb,
)
from ._suite2p import read_suite2p as read_suite2p, suite2p_dff as suite2p_dff, Suite2pTraces as Suite2pTraces
from ._units import to_si as to_si


__all__ = [
    "NWBImaging",
    "Suite2pTraces",
    "coords_from_brian2",
    "read_nwb",
    "read_nwb_imaging",
    "read_suite2p",
    "sensor_from_cleo",
    "spikes_from_brian2",
    "suite2p_dff",
    "to_si",
    "write_nwb",
]
