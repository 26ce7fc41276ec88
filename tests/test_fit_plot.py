"""plot_evaluation draws what evaluate returned (data, model, spikes, residual)."""

import jax
import matplotlib
import numpy as np
import pytest

import jaxgeci
from jaxgeci._fit_plot import busiest_window


matplotlib.use("Agg")


def test_busiest_window_finds_the_burst():
    t = np.arange(0.0, 100.0, 0.1)
    spikes = np.sort(np.concatenate([np.linspace(60.0, 65.0, 40), [5.0, 30.0, 90.0]]))
    a, b = busiest_window(spikes, t, 20.0)
    assert b - a == pytest.approx(20.0)
    assert a <= 60.0 and b >= 65.0  # the whole burst is inside
    assert busiest_window([], t, 20.0) == (0.0, pytest.approx(20.0))
    assert busiest_window(spikes, t[:50], 20.0) == (0.0, pytest.approx(4.9))  # shorter than the window


@pytest.mark.parametrize("duration, rows", [(40.0, 3), (10.0, 2)])
def test_plot_evaluation_draws_the_evaluated_traces(duration, rows):
    import matplotlib.pyplot as plt

    rec = jaxgeci.synthetic_recording(jaxgeci.gcamp6f(), jax.random.key(0), duration_s=duration)
    (ev,) = jaxgeci.evaluate(jaxgeci.gcamp6f(), [rec], dt=2e-3)
    fig = jaxgeci.plot_evaluation(rec, ev)
    axes = fig.axes
    assert len(axes) == rows
    data, model = axes[0].lines[:2]
    np.testing.assert_array_equal(data.get_ydata(), rec.dff)
    np.testing.assert_array_equal(model.get_ydata(), ev["model"])
    np.testing.assert_allclose(axes[-1].lines[0].get_ydata(), rec.dff - ev["model"])
    assert f"EV={ev['ev']:.3f}" in axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match=r"result\['model'\] has shape \(3,\)"):
        jaxgeci.plot_evaluation(rec, dict(ev, model=np.zeros(3)))
