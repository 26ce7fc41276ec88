"""The Brian2 example runs in fast mode (skipped cleanly without Brian2)."""

import runpy
from pathlib import Path

import pytest


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_brian2_population_fast_mode(tmp_path):
    main = runpy.run_path(str(EXAMPLES / "brian2_population.py"))["main"]
    out = main(test_mode=True, out_dir=tmp_path)
    if "skipped" in out:
        pytest.skip(f"Brian2 unavailable: {out['skipped']}")
    assert out["n_spikes"] > 0  # the LIF population fires (mean drive 0.4-0.7 below threshold 1, plus noise)
    assert out["n_rois"] > 0
    assert out["dff_shape"][1] == out["n_rois"]
    assert out["figure"] is None  # test mode skips plotting


def test_brian2_population_writes_its_figure(tmp_path):
    pytest.importorskip("matplotlib")
    main = runpy.run_path(str(EXAMPLES / "brian2_population.py"))["main"]
    out = main(test_mode=True, out_dir=tmp_path, plot=True)
    if "skipped" in out:
        pytest.skip(f"Brian2 unavailable: {out['skipped']}")
    fig = Path(out["figure"])
    assert fig.parent == tmp_path and fig.stat().st_size > 10_000
