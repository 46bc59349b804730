"""The machinery every windowed and global op shares.

Output shapes (as Keras computes them), the checked windowed arguments, the
trip to channels_last in the compute dtype and back, Keras/TF "same" padding
(zeros, and the count of each window's real cells), window extraction by
reshapes and unit-stride slices, the per-channel strided cross-correlation,
and the two drivers a family hands its reduction to: `_windowed` and
`_global`. It also holds `_FAST_PATHS`, the one switch of every family's fast
paths (readers look it up here at call time; the tests turn it off).
"""

import itertools
import math

import keras
from keras import ops

from keras_pool.ops.arguments import (
    _check_rank,
    normalize_bool,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)


HALF_DTYPES = ("float16", "bfloat16")
# Fast paths (see `python -m experiments bench`) are switched off only by the
# tests, which check each against the general path it shortcuts.
_FAST_PATHS = True


def _is_symbolic(x):
    """True for a `keras.Input`-style tensor: only its shape and dtype exist."""
    return isinstance(x, keras.KerasTensor)


def spatial_dims(shape, data_format):
    """The spatial part of a (static) shape."""
    return tuple(shape[1:-1]) if data_format == "channels_last" else tuple(shape[2:])


def with_spatial(shape, spatial, data_format):
    """`shape` with its spatial part replaced by `spatial`."""
    if data_format == "channels_last":
        return (shape[0], *spatial, shape[-1])
    return (shape[0], shape[1], *spatial)


