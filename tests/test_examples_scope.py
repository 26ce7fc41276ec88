"""The scope examples run in fast mode (and write their figure when asked)."""

import runpy
from pathlib import Path

import pytest


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["quickstart.py", "multi_plane.py"])
def test_example_fast_mode(name, tmp_path, capsys):
    main = runpy.run_path(str(EXAMPLES / name))["main"]
    out = main(test_mode=True, out_dir=tmp_path)
    assert out["n_rois"] > 0
    assert out["figure"] is None  # test mode skips plotting
    assert "ROIs" in capsys.readouterr().out
    if "rois_per_plane" in out:  # multi_plane: three planes, ROIs in injection order
        assert len(out["rois_per_plane"]) == 3 and sum(out["rois_per_plane"]) == out["n_rois"]


def test_quickstart_writes_its_figure(tmp_path):
    pytest.importorskip("matplotlib")
    main = runpy.run_path(str(EXAMPLES / "quickstart.py"))["main"]
    out = main(test_mode=True, out_dir=tmp_path, plot=True)
    fig = Path(out["figure"])
    assert fig.parent == tmp_path and fig.name == "quickstart.png" and fig.stat().st_size > 10_000
    assert abs(out["sample_rate_hz"] - 1 / (333 * 1e-4)) < 1e-9  # ~30 Hz at dt = 0.1 ms: every 333 steps
