"""Max pooling with indices, and max unpooling (SegNet), in PyTorch's index convention.

`max_pool_with_argmax` returns `keras.ops.max_pool`'s values and, for each,
the flat index of the cell it came from in its example-channel's spatial map
of the unpadded input (h * W + w in 2D, as `torch.nn.functional.max_pool2d(...,
return_indices=True)`); `max_unpool` writes values back at such indices into
zeros (as `torch.nn.functional.max_unpool2d`). Indices are int32 (PyTorch's are
int64) and carry no gradient.

General path: the values from the native max pool (its fast gradient; on
TensorFlow in 3D, whose gradient goes to every tied maximum, redirected to the
indexed cell); the indices by one pass per window offset comparing the cells
at that offset with the values (a second, NaN pass only for an input with a
NaN). `tf.nn.max_pool_with_argmax` is no fast path: on a CPU it is 4.5x
slower than `tf.nn.max_pool` (forward and backward) and skips NaN. Fast paths
(`_window._FAST_PATHS`): PyTorch's own `max_poolNd(..., return_indices=True)`
for "valid" padding; TensorFlow's unpooling by `unsorted_segment_max` (4x
faster than `tensor_scatter_nd_update`). Unpooling is one flat scatter into
the output in its own layout (no transposes), with update semantics (a cell
named twice, the max of two overlapping windows, is written once) and
PyTorch's gradient (the output's gradient gathered at the indices).
"""

import math
import numbers

import keras
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops import window as _window  # for `_window._FAST_PATHS`, read at call time
from keras_pool.ops.arguments import _check_rank, normalize_data_format
from keras_pool.ops.window import (
    HALF_DTYPES,
    _channels_last,
    _is_symbolic,
    _pad_same,
    _pool_arguments,
    _restore_format,
    _spatial_shape,
    pooled_shape,
    window_pieces,
    with_spatial,
)

# The Args entries of the two ops that `docs.ARGS` words otherwise.
UNPOOL_ARGS = {
    "inputs": """\
the pooled values: a tensor of rank 3, 4 or 5 (1D, 2D or 3D), or a
symbolic `keras.Input`.""",
    "indices": """\
integer tensor of the shape of `inputs`: for each value the flat index
of its cell in its example-channel's output map (h * W + w in 2D), as
`max_pool_with_argmax` returns them. Each must lie in
[0, prod(output_size)); TensorFlow raises for one outside, eagerly, JAX drops it.""",
    "output_size": """\
int or tuple of ints (the spatial size to restore: the pooling's input
size), or scalar integer tensors for sizes known only at run time.""",
}

ARGMAX_RETURNS = """\
`(values, indices)`, both of the pooled shape ((n - pool_size) // strides + 1
("valid") or ceil(n / strides) ("same") per spatial size) and of the input's
layout. `values` equals `keras.ops.max_pool` (input dtype); `indices` (int32;
PyTorch's are int64) is for each value the flat index of its cell in its
example-channel's spatial map of the unpadded input (h * W + w in 2D,
(d * H + h) * W + w in 3D), as `torch.nn.functional.max_pool2d(...,
return_indices=True)`: the first maximum in window order, a NaN before any
number (the last NaN, as PyTorch's kernels), never a padded cell. The gradient
of `values` goes to the cell `indices` names; `indices` has none."""

UNPOOL_RETURNS = """\
`inputs`' layout and dtype with the spatial size `output_size`: zeros, and
each value at its index of its example-channel's map. Values sharing an index
(overlapping windows with the same maximum; they are equal) are written once,
not added. The gradient of each value is the output's gradient at its index,
as `torch.nn.functional.max_unpool2d`'s."""


