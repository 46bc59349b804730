"""Learned max-average mixes (Lee, Gallagher & Tu 2016): mixed and gated pooling."""

import math

import keras
from keras import ops

from keras_pool.ops import docs
from keras_pool.ops import window as _window  # for `_window._FAST_PATHS`, read at call time
from keras_pool.ops.arguments import _check_rank, normalize_number
from keras_pool.ops.window import (
    _correlate,
    _finish,
    _is_symbolic,
    _pad_same,
    _pool_arguments,
    _prepare,
    _spatial_shape,
    _valid_counts,
    pooled_shape,
)
from keras_pool.xla_clusters import inside_xla


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


@docs.document(
    docs.WINDOWED_RETURNS,
    alpha="""\
the max pooling share in [0, 1]: a number, or a tensor of shape () or
(channels,) (the layer's learned weight).""",
)
def mixed_pool(
    inputs, pool_size, strides=None, padding="valid", data_format=None, alpha=0.5
):
    """Mixed max-average pooling (Lee et al. 2016): alpha * max + (1 - alpha) * avg.

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


@docs.document(
    "As `max_pool` with the kernel's spatial shape as `pool_size`.",
    gate_kernel="""\
tensor of the window's shape (one gate shared by every channel) or of
shape (*window, channels) (a gate per channel); its spatial shape is the
pool size.""",
    strides="int or tuple; `None` means the pool size.",
    padding="""\
`"valid"` or `"same"` (Keras/TF placement); padded cells add nothing to
the gate and are not averaged.""",
)
def gated_pool(inputs, gate_kernel, strides=None, padding="valid", data_format=None):
    """Gated max-average pooling (Lee et al. 2016): g * max + (1 - g) * avg per
    window, with g = sigmoid(sum of gate_kernel * window).

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
        if _window._FAST_PATHS and rank in (1, 2) and channels is not None and _native_depthwise():
            kernel = ops.broadcast_to(ops.reshape(kernel, pool_size + (-1,)),
                                      pool_size + (channels,))
            logits = ops.depthwise_conv(x, ops.expand_dims(kernel, -1), strides, "valid",
                                        "channels_last")
        else:
            logits = _correlate(x, pool_size, strides, lambda d: kernel[d])
        return ops.sigmoid(logits)

    return _max_average_mix("gated_pool", inputs, pool_size, strides, padding, data_format, gate)
