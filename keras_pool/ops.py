"""Functional, backend-agnostic pooling: min, Lp, stochastic, BlurPool, MaxBlurPool,
mixed, gated and SoftPool (windowed, and global where it applies).

Everything here is written with `keras.ops` and `keras.random` only, so it runs
unchanged on the TensorFlow, JAX and PyTorch backends, eagerly and under jit/XLA.
The signatures follow `keras.ops.max_pool`.

>>> import numpy as np
>>> from keras_pool import ops as pool_ops
>>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
>>> tuple(pool_ops.min_pool(x, 2).shape)
(1, 2, 2, 1)
"""

import itertools
import math

import keras
import numpy as np
from keras import ops

from .xla_clusters import cluster, inside_xla

PADDINGS = ("valid", "same")
HALF_DTYPES = ("float16", "bfloat16")
# Fast paths (see `python -m experiments bench`) are switched off only by the
# tests, which check each against the general path it shortcuts.
_FAST_PATHS = True


# ----------------------------------------------------------------------------
# Argument checks (shared with the layers)
# ----------------------------------------------------------------------------


def normalize_tuple(value, rank, name):
    """`value` as a tuple of `rank` positive ints; ValueError naming `name`."""
    values = (value,) * rank if isinstance(value, int) else value
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a positive int or a tuple of {rank} positive "
            f"ints. Received: {name}={value!r}"
        ) from None
    if len(values) != rank or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a tuple of {rank} positive "
            f"ints. Received: {name}={value!r}"
        )
    return values


def normalize_padding(padding):
    return normalize_choice(padding, "padding", PADDINGS)


def normalize_data_format(data_format):
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value is None:
        return keras.config.image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be one of ('channels_last', 'channels_first') "
            f"or None. Received: data_format={data_format!r}"
        )
    return value


def normalize_bool(value, name):
    """`value` if it is a bool; ValueError naming `name` otherwise ("false" is no bool)."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def normalize_number(value, name, low, high):
    """`value` as a float in [low, high]; ValueError naming `name` for anything else
    (strings and bools included)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (
        low <= float(value) <= high
    ):
        raise ValueError(
            f"`{name}` must be a number in [{low}, {high}]. Received: {name}={value!r}"
        )
    return float(value)


def normalize_p(p):
    """`p` as a float in [1, inf]; ValueError naming the value otherwise."""
    return normalize_number(p, "p", 1.0, math.inf)


def normalize_choice(value, name, choices):
    """`value` lower-cased if it is one of `choices`; ValueError naming `name` otherwise."""
    lowered = value.lower() if isinstance(value, str) else value
    if lowered not in choices:
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")
    return lowered


def _p_argument(p):
    """A Python value is checked and made a float; a tensor/variable p passes."""
    return normalize_p(p) if isinstance(p, (int, float, str, bool)) else p


def _check_rank(inputs, name):
    """The number of spatial dims of `inputs` (1, 2 or 3); ValueError otherwise."""
    ndim = len(inputs.shape)
    if ndim not in (3, 4, 5):
        raise ValueError(
            f"`{name}` expects a 3D, 4D or 5D input (batch, spatial..., "
            f"channels). Received input shape: {tuple(inputs.shape)}"
        )
    return ndim - 2


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


def _is_symbolic(x):
    """True for a `keras.Input`-style tensor: only its shape and dtype exist."""
    return isinstance(x, keras.KerasTensor)


# ----------------------------------------------------------------------------
# Shared machinery
# ----------------------------------------------------------------------------


