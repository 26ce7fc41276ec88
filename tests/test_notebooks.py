"""Execute every notebook in examples/notebooks/ (jupytext percent-format .py files) as a
script in a subprocess, in fast mode (JAXGECI_FAST=1) with the Agg backend. A notebook fails
the test if it raises, including its own asserts on the numbers it shows."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


NOTEBOOKS = sorted((Path(__file__).parents[1] / "examples" / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_fast_mode(path, tmp_path):
    env = dict(os.environ, JAXGECI_FAST="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    # every output goes into one out/ folder, and the figures are saved although nothing is shown
    assert sorted(os.listdir(tmp_path)) == ["out"], os.listdir(tmp_path)
    assert any(p.suffix == ".png" for p in (tmp_path / "out").iterdir()), os.listdir(tmp_path / "out")


def test_notebooks_are_jupytext_percent_files():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        text = path.read_text()
        assert "format_name: percent" in text or "formats: py:percent" in text, path.name
        assert "# %% [markdown]" in text, path.name


@pytest.mark.slow
def test_fit_notebook_runs_on_synthetic_data(tmp_path):
    """'Fit your indicator' without the shared ground-truth files (a user's machine)."""
    path = next(p for p in NOTEBOOKS if p.stem == "fit_your_indicator")
    env = dict(os.environ, JAXGECI_FAST="1", JAXGECI_SYNTHETIC="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "synthetic data" in proc.stdout
    assert (tmp_path / "out" / "fitted_GCaMP6f.json").exists()
