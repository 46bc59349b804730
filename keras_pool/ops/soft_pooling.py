"""SoftPool (Stergiou et al. 2021): a softmax-weighted sum per window, and its global form."""

import math

from keras import ops

from keras_pool.ops import docs
from keras_pool.ops.window import _global, _pad_same, _windowed, _windows
from keras_pool.xla_clusters import cluster


def _soft_reduce(values, axis, mask=None):
    """sum softmax(values)_i * values_i along `axis`; cells where `mask` is False
    take no part. The max is subtracted first, so nothing overflows."""
    floor = ops.full_like(values, -math.inf)
    real = values if mask is None else ops.where(mask, values, floor)
    shifted = real - ops.stop_gradient(ops.max(real, axis=axis, keepdims=True))
    weights = ops.exp(shifted)  # exp(-inf) = 0 for masked cells, with a zero gradient
    return ops.sum(weights * values, axis=axis) / ops.sum(weights, axis=axis)


@docs.document(docs.WINDOWED_RETURNS)
@cluster
def soft_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """SoftPool (Stergiou et al. 2021): sum softmax(x)_i * x_i over each window.

    A smooth maximum: each cell weighs exp(x_i) / sum exp(x_j) of its window,
    computed max-subtracted (finite for any |x|); "same" padded cells take no
    part.

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


@docs.document(docs.GLOBAL_RETURNS)
@cluster
def global_soft_pool(inputs, data_format=None, keepdims=False):
    """SoftPool over all spatial positions, per channel: sum softmax(x)_i * x_i.

    >>> import numpy as np
    >>> x = np.array([0.0, 0.0], "float32").reshape(1, 2, 1)
    >>> float(global_soft_pool(x)[0, 0])
    0.0
    """
    return _global("global_soft_pool", inputs, data_format, keepdims, _soft_reduce)