def _compute_dtype(x):
    """Half-precision inputs are pooled in float32 (powers overflow in fp16)."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    return "float32" if dtype in HALF_DTYPES else dtype


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


def _power(r, p):
    """r ** p for r in [0, 1], with finite gradients (in r and in a tensor p) at 0.

    General path: exp(p log r); TensorFlow's CPU `pow` kernel is ~4x slower
    than exp and log together. Fast path: p = 1, 2, 3, 4 by products.
    """
    if _FAST_PATHS and isinstance(p, float) and p in (1.0, 2.0, 3.0, 4.0):
        if p == 1.0:
            return r
        square = ops.square(r)
        if p == 2.0:
            return square
        return r * square if p == 3.0 else ops.square(square)
    positive = r > 0
    safe = ops.where(positive, r, ops.ones_like(r))
    return ops.where(positive, ops.exp(p * ops.log(safe)), ops.zeros_like(r))


def _root(total, p):
    """total ** (1 / p) for total > 0: exp(log(total) / p); p = 1, 2 fast paths."""
    if _FAST_PATHS and isinstance(p, float) and p in (1.0, 2.0):
        return total if p == 1.0 else ops.sqrt(total)
    return ops.exp(ops.log(total) / p)


def _lp_reduce(a, p, axis, normalize, count):
    """(sum a**p)**(1/p) over `axis` (or the power mean), scaled by the max.

    `a >= 0`. Dividing by the window maximum keeps every term in [0, 1], so
    nothing overflows for large p or huge values, and tiny windows keep their
    precision. The max gets no gradient: the result does not depend on it.
    """
    if isinstance(p, float) and math.isinf(p):
        return ops.max(a, axis=axis)
    m = ops.stop_gradient(ops.max(a, axis=axis, keepdims=True))
    positive = m > 0
    m = ops.where(positive, m, ops.ones_like(m))
    total = ops.sum(_power(a / m, p), axis=axis, keepdims=True)
    if normalize:
        total = total / count
    # total >= 1 / count wherever the window holds a positive value.
    total = ops.where(positive, total, ops.ones_like(total))
    out = ops.where(positive, m * _root(total, p), ops.zeros_like(m))
    return ops.squeeze(out, axis=axis)


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


def _prepare(inputs, data_format):
    """`inputs` as a channels_last tensor in the compute dtype, and its own dtype."""
    x = ops.convert_to_tensor(inputs)
    dtype = keras.backend.standardize_dtype(x.dtype)
    return _channels_last(ops.cast(x, _compute_dtype(x)), data_format), dtype


def _finish(out, data_format, dtype):
    """A channels_last result back in the caller's data format and dtype."""
    return ops.cast(_restore_format(out, data_format), dtype)


# ----------------------------------------------------------------------------
# Windowed pooling
# ----------------------------------------------------------------------------


