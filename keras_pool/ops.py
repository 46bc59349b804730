"""Functional, backend-agnostic pooling: min, Lp and stochastic (windowed and global).

Everything here is written with `keras.ops` and `keras.random` only, so it runs
unchanged on the TensorFlow, JAX and PyTorch backends, eagerly and under jit/XLA.
The signatures follow `keras.ops.max_pool`.

>>> import numpy as np
>>> from keras_pool import ops as pool_ops
>>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
>>> pool_ops.min_pool(x, 2).shape
(1, 2, 2, 1)
"""

import itertools
import math

import keras
from keras import ops

PADDINGS = ("valid", "same")
HALF_DTYPES = ("float16", "bfloat16")


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
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in PADDINGS:
        raise ValueError(
            f"`padding` must be one of {PADDINGS}. Received: padding={padding!r}"
        )
    return value


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


def normalize_p(p):
    """`p` as a float in [1, inf]; ValueError naming the value otherwise."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(
            f"`p` must be a number in [1, inf]. Received: p={p!r}"
        ) from None
    if math.isnan(value) or value < 1.0:
        raise ValueError(f"`p` must be a number in [1, inf]. Received: p={p!r}")
    return value


def _p_argument(p):
    """A Python number is checked and made a float; a tensor/variable p passes."""
    return normalize_p(p) if isinstance(p, (int, float, str)) else p


def _check_rank(inputs, rank, name):
    ndim = len(inputs.shape)
    if rank is None:
        if ndim not in (3, 4, 5):
            raise ValueError(
                f"`{name}` expects a 3D, 4D or 5D input (batch, spatial..., "
                f"channels). Received input shape: {tuple(inputs.shape)}"
            )
        return ndim - 2
    return rank


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


def _pad_same(x, pool_size, strides):
    """Zero-pad a channels_last tensor for "same" pooling; returns (x, befores)."""
    pads = [_same_pads(n, k, s) for n, k, s in zip(_spatial_shape(x), pool_size, strides)]
    x = ops.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
    return x, [p[0] for p in pads]


def _windows(x, pool_size, strides):
    """Windows of a (valid-padded) channels_last tensor: (N, *out, K, C).

    Non-overlapping windows (strides == pool_size) are a crop and a reshape;
    otherwise one strided slice per offset inside the window (K slices), never
    a loop over windows. Memory is K/prod(strides) times the input.
    """
    spatial = _spatial_shape(x)
    rank = len(pool_size)
    out = [(n - k) // s + 1 for n, k, s in zip(spatial, pool_size, strides)]
    channels = x.shape[-1] if x.shape[-1] is not None else ops.shape(x)[-1]
    window = math.prod(pool_size)
    if tuple(pool_size) == tuple(strides):
        crop = (slice(None),) + tuple(slice(0, o * k) for o, k in zip(out, pool_size))
        x = x[crop]
        split = [-1]
        for o, k in zip(out, pool_size):
            split += [o, k]
        x = ops.reshape(x, split + [channels])
        perm = (0,) + tuple(range(1, 2 * rank, 2)) + tuple(range(2, 2 * rank + 1, 2))
        x = ops.transpose(x, perm + (2 * rank + 1,))
        return ops.reshape(x, [-1] + out + [window, channels])
    slices = []
    for offset in itertools.product(*(range(k) for k in pool_size)):
        index = (slice(None),) + tuple(
            slice(d, d + s * (o - 1) + 1, s) for d, s, o in zip(offset, strides, out)
        )
        slices.append(x[index])
    return ops.stack(slices, axis=-2)


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
    """r ** p for r in [0, 1]: products for small integer p, safe gradients."""
    if isinstance(p, float):
        if p == 1.0:
            return r
        if p == 2.0:
            return ops.square(r)
        if p == 3.0:
            return r * ops.square(r)
        return ops.power(r, p)
    # Tensor p (trainable): d/dp r**p = r**p log r must not see log(0).
    positive = r > 0
    safe = ops.where(positive, r, ops.ones_like(r))
    return ops.where(positive, ops.power(safe, p), ops.zeros_like(r))


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
    if isinstance(p, float) and p == 1.0:
        root = total
    elif isinstance(p, float) and p == 2.0:
        root = ops.sqrt(total)
    else:
        root = ops.power(total, 1.0 / p)
    out = ops.where(positive, m * root, ops.zeros_like(m))
    return ops.squeeze(out, axis=axis)


def _stochastic_reduce(a, axis, training, seed):
    """Zeiler & Fergus stochastic pooling of `a >= 0` over one `axis`.

    Training: one element per window, drawn with probability a_i / sum(a).
    Inference: sum(p_i a_i). A window with sum(a) = 0 gives 0.
    """
    total = ops.sum(a, axis=axis, keepdims=True)
    safe_total = ops.where(total > 0, total, ops.ones_like(total))
    if not training:
        return ops.sum(a * (a / safe_total), axis=axis)
    cdf = ops.stop_gradient(ops.cumsum(a, axis=axis))
    u = keras.random.uniform(ops.shape(total), dtype=a.dtype, seed=seed)
    threshold = u * ops.stop_gradient(total)
    # The pick is the first index whose cumulative mass exceeds the threshold.
    index = ops.sum(ops.cast(cdf <= threshold, "int32"), axis=axis, keepdims=True)
    size = ops.shape(a)[axis]
    index = ops.minimum(index, size - 1)
    positions = ops.arange(size, dtype="int32")
    shape = [1] * len(a.shape)
    shape[axis] = -1
    chosen = ops.reshape(positions, shape) == index
    return ops.sum(ops.where(chosen, a, ops.zeros_like(a)), axis=axis)


def _windowed(name, inputs, pool_size, strides, padding, data_format, reduce, rank=None):
    """Shared driver: validate, go channels_last, pad, window, reduce, restore."""
    rank = _check_rank(inputs, rank, name)
    pool_size = normalize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else normalize_tuple(strides, rank, "strides")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    x = ops.convert_to_tensor(inputs)
    dtype = keras.backend.standardize_dtype(x.dtype)
    x = ops.cast(x, _compute_dtype(x))
    x = _channels_last(x, data_format)
    spatial = _spatial_shape(x)
    befores = [0] * rank
    if padding == "same":
        x, befores = _pad_same(x, pool_size, strides)
    out = reduce(x, pool_size, strides, padding, spatial, befores)
    return ops.cast(_restore_format(out, data_format), dtype)


# ----------------------------------------------------------------------------
# Windowed pooling
# ----------------------------------------------------------------------------


def min_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Min pooling, the mirror of `keras.ops.max_pool` (gradient to the minimum).

    Args:
        inputs: tensor of rank 3, 4 or 5 (1D, 2D or 3D pooling).
        pool_size: int or tuple, the window size.
        strides: int or tuple; `None` means `pool_size`.
        padding: `"valid"` or `"same"`; padded cells never win.
        data_format: `"channels_last"` or `"channels_first"`.
    """
    rank = _check_rank(inputs, None, "min_pool")
    pool_size = normalize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else normalize_tuple(strides, rank, "strides")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    # Pool channels_last: TensorFlow's CPU kernels have no channels_first 3D max
    # pool, and no float16 one either, so 3D half-precision input pools in float32.
    x = _channels_last(ops.convert_to_tensor(inputs), data_format)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if rank == 3:
        x = ops.cast(x, _compute_dtype(x))
    pooled = ops.max_pool(ops.negative(x), pool_size, strides, padding, "channels_last")
    return ops.cast(_restore_format(ops.negative(pooled), data_format), dtype)


