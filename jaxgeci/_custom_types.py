"""jaxtyping aliases used across jaxgeci.

Dimension names: ``time`` (simulation steps), ``read`` (read-out instants), ``neurons``,
``rois``; a scalar is ``Float[Array, ""]``.
"""

import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int


ScalarLike = float | int | ArrayLike
"""A Python number or 0-d array."""

Constant = Float[Array, "*neurons"]
"""A physical constant: a scalar, or one value per neuron ``(neurons,)``."""

Trace = Float[Array, "read neurons"]
"""A time-major trace ``(read, neurons)``."""

DenseSpikes = Float[ArrayLike, "time neurons"] | Int[ArrayLike, "time neurons"] | Bool[ArrayLike, "time neurons"]
"""Spike counts per step and neuron, time-major ``(time, neurons)``."""

__all__ = ["Array", "ArrayLike", "Constant", "DenseSpikes", "ScalarLike", "Trace", "np"]