def min_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Min pooling: min_i x_i per window, the mirror of `keras.ops.max_pool`
    (the gradient goes to the minimum).

    Args:
        inputs: tensor of rank 3, 4 or 5 (1D, 2D or 3D pooling), or a
            symbolic `keras.Input` (then a `KerasTensor` of the output shape
            is returned).
        pool_size: int or tuple of ints, the window size.
        strides: int or tuple; `None` means `pool_size`.
        padding: `"valid"` or `"same"` (Keras/TF placement, the extra cell at
            the end); padded cells never count.
        data_format: `"channels_last"` (N, *spatial, C) or `"channels_first"`
            (N, C, *spatial); None uses `keras.config.image_data_format()`.

    Returns:
        A tensor of the input's dtype and layout, each spatial size n pooled
        to (n - pool_size) // strides + 1 ("valid") or ceil(n / strides)
        ("same"). A window larger than a "valid" input is a ValueError.

    >>> import numpy as np
    >>> x = np.array([3.0, 1.0, 4.0, 1.5], "float32").reshape(1, 4, 1)
    >>> keras.ops.convert_to_numpy(min_pool(x, 2))[0, :, 0].tolist()
    [1.0, 1.5]
    """
    rank, pool_size, strides, padding, data_format = _pool_arguments(
        "min_pool", inputs, pool_size, strides, padding, data_format
    )
    if _is_symbolic(inputs):
        return ops.negative(ops.max_pool(ops.negative(inputs), pool_size, strides, padding,
                                         data_format))
    # Pool channels_last: TensorFlow's CPU kernels have no channels_first 3D max
    # pool, and no float16 one either, so 3D half-precision input pools in float32.
    x = _channels_last(ops.convert_to_tensor(inputs), data_format)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if rank == 3:
        x = ops.cast(x, _compute_dtype(x))
    pooled = ops.max_pool(ops.negative(x), pool_size, strides, padding, "channels_last")
    return ops.cast(_restore_format(ops.negative(pooled), data_format), dtype)


@cluster
def lp_pool(
    inputs,
    pool_size,
    strides=None,
    padding="valid",
    data_format=None,
    p=2.0,
    normalize=False,
):
    """Lp pooling: the Lp norm `(sum |x_i|**p)**(1/p)` per window, or the power mean.

    With `normalize=True` the sum becomes a mean over the window's real
    (non-padded) cells: the generalized mean (GeM), which is average pooling
    of |x| at p=1 and max pooling of |x| as p -> inf. Each window is scaled
    by its maximum first, so large p and extreme magnitudes stay finite;
    half-precision inputs are pooled in float32.

    Args:
        inputs: tensor of rank 3, 4 or 5 (1D, 2D or 3D pooling), or a
            symbolic `keras.Input` (then a `KerasTensor` of the output shape
            is returned).
        pool_size: int or tuple of ints, the window size.
        strides: int or tuple; `None` means `pool_size`.
        padding: `"valid"` or `"same"` (Keras/TF placement, the extra cell at
            the end); padded cells never count.
        data_format: `"channels_last"` (N, *spatial, C) or `"channels_first"`
            (N, C, *spatial); None uses `keras.config.image_data_format()`.
        p: a number in [1, inf] (`float("inf")` is the max of |x|) or a scalar
            tensor (a trainable p).
        normalize: bool; True for the power mean (GeM).

    Returns:
        A tensor of the input's dtype and layout, each spatial size n pooled
        to (n - pool_size) // strides + 1 ("valid") or ceil(n / strides)
        ("same"). A window larger than a "valid" input is a ValueError.

    >>> import numpy as np
    >>> x = np.ones((1, 4, 4, 1), "float32")
    >>> float(lp_pool(x, 2, p=2.0)[0, 0, 0, 0])  # sqrt(4 * 1**2)
    2.0
    """
    p = _p_argument(p)
    normalize = normalize_bool(normalize, "normalize")

    def reduce(x, pool_size, strides, padding, spatial, befores):
        count = None
        if normalize:
            count = (
                _valid_counts(spatial, pool_size, strides, befores, x.dtype)
                if padding == "same"
                else float(math.prod(pool_size))
            )
        power = p if isinstance(p, float) else ops.cast(p, x.dtype)
        if _FAST_PATHS and isinstance(p, float) and math.isinf(p):
            # x is zero-padded already; a padded 0 never beats |x|.
            return ops.max_pool(ops.abs(x), pool_size, strides, "valid")
        windows = _windows(ops.abs(x), pool_size, strides)
        return _lp_reduce(windows, power, -2, normalize, count)

    return _windowed("lp_pool", inputs, pool_size, strides, padding, data_format, reduce)


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

    Args:
        inputs: tensor of rank 3, 4 or 5 (1D, 2D or 3D pooling), or a
            symbolic `keras.Input` (then a `KerasTensor` of the output shape
            is returned).
        pool_size: int or tuple of ints, the window size.
        strides: int or tuple; `None` means `pool_size`.
        padding: `"valid"` or `"same"` (Keras/TF placement, the extra cell at
            the end); padded cells never count.
        data_format: `"channels_last"` (N, *spatial, C) or `"channels_first"`
            (N, C, *spatial); None uses `keras.config.image_data_format()`.
        training: bool; True draws, False returns the expectation.
        seed: an int, None or a `keras.random.SeedGenerator` (use the latter
            for fresh draws on every call under jit).

    Returns:
        A tensor of the input's dtype and layout, each spatial size n pooled
        to (n - pool_size) // strides + 1 ("valid") or ceil(n / strides)
        ("same"). A window larger than a "valid" input is a ValueError.

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
        if _FAST_PATHS and not training and any(s < k for s, k in zip(strides, pool_size)):
            # Overlapping windows: sum(a**2) / sum(a) as two average pools,
            # no windows (non-overlapping windows are cheaper as windows).
            # x is zero-padded already: torch's "same" average pool would
            # replicate the edges instead.
            total = ops.average_pool(a, pool_size, strides, "valid")
            safe_total = ops.where(total > 0, total, ops.ones_like(total))
            return ops.average_pool(ops.square(a), pool_size, strides, "valid") / safe_total
        windows = _windows(a, pool_size, strides)
        if _FAST_PATHS and training:
            return _sample_cells(ops.unstack(windows, math.prod(pool_size), axis=-2), keys)
        return _stochastic_reduce(windows, -2, training, keys)

    return _windowed(
        "stochastic_pool", inputs, pool_size, strides, padding, data_format, reduce
    )


# ----------------------------------------------------------------------------
# Global pooling: one reduction over all spatial positions
# ----------------------------------------------------------------------------


def global_shape(input_shape, data_format, keepdims):
    """Output shape of global pooling, as `keras.layers.GlobalMaxPooling2D` computes it."""
    input_shape = tuple(input_shape)
    rank = len(input_shape) - 2
    if not keepdims:
        channels = input_shape[-1] if data_format == "channels_last" else input_shape[1]
        return (input_shape[0], channels)
    return with_spatial(input_shape, (1,) * rank, data_format)


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


def global_min_pool(inputs, data_format=None, keepdims=False):
    """Minimum over all spatial positions, per channel.

    Args:
        inputs: tensor of rank 3, 4 or 5, or a symbolic `keras.Input`.
        data_format: `"channels_last"` or `"channels_first"`; None uses
            `keras.config.image_data_format()`.
        keepdims: bool; True keeps the spatial dims with size 1.

    Returns:
        (N, C), or with `keepdims=True` the input's layout with every spatial
        size 1; the input's dtype.

    >>> import numpy as np
    >>> global_min_pool(np.arange(8, dtype="float32").reshape(1, 4, 2)).shape[-1]
    2
    """
    _check_rank(inputs, "global_min_pool")
    data_format = normalize_data_format(data_format)
    keepdims = normalize_bool(keepdims, "keepdims")
    rank = len(inputs.shape)
    axes = tuple(range(1, rank - 1)) if data_format == "channels_last" else tuple(range(2, rank))
    return ops.min(inputs, axis=axes, keepdims=keepdims)


@cluster
def global_lp_pool(inputs, data_format=None, keepdims=False, p=2.0, normalize=False):
    """Lp norm `(sum |x_i|**p)**(1/p)` over all spatial positions, per channel, or
    the power mean (GeM) with `normalize=True`; see `lp_pool`.

    Args:
        inputs: tensor of rank 3, 4 or 5, or a symbolic `keras.Input`.
        data_format: `"channels_last"` or `"channels_first"`; None uses
            `keras.config.image_data_format()`.
        keepdims: bool; True keeps the spatial dims with size 1.
        p: a number in [1, inf] or a scalar tensor.
        normalize: bool; True for the power mean.

    Returns:
        (N, C), or with `keepdims=True` the input's layout with every spatial
        size 1; the input's dtype.

    >>> import numpy as np
    >>> x = np.array([3.0, 4.0], "float32").reshape(1, 2, 1)
    >>> float(global_lp_pool(x, p=2.0)[0, 0])
    5.0
    """
    p = _p_argument(p)
    normalize = normalize_bool(normalize, "normalize")

    def reduce(flat, axis):
        count = float(flat.shape[axis]) if flat.shape[axis] is not None else ops.cast(
            ops.shape(flat)[axis], flat.dtype
        )
        power = p if isinstance(p, float) else ops.cast(p, flat.dtype)
        return _lp_reduce(ops.abs(flat), power, axis, normalize, count)

    return _global("global_lp_pool", inputs, data_format, keepdims, reduce)


def global_stochastic_pool(
    inputs, data_format=None, keepdims=False, training=False, seed=None
):
    """Stochastic pooling over all spatial positions, per channel; see
    `stochastic_pool`.

    Args:
        inputs: tensor of rank 3, 4 or 5, or a symbolic `keras.Input`.
        data_format: `"channels_last"` or `"channels_first"`; None uses
            `keras.config.image_data_format()`.
        keepdims: bool; True keeps the spatial dims with size 1.
        training: bool; True draws, False returns the expectation.
        seed: an int, None or a `keras.random.SeedGenerator`.

    Returns:
        (N, C), or with `keepdims=True` the input's layout with every spatial
        size 1; the input's dtype.

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


