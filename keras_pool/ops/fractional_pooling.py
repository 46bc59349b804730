"""Fractional max pooling (Graham 2014): the maximum over pseudo-random
overlapping windows that shrink each spatial size n to any `out` < n.

The windows are PyTorch's (`torch.nn.functional.fractional_max_pool2d/3d`):
one sample u in [0, 1) per example, channel and spatial axis gives the window
starts `int((i + u) * alpha) - int(u * alpha)`, i < out - 1, with
`alpha = (n - pool_size) / (out - 1)`, and the last start `n - pool_size`;
each window is `pool_size` cells long. The gradient goes to the first maximum
of a window in row-major order, as PyTorch's CPU kernel sends it (a NaN wins
its window there, the last NaN of it; so here).

How: every window cell is one flat index into the channels_last input, so the
K = prod(pool_size) cells of all windows are K gathers of the output's size;
a where-chain over them (`take = v > best or isnan(v)`) keeps PyTorch's pick
without any gradient, and one last gather of the picked cells carries it (its
gradient is one scatter-add of the output's size). On TensorFlow the op runs
as an XLA cluster inside plain graphs (`keras_pool.xla_clusters`).
"""

import itertools
import math

import keras
import numpy as np
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops import (
    window as _window,  # for `_window._FAST_PATHS`, read at call time
)
from keras_pool.ops.arguments import _check_rank, normalize_data_format, normalize_tuple
from keras_pool.ops.window import (
    _channels_last,
    _is_symbolic,
    _restore_format,
    spatial_dims,
    with_spatial,
)
from keras_pool.xla_clusters import cluster

# The column of PyTorch's `_random_samples` (batch, channels, rank) that each
# spatial axis (in the input's order) reads: PyTorch's 2D kernel takes
# samples[..., 0] for the WIDTH and samples[..., 1] for the height; its 3D
# kernel takes [T, H, W] in order. 1D (no PyTorch op) reads its one column.
SAMPLE_COLUMNS = {1: (0,), 2: (1, 0), 3: (0, 1, 2)}

FRACTIONAL_ARGS = {
    "output_size": """\
int or tuple of ints, the output's spatial size; each must satisfy
`output_size + pool_size - 1 <= n` for the input size n.""",
    "pool_size": "int or tuple of ints, the window size (default 2).",
    "samples": """\
None, or the window samples u in [0, 1) as PyTorch's `_random_samples`:
shape (batch, channels, rank), the last axis in PyTorch's order ([W, H] in
2D, [T, H, W] in 3D). The windows are then PyTorch's, exactly.""",
    "seed": """\
when `samples` is None, the seed of the drawn samples: an int, None or a
`keras.random.SeedGenerator` (fresh draws on every call, also under jit).""",
}

FRACTIONAL_RETURNS = """\
A tensor of the input's dtype and layout with spatial size `output_size`.
An output size too large for the input (`output_size + pool_size - 1 > n`),
or `samples` of the wrong static shape, is a ValueError."""


def normalize_output_size(value, rank):
    """`output_size` as a tuple of `rank` positive ints (ValueError naming it)."""
    return normalize_tuple(value, rank, "output_size")


def normalize_output_ratio(value, rank):
    """`output_ratio` as a tuple of `rank` floats in (0, 1) (ValueError naming it)."""
    values = (value,) * rank if isinstance(value, (int, float)) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if values is None or len(values) != rank or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 < float(v) < 1.0
        for v in values
    ):
        raise ValueError(
            f"`output_ratio` must be a number in (0, 1) or a tuple of {rank} such "
            f"numbers. Received: output_ratio={value!r}"
        )
    return tuple(float(v) for v in values)


def ratio_output_size(spatial, ratio):
    """Output sizes from `ratio` as PyTorch computes them, `int(n * ratio)`;
    None where n is unknown (None)."""
    return tuple(None if n is None else int(n * r) for n, r in zip(spatial, ratio))


