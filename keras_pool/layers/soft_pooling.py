"""SoftPool (Stergiou, Poppe & Kalliatakis 2021): SoftPooling1D/2D/3D and globals.

Each window pools to sum softmax(x)_i * x_i: a smooth maximum in which every
cell counts by exp(x_i). Computed max-subtracted, so it is finite for any
|x|; "same" padded cells take no part.
"""

import keras

from keras_pool import ops as pool_ops
from keras_pool.layers.base import BaseGlobalPooling, BasePooling

register = keras.saving.register_keras_serializable(package="keras_pool")


class SoftPooling(BasePooling):
    """Windowed SoftPool; see the module docstring."""

    def _pool(self, inputs, training):
        return pool_ops.soft_pool(
            inputs, self.pool_size, self.strides, self.padding, self.data_format
        )


class GlobalSoftPooling(BaseGlobalPooling):
    """SoftPool over all spatial positions; see the module docstring."""

    def _pool(self, inputs, training):
        return pool_ops.global_soft_pool(inputs, self.data_format, self.keepdims)


@register
class SoftPooling1D(SoftPooling):
    """SoftPool over 1D windows: sum softmax(x)_i * x_i per window.

    >>> x = keras.ops.convert_to_tensor([[[0.0], [0.0]]])
    >>> keras.ops.convert_to_numpy(SoftPooling1D(pool_size=2)(x))[0, 0, 0].tolist()
    0.0
    """

    rank = 1


@register
class SoftPooling2D(SoftPooling):
    """SoftPool over 2D windows: sum softmax(x)_i * x_i per window.

    >>> tuple(SoftPooling2D(pool_size=2)(keras.random.uniform((8, 32, 32, 3))).shape)
    (8, 16, 16, 3)
    """

    rank = 2


@register
class SoftPooling3D(SoftPooling):
    """SoftPool over 3D windows.

    >>> tuple(SoftPooling3D(pool_size=2)(keras.random.uniform((2, 8, 8, 8, 3))).shape)
    (2, 4, 4, 4, 3)
    """

    rank = 3


@register
class GlobalSoftPooling1D(GlobalSoftPooling):
    """SoftPool over all steps.

    >>> tuple(GlobalSoftPooling1D()(keras.random.uniform((4, 10, 3))).shape)
    (4, 3)
    """

    rank = 1


@register
class GlobalSoftPooling2D(GlobalSoftPooling):
    """SoftPool over height and width.

    >>> tuple(GlobalSoftPooling2D()(keras.random.uniform((4, 8, 8, 3))).shape)
    (4, 3)
    """

    rank = 2


@register
class GlobalSoftPooling3D(GlobalSoftPooling):
    """SoftPool over three spatial dims.

    >>> tuple(GlobalSoftPooling3D(keepdims=True)(keras.random.uniform((2, 4, 4, 4, 3))).shape)
    (2, 1, 1, 1, 3)
    """

    rank = 3