# ----------------------------------------------------------------------------
# Weighted windows: per-channel strided cross-correlation
# ----------------------------------------------------------------------------


def _correlate(x, window, strides, weight):
    """sum over window offsets d of weight(d) * x[i * strides + d], per channel.

    `x` is channels_last and already padded (valid windows only); `weight(d)`
    is a number or a tensor broadcastable to the channels. One unit-stride
    slice per offset of a view in which each axis is split into (blocks,
    stride), as in `_windows`, and a multiply-add: no window tensor and no
    convolution kernel, so it runs alike on every backend, rank and dtype.
    """
    split, outs = [ops.shape(x)[0]], []
    for axis, (k, s) in enumerate(zip(window, strides), start=1):
        outs.append((ops.shape(x)[axis] - k) // s + 1)
        blocks = outs[-1] + (k - 1) // s
        x = _fit(x, axis, blocks * s)
        split += [blocks, s]
    channels = ops.shape(x)[-1]
    x = ops.reshape(x, split + [channels])
    total = None
    for offset in itertools.product(*(range(k) for k in window)):
        piece = x
        for i, (d, k, s, out) in enumerate(zip(offset, window, strides, outs)):
            if k > 1 or s > 1:
                piece = _crop(piece, 1 + 2 * i, list(divmod(d, s)), [out, 1])
        term = piece * weight(offset)
        total = term if total is None else total + term
    return ops.reshape(total, [split[0]] + outs + [channels])


# ----------------------------------------------------------------------------
# Anti-aliased pooling (Zhang 2019): BlurPool and MaxBlurPool
# ----------------------------------------------------------------------------

PADDING_MODES = ("reflect", "replicate", "zero")
MAX_FILTER_SIZE = 7
# Longest axis blurred by a matrix product: measured in a plain tf.function on 2
# cores, the matrix is 2.5x faster than the slices at 256 cells, 1.3x slower at 1024.
MATRIX_BLUR_MAX = 512


def binomial_filter(filter_size):
    """The normalized binomial row: [1, 3, 3, 1] / 8 for `filter_size=4`."""
    row = [math.comb(filter_size - 1, i) for i in range(filter_size)]
    return [value / sum(row) for value in row]


def blur_pads(filter_size):
    """(before, after) padding of one axis, as antialiased-cnns places it."""
    return (filter_size - 1) // 2, filter_size // 2


def normalize_blur_arguments(rank, filter_size, strides, padding_mode):
    """Checked `filter_size` and `strides` tuples and the lower-case `padding_mode`."""
    filter_size = normalize_tuple(filter_size, rank, "filter_size")
    if max(filter_size) > MAX_FILTER_SIZE:
        raise ValueError(
            f"`filter_size` must be an int in 1..{MAX_FILTER_SIZE} or a tuple of them. "
            f"Received: filter_size={filter_size!r}"
        )
    strides = normalize_tuple(strides, rank, "strides")
    return filter_size, strides, normalize_choice(padding_mode, "padding_mode", PADDING_MODES)


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
        if _FAST_PATHS and None not in shape[1:] and shape[axis] <= MATRIX_BLUR_MAX:
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


def blur_pool(inputs, filter_size=4, strides=2, padding_mode="reflect", data_format=None):
    """BlurPool (Zhang 2019): pad, blur each channel with a binomial filter, subsample.

    The filter is the normalized outer product of binomial rows of
    `filter_size` taps per axis ([1, 2, 1] / 4 for 3, [1, 3, 3, 1] / 8 for 4);
    each axis is padded by ((f - 1) // 2, f // 2) cells, as antialiased-cnns'
    `BlurPool` does. `filter_size=1` is plain subsampling.

    Args:
        inputs: tensor of rank 3, 4 or 5 (1D, 2D or 3D), or a symbolic
            `keras.Input`.
        filter_size: int in 1..7 (or a tuple), the filter taps per axis.
        strides: int or tuple, the subsampling factor.
        padding_mode: `"reflect"` (default, as antialiased-cnns), `"replicate"`
            or `"zero"`.
        data_format: `"channels_last"` or `"channels_first"`.

    Returns:
        The input's dtype and layout with ceil(n / strides) cells per spatial
        axis. "reflect" on an axis of at most f // 2 cells is a ValueError.

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
    aliasing of its subsampling. `padding` is the max pool's ("valid" as in
    antialiased-cnns' `MaxPool2d(kernel_size=2, stride=1)`, or "same"),
    `padding_mode` the blur's; the other arguments as `max_pool` and
    `blur_pool`.

    Returns:
        The input's dtype and layout; each spatial size n becomes
        m = n - pool_size + 1 ("valid") or n ("same"), then ceil(m / strides).

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


# ----------------------------------------------------------------------------
# Learned max-average mixes (Lee, Gallagher & Tu 2016): mixed and gated pooling
# ----------------------------------------------------------------------------


def _mean_pool(x, pool_size, strides, padding):
    """Average pooling of a channels_last tensor; "same" windows average their
    real cells only, on every backend (Keras's torch backend pads "same"
    average pooling with the edge values)."""
    if padding == "valid":
        return ops.average_pool(x, pool_size, strides, "valid")
    spatial = _spatial_shape(x)
    padded, befores = _pad_same(x, pool_size, strides)
    total = ops.average_pool(padded, pool_size, strides, "valid") * float(math.prod(pool_size))
    counts = _valid_counts(spatial, pool_size, strides, befores, x.dtype)
    return total / ops.squeeze(counts, axis=-1)


def _max_average_mix(name, inputs, pool_size, strides, padding, data_format, gate):
    """avg + gate * (max - avg) per window; `gate(x, pool_size, strides, padding)`
    gives the mix (a number or a tensor broadcastable to the output)."""
    rank, pool_size, strides, padding, data_format = _pool_arguments(
        name, inputs, pool_size, strides, padding, data_format
    )
    if _is_symbolic(inputs):
        shape = pooled_shape(inputs.shape, pool_size, strides, padding, data_format)
        return keras.KerasTensor(shape, dtype=inputs.dtype)
    x, dtype = _prepare(inputs, data_format)
    maxed = ops.max_pool(x, pool_size, strides, padding, "channels_last")
    mean = _mean_pool(x, pool_size, strides, padding)
    out = mean + gate(x, pool_size, strides, padding) * (maxed - mean)
    return _finish(out, data_format, dtype)


def mixed_pool(
    inputs, pool_size, strides=None, padding="valid", data_format=None, alpha=0.5
):
    """Mixed max-average pooling (Lee et al. 2016): alpha * max + (1 - alpha) * avg.

    Args:
        inputs: tensor of rank 3, 4 or 5 (1D, 2D or 3D pooling), or a
            symbolic `keras.Input` (then a `KerasTensor` of the output shape
            is returned).
        pool_size: int or tuple of ints, the window size.
        strides: int or tuple; `None` means `pool_size`.
        padding: `"valid"` or `"same"` (Keras/TF placement, the extra cell at
            the end); padded cells never count.
        data_format: `"channels_last"` (N, *spatial, C) or `"channels_first"`
            (N, C, *spatial); None uses `keras.config.image_data_format()`.
        alpha: the max pooling share in [0, 1]: a number, or a tensor of
            shape () or (channels,) (the layer's learned weight).

    Returns:
        A tensor of the input's dtype and layout, each spatial size n pooled
        to (n - pool_size) // strides + 1 ("valid") or ceil(n / strides)
        ("same"). A window larger than a "valid" input is a ValueError.

    >>> import numpy as np
    >>> x = np.array([1.0, 3.0], "float32").reshape(1, 2, 1)
    >>> float(mixed_pool(x, 2, alpha=0.25)[0, 0, 0])  # 0.25 * 3 + 0.75 * 2
    2.25
    """
    if isinstance(alpha, (int, float, str, bool)):
        alpha = normalize_number(alpha, "alpha", 0.0, 1.0)

    def gate(x, pool_size, strides, padding):
        return alpha if isinstance(alpha, float) else ops.cast(alpha, x.dtype)

    return _max_average_mix("mixed_pool", inputs, pool_size, strides, padding, data_format, gate)


def _native_depthwise():
    """Whether a native depthwise convolution beats slices and multiply-adds: on
    PyTorch and in TensorFlow outside XLA (3x, forward and backward, for the gate of
    the digits CNN's first GatedPooling2D in a plain graph), not under XLA (JAX,
    `jit_compile`), whose CPU depthwise convolution is far slower than the slices."""
    backend = keras.backend.backend()
    return backend == "torch" or (backend == "tensorflow" and not inside_xla())


def gated_pool(inputs, gate_kernel, strides=None, padding="valid", data_format=None):
    """Gated max-average pooling (Lee et al. 2016): g * max + (1 - g) * avg per
    window, with g = sigmoid(sum of gate_kernel * window).

    Args:
        inputs: tensor of rank 3, 4 or 5, or a symbolic `keras.Input`.
        gate_kernel: tensor of the window's shape (one gate shared by every
            channel) or of shape (*window, channels) (a gate per channel); its
            spatial shape is the pool size.
        strides: int or tuple; `None` means the pool size.
        padding: `"valid"` or `"same"`; padded cells add nothing to the gate
            and are not averaged.
        data_format: `"channels_last"` or `"channels_first"`.

    Returns:
        As `max_pool` with the kernel's spatial shape as `pool_size`.

    >>> import numpy as np
    >>> x = np.array([1.0, 3.0], "float32").reshape(1, 2, 1)
    >>> float(gated_pool(x, np.zeros(2, "float32"))[0, 0, 0])  # sigmoid(0) = 0.5
    2.5
    """
    rank = _check_rank(inputs, "gated_pool")
    gate_kernel = ops.convert_to_tensor(gate_kernel)
    if len(gate_kernel.shape) not in (rank, rank + 1):
        raise ValueError(
            f"`gate_kernel` must have shape (*pool_size) or (*pool_size, channels) for a "
            f"{rank}D pooling. Received: gate_kernel.shape={tuple(gate_kernel.shape)}"
        )
    pool_size = tuple(int(k) for k in gate_kernel.shape[:rank])

    def gate(x, pool_size, strides, padding):
        if padding == "same":
            x, _ = _pad_same(x, pool_size, strides)  # zeros: padded cells add nothing
        kernel = ops.cast(gate_kernel, x.dtype)
        channels = x.shape[-1]
        if _FAST_PATHS and rank in (1, 2) and channels is not None and _native_depthwise():
            kernel = ops.broadcast_to(ops.reshape(kernel, pool_size + (-1,)),
                                      pool_size + (channels,))
            logits = ops.depthwise_conv(x, ops.expand_dims(kernel, -1), strides, "valid",
                                        "channels_last")
        else:
            logits = _correlate(x, pool_size, strides, lambda d: kernel[d])
        return ops.sigmoid(logits)

    return _max_average_mix("gated_pool", inputs, pool_size, strides, padding, data_format, gate)


# ----------------------------------------------------------------------------
# SoftPool (Stergiou et al. 2021)
# ----------------------------------------------------------------------------


def _soft_reduce(values, axis, mask=None):
    """sum softmax(values)_i * values_i along `axis`; cells where `mask` is False
    take no part. The max is subtracted first, so nothing overflows."""
    floor = ops.full_like(values, -math.inf)
    real = values if mask is None else ops.where(mask, values, floor)
    shifted = real - ops.stop_gradient(ops.max(real, axis=axis, keepdims=True))
    weights = ops.exp(shifted)  # exp(-inf) = 0 for masked cells, with a zero gradient
    return ops.sum(weights * values, axis=axis) / ops.sum(weights, axis=axis)


@cluster
def soft_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """SoftPool (Stergiou et al. 2021): sum softmax(x)_i * x_i over each window.

    A smooth maximum: each cell weighs exp(x_i) / sum exp(x_j) of its window,
    computed max-subtracted (finite for any |x|); "same" padded cells take no
    part.

    Args:
        inputs: tensor of rank 3, 4 or 5 (1D, 2D or 3D pooling), or a
            symbolic `keras.Input` (then a `KerasTensor` of the output shape
            is returned).
        pool_size: int or tuple of ints, the window size.
        strides: int or tuple; `None` means `pool_size`.
        padding: `"valid"` or `"same"` (Keras/TF placement, the extra cell at
            the end); padded cells never count.
        data_format: `"channels_last"` (N, *spatial, C) or `"channels_first"`
            (N, C, *spatial); None uses `keras.config.image_data_format()`.

    Returns:
        A tensor of the input's dtype and layout, each spatial size n pooled
        to (n - pool_size) // strides + 1 ("valid") or ceil(n / strides)
        ("same"). A window larger than a "valid" input is a ValueError.

    >>> import numpy as np
    >>> x = np.array([0.0, 0.0], "float32").reshape(1, 2, 1)
    >>> float(soft_pool(x, 2)[0, 0, 0])
    0.0
    """

    def reduce(x, pool_size, strides, padding, spatial, befores):
        windows = _windows(x, pool_size, strides)
        mask = None
        if padding == "same":
            real = ops.ones([1, *spatial, 1], x.dtype)
            real, _ = _pad_same(real, pool_size, strides)
            mask = _windows(real, pool_size, strides) > 0
        return _soft_reduce(windows, -2, mask)

    return _windowed("soft_pool", inputs, pool_size, strides, padding, data_format, reduce)


@cluster
def global_soft_pool(inputs, data_format=None, keepdims=False):
    """SoftPool over all spatial positions, per channel: sum softmax(x)_i * x_i.

    Args:
        inputs: tensor of rank 3, 4 or 5, or a symbolic `keras.Input`.
        data_format: `"channels_last"` or `"channels_first"`; None uses
            `keras.config.image_data_format()`.
        keepdims: bool; True keeps the spatial dims with size 1.

    Returns:
        (N, C), or with `keepdims=True` the input's layout with every spatial
        size 1; the input's dtype.

    >>> import numpy as np
    >>> x = np.array([0.0, 0.0], "float32").reshape(1, 2, 1)
    >>> float(global_soft_pool(x)[0, 0])
    0.0
    """
    return _global("global_soft_pool", inputs, data_format, keepdims, _soft_reduce)
