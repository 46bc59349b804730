"""Global pooling heads from timm: avg-max, concatenated avg-max and LSE.

`global_avg_max_pool` is timm's "avgmax" head, `0.5 * (avg + max)`, and
`global_cat_avg_max_pool` its "catavgmax", `[avg, max]` concatenated on the
channel axis, average first (timm's `adaptive_avgmax_pool2d` and
`adaptive_catavgmax_pool2d` in timm/layers/adaptive_avgmax_pool.py, with
output size 1). `global_lse_pool` is timm's `LsePlus2d`
(timm/layers/other_pool.py): `x_max + log(mean(exp(r * (x - x_max)))) / r`,
a smooth maximum that runs from the mean (r -> 0) to the max (r -> inf).
"""

import math

import keras
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops.arguments import _check_rank, normalize_bool, normalize_data_format
from keras_pool.ops.window import _compute_dtype, _global, _is_symbolic, global_shape
from keras_pool.xla_clusters import cluster

LSE_ARGS = {
    "r": """\
a positive finite number (the sharpness: r -> 0 gives the mean, r -> inf
the max) or a scalar tensor (a trainable r).""",
}

CAT_RETURNS = """\
(N, 2 * C), the C averages then the C maxima; with `keepdims=True` the input's
layout with every spatial size 1 and 2 * C channels; the input's dtype."""


def normalize_r(r):
    """`r` as a positive finite float; ValueError naming the value otherwise."""
    if (
        not isinstance(r, (int, float))
        or isinstance(r, bool)
        or not math.isfinite(r)
        or r <= 0
    ):
        raise ValueError(f"`r` must be a positive finite number. Received: r={r!r}")
    return float(r)


def _r_argument(r):
    """A Python value is checked and made a float; a tensor/variable r passes."""
    return normalize_r(r) if isinstance(r, (int, float, str, bool)) or r is None else r


def cat_global_shape(input_shape, data_format, keepdims):
    """Output shape of `global_cat_avg_max_pool`: global pooling's, channels doubled."""
    shape = list(global_shape(input_shape, data_format, keepdims))
    axis = -1 if data_format == "channels_last" or not keepdims else 1
    if shape[axis] is not None:
        shape[axis] = 2 * shape[axis]
    return tuple(shape)


def _avg_max_reduce(flat, axis):
    return 0.5 * (ops.mean(flat, axis=axis) + ops.max(flat, axis=axis))


@docs.document(docs.GLOBAL_RETURNS)
def global_avg_max_pool(inputs, data_format=None, keepdims=False):
    """timm's "avgmax" head: `0.5 * (mean + max)` over all spatial positions,
    per channel.

    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 6.0], "float32").reshape(1, 3, 1)
    >>> float(global_avg_max_pool(x)[0, 0])  # (3 + 6) / 2
    4.5
    """
    return _global("global_avg_max_pool", inputs, data_format, keepdims, _avg_max_reduce)


@docs.document(CAT_RETURNS)
def global_cat_avg_max_pool(inputs, data_format=None, keepdims=False):
    """timm's "catavgmax" head: the mean and the max over all spatial positions,
    concatenated on the channel axis (averages first): channels double.

    >>> import numpy as np
    >>> x = np.array([[1.0, 10.0], [3.0, 20.0]], "float32").reshape(1, 2, 2)
    >>> keras.ops.convert_to_numpy(global_cat_avg_max_pool(x))[0].tolist()
    [2.0, 15.0, 3.0, 20.0]
    """
    rank = _check_rank(inputs, "global_cat_avg_max_pool")
    data_format = normalize_data_format(data_format)
    keepdims = normalize_bool(keepdims, "keepdims")
    if _is_symbolic(inputs):
        return keras.KerasTensor(cat_global_shape(inputs.shape, data_format, keepdims),
                                 inputs.dtype)
    x = ops.convert_to_tensor(inputs)
    dtype = keras.backend.standardize_dtype(x.dtype)
    x = ops.cast(x, _compute_dtype(x))
    batch = ops.shape(x)[0]
    if data_format == "channels_last":
        flat = ops.reshape(x, (batch, -1, ops.shape(x)[-1]))
        axis = 1
    else:
        flat = ops.reshape(x, (batch, ops.shape(x)[1], -1))
        axis = 2
    out = ops.concatenate(
        [ops.mean(flat, axis=axis), ops.max(flat, axis=axis)], axis=-1
    )  # (N, 2C)
    if keepdims:
        ones = (1,) * rank
        shape = (batch, *ones, -1) if data_format == "channels_last" else (batch, -1, *ones)
        out = ops.reshape(out, shape)
    return ops.cast(out, dtype)


def _lse_reduce(flat, axis, r):
    """x_max + log(mean(exp(r (x - x_max)))) / r along `axis`, in flat's dtype.

    Every exponent is <= 0 (max-subtracted), so nothing overflows. Where the
    mean of exp is near 1 (small r, or a flat input), log1p(mean(expm1(.)))
    keeps the digits that log(mean(exp(.))) loses, so r -> 0 gives the mean.
    The max gets no gradient: the result does not depend on it.
    """
    m = ops.stop_gradient(ops.max(flat, axis=axis, keepdims=True))
    z = r * (flat - m)
    near_one = ops.mean(ops.exp(z), axis=axis)
    small = ops.log1p(ops.mean(ops.expm1(z), axis=axis))
    log_mean = ops.where(near_one > 0.5, small, ops.log(ops.maximum(near_one, 1e-30)))
    return ops.squeeze(m, axis=axis) + log_mean / r


@docs.document(docs.GLOBAL_RETURNS, **LSE_ARGS)
@cluster
def global_lse_pool(inputs, r=10.0, data_format=None, keepdims=False):
    """LogSumExp pooling (timm's `LsePlus2d`) over all spatial positions, per
    channel: `x_max + log(mean(exp(r * (x - x_max)))) / r`.

    A smooth maximum between the mean (r -> 0) and the max (r -> inf).
    Max-subtracted and reduced in float32 for half-precision inputs, so it is
    finite for any |x|; the gradient reaches x (softmax weights) and a tensor r.

    >>> import numpy as np
    >>> x = np.array([1.0, 1.0], "float32").reshape(1, 2, 1)
    >>> float(global_lse_pool(x, r=10.0)[0, 0])
    1.0
    """
    r = _r_argument(r)

    def reduce(flat, axis):
        sharpness = r if isinstance(r, float) else ops.cast(r, flat.dtype)
        return _lse_reduce(flat, axis, sharpness)

    return _global("global_lse_pool", inputs, data_format, keepdims, reduce)
