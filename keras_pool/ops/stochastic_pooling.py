"""Stochastic pooling (Zeiler & Fergus 2013), windowed and global, and its
random numbers: hashed uniforms under keys drawn with `keras.random`."""

import math

import keras
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops import window as _window  # for `_window._FAST_PATHS`, read at call time
from keras_pool.ops.window import _fit, _global, _is_symbolic, _windowed, _windows
from keras_pool.xla_clusters import cluster


# The Args entries of `stochastic_pool` and `global_stochastic_pool`.
STOCHASTIC_ARGS = {
    "training": "bool; True draws, False returns the expectation.",
    "seed": """\
an int, None or a `keras.random.SeedGenerator` (use the latter for fresh
draws on every call under jit).""",
}


def _shift_right(h, bits):
    """Logical right shift of int32 `h` (`ops.right_shift` keeps the sign)."""
    return ops.bitwise_and(ops.right_shift(h, bits), (1 << (32 - bits)) - 1)


def _uniform(shape, dtype, keys):
    """Uniform numbers in [0, 1): each element's index hashed under drawn `keys`.

    `keys` (from `_draw_keys`) are the only `keras.random` draw, so the
    seed semantics are those of `keras.random` (reproducible for a seed;
    fresh on each call with a `SeedGenerator`; safe under jit). The numbers
    are 24 bits of the lowbias32 integer hash (C. Wellons) of index * odd
    key + key. Why not `keras.random.uniform`: XLA's CPU generator costs ~0.4 us a number (0.4 s
    for the 1M windows of a (64, 32, 32, 64) input), while the hash fuses into
    the pooling for a few integer ops per window.
    """
    h = ops.arange(math.prod(shape), dtype="int32") * ops.bitwise_or(keys[0], 1) + keys[1]
    for shift, factor in ((16, 0x7FEB352D), (15, -0x7B935975)):  # -0x7B935975: 0x846CA68B
        h = ops.bitwise_xor(h, _shift_right(h, shift)) * factor  # int32 wraps around
    h = ops.bitwise_xor(h, _shift_right(h, 16))
    u = ops.cast(_shift_right(h, 8), dtype) * (2.0**-24)
    return ops.reshape(u, shape)


def _draw_keys(inputs, training, seed):
    """The two int32 keys of `_uniform` for a training call, else None.

    Drawn before the computation (and outside its XLA cluster, where a
    `SeedGenerator`'s state could not be updated).
    """
    if not training or _is_symbolic(inputs):
        return None
    return keras.random.randint((2,), 0, 2**31 - 1, seed=seed, dtype="int32")


def _first_above(values, threshold, axis):
    """One-hot (along `axis`) of the first cell whose running sum of `values`
    exceeds `threshold`, and the sum of the cells before it."""
    values = ops.stop_gradient(values)
    cdf = ops.cumsum(values, axis=axis)
    size = ops.shape(values)[axis]
    index = ops.sum(ops.cast(cdf <= threshold, "int32"), axis=axis, keepdims=True)
    positions = ops.arange(size, dtype="int32")
    shape = [1] * len(values.shape)
    shape[axis] = -1
    hot = ops.reshape(positions, shape) == ops.minimum(index, size - 1)
    before = ops.sum(ops.where(hot, cdf - values, ops.zeros_like(cdf)), axis=axis, keepdims=True)
    return hot, before


def _stochastic_reduce(a, axis, training, keys):
    """Zeiler & Fergus stochastic pooling of `a >= 0` over one `axis`.

    Training: one element per window, drawn with probability a_i / sum(a)
    by inverse CDF, in two levels so that no cumsum runs over more than 32
    cells (XLA's CPU cumsum is quadratic in its length): the axis is cut into
    blocks, a block is drawn by its sum, then a cell of it with the rest of
    the same uniform number. Inference: sum(p_i a_i) = sum(a**2) / sum(a).
    A window with sum(a) = 0 gives 0.
    """
    axis = axis % len(a.shape)
    if not training:
        total = ops.sum(a, axis=axis, keepdims=True)
        safe_total = ops.where(total > 0, total, ops.ones_like(total))
        return ops.squeeze(ops.sum(ops.square(a), axis=axis, keepdims=True) / safe_total, axis)
    size = ops.shape(a)[axis]
    cells = min(size, 32) if isinstance(size, int) else 32
    blocks = (size + cells - 1) // cells
    a = _fit(a, axis, blocks * cells)  # zeros at the end are never drawn
    shape = list(ops.shape(a))
    a = ops.reshape(a, shape[:axis] + [blocks, cells] + shape[axis + 1 :])
    sums = ops.sum(a, axis=axis + 1)
    total = ops.stop_gradient(ops.sum(sums, axis=axis, keepdims=True))
    threshold = _uniform(ops.shape(total), a.dtype, keys) * total
    hot, before = _first_above(sums, threshold, axis)
    block = ops.sum(ops.where(ops.expand_dims(hot, axis + 1), a, ops.zeros_like(a)), axis=axis)
    hot, _ = _first_above(block, threshold - before, axis)
    return ops.sum(ops.where(hot, block, ops.zeros_like(block)), axis=axis)


