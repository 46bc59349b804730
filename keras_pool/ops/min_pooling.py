"""Min pooling: the window minimum, and the global minimum."""

import keras
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops.arguments import _check_rank, normalize_bool, normalize_data_format
from keras_pool.ops.window import (
    _channels_last,
    _compute_dtype,
    _is_symbolic,
    _pool_arguments,
    _restore_format,
)


@docs.document(docs.WINDOWED_RETURNS)
def min_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Min pooling: min_i x_i per window, the mirror of `keras.ops.max_pool`
    (the gradient goes to the minimum).

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


@docs.document(docs.GLOBAL_RETURNS)
def global_min_pool(inputs, data_format=None, keepdims=False):
    """Minimum over all spatial positions, per channel.

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
