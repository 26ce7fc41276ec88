"""jaxgeci.io imports without its optional dependencies and names the extra when one is
missing."""

import subprocess
import sys

import numpy as np
import pytest

from jaxgeci.io import _optional


def test_importing_jaxgeci_io_loads_no_optional_dependency():
    code = (
        "import sys, jaxgeci, jaxgeci.io; "
        "print(sorted(m for m in ('pynwb', 'nwbinspector', 'brian2', 'cleo', 'h5py') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_missing_dependency_names_the_extra(monkeypatch, tmp_path):
    real = _optional.importlib.import_module

    def fake(name, *a, **k):
        if name == "pynwb":
            raise ImportError("No module named 'pynwb'")
        return real(name, *a, **k)

    monkeypatch.setattr(_optional.importlib, "import_module", fake)
    from jaxgeci.io import read_nwb, write_nwb

    with pytest.raises(ImportError, match=r"pip install 'jaxgeci\[io\]'"):
        write_nwb(tmp_path / "x.nwb", np.zeros((3, 1)), frame_rate_hz=10.0)
    with pytest.raises(ImportError, match="Reading NWB files needs the optional dependency 'pynwb'"):
        read_nwb(tmp_path / "x.nwb")