@docs.document(ARGMAX_RETURNS)
def max_pool_with_argmax(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling that also returns where each maximum came from (for unpooling).

    >>> import numpy as np
    >>> x = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0], "float32").reshape(1, 6, 1)
    >>> values, indices = max_pool_with_argmax(x, 2)
    >>> keras.ops.convert_to_numpy(values)[0, :, 0].tolist()
    [3.0, 4.0, 9.0]
    >>> keras.ops.convert_to_numpy(indices)[0, :, 0].tolist()
    [0, 2, 5]
    """
    rank, pool_size, strides, padding, data_format = _pool_arguments(
        "max_pool_with_argmax", inputs, pool_size, strides, padding, data_format
    )
    if _is_symbolic(inputs):
        shape = pooled_shape(inputs.shape, pool_size, strides, padding, data_format)
        return keras.KerasTensor(shape, inputs.dtype), keras.KerasTensor(shape, "int32")
    x = ops.convert_to_tensor(inputs)
    backend = keras.backend.backend()
    if _window._FAST_PATHS and backend == "torch" and padding == "valid":
        return _torch_max_pool_with_argmax(x, rank, pool_size, strides, data_format)
    x = _channels_last(x, data_format)
    values = _max_pool(x, rank, pool_size, strides, padding)
    indices = _argmax(ops.stop_gradient(x), ops.stop_gradient(values), pool_size, strides,
                      padding)
    if backend == "tensorflow" and rank == 3:
        # TensorFlow's 3D max pool gradient goes to every tied maximum: send it
        # to the indexed cell instead.
        values = _tf_values_to_index(x, values, indices)
    return _restore_format(values, data_format), _restore_format(indices, data_format)


def _max_pool(x, rank, pool_size, strides, padding):
    """`keras.ops.max_pool` of a channels_last tensor (3D half precision in float32:
    TensorFlow's CPU kernels have no float16 3D max pool)."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    if rank == 3 and dtype in HALF_DTYPES:
        pooled = ops.max_pool(ops.cast(x, "float32"), pool_size, strides, padding)
        return ops.cast(pooled, dtype)
    return ops.max_pool(x, pool_size, strides, padding, "channels_last")


def _argmax(x, values, pool_size, strides, padding):
    """PyTorch's indices (int32) of a channels_last tensor's window maxima `values`.

    One pass per window offset d over the cells at d of every window
    (`window.window_pieces`), in reverse window order: a
    cell equal to its window's maximum names it, so the first in window order
    stays. Only if the input has a NaN, a second pass in window order lets
    the last NaN of a window name it. Padded cells never do.
    """
    spatial = _spatial_shape(x)
    befores = [0] * len(pool_size)
    if padding == "same":
        x, befores = _pad_same(x, pool_size, strides)
    if keras.backend.standardize_dtype(values.dtype) != keras.backend.standardize_dtype(x.dtype):
        x = ops.cast(x, values.dtype)
    pieces = dict(window_pieces(x, pool_size, strides))
    outs = [ops.shape(values)[axis] for axis in range(1, len(pool_size) + 1)]
    cells = [_cell(offset, spatial, outs, strides, befores) for offset in pieces]
    # A window no cell equals (all -inf: TensorFlow's max pool gives lowest())
    # names its first real cell, as PyTorch's kernels.
    indices = ops.zeros_like(values, dtype="int32") + _first_cell(spatial, outs, strides, befores)
    for (piece, (number, real)) in zip(reversed(list(pieces.values())), reversed(cells)):
        hit = piece == values
        if real is not None:
            hit = ops.logical_and(hit, real)
        indices = ops.where(hit, number, indices)

    def last_nan(indices):
        for piece, (number, real) in zip(pieces.values(), cells):
            hit = ops.isnan(piece)
            if real is not None:
                hit = ops.logical_and(hit, real)
            indices = ops.where(hit, number, indices)
        return indices

    if not keras.backend.standardize_dtype(x.dtype).startswith("float"):
        return indices
    has_nan = ops.any(ops.isnan(x))
    if keras.backend.backend() == "torch":
        return last_nan(indices) if bool(has_nan) else indices
    return ops.cond(has_nan, lambda: last_nan(indices), lambda: indices)


def _first_cell(spatial, outs, strides, befores):
    """The flat index (1, *out, 1) of the first real cell of each window."""
    number = 0
    for axis, (n, out, s, b) in enumerate(zip(spatial, outs, strides, befores)):
        shape = [1] * (len(spatial) + 2)
        shape[axis + 1] = -1
        start = ops.maximum(ops.arange(out, dtype="int32") * s - b, 0)
        number = number * n + ops.reshape(start, shape)
    return number


def _cell(offset, spatial, outs, strides, befores):
    """The flat index (1, *out, 1) of the input cell at `offset` of each window,
    and where it is a real cell ("same" padding; None when every one is)."""
    rank = len(offset)
    number, real = 0, None
    for axis, (d, n, out, s, b) in enumerate(zip(offset, spatial, outs, strides, befores)):
        shape = [1] * (rank + 2)
        shape[axis + 1] = -1
        coordinate = ops.reshape(ops.arange(out, dtype="int32") * s + (d - b), shape)
        number = number * n + coordinate
        if isinstance(b, int) and b == 0 and isinstance(n, int) and isinstance(out, int) and (
            (out - 1) * s + d < n
        ):
            continue  # every cell at this offset lies inside the input
        inside = ops.logical_and(coordinate >= 0, coordinate < n)
        real = inside if real is None else ops.logical_and(real, inside)
    return number, real


def _tf_values_to_index(x, values, indices):
    """`values` (of channels_last `x`) with the gradient to the cells `indices` name."""
    import tensorflow as tf

    @tf.custom_gradient
    def pool(x):
        def grad(upstream):
            shape = tf.shape(x)
            size = tf.reduce_prod(shape[1:-1])
            target = _targets(indices, shape[0], shape[-1], size, "channels_last")
            flat = tf.math.unsorted_segment_sum(
                tf.reshape(upstream, [-1]), tf.reshape(target, [-1]), tf.size(x))
            return tf.reshape(flat, shape)

        return tf.identity(values), grad

    return pool(x)


def _torch_max_pool_with_argmax(x, rank, pool_size, strides, data_format):
    """PyTorch's own `max_poolNd(..., return_indices=True)` ("valid" padding:
    PyTorch pads symmetrically), on a channels_first view of the input."""
    import torch.nn.functional as F

    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1]
    if data_format == "channels_last":
        # contiguous: the backward kernel wants a contiguous gradient input.
        x = x.permute(0, rank + 1, *range(1, rank + 1)).contiguous()
    values, indices = pool(x, pool_size, strides, return_indices=True)
    indices = indices.int()
    if data_format == "channels_last":
        order = (0, *range(2, rank + 2), 1)
        values, indices = values.permute(order), indices.permute(order)
    return values, indices