def lp_pool(
    inputs,
    pool_size,
    strides=None,
    padding="valid",
    data_format=None,
    p=2.0,
    normalize=False,
):
    """Lp pooling: (sum |x|**p)**(1/p) per window, or the power mean.

    With `normalize=True` the sum becomes a mean over the window's real
    (non-padded) cells: the generalized mean (GeM), which is average pooling
    of |x| at p=1 and max pooling of |x| as p -> inf. `p` may be a float in
    [1, inf] or a scalar tensor (a trainable p).

    >>> import numpy as np
    >>> x = np.ones((1, 4, 4, 1), "float32")
    >>> float(lp_pool(x, 2, p=2.0)[0, 0, 0, 0])  # sqrt(4 * 1**2)
    2.0
    """
    p = _p_argument(p)

    def reduce(x, pool_size, strides, padding, spatial, befores):
        count = None
        if normalize:
            count = (
                _valid_counts(spatial, pool_size, strides, befores, x.dtype)
                if padding == "same"
                else float(math.prod(pool_size))
            )
        power = p if isinstance(p, float) else ops.cast(p, x.dtype)
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
    is drawn with probability p_i; at inference the result is sum(p_i a_i).
    Windows with sum(a) = 0 give 0. `seed` is an int or a
    `keras.random.SeedGenerator` (use the latter for fresh draws under jit).
    """

    def reduce(x, pool_size, strides, padding, spatial, befores):
        windows = _windows(ops.relu(x), pool_size, strides)
        return _stochastic_reduce(windows, -2, training, seed)

    return _windowed(
        "stochastic_pool", inputs, pool_size, strides, padding, data_format, reduce
    )


# ----------------------------------------------------------------------------
# Global pooling: one reduction over all spatial positions
# ----------------------------------------------------------------------------


def _global(name, inputs, data_format, keepdims, reduce):
    _check_rank(inputs, None, name)
    data_format = normalize_data_format(data_format)
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
    """Minimum over all spatial positions, per channel."""
    _check_rank(inputs, None, "global_min_pool")
    data_format = normalize_data_format(data_format)
    rank = len(inputs.shape)
    axes = tuple(range(1, rank - 1)) if data_format == "channels_last" else tuple(range(2, rank))
    return ops.min(inputs, axis=axes, keepdims=keepdims)


def global_lp_pool(inputs, data_format=None, keepdims=False, p=2.0, normalize=False):
    """Lp norm (or power mean with `normalize=True`) over all spatial positions."""
    p = _p_argument(p)

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
    """Stochastic pooling over all spatial positions (see `stochastic_pool`)."""

    def reduce(flat, axis):
        return _stochastic_reduce(ops.relu(flat), axis, training, seed)

    return _global("global_stochastic_pool", inputs, data_format, keepdims, reduce)