def _sample_cells(cells, keys):
    """`_stochastic_reduce`'s training draw with each window cell a tensor.

    The same numbers and the same pick (the first cell whose running sum
    exceeds u * total), by running sums and selects over the K cells: no
    window-sized cumsum, one-hot or reductions (fast path for windows).
    """
    total = ops.stop_gradient(cells[0])
    bounds = []
    for cell in cells[1:]:
        bounds.append(total)
        total = total + ops.stop_gradient(cell)
    threshold = _uniform(ops.shape(total), total.dtype, keys) * total
    out = cells[0]
    for bound, cell in zip(bounds, cells[1:]):
        out = ops.where(threshold >= bound, cell, out)
    return out


@docs.document(docs.WINDOWED_RETURNS, **STOCHASTIC_ARGS)
def stochastic_pool(
    inputs,
    pool_size,
    strides=None,
    padding="valid",
    data_format=None,
    training=False,
    seed=None,
):
    """Stochastic pooling (Zeiler & Fergus 2013).

    With a = max(x, 0) and p_i = a_i / sum(a) per window: in training one a_i
    is drawn with probability p_i; at inference the result is sum(p_i a_i),
    computed as `sum(a**2) / sum(a)` (so a must stay below 1.8e19 in float32).
    Windows with sum(a) = 0 give 0.

    >>> import numpy as np
    >>> x = np.array([1.0, 3.0], "float32").reshape(1, 2, 1)
    >>> float(stochastic_pool(x, 2)[0, 0, 0])  # (1 + 9) / 4
    2.5
    """

    keys = _draw_keys(inputs, training, seed)
    return _stochastic_pool(inputs, pool_size, strides, padding, data_format, training, keys)


@cluster(when=lambda arguments: arguments["training"] is True)
def _stochastic_pool(inputs, pool_size, strides, padding, data_format, training, keys):
    """`stochastic_pool` with its `_uniform` keys drawn (None at inference)."""

    def reduce(x, pool_size, strides, padding, spatial, befores):
        a = ops.relu(x)
        if _window._FAST_PATHS and not training and any(s < k for s, k in zip(strides, pool_size)):
            # Overlapping windows: sum(a**2) / sum(a) as two average pools,
            # no windows (non-overlapping windows are cheaper as windows).
            # x is zero-padded already: torch's "same" average pool would
            # replicate the edges instead.
            total = ops.average_pool(a, pool_size, strides, "valid")
            safe_total = ops.where(total > 0, total, ops.ones_like(total))
            return ops.average_pool(ops.square(a), pool_size, strides, "valid") / safe_total
        windows = _windows(a, pool_size, strides)
        if _window._FAST_PATHS and training:
            return _sample_cells(ops.unstack(windows, math.prod(pool_size), axis=-2), keys)
        return _stochastic_reduce(windows, -2, training, keys)

    return _windowed(
        "stochastic_pool", inputs, pool_size, strides, padding, data_format, reduce
    )


@docs.document(docs.GLOBAL_RETURNS, **STOCHASTIC_ARGS)
def global_stochastic_pool(
    inputs, data_format=None, keepdims=False, training=False, seed=None
):
    """Stochastic pooling over all spatial positions, per channel; see
    `stochastic_pool`.

    >>> import numpy as np
    >>> x = np.array([1.0, 3.0], "float32").reshape(1, 2, 1)
    >>> float(global_stochastic_pool(x)[0, 0])
    2.5
    """

    keys = _draw_keys(inputs, training, seed)
    return _global_stochastic_pool(inputs, data_format, keepdims, training, keys)


@cluster
def _global_stochastic_pool(inputs, data_format, keepdims, training, keys):
    """`global_stochastic_pool` with its `_uniform` keys drawn (None at inference)."""

    def reduce(flat, axis):
        return _stochastic_reduce(ops.relu(flat), axis, training, keys)

    return _global("global_stochastic_pool", inputs, data_format, keepdims, reduce)
