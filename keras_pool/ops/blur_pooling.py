"""Anti-aliased pooling (Zhang 2019): BlurPool and MaxBlurPool, with the binomial
filter, its padding modes and the argument checks and shapes the layers share."""

import math

import keras
import numpy as np
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops import window as _window  # for `_window._FAST_PATHS`, read at call time
from keras_pool.ops.arguments import (
    _check_rank,
    normalize_choice,
    normalize_data_format,
    normalize_tuple,
)
from keras_pool.ops.window import (
    _correlate,
    _crop,
    _finish,
    _is_symbolic,
    _pool_arguments,
    _prepare,
    _zero_pad,
    pooled_shape,
    spatial_dims,
    with_spatial,
)


PADDING_MODES = ("reflect", "replicate", "zero")
MAX_FILTER_SIZE = 7
# Longest axis blurred by a matrix product: measured in a plain tf.function on 2
# cores, the matrix is 2.5x faster than the slices at 256 cells, 1.3x slower at 1024.
MATRIX_BLUR_MAX = 512

# The Args entries and Returns of `blur_pool` and `max_blur_pool` (see `docs.document`).
BLUR_ARGS = {
    "filter_size": f"int in 1..{MAX_FILTER_SIZE} (or a tuple), the filter taps per axis.",
    "strides": "int or tuple, the subsampling factor.",
    "padding_mode": """\
`"reflect"` (default, as antialiased-cnns), `"replicate"` or `"zero"`:
how the blur pads.""",
}
BLUR_RETURNS = """\
The input's dtype and layout with ceil(n / strides) cells per spatial axis.
"reflect" on an axis of at most f // 2 cells is a ValueError."""
MAX_BLUR_PADDING = """\
the stride-1 max pool's: `"valid"` (as antialiased-cnns'
`MaxPool2d(kernel_size=2, stride=1)`) or `"same"`; padded cells never count."""
MAX_BLUR_RETURNS = """\
The input's dtype and layout; each spatial size n becomes m = n - pool_size + 1
("valid") or n ("same"), then ceil(m / strides)."""


def binomial_filter(filter_size):
    """The normalized binomial row: [1, 3, 3, 1] / 8 for `filter_size=4`."""
    row = [math.comb(filter_size - 1, i) for i in range(filter_size)]
    return [value / sum(row) for value in row]


def blur_pads(filter_size):
    """(before, after) padding of one axis, as antialiased-cnns places it."""
    return (filter_size - 1) // 2, filter_size // 2


def normalize_blur_arguments(rank, filter_size, strides, padding_mode):
    """Checked `filter_size` and `strides` tuples and the lower-case `padding_mode`."""
    sizes = normalize_tuple(filter_size, rank, "filter_size")
    if max(sizes) > MAX_FILTER_SIZE:
        raise ValueError(
            f"`filter_size` must be an int in 1..{MAX_FILTER_SIZE} or a tuple of them. "
            f"Received: filter_size={sizes}"
        )
    strides = normalize_tuple(strides, rank, "strides")
    return sizes, strides, normalize_choice(padding_mode, "padding_mode", PADDING_MODES)