def normalize_output_size(output_size, rank):
    """`output_size` as a tuple of `rank` positive ints (or scalar integer
    tensors, sizes known at run time); ValueError naming the value otherwise."""
    values = (output_size,) * rank if _is_size(output_size) else output_size
    if (
        isinstance(values, (tuple, list))
        and len(values) == rank
        and all(_is_size(v) for v in values)
    ):
        return tuple(int(v) if isinstance(v, numbers.Integral) else v for v in values)
    raise ValueError(
        f"`output_size` must be a positive int or a tuple of {rank} positive ints "
        f"(the spatial size to restore). Received: output_size={output_size!r}"
    )


def _is_size(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return value > 0
    return ops.is_tensor(value) and len(value.shape) == 0 and "int" in str(value.dtype)


def default_output_size(pooled, pool_size, strides, padding):
    """The unpooled size PyTorch's `max_unpool` picks without `output_size`.

    "valid": (n - 1) * stride + pool_size, the smallest input that pools to n
    (and PyTorch's default); "same": n * stride, the largest input that pools
    to n (ceil(size / stride) = n). Every index fits; a flat index decodes to
    its cell only if this is the pooling's input size (pass it otherwise).
    None stays None.
    """
    out = []
    for n, k, s in zip(pooled, pool_size, strides):
        if n is None:
            out.append(None)
        elif padding == "same":
            out.append(n * s)
        else:
            out.append((n - 1) * s + k)
    return tuple(out)


@docs.document(UNPOOL_RETURNS, **UNPOOL_ARGS)
def max_unpool(inputs, indices, output_size, data_format=None):
    """Max unpooling: the partial inverse of `max_pool_with_argmax`, as
    `torch.nn.functional.max_unpool1d/2d/3d`.

    >>> import numpy as np
    >>> x = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0], "float32").reshape(1, 6, 1)
    >>> values, indices = max_pool_with_argmax(x, 2)
    >>> restored = max_unpool(values, indices, output_size=6)
    >>> keras.ops.convert_to_numpy(restored)[0, :, 0].tolist()
    [3.0, 0.0, 4.0, 0.0, 0.0, 9.0]
    """
    rank = _check_rank(inputs, "max_unpool")
    data_format = normalize_data_format(data_format)
    output_size = normalize_output_size(output_size, rank)
    if tuple(indices.shape) != tuple(inputs.shape) and None not in (
        tuple(indices.shape) + tuple(inputs.shape)
    ):
        raise ValueError(
            "`indices` must have the shape of `inputs` (the pooled values). Received: "
            f"indices.shape={tuple(indices.shape)}, inputs.shape={tuple(inputs.shape)}"
        )
    if _is_symbolic(inputs) or _is_symbolic(indices):
        static = [v if isinstance(v, int) else None for v in output_size]
        return keras.KerasTensor(with_spatial(inputs.shape, static, data_format), inputs.dtype)
    x = ops.convert_to_tensor(inputs)
    indices = ops.cast(ops.convert_to_tensor(indices), "int32")
    shape = list(ops.shape(x))
    batch = shape[0]
    channels = shape[-1] if data_format == "channels_last" else shape[1]
    size = math.prod(output_size)
    target = _targets(indices, batch, channels, size, data_format)
    flat = _scatter_once(
        ops.reshape(target, [-1]), ops.reshape(x, [-1]), batch * size * channels
    )
    return ops.reshape(flat, with_spatial(shape, output_size, data_format))


def _targets(indices, batch, channels, size, data_format):
    """The flat position of each index's cell in the whole (N, S, C) or (N, C, S)
    output, in that layout (no transposes)."""
    rank = len(indices.shape) - 2
    example = ops.reshape(ops.arange(batch, dtype="int32"), [-1] + [1] * (rank + 1))
    channel = ops.arange(channels, dtype="int32")
    if data_format == "channels_last":
        return (example * size + indices) * channels + channel
    channel = ops.reshape(channel, [1, -1] + [1] * rank)
    return (example * channels + channel) * size + indices


def _scatter_once(target, values, length):
    """A length-`length` vector of zeros with `values` written at `target`
    (update semantics); the gradient of `values` is the output's gathered at
    `target` (every duplicate gets it, as PyTorch's `max_unpool` backward)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if _window._FAST_PATHS:
            return _tf_segment_max(target, values, length)
        zeros = tf.zeros(tf.reshape(length, [1]), values.dtype)
        return tf.tensor_scatter_nd_update(zeros, target[:, None], values)
    if backend == "torch":
        import torch

        zeros = torch.zeros(length, dtype=values.dtype, device=values.device)
        return zeros.scatter(0, target.long(), values)
    if backend == "jax":
        return _jax_scatter_once(target, values, length)
    # NumPy and other backends: no gradients.
    return ops.scatter_update(ops.zeros((length,), values.dtype), target[:, None], values)


def _tf_segment_max(target, values, length):
    """TensorFlow's fast path: `unsorted_segment_max` (4x faster than
    `tensor_scatter_nd_update` on a CPU; equal values at one index give that
    value) with the empty cells' `lowest()` made 0, and the gather as the
    gradient. A value equal to the lowest finite number of its dtype (-3.4e38
    in float32; half precision goes through float32) would read as 0."""
    import tensorflow as tf

    dtype = values.dtype
    compute = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype

    @tf.custom_gradient
    def scatter(values):
        out = tf.math.unsorted_segment_max(tf.cast(values, compute), target, length)
        out = tf.where(out == compute.min, tf.zeros((), compute), out)

        def grad(upstream):
            return tf.gather(upstream, target)

        return tf.cast(out, dtype), grad

    return scatter(values)


def _jax_scatter_once(target, values, length):
    # JAX's own gradient of a scatter-set sends a duplicated index's gradient
    # to one update only; PyTorch's (and TensorFlow's) gathers it for each.
    import jax

    @jax.custom_vjp
    def scatter(values, target):
        return jax.numpy.zeros((length,), values.dtype).at[target].set(values, mode="drop")

    def forward(values, target):
        return scatter(values, target), target

    def backward(target, grad):
        return grad.at[target].get(mode="fill", fill_value=0), None

    scatter.defvjp(forward, backward)
    return scatter(values, target)


def unpooled_shape(input_shape, output_size, data_format):
    """The shape `max_unpool` returns (None for unknown sizes)."""
    return with_spatial(tuple(input_shape), tuple(output_size), data_format)

