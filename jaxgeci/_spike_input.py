"""User spike inputs turned into the loop's spike sources, on the host: before the loop, or beside it
for large arrays (time pieces).

- Dense counts held in host memory (NumPy arrays, and non-bool JAX arrays on one CPU device,
  read in place through DLPack: :func:`host_counts`) are found as events in one blockwise
  pass (:func:`find_events`; in time pieces beside the loop for large arrays, see
  ``jaxgeci._simulate``), so they run the event loop; the rest (JAX bool arrays, arrays on other
  devices or sharded, dense or fractional counts) stays dense, checked by one pass
  (:func:`dense_spikes`) and read row by row in the loop.
- Event lists become a per-step padded table (:func:`step_events`) or, where spikes bunch or
  populations are small, per-read-period tables (:func:`chunk_events`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._spikes import SpikeTrains
from ._validation import is_concrete


_HOST_EVENTS_MAX_FRACTION = 0.02  # beyond 2 % non-zero entries a dense row per step is as cheap
_HOST_EVENTS_BLOCK_BYTES = 1 << 22  # bytes of rows per pass: the block's mask and candidates stay in cache


def _flat_nonzero(mask):
    """``np.flatnonzero`` of a boolean array, read 8 entries per word: only the few non-zero
    words are looked inside (0.66x ``np.flatnonzero``'s time on a 1e6 mask with 5e-4 set)."""
    if mask.size % 8 or not mask.flags.c_contiguous:
        return np.flatnonzero(mask)
    words = mask.reshape(-1).view(np.uint64)
    w = np.flatnonzero(words != 0)
    i, j = np.nonzero(words[w].view(np.uint8).reshape(-1, 8))
    return w[i] * 8 + j


def _block_nonzero(block, per: int):
    """Rows, columns and values of the non-zero entries of a 2-D block. With ``per > 1`` each
    row is read as 8-byte words of ``per`` entries, so the mask is built per word and only the
    few non-zero words are looked inside. -0.0 counts as zero; NaN does not."""
    if per > 1:
        words = block.view(np.uint64)
        idx = _flat_nonzero(words != 0)
        inside = words.reshape(-1)[idx].view(block.dtype).reshape(-1, per)
        i, j = np.nonzero(inside)
        k, n = np.divmod(idx[i], words.shape[1])
        return k, n * per + j, inside[i, j]
    k, n = np.divmod(_flat_nonzero(block if block.dtype == bool else block != 0), block.shape[1])
    return k, n, block[k, n]


def _host_view(spikes) -> np.ndarray | None:
    """The counts as a NumPy array without copying: NumPy input as it is, a concrete JAX array
    held whole by one CPU device read in place (DLPack); ``None`` for anything else (tracers,
    other devices, sharded arrays, dtypes NumPy cannot view, event lists)."""
    if isinstance(spikes, SpikeTrains) or not is_concrete(spikes):
        return None
    if not isinstance(spikes, jax.Array):
        return np.asarray(spikes)
    try:
        if len(spikes.devices()) != 1 or next(iter(spikes.devices())).platform != "cpu":
            return None
        return np.from_dlpack(spikes)
    except (BufferError, RuntimeError, TypeError, ValueError):
        return None


def host_counts(spikes) -> np.ndarray | None:
    """The counts as a 2-D NumPy array read in place (no copy) when the event finder applies to
    them (:func:`find_events`); ``None`` for anything else: arrays not readable in place
    (:func:`_host_view`), JAX bool arrays (read row by row in the loop: it ran 0.86x the
    SpikeTrains time, their events 1.0x; compare_cleo inputs, N = 1e4), other shapes or dtypes."""
    if isinstance(spikes, jax.Array) and spikes.dtype == bool:
        return None
    arr = _host_view(spikes)
    if arr is None or arr.ndim != 2 or arr.size == 0 or not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        return None
    if np.iscomplexobj(arr):
        raise TypeError(f"spikes must be real counts, got dtype {arr.dtype}.")
    return arr


def find_events(arr: np.ndarray) -> SpikeTrains | None:
    """Sparse integer counts of a 2-D host array (:func:`host_counts`) as :class:`SpikeTrains`,
    found in one pass over it (in cache-sized blocks of rows, so nothing of its size is
    allocated); ``None`` when the counts are dense (> 2 % non-zero) or fractional: those take
    the dense loop. NaN/inf or negative entries raise here."""
    T, N = arr.shape
    limit = max(4096, int(_HOST_EVENTS_MAX_FRACTION * arr.size))
    # narrow dtypes (bool, int8, float32...) are read as 8-byte words where rows allow it
    per = 8 // arr.itemsize if arr.itemsize < 8 and (N * arr.itemsize) % 8 == 0 else 1
    if per > 1 and not arr.flags.c_contiguous:
        per = 1
    rows = max(1, _HOST_EVENTS_BLOCK_BYTES // (N * arr.itemsize))
    steps, neurons, values, total = [], [], [], 0
    for r0 in range(0, T, rows):
        k, n, v = _block_nonzero(arr[r0 : r0 + rows], per)
        total += k.size
        if total > limit:
            return None
        steps.append(k + r0)
        neurons.append(n)
        values.append(v)
    k, n, v = (np.concatenate(x) for x in (steps, neurons, values))
    if arr.dtype != bool:
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError("spikes must be finite, non-negative counts (got NaN/inf or negative values).")
        c = v.astype(np.int64)
        if np.any(c != v):
            return None  # fractional counts: the dense loop adds them as given
        k, n = np.repeat(k, c), np.repeat(n, c)
    return SpikeTrains(steps=k, neurons=n, n_steps=T, n_neurons=N)


@jax.jit
def _counts_ok(x):
    # one fused pass on the device: finite and non-negative (bool counts are always valid)
    return jnp.all(jnp.isfinite(x) & (x >= 0)) if jnp.issubdtype(x.dtype, jnp.floating) else jnp.all(x >= 0)


def _counts_ok_in_place(x) -> bool | None:
    """The same check on a CPU array read in place (DLPack: no copy) by one reduction over its
    bits, which runs at memory speed where XLA:CPU's fused check does not (measured 0.02 vs
    0.07 s for 1e8 float32 entries); ``None`` when it does not apply (other devices, sharded
    arrays, dtypes NumPy cannot view) or cannot decide (-0.0 present, below)."""
    view = _host_view(x)
    if view is None:
        return None
    if np.issubdtype(view.dtype, np.unsignedinteger):
        return True
    if np.issubdtype(view.dtype, np.signedinteger):
        return bool(view.min() >= 0)
    if not np.issubdtype(view.dtype, np.floating):
        return None
    # As unsigned integers, the non-negative finite floats are exactly the bits below +inf's;
    # NaN/+inf lie between +inf's and the sign bit (-0.0), and every negative value above it.
    bits = view.view(f"u{view.itemsize}")
    top = bits.max()
    if top < np.array(np.inf, view.dtype).view(bits.dtype):
        return True
    return None if top == 1 << (8 * view.itemsize - 1) else False


def dense_spikes(spikes):
    """Dense counts as a device array in their own dtype (bool stays bool: each step casts its
    own row inside the loop), validated by one pass (in place on a CPU, else one fused
    on-device check); never copied to host or to float64 as a whole."""
    if is_concrete(spikes) and not isinstance(spikes, jax.Array):
        arr = np.asarray(spikes)
        if arr.ndim != 2:
            raise ValueError(f"spikes must be a (time, neurons) array of counts, got shape {arr.shape}.")
        if arr.dtype != bool and not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"spikes must be numeric counts, got dtype {arr.dtype}.")
        if np.iscomplexobj(arr):
            raise TypeError(f"spikes must be real counts, got dtype {arr.dtype}.")
        spikes = jnp.asarray(arr)
    if jnp.ndim(spikes) != 2:
        raise ValueError(f"spikes must be a (time, neurons) array of counts, got shape {jnp.shape(spikes)}.")
    if spikes.dtype != bool and not jnp.issubdtype(spikes.dtype, jnp.number):
        raise TypeError(f"spikes must be numeric counts, got dtype {spikes.dtype}.")
    if jnp.issubdtype(spikes.dtype, jnp.complexfloating):
        raise TypeError(f"spikes must be real counts, got dtype {spikes.dtype}.")
    if is_concrete(spikes) and spikes.dtype != bool and spikes.size and spikes.is_fully_addressable:
        ok = _counts_ok_in_place(spikes)
        if ok is None:
            with jax.ensure_compile_time_eval():  # a concrete array closed over by an outer jit
                ok = bool(_counts_ok(spikes))
        if not ok:
            raise ValueError("spikes must be finite, non-negative counts (got NaN/inf or negative values).")
    return spikes


def _bucket(width: int) -> int:
    """Pad an event-table width to the next power of two (>= 8), so new spikes of a similar
    rate reuse the compiled scan instead of recompiling for every new maximum."""
    return max(8, 1 << (max(1, width) - 1).bit_length())


def chunk_events(spk: SpikeTrains, bounds: np.ndarray):
    steps = np.asarray(spk.steps, dtype=np.int64)
    neurons = np.asarray(spk.neurons, dtype=np.int64)
    n_chunks = bounds.size - 1
    chunk = np.searchsorted(bounds[1:], steps, side="right")
    order = np.argsort(chunk, kind="stable")
    chunk, steps, neurons = chunk[order], steps[order], neurons[order]
    counts = np.bincount(chunk, minlength=n_chunks)
    width = _bucket(int(counts.max()) if counts.size else 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(steps.size) - starts[chunk]
    local = np.zeros((n_chunks, width), dtype=np.int32)
    who = np.full((n_chunks, width), spk.n_neurons, dtype=np.int32)  # pad -> dropped
    local[chunk, slot] = steps - bounds[chunk]
    who[chunk, slot] = neurons
    return local, who


def step_events(spk: SpikeTrains, n_steps: int, min_width: int = 8):
    """Per-step padded neuron lists ``(n_steps, width)`` (pad = ``n_neurons``, dropped; width at
    least ``min_width``), or ``None`` when spikes bunch so much that the padded table would dwarf
    the event list."""
    steps = np.asarray(spk.steps, dtype=np.int64)
    neurons = np.asarray(spk.neurons, dtype=np.int64)
    counts = np.bincount(steps, minlength=n_steps)
    width = max(_bucket(int(counts.max()) if counts.size else 1), min_width)
    # Padding to a power of two can reach ~6x the mean rate's events (e.g. 1e4 neurons at 5 Hz,
    # dt = 0.1 ms: mean 5, max ~17 events per step -> width 32); the per-period dense blocks of
    # the fallback were measured 2.8x slower there (0.85 vs 0.30 s for 2 s imaged). Fall back
    # only when spikes bunch far more than that (synchronous bursts).
    if n_steps * width > 16 * steps.size + 64 * n_steps:
        return None
    order = np.argsort(steps, kind="stable")
    steps, neurons = steps[order], neurons[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(steps.size) - starts[steps]
    who = np.full((n_steps, width), spk.n_neurons, dtype=np.int32)
    who[steps, slot] = neurons
    return who
