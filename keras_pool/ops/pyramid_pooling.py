"""Spatial pyramid pooling (He et al. 2014): adaptive pooling at several bin
counts, the levels flattened and concatenated into one fixed-size output.

Each level pools every spatial axis of size n into b bins with PyTorch's
adaptive window bounds, bin i covering cells floor(i * n / b) to
ceil((i + 1) * n / b) (exclusive), as `torch.nn.functional.adaptive_max_pool2d`
and `keras.ops.adaptive_max_pool` do; b > n repeats cells. The layout is
TF-Addons' `SpatialPyramidPooling2D`: (batch, bins, channels) for
channels_last input, (batch, channels, bins) for channels_first, where
bins = sum(b ** rank) and each level is flattened in row-major spatial order,
the levels in the order given.

Two paths compute the same values. The fast path (static spatial sizes, and
`window._FAST_PATHS` on) reduces a one-bin level over all positions and hands
the others to `keras.ops.adaptive_max_pool` / `adaptive_average_pool`. The
general path also takes sizes known only at run time (a TensorFlow graph
traced for `keras.Input((None, None, C))`): the windows are products of
intervals, so it pools one axis at a time, one slice and reduction per bin.
"""

import keras
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops import window as _window  # for `_window._FAST_PATHS`, read at call time
from keras_pool.ops.arguments import _check_rank, normalize_choice, normalize_data_format
from keras_pool.ops.window import (
    _channels_last,
    _compute_dtype,
    _crop,
    _is_symbolic,
    spatial_dims,
)

MODES = ("max", "avg")

PYRAMID_ARGS = {
    "bins": """\
a non-empty tuple of ints >= 1, the bins per axis of each level (level b
pools into b ** rank cells).""",
    "mode": '`"max"` or `"avg"`, the reduction over each bin.',
}

PYRAMID_RETURNS = """\
(N, sum(b ** rank for b in bins), C) for channels_last input, (N, C, that
sum) for channels_first (TF-Addons' layout); the input's dtype."""


def normalize_bins(bins):
    """`bins` as a non-empty tuple of ints >= 1; ValueError naming the value otherwise."""
    try:
        values = tuple(bins)
    except TypeError:
        values = None
    if not values or not all(
        isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in values
    ):
        raise ValueError(
            "`bins` must be a non-empty tuple of ints >= 1 (the bins per axis of "
            f"each pyramid level). Received: bins={bins!r}"
        )
    return values


def normalize_mode(mode):
    return normalize_choice(mode, "mode", MODES)


def pyramid_size(bins, rank):
    """How many cells a pyramid of `bins` gives per channel: sum(b ** rank)."""
    return sum(b**rank for b in bins)


def pyramid_shape(input_shape, bins, data_format):
    """Output shape of spatial pyramid pooling (the batch and channels may be None)."""
    input_shape = tuple(input_shape)
    rank = len(input_shape) - 2
    total = pyramid_size(bins, rank)
    if data_format == "channels_last":
        return (input_shape[0], total, input_shape[-1])
    return (input_shape[0], input_shape[1], total)


def adaptive_bounds(n, b):
    """PyTorch's adaptive windows over n cells in b bins: [(start, size), ...].

    start = floor(i * n / b), end = ceil((i + 1) * n / b); n may be a Python
    int or a scalar tensor (a size known at run time), b is an int.
    """
    bounds = []
    for i in range(b):
        start = (i * n) // b
        end = ((i + 1) * n + b - 1) // b
        bounds.append((start, end - start))
    return bounds


def _reduce(x, axis, mode):
    if mode == "max":
        return ops.max(x, axis=axis, keepdims=True)
    return ops.mean(x, axis=axis, keepdims=True)


def _adaptive_general(x, b, mode):
    """Adaptive pooling of channels_last `x` to b bins per axis, axis by axis
    (any spatial size, static or dynamic): (N, b, ..., b, C)."""
    rank = len(x.shape) - 2
    for axis in range(1, rank + 1):
        if b == 1:
            x = _reduce(x, axis, mode)
            continue
        n = ops.shape(x)[axis]
        pieces = [_reduce(_crop(x, axis, [start], [size]), axis, mode)
                  for start, size in adaptive_bounds(n, b)]
        x = ops.concatenate(pieces, axis=axis)
    return x


def _adaptive_fast(x, b, mode):
    """The same with static sizes: one reduction for b == 1, else Keras's own op.

    Keras pools each axis with windows of ceil(n / b) and ceil(n / b) + 1 cells,
    and its TensorFlow kernel crashes the process (a floating point exception)
    when that exceeds n: an axis of one cell takes the general path, as does
    a Keras without the adaptive ops (3.12, which Python 3.10 installs, has none).
    """
    rank = len(x.shape) - 2
    if b == 1:
        axes = tuple(range(1, rank + 1))
        return ops.max(x, axis=axes, keepdims=True) if mode == "max" else ops.mean(
            x, axis=axes, keepdims=True)
    if min(x.shape[1:-1]) < 2 or not hasattr(ops, "adaptive_max_pool"):
        return _adaptive_general(x, b, mode)
    pool = ops.adaptive_max_pool if mode == "max" else ops.adaptive_average_pool
    return pool(x, (b,) * rank, data_format="channels_last")


@docs.document(PYRAMID_RETURNS, **PYRAMID_ARGS)
def spatial_pyramid_pool(inputs, bins=(1, 2, 4), mode="max", data_format=None):
    """Spatial pyramid pooling: adaptive max (or average) pooling into b bins per
    axis for each b in `bins`, the levels flattened and concatenated.

    One output size for any input size: spatial sizes may be unknown until run
    time. Bin i of n cells spans floor(i * n / b) to ceil((i + 1) * n / b), as
    PyTorch's `adaptive_max_pool2d`; b > n repeats cells. The gradient of
    "max" goes to each bin's maximum. Half-precision inputs are pooled in
    float32.

    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> tuple(spatial_pyramid_pool(x, bins=(1, 2)).shape)  # 1 + 4 cells
    (1, 5, 1)
    >>> keras.ops.convert_to_numpy(spatial_pyramid_pool(x, bins=(1, 2)))[0, :, 0].tolist()
    [15.0, 5.0, 7.0, 13.0, 15.0]
    """
    rank = _check_rank(inputs, "spatial_pyramid_pool")
    bins = normalize_bins(bins)
    mode = normalize_mode(mode)
    data_format = normalize_data_format(data_format)
    if _is_symbolic(inputs):
        return keras.KerasTensor(pyramid_shape(inputs.shape, bins, data_format), inputs.dtype)
    x = ops.convert_to_tensor(inputs)
    dtype = keras.backend.standardize_dtype(x.dtype)
    x = _channels_last(ops.cast(x, _compute_dtype(x)), data_format)
    # Keras's adaptive ops need static sizes, and TensorFlow's 3D pooling kernels
    # float32 (half precision is pooled in float32 already).
    static = all(isinstance(n, int) for n in spatial_dims(tuple(x.shape), "channels_last"))
    fast = _window._FAST_PATHS and static and _compute_dtype(x) == "float32"
    adaptive = _adaptive_fast if fast else _adaptive_general
    batch, channels = ops.shape(x)[0], ops.shape(x)[-1]
    levels = [ops.reshape(adaptive(x, b, mode), (batch, b**rank, channels)) for b in bins]
    out = levels[0] if len(levels) == 1 else ops.concatenate(levels, axis=1)
    if data_format == "channels_first":
        out = ops.transpose(out, (0, 2, 1))
    return ops.cast(out, dtype)