def blurred_shape(input_shape, filter_size, strides, padding_mode, data_format):
    """Output shape of `blur_pool`: ceil(n / stride) per axis.

    ValueError when "reflect" padding needs more cells than an axis has.
    """
    input_shape = tuple(input_shape)
    spatial = spatial_dims(input_shape, data_format)
    for n, f in zip(spatial, filter_size):
        if padding_mode == "reflect" and n is not None and n <= max(blur_pads(f)):
            raise ValueError(
                f"padding_mode='reflect' with filter_size={tuple(filter_size)} needs more "
                f"than {max(blur_pads(f))} cells on every axis; the input's spatial size is "
                f"{spatial}. Use padding_mode='replicate' or 'zero', or a larger input."
            )
    out = [None if n is None else (n + s - 1) // s for n, s in zip(spatial, strides)]
    return with_spatial(input_shape, out, data_format)


def max_blurred_shape(
    input_shape, pool_size, strides, filter_size, padding, padding_mode, data_format
):
    """Output shape of `max_blur_pool`: the stride-1 max pool's, then the blur's."""
    rank = len(pool_size)
    maxed = pooled_shape(input_shape, pool_size, (1,) * rank, padding, data_format)
    return blurred_shape(maxed, filter_size, strides, padding_mode, data_format)


def _pad_axis(x, axis, before, after, mode):
    """Pad one axis: "zero", "reflect" (mirrored, edge not repeated) or "replicate"."""
    if before == after == 0:
        return x
    if mode == "zero":
        pads = [(0, 0)] * len(x.shape)
        pads[axis] = (before, after)
        return _zero_pad(x, pads)
    n = ops.shape(x)[axis]
    if mode == "reflect":
        head = ops.flip(_crop(x, axis, [1], [before]), axis) if before else None
        tail = ops.flip(_crop(x, axis, [n - 1 - after], [after]), axis) if after else None
    else:
        head = ops.repeat(_crop(x, axis, [0], [1]), before, axis=axis) if before else None
        tail = ops.repeat(_crop(x, axis, [n - 1], [1]), after, axis=axis) if after else None
    return ops.concatenate([p for p in (head, x, tail) if p is not None], axis=axis)


def blur_matrix(length, filter_size, stride, padding_mode):
    """The padded, strided binomial blur of one axis as a (ceil(length / stride),
    length) float64 matrix: row j holds output j's taps, each at the input cell
    its padded position maps to ("reflect": mirrored, "replicate": clamped,
    "zero": dropped).

    >>> blur_matrix(4, 3, 2, "zero").tolist()  # [1, 2, 1] / 4, pads (1, 1)
    [[0.5, 0.25, 0.0, 0.0], [0.0, 0.25, 0.5, 0.25]]
    """
    before = blur_pads(filter_size)[0]
    matrix = np.zeros(((length + stride - 1) // stride, length))
    for j, row in enumerate(matrix):
        for t, tap in enumerate(binomial_filter(filter_size)):
            i = j * stride + t - before
            if padding_mode == "reflect":
                i = -i if i < 0 else min(i, 2 * (length - 1) - i)
            elif padding_mode == "replicate":
                i = min(max(i, 0), length - 1)
            elif not 0 <= i < length:
                continue
            row[i] += tap
    return matrix


def _blur(x, filter_size, strides, padding_mode):
    """Pad, low-pass with the binomial filter and subsample a channels_last tensor.

    As the filter is the outer product of binomial rows, each axis is blurred
    on its own. Fast path (every non-batch size known, the axis at most
    `MATRIX_BLUR_MAX` long): one matrix product with `blur_matrix` (padding
    included), the kernel every backend runs fastest, forward and backward (on
    a 2-core CPU a 2D BlurPool then costs about what a MaxPooling2D does, and
    is 5x faster than the slices at 224x224). The matrix's work grows with the
    square of the length, so longer axes (1D signals) take the general path:
    pad, then a strided 1D filter of slices and multiply-adds.
    """
    rank = len(strides)
    for axis, (f, s) in enumerate(zip(filter_size, strides), start=1):
        shape = list(x.shape)
        if _window._FAST_PATHS and None not in shape[1:] and shape[axis] <= MATRIX_BLUR_MAX:
            matrix = blur_matrix(shape[axis], f, s, padding_mode)
            columns = ops.reshape(x, [-1, shape[axis], math.prod(shape[axis + 1 :])])
            x = ops.matmul(ops.convert_to_tensor(matrix[None], dtype=x.dtype), columns)
            shape[axis] = matrix.shape[0]
            x = ops.reshape(x, [-1] + shape[1:])
            continue
        taps = binomial_filter(f)
        window = tuple(f if i == axis else 1 for i in range(1, rank + 1))
        steps = tuple(s if i == axis else 1 for i in range(1, rank + 1))
        x = _pad_axis(x, axis, *blur_pads(f), padding_mode)
        x = _correlate(x, window, steps, lambda d, taps=taps, i=axis - 1: taps[d[i]])
    return x


@docs.document(BLUR_RETURNS, **BLUR_ARGS)
def blur_pool(inputs, filter_size=4, strides=2, padding_mode="reflect", data_format=None):
    """BlurPool (Zhang 2019): pad, blur each channel with a binomial filter, subsample.

    The filter is the normalized outer product of binomial rows of
    `filter_size` taps per axis ([1, 2, 1] / 4 for 3, [1, 3, 3, 1] / 8 for 4);
    each axis is padded by ((f - 1) // 2, f // 2) cells, as antialiased-cnns'
    `BlurPool` does. `filter_size=1` is plain subsampling.

    >>> import numpy as np
    >>> x = np.array([0, 0, 8, 0, 0, 0], "float32").reshape(1, 6, 1)
    >>> keras.ops.convert_to_numpy(blur_pool(x, filter_size=3, strides=2))[0, :, 0].tolist()  # [1, 2, 1] / 4
    [0.0, 4.0, 0.0]
    """
    rank = _check_rank(inputs, "blur_pool")
    filter_size, strides, padding_mode = normalize_blur_arguments(
        rank, filter_size, strides, padding_mode
    )
    data_format = normalize_data_format(data_format)
    shape = blurred_shape(inputs.shape, filter_size, strides, padding_mode, data_format)
    if _is_symbolic(inputs):
        return keras.KerasTensor(shape, dtype=inputs.dtype)
    x, dtype = _prepare(inputs, data_format)
    return _finish(_blur(x, filter_size, strides, padding_mode), data_format, dtype)


@docs.document(MAX_BLUR_RETURNS, **BLUR_ARGS, padding=MAX_BLUR_PADDING)
def max_blur_pool(
    inputs,
    pool_size=2,
    strides=2,
    filter_size=4,
    padding="valid",
    padding_mode="reflect",
    data_format=None,
):
    """MaxBlurPool (Zhang 2019): max pooling with stride 1, then `blur_pool` with `strides`.

    The anti-aliased replacement for `max_pool(x, pool_size, strides)`: the
    dense max keeps max pooling's nonlinearity, the blur removes the
    aliasing of its subsampling. `padding` is the max pool's, `padding_mode`
    the blur's.

    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> tuple(max_blur_pool(x, pool_size=2, strides=2).shape)  # 4 -> 3 (max) -> 2 (blur)
    (1, 2, 2, 1)
    """
    rank, pool_size, _, padding, data_format = _pool_arguments(
        "max_blur_pool", inputs, pool_size, 1, padding, data_format
    )
    filter_size, strides, padding_mode = normalize_blur_arguments(
        rank, filter_size, strides, padding_mode
    )
    shape = max_blurred_shape(
        inputs.shape, pool_size, strides, filter_size, padding, padding_mode, data_format
    )
    if _is_symbolic(inputs):
        return keras.KerasTensor(shape, dtype=inputs.dtype)
    x, dtype = _prepare(inputs, data_format)
    x = ops.max_pool(x, pool_size, 1, padding, "channels_last")
    return _finish(_blur(x, filter_size, strides, padding_mode), data_format, dtype)
