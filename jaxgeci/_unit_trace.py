"""The fits' model simulation: one neuron's ΔF/F (``rho_rel = 1``) at every fine step, run by
the one time loop (``jaxgeci._driver``), plainly or as parallel segments for fast reverse-mode
gradients. The same ``init``/``advance``/``readout`` physics as :func:`jaxgeci.simulate`.
"""

from __future__ import annotations

from . import _driver as driver


def unit_trace(sensor, spikes, dt: float, method: str = "accurate", unroll: int = 8, *, adjoint: bool = False):
    """ΔF/F of one neuron with ``rho_rel = 1`` at every fine step, ``(n_steps,)``: entry ``k``
    is the state at the start of step ``k`` (time ``k dt``, s), the same loop as
    :func:`jaxgeci.simulate` with ``sample_every=1``.

    Args:
        sensor: any :class:`jaxgeci.Sensor` (constants scalar for this neuron).
        spikes: spike counts per step, ``(n_steps,)``.
        dt: step (s), concrete.
        method: integration method (``"accurate"`` is designed for dt = 1 ms).
        adjoint: reverse-mode gradients by the loop's own adjoint (one reverse scan giving the
            gradients of the spikes and the constants; ``jaxgeci._driver.ReverseAdjoint``)
            instead of autodiff through the scan; the values are the same. Reverse mode only.
    """
    resolved = sensor.check_run(dt, method)  # at trace time: dt, the method's name, Euler stability
    _, obs = driver.integrate(
        sensor,
        sensor.init(1),
        driver.DenseSpikes(spikes[:, None]),
        spikes.shape[0],
        dt,
        method=resolved,
        schedule=driver.ReadEvery(1),
        read=driver.Observe(1.0, ("dFF",)),
        gradient=driver.ReverseAdjoint() if adjoint else driver.Direct(),
        unroll=unroll,
    )
    return obs["dFF"][:, 0]


def unit_trace_segmented(
    sensor, spikes, dt: float, method: str = "accurate", *, segment_steps: int, warmup_steps: int, unroll: int = 2
):
    """:func:`unit_trace` computed as parallel segments, for fast gradients on CPU (see
    ``jaxgeci._driver.integrate_segmented``): the values equal the sequential trace (up to
    round-off); the gradient omits only the dependence of each warm-up's initial state on the
    constants, whose effect decays over the warm-up (``warmup_steps * dt`` s)."""
    resolved = sensor.check_run(dt, method)
    obs = driver.integrate_segmented(
        sensor,
        sensor.init(1),
        driver.DenseSpikes(spikes[:, None]),
        spikes.shape[0],
        dt,
        method=resolved,
        read=driver.Observe(1.0, ("dFF",)),
        segment_steps=segment_steps,
        warmup_steps=warmup_steps,
        unroll=unroll,
    )
    return obs["dFF"][:, 0]