def check_output_size(spatial, output_size, pool_size):
    """ValueError naming `output_size` where a known input size n is too small:
    `output_size + pool_size - 1 > n` (or an output size below 1)."""
    for n, out, k in zip(spatial, output_size, pool_size):
        if not isinstance(out, int) or not isinstance(n, int):
            continue
        if out < 1 or out + k - 1 > n:
            raise ValueError(
                "`output_size` must be at least 1 and satisfy output_size + pool_size - 1 "
                f"<= input size on every axis. Received: output_size={tuple(output_size)}, "
                f"pool_size={tuple(pool_size)}, input spatial size={tuple(spatial)}"
            )


def fractional_shape(input_shape, output_size, pool_size, data_format):
    """The output shape (checked against the known input sizes)."""
    input_shape = tuple(input_shape)
    check_output_size(spatial_dims(input_shape, data_format), output_size, pool_size)
    return with_spatial(input_shape, tuple(output_size), data_format)


def window_starts(u, n, out, k, dtype):
    """PyTorch's window starts along one axis: (..., out) int32 for samples u (...).

    `int((i + u) * alpha) - int(u * alpha)` for i < out - 1, alpha =
    (n - k) / (out - 1), all in `dtype` (PyTorch's scalar_t: the input's float
    dtype; float32 for half precision), and the last start n - k. `n` and
    `out` may be scalar tensors (unknown spatial sizes).
    """
    u = ops.expand_dims(ops.cast(u, dtype), -1)
    last = ops.full(tuple(ops.shape(u)[:-1]) + (1,), n - k, "int32")
    if isinstance(out, int) and out == 1:
        return last
    if isinstance(n, int) and isinstance(out, int):
        alpha = np.asarray(n - k, dtype) / np.asarray(out - 1, dtype)  # IEEE, as C++
    else:
        alpha = ops.cast(n - k, dtype) / ops.cast(out - 1, dtype)
    i = ops.cast(ops.arange(out - 1), dtype)
    # Casts truncate toward zero, as C++'s static_cast<int>; all values are >= 0.
    starts = ops.cast((i + u) * alpha, "int32") - ops.cast(u * alpha, "int32")
    return ops.concatenate([starts, last], axis=-1)


def draw_samples(inputs, rank, seed, data_format=None):
    """Uniform samples in [0, 1), (batch, channels, rank) float32, from `seed`."""
    data_format = normalize_data_format(data_format)
    shape = ops.shape(inputs)
    channels = shape[-1] if data_format == "channels_last" else shape[1]
    return keras.random.uniform((shape[0], channels, rank), seed=seed, dtype="float32")


def _check_samples(samples, inputs, rank, data_format):
    shape = tuple(getattr(samples, "shape", np.shape(samples)))
    expected = (inputs.shape[0], inputs.shape[-1] if data_format == "channels_last"
                else inputs.shape[1], rank)
    if len(shape) != 3 or any(
        isinstance(s, int) and isinstance(e, int) and s != e for s, e in zip(shape, expected)
    ):
        raise ValueError(
            f"`samples` must have shape (batch, channels, rank) = {expected}. "
            f"Received: samples.shape={shape}"
        )