def pooled_shape(input_shape, pool_size, strides, padding, data_format):
    """Output shape of windowed pooling (None stays None), as Keras computes it.

    ValueError when a window is larger than the input with "valid" padding
    ("same" pads every axis to at least one window).
    """
    input_shape = tuple(input_shape)
    spatial = spatial_dims(input_shape, data_format)
    out = []
    for n, k, s in zip(spatial, pool_size, strides):
        if n is None:
            out.append(None)
        elif padding == "same":
            out.append((n + s - 1) // s)
        elif k > n:
            raise ValueError(
                f"The pool window {tuple(pool_size)} is larger than the input's spatial "
                f"size {spatial} (padding='valid'). Use a smaller `pool_size` or "
                "padding='same'."
            )
        else:
            out.append((n - k) // s + 1)
    return with_spatial(input_shape, out, data_format)


def global_shape(input_shape, data_format, keepdims):
    """Output shape of global pooling, as `keras.layers.GlobalMaxPooling2D` computes it."""
    input_shape = tuple(input_shape)
    rank = len(input_shape) - 2
    if not keepdims:
        channels = input_shape[-1] if data_format == "channels_last" else input_shape[1]
        return (input_shape[0], channels)
    return with_spatial(input_shape, (1,) * rank, data_format)


def _pool_arguments(name, inputs, pool_size, strides, padding, data_format):
    """The checked windowed-pooling arguments, as tuples and lower-case strings.

    A window larger than the input's (static) size with "valid" padding is a
    ValueError naming both sizes, on every backend.
    """
    rank = _check_rank(inputs, name)
    pool_size = normalize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else normalize_tuple(strides, rank, "strides")
    padding, data_format = normalize_padding(padding), normalize_data_format(data_format)
    pooled_shape(tuple(inputs.shape), pool_size, strides, padding, data_format)
    return rank, pool_size, strides, padding, data_format


def _compute_dtype(x):
    """Half-precision inputs are pooled in float32 (powers overflow in fp16)."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    return "float32" if dtype in HALF_DTYPES else dtype


def _prepare(inputs, data_format):
    """`inputs` as a channels_last tensor in the compute dtype, and its own dtype."""
    x = ops.convert_to_tensor(inputs)
    dtype = keras.backend.standardize_dtype(x.dtype)
    return _channels_last(ops.cast(x, _compute_dtype(x)), data_format), dtype


def _finish(out, data_format, dtype):
    """A channels_last result back in the caller's data format and dtype."""
    return ops.cast(_restore_format(out, data_format), dtype)


def _channels_last(x, data_format):
    if data_format == "channels_first":
        rank = len(x.shape)
        return ops.transpose(x, (0,) + tuple(range(2, rank)) + (1,))
    return x


def _restore_format(x, data_format):
    if data_format == "channels_first":
        rank = len(x.shape)
        return ops.transpose(x, (0, rank - 1) + tuple(range(1, rank - 1)))
    return x


def _same_pads(length, size, stride):
    """Keras/TF "same" padding: (before, after), the extra cell at the end."""
    out = (length + stride - 1) // stride
    total = (out - 1) * stride + size - length
    # Python ints stay Python ints (jit needs static pads); dynamic dims use ops.
    total = max(total, 0) if isinstance(total, int) else ops.maximum(total, 0)
    before = total // 2
    return before, total - before


def _spatial_shape(x):
    shape = ops.shape(x)
    return list(shape[1:-1])


def _zero_pad(x, pads):
    """`x` with (before, after) zeros on each axis: `keras.ops.pad` without its
    `Operation` object. Every `keras.ops.pad` call makes one and so bumps Keras's
    global name counter, a guard for `torch.compile`: one recompilation per call,
    then dynamic shapes, where Keras's own layers fail."""
    for axis, (before, after) in enumerate(pads):
        shape = list(ops.shape(x))
        parts = []
        for size in (before, None, after):
            if size is None:
                parts.append(x)
            elif not isinstance(size, int) or size > 0:  # a dynamic size may be 0 too
                shape[axis] = size
                parts.append(ops.zeros(shape, x.dtype))
        x = ops.concatenate(parts, axis=axis) if len(parts) > 1 else x
    return x


def _pad_same(x, pool_size, strides):
    """Zero-pad a channels_last tensor for "same" pooling; returns (x, befores)."""
    pads = [_same_pads(n, k, s) for n, k, s in zip(_spatial_shape(x), pool_size, strides)]
    x = _zero_pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
    return x, [p[0] for p in pads]


def _crop(x, axis, starts, sizes):
    """`sizes` cells from `starts` along the consecutive axes from `axis`.

    An `ops.slice` of a low-rank view, not indexing: TensorFlow's gradient
    of a strided slice is ~10x slower than a slice's (a pad), and its pad
    takes at most rank 6.
    """
    shape = list(ops.shape(x))
    end = axis + len(starts)
    outer, inner = math.prod(shape[:axis]), math.prod(shape[end:])
    view = ops.reshape(x, [outer] + shape[axis:end] + [inner])
    view = ops.slice(view, [0, *starts, 0], [outer, *sizes, inner])
    return ops.reshape(view, shape[:axis] + list(sizes) + shape[end:])


def _fit(x, axis, length):
    """`x` cropped, or padded at the end with cells no window reads, to `length`."""
    extra = length - ops.shape(x)[axis]
    dynamic = not isinstance(extra, int)
    if dynamic or extra > 0:
        pads = [(0, 0)] * len(x.shape)
        pads[axis] = (0, ops.maximum(extra, 0) if dynamic else extra)
        x = _zero_pad(x, pads)
    if dynamic or extra < 0:
        x = _crop(x, axis, [0], [length])
    return x


def _windows(x, pool_size, strides):
    """Windows of a (valid-padded) channels_last tensor: (N, *out, K, C).

    Reshapes, unit-stride slices and transposes only (strided slices and
    their gradients are an order of magnitude slower on TensorFlow's CPU):
    each spatial axis is fitted to (out + reach) * s cells and split into
    (blocks, s), so window offset d = q * s + r is phase r of blocks
    q .. q + out. Non-overlapping windows (s == k) are one reshape and one
    transpose; overlapping ones take one slice per block shift q (the window
    cells then come in shift-major order). Memory is K / prod(strides) times
    the input.
    """
    rank = len(pool_size)
    outs, reaches, split = [], [], [ops.shape(x)[0]]
    for axis, (k, s) in enumerate(zip(pool_size, strides), start=1):
        outs.append((ops.shape(x)[axis] - k) // s + 1)
        reaches.append((k - 1) // s)  # how many blocks past its own a window reaches
        x = _fit(x, axis, (outs[-1] + reaches[-1]) * s)
        split += [outs[-1] + reaches[-1], s]
    channels = ops.shape(x)[-1]
    x = ops.reshape(x, split + [channels])  # (N, B1, s1, B2, s2, ..., C)
    perm = (0,) + tuple(range(1, 2 * rank, 2)) + tuple(range(2, 2 * rank + 1, 2))
    pieces = []
    for shifts in itertools.product(*(range(reach + 1) for reach in reaches)):
        phases = [min(s, k - q * s) for q, k, s in zip(shifts, pool_size, strides)]
        piece = x
        for i, (q, r, s, out, reach) in enumerate(zip(shifts, phases, strides, outs, reaches)):
            if reach or r < s:
                piece = _crop(piece, 1 + 2 * i, [q, 0], [out, r])
        piece = ops.transpose(piece, perm + (2 * rank + 1,))
        pieces.append(ops.reshape(piece, [-1] + outs + [math.prod(phases), channels]))
    return pieces[0] if len(pieces) == 1 else ops.concatenate(pieces, axis=-2)


def _valid_counts(spatial, pool_size, strides, befores, dtype):
    """Cells of each "same"-padded window that lie inside the input: (1, *out, 1, 1)."""
    rank = len(pool_size)
    counts = None
    for axis, (n, k, s, b) in enumerate(zip(spatial, pool_size, strides, befores)):
        out = (n + s - 1) // s
        start = ops.arange(out) * s - b
        count = ops.minimum(start + k, n) - ops.maximum(start, 0)
        shape = [1] * (rank + 3)
        shape[axis + 1] = -1
        count = ops.reshape(ops.cast(count, dtype), shape)
        counts = count if counts is None else counts * count
    return counts


def window_pieces(x, window, strides):
    """Yield (offset, the cells at `offset` of every window), offsets in window order.

    `x` is channels_last and padded for valid windows; each piece is
    (N, *out, C). One unit-stride slice per offset of a view in which each
    axis is split into (blocks, stride): no window tensor is built.
    """
    split, outs = [ops.shape(x)[0]], []
    for axis, (k, s) in enumerate(zip(window, strides), start=1):
        outs.append((ops.shape(x)[axis] - k) // s + 1)
        blocks = outs[-1] + (k - 1) // s
        x = _fit(x, axis, blocks * s)
        split += [blocks, s]
    channels = ops.shape(x)[-1]
    x = ops.reshape(x, split + [channels])
    for offset in itertools.product(*(range(k) for k in window)):
        piece = x
        for i, (d, k, s, out) in enumerate(zip(offset, window, strides, outs)):
            if k > 1 or s > 1:
                piece = _crop(piece, 1 + 2 * i, list(divmod(d, s)), [out, 1])
        yield offset, ops.reshape(piece, [split[0]] + outs + [channels])


def _correlate(x, window, strides, weight):
    """sum over window offsets d of weight(d) * x[i * strides + d], per channel.

    `x` is channels_last and already padded (valid windows only); `weight(d)`
    is a number or a tensor broadcastable to the channels. One slice per
    offset (`window_pieces`) and a multiply-add: no window tensor and no
    convolution kernel, so it runs alike on every backend, rank and dtype.
    """
    total = None
    for offset, piece in window_pieces(x, window, strides):
        term = piece * weight(offset)
        total = term if total is None else total + term
    return total


def _windowed(name, inputs, pool_size, strides, padding, data_format, reduce):
    """Shared driver: validate, go channels_last, pad, window, reduce, restore."""
    rank, pool_size, strides, padding, data_format = _pool_arguments(
        name, inputs, pool_size, strides, padding, data_format
    )
    if _is_symbolic(inputs):
        shape = pooled_shape(inputs.shape, pool_size, strides, padding, data_format)
        return keras.KerasTensor(shape, dtype=inputs.dtype)
    x, dtype = _prepare(inputs, data_format)
    spatial = _spatial_shape(x)
    befores = [0] * rank
    if padding == "same":
        x, befores = _pad_same(x, pool_size, strides)
    out = reduce(x, pool_size, strides, padding, spatial, befores)
    return _finish(out, data_format, dtype)


def _global(name, inputs, data_format, keepdims, reduce):
    _check_rank(inputs, name)
    data_format = normalize_data_format(data_format)
    keepdims = normalize_bool(keepdims, "keepdims")
    if _is_symbolic(inputs):
        return keras.KerasTensor(global_shape(inputs.shape, data_format, keepdims), inputs.dtype)
    x = ops.convert_to_tensor(inputs)
    dtype = keras.backend.standardize_dtype(x.dtype)
    x = ops.cast(x, _compute_dtype(x))
    rank = len(x.shape)
    if data_format == "channels_last":
        flat = ops.reshape(x, (ops.shape(x)[0], -1, ops.shape(x)[-1]))
        out = reduce(flat, 1)
        keep_shape = (ops.shape(x)[0],) + (1,) * (rank - 2) + (ops.shape(x)[-1],)
    else:
        flat = ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], -1))
        out = reduce(flat, 2)
        keep_shape = (ops.shape(x)[0], ops.shape(x)[1]) + (1,) * (rank - 2)
    if keepdims:
        out = ops.reshape(out, keep_shape)
    return ops.cast(out, dtype)
