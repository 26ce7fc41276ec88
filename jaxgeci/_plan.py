"""How a run's loop is laid out, as data: :class:`Plan` (spike layout, unroll, pieces), chosen
by :func:`plan_run`, a pure function of the run's sizes, or given to :func:`jaxgeci.simulate`
(``plan=``). Performance only: every plan gives the same results.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Plan:
    """How the loop is laid out (performance only; results are the same float arithmetic).

    Attributes:
        layout: spike layout for event inputs: ``"steps"`` (per-step table), ``"periods"``
            (per-read-period dense blocks); dense inputs are always read row by row.
        unroll: unroll factor of the inner (per-step) scan.
        pieces: consecutive time pieces a dense array held in host memory is run in, so that
            finding the events of piece ``j + 1`` (on the calling thread) overlaps the loop over
            piece ``j`` (1: the whole array is searched first, then run). Applies to regular
            reads of concrete inputs only; ignored elsewhere.
    """

    layout: str = "steps"
    unroll: int = 1
    pieces: int = 1


# Thresholds measured on a 2-core CPU (benchmarks/README.md, "What limits the speed"): a read
# period's dense block pays below 2**20 entries; unrolling by 2 pays with the per-step event
# table and, for the accurate GECI step, from 2e4 neurons on. A dense host array from 2**27 bytes
# on is searched for events in 8 pieces overlapped with the loop (its one pass costs 0.4-0.6x
# the loop at 5 Hz: numpy float64 1.45-1.55x -> 1.16-1.20x the SpikeTrains time at
# N = T = 1e4; 4 pieces gave 1.21-1.26x); below that the second compiled shape (the last
# piece) outweighs the few ms saved.
PLAN_RULES = {
    "period_block_max": 2**20,
    "unroll2_min_neurons": 2048,
    "unroll2_min_neurons_accurate": 20_000,
    "pieces": 8,
    "pieces_min_bytes": 2**27,
}


def plan_run(
    *,
    spikes: str,
    n_neurons: int,
    period_steps: int,
    method: str,
    regular: bool,
    unroll: int = 1,
    host_bytes: int = 0,
) -> Plan:
    """The layout and unroll of a run, as a pure function of its sizes (see :data:`PLAN_RULES`).

    Args:
        spikes: the input kind, ``"dense"``, ``"events"`` or ``"none"``.
        n_neurons: neurons in the run.
        period_steps: steps per read period.
        method: the resolved method (``"euler"`` or ``"accurate"``).
        regular: whether the reads are regular from step 0 (:class:`ReadEvery`).
        unroll: the user's minimum unroll factor.
        host_bytes: size of a dense spike array held in host memory (0: none).
    """
    r = PLAN_RULES
    per_step = period_steps * n_neurons > r["period_block_max"] or (
        method == "euler" and n_neurons >= r["unroll2_min_neurons"]
    )
    layout = "steps" if (spikes == "events" and per_step and regular) else "periods"
    fast = 2 if (layout == "steps" and spikes == "events") or n_neurons >= r["unroll2_min_neurons_accurate"] else 1
    pieces = r["pieces"] if (regular and host_bytes >= r["pieces_min_bytes"]) else 1
    return Plan(layout=layout, unroll=max(unroll, fast) if regular else unroll, pieces=pieces)