@docs.document(FRACTIONAL_RETURNS, **FRACTIONAL_ARGS)
def fractional_max_pool(
    inputs, output_size, pool_size=2, samples=None, seed=None, data_format=None
):
    """Fractional max pooling (Graham 2014): the maximum of pseudo-random,
    possibly overlapping windows of `pool_size` cells, `output_size` of them
    per axis, placed by one sample u per example, channel and axis exactly as
    PyTorch places them (see the module docstring). The gradient goes to the
    first maximum of each window in row-major order (a NaN wins), as PyTorch's.

    `samples=None` draws fresh u from `seed`. The window starts are computed
    in the input's float dtype as PyTorch does (float32 for float16 and
    bfloat16 inputs, where PyTorch would use the half type itself).

    >>> import numpy as np
    >>> x = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    >>> u = np.full((1, 1, 2), 0.5, "float32")
    >>> y = fractional_max_pool(x, 3, samples=u)  # windows start at 0, 2, 3 on each axis
    >>> keras.ops.convert_to_numpy(y)[0, :, :, 0].tolist()
    [[6.0, 8.0, 9.0], [16.0, 18.0, 19.0], [21.0, 23.0, 24.0]]
    """
    rank = _check_rank(inputs, "fractional_max_pool")
    pool_size = normalize_tuple(pool_size, rank, "pool_size")
    output_size = normalize_output_size(output_size, rank)
    data_format = normalize_data_format(data_format)
    shape = fractional_shape(inputs.shape, output_size, pool_size, data_format)
    if samples is not None:
        _check_samples(samples, inputs, rank, data_format)
    if _is_symbolic(inputs):
        return keras.KerasTensor(shape, dtype=inputs.dtype)
    if samples is None:
        samples = draw_samples(inputs, rank, seed, data_format)
    return _fractional_max_pool(inputs, samples, output_size, pool_size, data_format)


def _gather(flat, indices):
    """`flat[indices]` (in bounds). TensorFlow's own gather skips the extra pass
    `keras.ops.take` makes to wrap negative indices (fast path)."""
    if _window._FAST_PATHS and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.gather(flat, indices)
    return ops.take(flat, indices)


@cluster
def _fractional_max_pool(inputs, samples, output_size, pool_size, data_format):
    """`fractional_max_pool` with checked arguments and its samples; `output_size`
    entries may be scalar tensors (sizes from a ratio of unknown input sizes)."""
    x = _channels_last(ops.convert_to_tensor(inputs), data_format)
    rank = len(pool_size)
    dtype = keras.backend.standardize_dtype(x.dtype)
    start_dtype = "float64" if dtype == "float64" else "float32"
    static = tuple(x.shape)
    dynamic = ops.shape(x)
    size = [s if isinstance(s, int) else d for s, d in zip(static, dynamic)]
    batch, spatial, channels = size[0], size[1:-1], size[-1]
    total = math.prod(static) if None not in static else None
    index_dtype = "int32" if total is not None and total < 2**31 else "int64"
    # Flat channels_last strides of the spatial axes, and of an example.
    strides = [math.prod(spatial[a + 1 :]) * channels for a in range(rank)]
    example = math.prod(spatial) * channels
    samples = ops.convert_to_tensor(samples)

    base = ops.reshape(ops.arange(batch, dtype=index_dtype) * ops.cast(example, index_dtype),
                       [-1] + [1] * (rank + 1))
    base = base + ops.arange(channels, dtype=index_dtype)
    for axis, column in enumerate(SAMPLE_COLUMNS[rank]):
        starts = window_starts(samples[:, :, column], spatial[axis], output_size[axis],
                               pool_size[axis], start_dtype)  # (N, C, out)
        starts = ops.cast(starts, index_dtype) * ops.cast(strides[axis], index_dtype)
        shape = [batch] + [1] * rank + [channels]
        shape[1 + axis] = output_size[axis]
        base = base + ops.reshape(ops.transpose(starts, (0, 2, 1)), shape)

    flat = ops.reshape(x, [-1])
    values = ops.stop_gradient(flat)
    best = chosen = None
    for offset in itertools.product(*(range(k) for k in pool_size)):  # row-major
        shift = sum(d * s for d, s in zip(offset, strides))
        index = base + ops.cast(shift, index_dtype) if offset != (0,) * rank else base
        value = _gather(values, index)
        if best is None:
            best, chosen = value, index
            continue
        take = ops.logical_or(ops.greater(value, best), ops.isnan(value))
        best = ops.where(take, value, best)
        chosen = ops.where(take, index, chosen)
    return _restore_format(_gather(flat, chosen), data_format)
